"""Many analyses at once (issue 11): bm.fit_many on a simulated Cochrane-like corpus of 10,000 analyses (k = 1 +
a log-normal: median 5, a long tail), in this process (one thread and the default threads) and through a
2-worker dask LocalCluster; bm.frequentist_many with REML on the same corpus; working memory against the
number of analyses; and the time per analysis against R bayesmeta's.

    python benchmarks/batch.py            # everything (a few minutes)
    python benchmarks/batch.py --quick    # 2,000 analyses, no cluster
"""

import sys
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd

import bayesmeta as bm

PROBS = ["mu < 0", "theta_new < 0", "tau > 0.3"]
# R bayesmeta 3.4 per analysis, measured for issue 11 (seconds): 1-60 s typical, 66 s at k = 40, 389 s at k = 100
R_BAYESMETA_K40 = 66.0


def cochrane_like(n, seed=1):
    """n analyses with k = round(exp(N(log 5, 1))) >= 1 studies (median 5, 90th percentile 17, 99th 51, max
    about 250 for n = 10,000; 11% with k = 1, 13% with k = 2), SMDs with group sizes 10-400 per arm and tau
    from 0 to 0.8."""
    rng = np.random.default_rng(seed)
    ks = np.maximum(1, np.round(np.exp(rng.normal(np.log(5), 1.0, size=n)))).astype(int)
    k_all = int(ks.sum())
    analysis = np.repeat(np.arange(n), ks)
    size = rng.integers(10, 400, size=k_all)
    se = np.sqrt(4 / size)
    tau = rng.choice([0.0, 0.1, 0.2, 0.4, 0.8], size=n)[analysis]
    mu = rng.normal(-0.2, 0.3, size=n)[analysis]
    y = rng.normal(rng.normal(mu, tau), se)
    return pd.DataFrame({"analysis": analysis, "yi": y, "sei": se}), ks


def timed(func, repeat=1):
    """Best wall time of `repeat` runs and the CPU time of this process in that run (on a machine shared with
    other work the CPU time of a one-thread run is what an idle machine's wall time would be)."""
    best, cpu = np.inf, np.inf
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = func()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    timed.cpu = cpu
    return best, out


def working_memory(df):
    """Peak of memory allocated during fit_many (tracemalloc sees NumPy's buffers), in MB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    table = bm.fit_many(df, by="analysis", probs=PROBS, threads=1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 1e6, table.memory_usage(deep=True).sum() / 1e6


def main(quick=False):
    n = 2_000 if quick else 10_000
    df, ks = cochrane_like(n)
    print(f"corpus: {n} analyses, {len(df)} studies; k median {np.median(ks):.0f}, 90th percentile "
          f"{np.percentile(ks, 90):.0f}, max {ks.max()}; k = 1: {np.mean(ks == 1):.0%}, k = 2: {np.mean(ks == 2):.0%}")
    bm.fit_many(df.head(200), by="analysis", probs=PROBS)  # warm-up (imports)

    t1, table = timed(lambda: bm.fit_many(df, by="analysis", probs=PROBS, threads=1))
    print(f"fit_many, in process, 1 thread:     {t1:6.2f} s wall, {timed.cpu:.2f} s CPU  ({1e3 * t1 / n:.2f} ms per analysis; "
          f"{(table['engine'] != 'exact (vectorised)').sum()} by the adaptive single engine)")
    t2, table2 = timed(lambda: bm.fit_many(df, by="analysis", probs=PROBS))
    print(f"fit_many, in process, default threads: {t2:6.2f} s wall, {timed.cpu:.2f} s CPU")
    assert table.equals(table2)

    sample = table.sample(20, random_state=0)
    worst = 0.0
    for _, row in sample.iterrows():
        part = df[df["analysis"] == row["analysis"]]
        fit = bm.fit(bm.EffectData.from_table(part))
        s = fit.summary()
        for q in ("mu", "tau", "I2", "theta_new"):
            for st in ("mean", "sd", "median", "lower", "upper"):
                worst = max(worst, abs(row[f"{q}_{st}"] - s.loc[q, st]))
        worst = max(worst, abs(row["mu < 0"] - fit.prob("mu < 0")))
    print(f"  largest difference from bm.fit on 20 random analyses: {worst:.1e}")

    one = bm.EffectData.from_table(df[df["analysis"] == int(np.flatnonzero(ks == 5)[0])])
    t_single, _ = timed(lambda: bm.fit(one).summary(), repeat=20)
    print(f"bm.fit + summary one at a time, k = 5: {1e3 * t_single:.1f} ms per analysis "
          f"(x{t_single * n / t1:.0f} slower than fit_many)")
    rng = np.random.default_rng(5)
    se40 = np.sqrt(4 / rng.integers(10, 400, size=(1000, 40)))
    y40 = rng.normal(rng.normal(-0.2, 0.3, size=(1000, 1)), np.sqrt(se40**2 + 0.04))
    d40 = pd.DataFrame({"analysis": np.repeat(np.arange(1000), 40), "yi": y40.ravel(), "sei": se40.ravel()})
    t40, _ = timed(lambda: bm.fit_many(d40, by="analysis", probs=PROBS, threads=1))
    print(f"1,000 analyses with k = 40: {t40:.2f} s wall, {timed.cpu:.2f} s CPU ({1e3 * t40 / 1000:.2f} ms per "
          f"analysis; R bayesmeta 66 s per analysis at k = 40: {R_BAYESMETA_K40 / (t40 / 1000):,.0f} times)")

    if not quick:
        from dask.distributed import Client, LocalCluster

        t0 = time.perf_counter()
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            start = time.perf_counter() - t0
            client.run(lambda: __import__("bayesmeta.many"))
            bm.fit_many(df.head(500), by="analysis", probs=PROBS, scheduler=client)  # workers warm
            t3, table3 = timed(lambda: bm.fit_many(df, by="analysis", probs=PROBS, scheduler=client))
            f3, freq3 = timed(lambda: bm.frequentist_many(df, by="analysis", method="REML", errors="skip",
                                                          scheduler=client))
        print(f"fit_many, LocalCluster 2 workers:   {t3:6.2f} s  (cluster start {start:.1f} s; table identical: "
              f"{table3.equals(table)}); frequentist_many REML there {f3:.2f} s")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t4, freq = timed(lambda: bm.frequentist_many(df, by="analysis", method="REML", errors="skip"))
    print(f"frequentist_many REML:              {t4:6.2f} s wall, {timed.cpu:.2f} s CPU  ({1e3 * t4 / n:.2f} ms per analysis; "
          f"{len(freq.attrs['skipped'])} groups where REML did not converge)")

    print("working memory of fit_many (tracemalloc peak), against the number of analyses:")
    for m in ((500, 2_000) if quick else (2_000, 10_000, 40_000)):
        d, _ = cochrane_like(m, seed=2)
        peak, out = working_memory(d)
        print(f"  {m:6d} analyses: peak {peak:6.1f} MB, of which the result table {out:5.1f} MB")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
