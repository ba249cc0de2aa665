"""Does the mode of delivery matter? Third-wave CBT for perceived stress in college students (Harrer et al.'s
ThirdWave data, 18 RCTs), subgroups by mode of delivery: book (2 studies), group (11) and online (5).

RevMan's way: a separate random-effects analysis per subgroup and the chi-square test for subgroup
differences. The Bayesian way: each subgroup's pooled effect with one heterogeneity SD common to the
subgroups (the two book studies cannot estimate their own), and the probability of each difference, with
separate taus as a sensitivity analysis; and the same question as a meta-regression, exact and by MCMC.
Run: python examples/thirdwave_subgroups.py [output folder for the figures]
"""

import sys
from pathlib import Path

import bayesmeta as bm
from bayesmeta import plots

out = Path(sys.argv[1] if len(sys.argv) > 1 else "output/thirdwave_subgroups")
out.mkdir(parents=True, exist_ok=True)
data = bm.datasets.effect_data("thirdwave")  # g > 0: less stress

revman = bm.frequentist(data, method="revman5", subgroup="ModeOfDelivery")
print(revman, "\n")

fit = bm.fit(data, subgroup="ModeOfDelivery", tau_prior="halfnormal(0.5)", seed=1)
print(fit.summary().round(3), "\n")
print(fit.differences().round(3), "\n")
for g in fit.family.groups:
    print(f"P(mu[{g}] > 0) = {fit.prob(f'mu[{g}] > 0'):.3f}   P(mu[{g}] > 0.2) = {fit.prob(f'mu[{g}] > 0.2'):.3f}")
print(f"P(online less effective than group: mu[online] - mu[group] < 0) = "
      f"{fit.prob('mu[online] - mu[group] < 0'):.3f}")

separate = bm.fit(data, subgroup="ModeOfDelivery", subgroup_tau="separate", tau_prior="halfnormal(0.5)", seed=1)
print(f"with a tau per subgroup: P(mu[online] - mu[group] < 0) = {separate.prob('mu[online] - mu[group] < 0'):.3f}")

# The same comparison as a meta-regression with group delivery as the reference, checked by MCMC.
for engine in ("exact", "mcmc"):
    reg = bm.fit(data, moderators="~ C(ModeOfDelivery, levels=['group', 'book', 'online'])", engine=engine, seed=1)
    online = [t for t in reg.family.terms if t.endswith("[T.online]")][0]
    c = reg.coefficients().loc[online]
    print(f"{engine:5s} meta-regression, online - group: {c['median']:.3f} [{c['lower']:.3f}, {c['upper']:.3f}], "
          f"P(< 0) = {reg.prob(f'beta[{online}] < 0'):.3f}")

plots.save(plots.forest(fit, freq=revman), out / "forest_subgroups.png")
print(f"\nforest plot: {out / 'forest_subgroups.png'}")
