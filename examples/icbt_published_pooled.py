"""What do the published pooled results on internet CBT for chronic pain imply, in probabilities?

From each review's pooled SMD and 95% CI (the standard error is recovered from the CI), the posterior of
the pooled effect under a sceptical, a neutral (flat) and an enthusiastic prior (Spiegelhalter et al.),
with 0.2 SMD as the smallest important benefit.
Run: python examples/icbt_published_pooled.py
"""

import bayesmeta as bm

table = bm.datasets.load("published_pooled_icbt")
for _, row in table.iterrows():
    benefit = "lower" if row["sign_convention"].startswith("negative") else "higher"
    op = "<" if benefit == "lower" else ">"
    sign = -1 if benefit == "lower" else 1
    print(f"{row['review'][:70]}\n  {row['outcome']}: {row['pooled_smd']} [{row['ci_lo']}, {row['ci_hi']}]")
    for name, prior in bm.reference_priors(0.2, benefit).items():
        post = bm.from_estimate(row["pooled_smd"], row["ci_lo"], row["ci_hi"], prior=prior)
        print(f"    {name:12s} P(benefit) = {post.prob(f'mu {op} 0'):.3f}   "
              f"P(benefit >= 0.2) = {post.prob(f'mu {op}= {sign * 0.2}'):.3f}")
