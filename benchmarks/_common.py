"""Helpers for the benchmark scripts: synthetic SMD data and a best-of-n timer."""

import time

import numpy as np
import pandas as pd


def synthetic(k, seed=0, mu=-0.3, tau=0.2):
    """k studies with group sizes 20-200 per arm and true SMDs ~ N(mu, tau^2)."""
    import bayesmeta as bm

    rng = np.random.default_rng(seed)
    n = rng.integers(20, 200, size=k)
    se = np.sqrt(2 / n + mu**2 / (4 * n))
    y = rng.normal(rng.normal(mu, tau, size=k), se)
    return bm.EffectData.from_dataframe(pd.DataFrame({"y": y, "se": se}), y="y", se="se")


def best_of(func, repeat=7, number=1):
    """Smallest wall time of `repeat` runs of `number` calls, in milliseconds per call."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            func()
        times.append((time.perf_counter() - t0) / number)
    return 1000 * min(times)
