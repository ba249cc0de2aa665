"""Self-guided internet interventions for depression (Metapsy): one comparison per study.

The database lists several comparisons and instruments per study; a meta-analysis needs independent
effects, so we keep self-report outcomes and the first listed comparison of each study, and say so.
g > 0 favours the intervention (benefit = "higher").
Run: python examples/depression_selfguided.py
"""

import bayesmeta as bm

df = bm.datasets.load("internet_depression_selfguided")
one = df[df["rating"] == "self-report"].drop_duplicates("study", keep="first").reset_index(drop=True)
print(f"{len(df)} rows from {df['study'].nunique()} studies; kept {len(one)} (self-report, first comparison)\n")
data = bm.EffectData.from_dataframe(one, y="g", se="se_g", study="study", benefit="higher",
                                    outcome="depressive symptoms")
print(bm.frequentist(data, method="cochrane"), "\n")
fit = bm.fit(data, seed=7)
print(fit.summary().round(3), "\n")
for c in (0, 0.2, 0.5):
    print(f"P(mu > {c}) = {fit.prob(f'mu > {c}'):.3f}   P(theta_new > {c}) = {fit.prob(f'theta_new > {c}'):.3f}")
print("\nBayes factors:\n", fit.bayes_factors())
eg = bm.egger_test(data)
print("\n", eg)
