"""Self-guided internet interventions for depression (Metapsy): 78 comparisons from 48 studies.

The usual analysis keeps one comparison per study and throws the rest away; the three-level model keeps all
78 (comparisons within studies, studies within the evidence base) and says how the heterogeneity splits
between and within studies. Set side by side: one row per study (normal-normal), the three-level model
(exact and MCMC), and metafor's rma.mv with cluster-robust inference.
Run: python examples/depression_three_level.py
"""

import bayesmeta as bm

table = bm.datasets.load("internet_depression_selfguided")
first = bm.EffectData.from_dataframe(table.drop_duplicates("study"), y="g", se="se_g", study="study",
                                     benefit="higher")
allrows = bm.EffectData.from_dataframe(table, y="g", se="se_g", cluster="study", benefit="higher")
print(f"one row per study: k = {first.k}; all comparisons: k = {allrows.k} in {len(set(allrows.cluster))} studies\n")

one = bm.fit(first, tau_prior="halfnormal(0.5)", seed=7)
three = bm.fit(allrows, model="three-level", tau_prior="halfnormal(0.5)", tau_within_prior="halfnormal(0.5)",
               seed=7)
mcmc = bm.fit(allrows, model="three-level", tau_prior="halfnormal(0.5)", tau_within_prior="halfnormal(0.5)",
              engine="mcmc", seed=7)
for name, fit in (("one row per study", one), ("three-level, exact", three), ("three-level, MCMC", mcmc)):
    s = fit.summary()
    print(f"{name:20s} mu {s.loc['mu', 'median']:.3f} [{s.loc['mu', 'lower']:.3f}, {s.loc['mu', 'upper']:.3f}]  "
          f"new study [{s.loc['theta_new', 'lower']:.3f}, {s.loc['theta_new', 'upper']:.3f}]  "
          f"P(mu > 0.2) = {fit.prob('mu > 0.2'):.3f}")
print()
print(three.summary().round(3), "\n")
for robust in (False, True):
    print(bm.frequentist(allrows, method="REML", model="three-level", robust=robust), "\n")
