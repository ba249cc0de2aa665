"""Bayesian model averaging (bm.average): one exact fit (RoBMA's priors: mu ~ N(0, 1), tau ~ InvGamma(1, 0.15))
against the four-model average (goal: within 10x the fit) and the 36-model RoBMA-PSMA ensemble (goal: at most
5 s at k = 50 on 2 cores), at k = 10, 50, 200; and the time of each kind of model in the ensemble at k = 50."""

import time

from _common import best_of, synthetic

import bayesmeta as bm
from bayesmeta.averaging import ROBMA_BIAS, _proper_priors
from bayesmeta.engines.evidence import Component, Setup, evidence

PRIORS = dict(mu_prior="normal(0, 1)", tau_prior="invgamma_tau(1, 0.15)")
bm.fit(synthetic(10), seed=1, **PRIORS)  # warm-up: imports

print(f"{'k':>5s} {'one fit':>10s} {'4 models':>10s} {'ratio':>6s} {'36 models':>10s}")
for k in (10, 50, 200):
    data = synthetic(k)
    one = best_of(lambda: bm.fit(data, seed=1, **PRIORS), repeat=7)
    four = best_of(lambda: bm.average(data, **PRIORS), repeat=7)
    full = best_of(lambda: bm.average(data, bias="RoBMA", **PRIORS), repeat=2)
    print(f"{k:5d} {one:8.1f}ms {four:8.1f}ms {four / one:5.1f}x {full / 1000:9.2f}s")

data = synthetic(50)
setup = Setup.of(data, *_proper_priors("normal(0, 1)", "invgamma_tau(1, 0.15)", "halfcauchy(1)", "halfcauchy(5)"))
print("\nk = 50, time per model (effect and heterogeneity both free, the slowest of the four):")
for b in (None, *ROBMA_BIAS):
    t0 = time.perf_counter()
    r = evidence(Component(True, True, b), setup)
    print(f"  {Component(True, True, b).bias_label:40s} {1000 * (time.perf_counter() - t0):8.1f} ms  "
          f"{r.nodes:8d} nodes")
