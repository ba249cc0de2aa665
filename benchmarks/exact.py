"""Exact engine: a fresh fit with all summaries (summary table, shrinkage of every study, three
probabilities) at k = 10, 40, 100, 1000; then the i.i.d. draws into the ArviZ DataTree, which are made
only when first used (plots, reports). Goal: fit with all summaries under 20 ms at k = 40."""

from _common import best_of, synthetic

import bayesmeta as bm

bm.fit(synthetic(10), seed=1).idata  # warm-up: imports arviz_base once


def everything(data):
    fit = bm.fit(data, seed=1)
    fit.summary(), fit.shrinkage()
    fit.prob("mu < 0"), fit.prob("theta_new < -0.2"), fit.prob("tau > 0.5")
    return fit


print(f"{'k':>6s} {'fit (quadrature)':>17s} {'fit + all summaries':>20s} {'+ 4000 draws/DataTree':>22s} {'nodes':>6s}")
for k in (10, 40, 100, 1000):
    data = synthetic(k)
    quad = best_of(lambda: bm.fit(data, seed=1))
    full = best_of(lambda: everything(data))
    draws = best_of(lambda: everything(data).idata, repeat=3)
    print(f"{k:6d} {quad:15.1f}ms {full:18.1f}ms {draws:20.1f}ms {bm.fit(data).settings['nodes']:6d}")
