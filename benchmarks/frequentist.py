"""Every tau^2 estimator (with Q-profile CI, I^2, prediction interval) at k = 10 ... 10000."""

from _common import best_of, synthetic

from bayesmeta.frequentist_methods import METHODS, frequentist

ks = (10, 100, 1000, 10000)
print("method  " + "".join(f"{'k=' + str(k):>12s}" for k in ks) + "   (ms per full analysis, z and HKSJ)")
for method in METHODS:
    cells = []
    for k in ks:
        data = synthetic(k)
        z = best_of(lambda: frequentist(data, method=method, ci="z"), repeat=5)
        kh = best_of(lambda: frequentist(data, method=method, ci="hksj"), repeat=5)
        cells.append(f"{z:5.1f}/{kh:5.1f}")
    print(f"{method:6s}  " + "".join(f"{c:>12s}" for c in cells))
