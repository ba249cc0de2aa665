"""Robustness analyses (issue 19) against one exact fit: exact leave-one-out for k = 40 (target: within 10x one
exact fit), the 12-prior grid (6 tau priors x 2 mu priors; target: within 12x), the Bayesian GOSH over
2^15 - 1 = 32,767 subsets of 15 studies (target: at most 10 s on 2 cores), and the exact power-scaling
sensitivity and exact LOO.

    python benchmarks/robustness.py
"""

import os
import time

import numpy as np
from _common import best_of, synthetic

import bayesmeta as bm


def main():
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} (other processes share the machine)")
    d40 = synthetic(40, seed=1)
    f40 = bm.fit(d40, tau_prior="halfnormal(0.5)", seed=1)
    quad = best_of(lambda: bm.fit(d40, tau_prior="halfnormal(0.5)", seed=1), repeat=7)
    # one exact fit as a user gets it: the quadrature and its summary table (what each refit below delivers)
    one = best_of(lambda: bm.fit(d40, tau_prior="halfnormal(0.5)", seed=1).summary(), repeat=7)
    loo = best_of(f40.leave_one_out, repeat=7)
    print(f"one exact fit, k = 40, quadrature only: {quad:8.1f} ms")
    print(f"one exact fit with its summary table:   {one:8.1f} ms (the unit below)")
    print(f"exact leave-one-out (40 refits):    {loo:8.1f} ms  = {loo / one:5.1f} x one fit (target <= 10x)")
    grid = best_of(lambda: f40.sensitivity(mu_priors=["flat", "normal(0, 1)"]), repeat=7)
    print(f"12-prior grid:                      {grid:8.1f} ms  = {grid / one:5.1f} x one fit (target <= 12x)")
    cum = best_of(f40.cumulative, repeat=3)
    print(f"cumulative, 40 steps with BF10:     {cum:8.1f} ms  = {cum / one:5.1f} x one fit")
    ps = best_of(f40.power_scaling, repeat=3)
    print(f"exact power-scaling sensitivity:    {ps:8.1f} ms  = {ps / one:5.1f} x one fit")

    d15 = bm.datasets.effect_data("thirdwave").take(np.arange(15))
    f15 = bm.fit(d15, tau_prior="halfnormal(0.5)", seed=1)
    t0, c0 = time.perf_counter(), time.process_time()
    table = f15.gosh()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"Bayesian GOSH, 2^15 - 1 = {len(table)} exact fits: {wall:5.2f} s wall, {cpu:5.2f} s CPU over "
          f"{min(2, os.cpu_count())} threads (target <= 10 s on 2 cores); "
          f"{int(table['mu_median'].isna().sum())} failed")


if __name__ == "__main__":
    main()
