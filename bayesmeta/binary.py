"""Effect sizes from 2x2 tables: log odds ratio, log risk ratio and risk difference, as RevMan 5 and metafor's
`escalc` compute them (arm 1 = treatment with a events of n1, arm 2 = control with c events of n2; b = n1 - a,
d = n2 - c).

* ``"logOR"``: log((a d) / (b c)), var = 1/a + 1/b + 1/c + 1/d (Woolf).
* ``"logRR"``: log((a / n1) / (c / n2)), var = 1/a - 1/n1 + 1/c - 1/n2.
* ``"RD"``: a/n1 - c/n2, var = a b / n1^3 + c d / n2^3.

Zero cells (escalc's `add = 1/2, to = "only0"`, RevMan 5, R meta's defaults): a table with a zero cell gets 0.5
added to each of its four cells (so n1 and n2 grow by 1) before the log ratios and all variances are computed.
For the risk difference the difference itself stays the raw a/n1 - c/n2 (RevMan and R meta; escalc would also
shift it) and only its variance uses the corrected cells.

Tables that carry no information on a ratio are set aside and named (escalc's `drop00`, RevMan's "not
estimable"): for odds ratios, no events in either arm or only events in both arms; for risk ratios, no events in
either arm. The risk difference of such a table is 0 with a finite variance, so RevMan and R meta keep it.

Peto's one-step odds ratio (Yusuf et al. 1985) works from the raw counts: O - E = a - n1 m1 / N and
V = n1 n2 m1 m2 / (N^2 (N - 1)) with m1 = a + c, m2 = b + d, N = n1 + n2; log OR_i = (O - E) / V, var = 1 / V.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .errors import PACKAGE_DIR, DataError, DataWarning, plain

BINARY_MEASURES = ("logOR", "logRR", "RD")
RATIO_NAMES = {"logOR": "odds ratio", "logRR": "risk ratio"}  # measures reported back on the ratio scale
COUNT_COLUMNS = ("events1", "n1", "events2", "n2")


def check_counts(events1, n1, events2, n2, labels, columns=COUNT_COLUMNS):
    """The four counts as float arrays: whole numbers, group sizes >= 1 and 0 <= events <= group size; else a
    DataError naming the row and the column."""
    out = []
    for values, col in zip((events1, n1, events2, n2), columns):
        arr = np.asarray(values, dtype=float).reshape(-1)
        for i, v in enumerate(arr):
            where = f"row {i + 1} ({labels[i]!r}), column {col!r}"
            if not np.isfinite(v):
                raise DataError(f"{where}: the count is missing or not a number")
            if v != np.round(v) or v < 0:
                raise DataError(f"{where}: {v:g} is not a count (a whole number >= 0)")
        out.append(arr)
    e1, m1, e2, m2 = out
    for i, lab in enumerate(labels):
        for e, m, ce, cm in ((e1, m1, columns[0], columns[1]), (e2, m2, columns[2], columns[3])):
            if m[i] < 1:
                raise DataError(f"row {i + 1} ({lab!r}), column {cm!r}: the group size {m[i]:g} must be at least 1")
            if e[i] > m[i]:
                raise DataError(f"row {i + 1} ({lab!r}), columns {ce!r}/{cm!r}: {e[i]:g} events among "
                                f"{m[i]:g} participants")
    return e1, m1, e2, m2


def uninformative(events1, n1, events2, n2, measure) -> np.ndarray:
    """Tables set aside for `measure`: no events in either arm (and for logOR also all events in both arms)."""
    e1, m1, e2, m2 = (np.asarray(x, float) for x in (events1, n1, events2, n2))
    none = (e1 == 0) & (e2 == 0)
    if measure == "logOR":
        return none | ((e1 == m1) & (e2 == m2))
    if measure == "logRR":
        return none
    if measure == "RD":
        return np.zeros(len(e1), bool)
    raise DataError(f"measure must be one of {', '.join(BINARY_MEASURES)} for 2x2 counts, not {measure!r}")


def zero_cell(events1, n1, events2, n2) -> np.ndarray:
    """Tables with at least one zero cell (those that get 0.5 added to every cell)."""
    e1, m1, e2, m2 = (np.asarray(x, float) for x in (events1, n1, events2, n2))
    return (e1 == 0) | (e1 == m1) | (e2 == 0) | (e2 == m2)


def corrected_cells(events1, n1, events2, n2, add=0.5):
    """Cells a, b, c, d with `add` added to each cell of the tables that have a zero cell."""
    e1, m1, e2, m2 = (np.asarray(x, float) for x in (events1, n1, events2, n2))
    inc = np.where(zero_cell(e1, m1, e2, m2), add, 0.0)
    return e1 + inc, m1 - e1 + inc, e2 + inc, m2 - e2 + inc


def binary_effects(events1, n1, events2, n2, measure):
    """Effects and sampling variances of `measure` for informative tables (see the module docstring); the caller
    sets aside the tables `uninformative` flags (their values here are NaN or meaningless)."""
    a, b, c, d = corrected_cells(events1, n1, events2, n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "logOR":
            return np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d
        if measure == "logRR":
            return np.log(a / (a + b)) - np.log(c / (c + d)), 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
        if measure == "RD":
            e1, m1, e2, m2 = (np.asarray(x, float) for x in (events1, n1, events2, n2))
            return e1 / m1 - e2 / m2, a * b / (a + b) ** 3 + c * d / (c + d) ** 3
    raise DataError(f"measure must be one of {', '.join(BINARY_MEASURES)} for 2x2 counts, not {measure!r}")


def peto_terms(events1, n1, events2, n2):
    """Observed minus expected events in arm 1 and its hypergeometric variance, per table (raw counts)."""
    e1, m1, e2, m2 = (np.asarray(x, float) for x in (events1, n1, events2, n2))
    total, events = m1 + m2, e1 + e2
    with np.errstate(divide="ignore", invalid="ignore"):
        var = m1 * m2 * events * (total - events) / (total**2 * (total - 1))
    return e1 - m1 * events / total, var


def set_aside_reason(measure) -> str:
    return ("no events in either arm, or only events in both" if measure == "logOR" else "no events in either arm")


def counts_table(df: pd.DataFrame, events1, n1, events2, n2, labels, measure, swap=False):
    """The counts of `df` checked, as a DataFrame events1, n1, events2, n2 (events and non-events exchanged with
    `swap`, RevMan's "swap event and non-event"), and the mask of tables set aside for `measure`."""
    from .columns import _require_columns

    cols = (events1, n1, events2, n2)
    _require_columns(df, list(cols))
    values = []
    for col in cols:
        converted = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        for i, (raw, v) in enumerate(zip(df[col], converted)):
            if np.isnan(v):
                raise DataError(f"row {i + 1} ({labels[i]!r}), column {col!r}: {plain(raw)!r} is not a count")
        values.append(converted)
    e1, m1, e2, m2 = check_counts(*values, labels, cols)
    if swap:
        e1, e2 = m1 - e1, m2 - e2
    table = pd.DataFrame({"events1": e1, "n1": m1, "events2": e2, "n2": m2})
    return table, uninformative(e1, m1, e2, m2, measure)


def from_counts(cls, df: pd.DataFrame, events1="events1", n1="n1", events2="events2", n2="n2", study=None,
                measure="logOR", benefit=None, moderators=None, outcome="effect", swap=False, warn=True):
    """EffectData of `measure` from 2x2 counts (the body of `EffectData.from_counts`). Uninformative tables are
    set aside, with a DataWarning naming them (warn=True); all of them set aside is a DataError."""
    from .columns import (
        _check_benefit,
        _check_df,
        _covariates,
        _labels,
        _moderator_list,
    )

    _check_df(df)
    if measure not in BINARY_MEASURES:
        raise DataError(f"measure must be one of {', '.join(BINARY_MEASURES)} for 2x2 counts, not {measure!r}")
    labels = _labels(df, study)
    table, aside = counts_table(df, events1, n1, events2, n2, labels, measure, swap)
    if aside.all():
        raise DataError(f"no estimable studies for {measure}: every table has {set_aside_reason(measure)} "
                        f"({', '.join(map(repr, labels))})")
    if aside.any() and warn:
        names = ", ".join(repr(s) for s in labels[aside])
        warnings.warn(f"set aside for {measure} ({set_aside_reason(measure)}): {names}", DataWarning, skip_file_prefixes=PACKAGE_DIR)
    keep = ~aside
    t = table[keep].reset_index(drop=True)
    y, v = binary_effects(t["events1"], t["n1"], t["events2"], t["n2"], measure)
    kept = df[keep].reset_index(drop=True)
    covariates = _covariates(kept, labels[keep], (study, events1, n1, events2, n2), moderators)
    return cls(y, np.sqrt(v), labels[keep], measure, _check_benefit(benefit), covariates, arms=t, outcome=outcome,
               n=(t["n1"] + t["n2"]).to_numpy(), moderator_names=_moderator_list(moderators))


def counts_of(data, what="Mantel-Haenszel") -> tuple:
    """The 2x2 counts an EffectData carries (built by `EffectData.from_counts` or from a review), else DataError."""
    arms = data.arms
    if arms is None or not set(COUNT_COLUMNS) <= set(arms.columns):
        raise DataError(f"{what} pools 2x2 counts: build the data with EffectData.from_counts(df, events1=..., "
                        "n1=..., events2=..., n2=...) (these data carry effects only)")
    return tuple(arms[c].to_numpy(dtype=float) for c in COUNT_COLUMNS)
