"""Exact meta-regression against the intercept-only fit: k = 50 studies, 3 moderators (one continuous,
one factor with three levels), every coefficient's summary; and subgroup fits (common and separate tau).
Goal (issue 9): meta-regression within 3x the intercept-only fit with all its summaries."""

import numpy as np
import pandas as pd
from _common import best_of

import bayesmeta as bm

rng = np.random.default_rng(1)
k = 50
table = pd.DataFrame({"dose": rng.uniform(0, 10, k), "setting": rng.choice(["clinic", "internet", "app"], k)})
table["se"] = np.sqrt(2 / rng.integers(20, 200, k))
table["y"] = -0.2 - 0.03 * table["dose"] + 0.1 * (table["setting"] == "app") + rng.normal(0, 0.15, k) \
    + rng.normal(0, table["se"])
data = bm.EffectData.from_dataframe(table, y="y", se="se", moderators=["dose", "setting"])
bm.fit(data, moderators="~ dose + C(setting)", seed=1)  # warm-up: imports formulaic once


def intercept_only():
    fit = bm.fit(data, seed=1)
    fit.summary()


def regression():
    fit = bm.fit(data, moderators="~ dose + C(setting)", seed=1)
    fit.coefficients(), fit.summary()


def subgroups(tau):
    fit = bm.fit(data, subgroup="setting", subgroup_tau=tau, seed=1)
    fit.summary(), fit.differences()


base = best_of(intercept_only)
reg = best_of(regression)
print(f"k = {k}: intercept-only fit + summary {base:.1f} ms; meta-regression (3 moderators) fit + coefficients + "
      f"summary {reg:.1f} ms ({reg / base:.1f}x)")
for tau in ("common", "separate"):
    print(f"subgroups ({tau} tau), fit + summary + differences: {best_of(lambda: subgroups(tau)):.1f} ms")
