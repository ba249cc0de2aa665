"""Every tau^2 estimator (with Q-profile CI, I^2, prediction interval) at k = 10 ... 10000, and meta-regression
with three moderators (one continuous, one three-level factor: four coefficients) at k = 50 and k = 1000."""

import numpy as np
import pandas as pd
from _common import best_of, synthetic

import bayesmeta as bm
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


def with_moderators(k, seed=0):
    """synthetic(k) with moderators weeks (continuous), dose (continuous) and setting (three levels)."""
    base = synthetic(k, seed=seed)
    rng = np.random.default_rng(seed + 1)
    weeks, dose = rng.uniform(0, 20, k), rng.uniform(1, 3, k)
    setting = rng.choice(["group", "individual", "online"], k)
    y = base.y - 0.01 * weeks + 0.05 * dose + 0.1 * (setting == "online")
    df = pd.DataFrame(dict(y=y, se=base.se, weeks=weeks, dose=dose, setting=setting))
    return bm.EffectData.from_dataframe(df, y="y", se="se", moderators=["weeks", "dose", "setting"])


formula = "~ weeks + dose + C(setting)"
print(f"\nmeta-regression {formula!r} (ms per full analysis: design, tau^2, QM, QE, R^2, Q-profile CI)")
print("method  " + "".join(f"{'k=' + str(k):>16s}" for k in (50, 1000)) + "   (z / HKSJ; intercept-only z in brackets)")
for method in ("REML", "DL"):
    cells = []
    for k in (50, 1000):
        data = with_moderators(k)
        z = best_of(lambda: frequentist(data, method=method, ci="z", moderators=formula), repeat=5)
        kh = best_of(lambda: frequentist(data, method=method, ci="hksj", moderators=formula), repeat=5)
        plain = best_of(lambda: frequentist(data, method=method, ci="z"), repeat=5)
        cells.append(f"{z:5.1f}/{kh:5.1f} [{plain:4.1f}]")
    print(f"{method:6s}  " + "".join(f"{c:>16s}" for c in cells))
