"""ThirdWave (Harrer et al., Doing Meta-Analysis with R): the book's frequentist and brms results.

ch. 4: REML + Knapp-Hartung: g = 0.5771 [0.3782, 0.7760], tau^2 = 0.0820, Q = 45.50.
ch. 13: brms, mu ~ N(0, 1), tau ~ half-Cauchy(0, 0.5): mu 0.57 [0.39, 0.76], tau 0.29 [0.11, 0.51],
P(mu < 0.3) = 0.002. Here: the same with the exact engine and with PyMC (nutpie).
Run: python examples/thirdwave_harrer.py
"""

import bayesmeta as bm

data = bm.datasets.effect_data("thirdwave")
print(bm.frequentist(data, method="REML", ci="hksj"), "\n")
for engine in ("exact", "mcmc"):
    fit = bm.fit(data, tau_prior="halfcauchy(0.5)", mu_prior="normal(0, 1)", engine=engine, seed=13)
    s = fit.summary()
    print(f"{engine:5s}: mu {s.loc['mu', 'mean']:.2f} [{s.loc['mu', 'lower']:.2f}, {s.loc['mu', 'upper']:.2f}], "
          f"tau {s.loc['tau', 'mean']:.2f} [{s.loc['tau', 'lower']:.2f}, {s.loc['tau', 'upper']:.2f}], "
          f"P(mu < 0.3) = {fit.prob('mu < 0.3'):.3f}")
print("\n", fit.diagnostics())
