"""Digital self-management for chronic low back pain: from raw means and SDs to a Bayesian answer.

Data: Scholz, Plessen et al. 2024 (12 trials, pain intensity after treatment). Hedges' g is computed as
intervention minus control, so negative values mean less pain (benefit = "lower").
Run: python examples/clbp_digital_pain.py [output folder]
"""

import sys
from pathlib import Path

import bayesmeta as bm
from bayesmeta import plots

out = Path(sys.argv[1] if len(sys.argv) > 1 else "output/examples/clbp")
out.mkdir(parents=True, exist_ok=True)

# 1. Effect sizes from the arms' means, SDs and sizes (one trial reports only g and its SE).
data = bm.datasets.effect_data("clbp_digital_pain")
print(data.to_dataframe()[["study", "y", "se"]].round(3).to_string(index=False), "\n")

# 2. The frequentist analyses a review would report: RevMan 5 and the Cochrane (REML + HKSJ) default.
revman, cochrane = bm.frequentist(data, method="revman5"), bm.frequentist(data, method="cochrane")
print(revman, "\n")
print(cochrane, "\n")

# 3. Bayesian random effects: flat prior on mu, half-normal(0.5) on tau (the default for SMDs).
fit = bm.fit(data, tau_prior="halfnormal(0.5)", seed=2024)
print(fit.summary().round(3), "\n")
print(f"P(pain reduced, SMD < 0)            = {fit.prob('mu < 0'):.3f}")
print(f"P(at least a small effect, <= -0.2) = {fit.prob('mu <= -0.2'):.3f}")
print(f"P(a new trial shows benefit)        = {fit.prob('theta_new < 0'):.3f}\n")

# 4. Side by side, and how much the answer depends on the prior on tau.
print(bm.compare(fit, [revman, cochrane]).round(3).to_string(), "\n")
for prior in ("halfcauchy(0.5)", "rhodes('general physical health', 'non-pharmacological')", "bartos('Back and Neck')"):
    alt = bm.fit(data, tau_prior=prior, seed=2024)
    print(f"tau ~ {alt.spec.tau_prior}: P(mu < 0) = {alt.prob('mu < 0'):.3f}, P(mu <= -0.2) = {alt.prob('mu <= -0.2'):.3f}")

# 5. Figures and the report.
plots.save(plots.forest(fit, freq=[revman, cochrane]), out / "forest.png")
plots.save(plots.density(fit, thresholds=(0, -0.2)), out / "density.png")
(out / "report.html").write_text(fit.report("html", freq=[revman, cochrane], intervention="digital self-management"))
print(f"\nfigures and report in {out}/")
