"""A whole Cochrane-style review from its RevMan file: read every analysis, check that RevMan's pooled results
are reproduced (Mantel-Haenszel, Peto, inverse variance; subgroups), then the Bayesian answer for each analysis
(ratios on the ratio scale) and the review folder with an index page.

The file is the test review in tests/data/revman/review.rm5 (invented trials beside Fleiss's 1993 aspirin
trials, whose stored results are RevMan 5's own); pass your own .rm5, RevMan 5 CSV export, RevMan Web data package
or Metapsy table as the second argument.
Run: python examples/revman_review.py [output folder] [review file]
"""

import math
import sys
import warnings
from pathlib import Path

import bayesmeta as bm
from bayesmeta.reviews.check import summarise
from bayesmeta.reviews.output import write_review

ROOT = Path(__file__).resolve().parent.parent
out = Path(sys.argv[1] if len(sys.argv) > 1 else "output/revman_review")
source = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "tests" / "data" / "revman" / "review.rm5"

review = bm.read_revman(source)
print(review)
print(review.analyses[["outcome", "measure", "method", "model", "k", "subgroups"]], "\n")

# RevMan vs ours: every pooled number the file stores beside its reproduction
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    check = review.check()
print(summarise(check).to_string(index=False), "\n")

# One analysis in detail: hospital admission, risk ratios pooled by Mantel-Haenszel with random effects and
# two subgroups, as RevMan does it; then the Bayesian model with Turner et al.'s prior on tau
print(review.frequentist("1.2"), "\n")
fit = review.fit("1.2", subgroup=None, seed=1)
mu = fit.summary().loc["mu"]
print(f"Bayesian RR {math.exp(mu['median']):.2f} (95% CrI {math.exp(mu['lower']):.2f} to {math.exp(mu['upper']):.2f});"
      f" P(RR < 1) = {fit.prob('mu < 0'):.3f}; P(RR <= 0.75) = {fit.prob(f'mu <= {math.log(0.75):.6f}'):.3f}")
print(fit.spec.tau_prior_note, "\n")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    result = write_review(review, out, seed=1, figures=False)
table = result["table"]
for row in table.itertuples():
    if row.error:
        print(f"{row.analysis}: not analysed ({row.error})")
    else:
        print(f"{row.analysis} {row.outcome}: {row.measure} {row.bayes_mu}, P(benefit) {row.p_benefit:.3f}")
print(f"\nindex page: {result['files']['index']}")
