"""Exact engine: a fresh fit (the quadrature), a fit with its summary table and one probability (the full
exact analysis of issue 11: goal 2 ms at k = 40), and a fit with all summaries (summary table, shrinkage of
every study, three probabilities) at k = 10, 40, 100, 1000; then the i.i.d. draws into the ArviZ DataTree,
which are made only when first used (plots, reports)."""

from _common import best_of, synthetic

import bayesmeta as bm

bm.fit(synthetic(10), seed=1).idata  # warm-up: imports arviz_base once


def analysis(data):
    fit = bm.fit(data, seed=1)
    fit.summary(), fit.prob("mu < 0")
    return fit


def everything(data):
    fit = bm.fit(data, seed=1)
    fit.summary(), fit.shrinkage()
    fit.prob("mu < 0"), fit.prob("theta_new < -0.2"), fit.prob("tau > 0.5")
    return fit


print(f"{'k':>6s} {'fit (quadrature)':>17s} {'+ summary + P':>14s} {'+ all summaries':>16s} "
      f"{'+ 4000 draws/DataTree':>22s} {'nodes':>6s}")
for k in (10, 40, 100, 1000):
    data = synthetic(k)
    quad = best_of(lambda: bm.fit(data, seed=1), repeat=15)
    one = best_of(lambda: analysis(data), repeat=15)
    full = best_of(lambda: everything(data))
    draws = best_of(lambda: everything(data).idata, repeat=3)
    print(f"{k:6d} {quad:15.1f}ms {one:12.1f}ms {full:14.1f}ms {draws:20.1f}ms {bm.fit(data).settings['nodes']:6d}")
