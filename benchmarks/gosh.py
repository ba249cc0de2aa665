"""GOSH over all 2^15 - 1 = 32,767 subsets of k = 15 studies (and a 10^5 random sample at k = 40), per tau^2
method, vectorised over subsets (bayesmeta.frequentist_methods.gosh); plus the other small-study and influence
functions at k = 15 and k = 40. Run: PYTHONPATH=. python benchmarks/gosh.py"""

from _common import best_of, synthetic

import bayesmeta as bm

data15, data40 = synthetic(15), synthetic(40, seed=1)
print("GOSH, all 32,767 subsets of k = 15 (s per call)")
for method in ("FE", "DL", "HE", "REML", "ML", "EB"):
    print(f"  {method:5s} {best_of(lambda: bm.gosh(data15, method=method), repeat=3) / 1000:6.2f}")
print("GOSH, 100,000 random subsets of k = 40 (s per call)")
for method in ("DL", "REML"):
    t = best_of(lambda: bm.gosh(data40, max_subsets=100_000, method=method, seed=1), repeat=3) / 1000
    print(f"  {method:5s} {t:6.2f}")
print("other functions, REML (ms per call)    k = 15     k = 40")
calls = {"regtest": lambda d: bm.regtest(d), "ranktest": lambda d: bm.ranktest(d),
         "trimfill": lambda d: bm.trimfill(d), "influence": lambda d: bm.influence(d),
         "cumulative": lambda d: bm.cumulative(d), "selmodel stepfun": lambda d: bm.selmodel(d, steps=(0.025, 1), alternative="less"),
         "selmodel beta": lambda d: bm.selmodel(d, type="beta", alternative="less")}
for name, call in calls.items():
    print(f"  {name:18s} {best_of(lambda: call(data15), repeat=3):9.1f} {best_of(lambda: call(data40), repeat=3):10.1f}")
