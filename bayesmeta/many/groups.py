"""The table of many analyses split into groups: the grouping columns, each group's effects (from estimates or two-arm summaries) checked, the events of the probability columns."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .. import priors as _priors
from ..effects import ARM_ROLES, STANDARDISED, EffectData, table_roles
from ..errors import PACKAGE_DIR, DataError

ERRORS = ("raise", "skip")


_EVENT_QUANTITIES = ("mu", "theta_new", "tau", "tau2", "I2")


# --------------------------------------------------------------------------- options
def _text_names(df, by, columns):
    """Column names as text: a table with integer column names (e.g. made from a NumPy array) is read with its
    names as strings, and `by` or column arguments given as integers name those columns."""
    if not isinstance(df, pd.DataFrame):
        return df, by, columns
    names = [str(c) for c in df.columns]
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise DataError(f"the table has two columns named {dup!r} (e.g. the number {dup} and the text '{dup}')")
    if any(not isinstance(c, str) for c in df.columns):
        df = df.set_axis(names, axis=1)

    def text(c):
        return str(c) if isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_)) else c

    by = [text(c) for c in by] if isinstance(by, (list, tuple)) else text(by)
    return df, by, {role: text(c) for role, c in columns.items()}


def _by_columns(df, by) -> list[str]:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    cols = [by] if isinstance(by, str) else list(by) if by is not None else []
    if not cols or not all(isinstance(c, str) and c for c in cols):
        raise ValueError(f"by must name one or more columns (a string or a list of strings), not {by!r}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"by: column(s) {missing} not found; the table has columns "
                        f"{[str(c) for c in df.columns][:40]}")
    if len(set(cols)) != len(cols):
        raise ValueError(f"by names a column more than once: {cols}")
    return cols


def parse_event(expression: str):
    """'mu < 0' -> ('mu', None, 0.0); '-0.5 < theta_new < 0' -> ('theta_new', -0.5, 0.0); 'tau > 0.5' ->
    ('tau', 0.5, None). Quantities: mu, theta_new, tau, tau2, I2 (the rules of Fit.prob)."""
    from ..posterior import parse_event as parse

    hint = f"write e.g. 'mu < 0', 'theta_new <= -0.2', 'tau > 0.5' or '-0.5 < mu < 0' (quantities: " \
           f"{', '.join(_EVENT_QUANTITIES)})"
    text, lower, upper = parse(expression, hint)
    if text.strip() not in _EVENT_QUANTITIES:
        raise ValueError(f"cannot read {expression!r}: many analyses at once give probabilities of "
                         f"{', '.join(_EVENT_QUANTITIES)}, not {text.strip()!r}")
    return text.strip(), lower, upper


def _probs(probs) -> list[str]:
    if probs is None:
        return []
    if isinstance(probs, str):
        probs = [probs]
    probs = list(probs)
    if len(set(probs)) != len(probs):
        raise ValueError(f"probs lists an expression more than once: {probs}")
    return probs


def _check_ci(ci) -> float:
    from ..posterior import check_ci

    return check_ci(ci)


# --------------------------------------------------------------------------- groups of a table
class Groups:
    """The groups of `df` by the columns `by`, in the order of their first rows: `codes` (group of each row),
    `keys` (a DataFrame of the by-values, one row per group), `rows` (table positions of each group)."""

    def __init__(self, df, by):
        self.df, self.by = df, by
        codes = df.groupby(by, sort=False, dropna=False, observed=True).ngroup().to_numpy()
        first = np.unique(codes, return_index=True)[1]
        self.codes = codes
        self.keys = df[by].iloc[first].reset_index(drop=True)
        order = np.argsort(codes, kind="stable")
        self.offsets = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(first)))])
        self.order = order

    def __len__(self):
        return len(self.keys)

    def rows(self, g) -> np.ndarray:
        return self.order[self.offsets[g]:self.offsets[g + 1]]

    def name(self, g) -> str:
        return "group " + ", ".join(f"{c}={_plain(v)!r}" for c, v in zip(self.by, self.keys.iloc[g]))


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _floats(df, col):
    """A column as floats, and the rows whose value is not a plain finite number (these groups are read by
    EffectData itself, which names the problem)."""
    if col not in df.columns:
        raise DataError(f"column(s) [{col!r}] not found; the table has columns {[str(c) for c in df.columns][:40]}")
    s = df[col]
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        values = s.to_numpy(dtype=float, na_value=np.nan)
        return values, ~np.isfinite(values)
    return np.full(len(s), np.nan), np.ones(len(s), bool)


def _sizes(df, cols):
    """Summed sizes of the column(s) and the rows where they are not whole numbers >= 1 (NaN there)."""
    cols = [cols] if isinstance(cols, str) else list(cols)
    total, bad = np.zeros(len(df)), np.zeros(len(df), bool)
    for c in cols:
        if c is None or c not in df.columns:
            return np.full(len(df), np.nan), np.ones(len(df), bool)
        values = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad |= ~(np.isfinite(values) & (values >= 1) & (values == np.round(values)))
        total = total + values
    return np.where(bad, np.nan, total), bad


class Effects:
    """y, se (and the total sizes n, where known) of every group of a table, read as
    EffectData.from_table(group, **columns) would read each group: vectorised where every value is plainly
    valid, by from_table itself for a group with any suspect value (so its error names the row and column)."""

    def __init__(self, df, groups: Groups, columns: dict, measure=None, benefit=None):
        from ..columns import _check_benefit
        from ..effects import _check_measure

        if measure is not None:
            _check_measure(measure)
        _check_benefit(benefit)
        self.groups, self.columns = groups, columns
        self.opts = {k: v for k, v in dict(measure=measure, benefit=benefit).items() if v is not None}
        self.measure = measure or "SMD"
        roles = table_roles(df, columns)
        n_rows = len(df)
        codes = groups.codes
        suspect = np.zeros(n_rows, bool)
        n = None
        if roles["kind"] == "effects":
            y, bad_y = _floats(df, roles["y"])
            if roles["se"] is not None:
                se, bad_se = _floats(df, roles["se"])
                bad_se |= ~(se > 0)
            else:
                vi, bad_se = _floats(df, roles["vi"])
                bad_se |= ~(vi > 0)
                se = np.sqrt(np.where(bad_se, 1.0, vi))
            suspect |= bad_y | bad_se
            if roles["n"] is not None and not (isinstance(roles["n"], tuple) and None in roles["n"]):
                n, bad_n = _sizes(df, roles["n"])
                if not roles["n_guessed"]:
                    suspect |= bad_n
                else:  # recognised sizes are used only where the whole group has them
                    incomplete = np.bincount(codes, weights=bad_n, minlength=len(groups)) > 0
                    n = np.where(incomplete[codes], np.nan, n)
        else:
            from ..effects import smd_from_summary

            arms, bad = {}, np.zeros(n_rows, bool)
            for r in ARM_ROLES:
                arms[r], b = _floats(df, roles[r])
                bad |= b
            for r in ("n1", "n2"):
                bad |= ~((arms[r] >= 2) & (arms[r] == np.round(arms[r])))
            for r in ("sd1", "sd2"):
                bad |= ~(arms[r] > 0)
            with np.errstate(all="ignore"):
                y, var = smd_from_summary(*(np.where(bad, 1.0, arms[r]) for r in ARM_ROLES), measure=self.measure)
                se = np.sqrt(var)
            bad |= ~(np.isfinite(y) & np.isfinite(var) & (var > 0))
            bad |= _sd_like_se(arms, y, self.measure)  # from_summary warns: let it, with its words
            suspect |= bad
            n = arms["n1"] + arms["n2"]
        # precision (EffectData's _check_precision): squares, weights and their sums finite
        with np.errstate(all="ignore"):
            v = se**2
            w = 1 / v
            yw = y**2 * w
            suspect |= ~((v >= np.finfo(float).tiny) & (v < np.finfo(float).max) & np.isfinite(w) & np.isfinite(yw))
        if roles["study"] is not None:
            labels = df[roles["study"]]
            missing = labels.isna().to_numpy() | (labels.astype(str).str.strip() == "").to_numpy()
            text = labels.astype(str).to_numpy()
            dup = pd.DataFrame({"g": codes, "s": text}).duplicated(keep=False).to_numpy()
            suspect |= missing | dup
        bad_group = np.bincount(codes, weights=suspect, minlength=len(groups)) > 0
        with np.errstate(all="ignore"):
            sums = [np.bincount(codes, weights=np.where(suspect, 0.0, x), minlength=len(groups))
                    for x in (w, np.abs(y) * w, yw)]
            y_c = np.where(suspect, np.nan, y)
            spread = (pd.Series(y_c).groupby(codes).max() - pd.Series(y_c).groupby(codes).min()).to_numpy()
            wmax = pd.Series(np.where(suspect, np.nan, w)).groupby(codes).max().to_numpy()
            spread = np.nan_to_num(spread) ** 2 * np.nan_to_num(wmax)
        bad_group |= ~np.all(np.isfinite(np.column_stack(sums + [spread])), axis=1)
        self.y, self.se, self.n = y, se, n
        self.slow = np.flatnonzero(bad_group)
        self.roles = roles

    def group(self, g):
        """y, se, n (None where the sizes are unknown) of group g in its row order (for a group that is not in
        `slow`, whose values are all plainly valid)."""
        rows = self.groups.rows(g)
        return self.y[rows], self.se[rows], None if self.n is None else self.n[rows]

    def from_table(self, g):
        """EffectData of group g read by EffectData.from_table; its DataError and warnings say the group and
        the row of the whole table."""
        rows = self.groups.rows(g)
        part = self.groups.df.iloc[rows]
        cols = {k: v for k, v in self.columns.items() if v is not None}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                data = EffectData.from_table(part, **cols, **self.opts)
            except DataError as err:
                raise DataError(self.where(g, str(err))) from None
        for w in caught:
            warnings.warn(self.where(g, str(w.message)), w.category, skip_file_prefixes=PACKAGE_DIR)
        return data

    def where(self, g, message: str) -> str:
        """`message` about group g, with its 'row i' (within the group) as the row of the table."""
        import re

        rows = self.groups.rows(g)

        def table_row(m):
            i = int(m.group(1))
            return f"row {rows[i - 1] + 1} of the table" if 1 <= i <= len(rows) else m.group(0)

        return f"{self.groups.name(g)}: {re.sub(r'^row (\d+)', table_row, message)}"


def _sd_like_se(arms, y, measure):
    """Rows that from_summary warns about (an SD that looks like a standard error, or |SMD| > 3)."""
    with np.errstate(all="ignore"):
        ratio = np.maximum(arms["sd1"], arms["sd2"]) / np.minimum(arms["sd1"], arms["sd2"])
        n_small = np.minimum(arms["n1"], arms["n2"])
        odd = (n_small >= 10) & (ratio > 0.7 * np.sqrt(n_small)) & (ratio > 3)
        huge = (measure != "MD") & (np.abs(y) > 3)
    return odd | huge


# --------------------------------------------------------------------------- tasks
def _prepare(df, by, columns, measure, benefit, tau_prior, errors, bayes=True):
    """Groups, their effects, tau priors and errors: a list of (group index, y, se, tau prior) for the groups
    that can be fitted (with bayes=False the measure in place of the prior), and {group index: reason} for
    those that cannot (with errors='raise' the first raises)."""
    df, by, columns = _text_names(df, by, columns)
    by = _by_columns(df, by)
    if errors not in ERRORS:
        raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
    if len(df) == 0:
        raise DataError("the table is empty: no studies to pool")
    groups = Groups(df, by)
    effects = Effects(df, groups, columns, measure, benefit)
    spec = None if tau_prior is None else _priors.tau_prior(tau_prior)
    slow = set(effects.slow.tolist())
    shared, cache, items, failed = {}, {}, [], {}
    for g in range(len(groups)):
        try:
            if g in slow:
                data = effects.from_table(g)
                y, se, n, measure_g = data.y, data.se, data.n, data.measure
            else:
                (y, se, n), measure_g = effects.group(g), effects.measure
            prior = _group_prior(spec, y, se, n, measure_g, cache, shared) if bayes else measure_g
        except (DataError, ValueError, FloatingPointError) as err:
            message = str(err) if str(err).startswith("group ") else effects.where(g, str(err))
            if errors == "raise":
                raise type(err)(message) if isinstance(err, DataError) else DataError(message) from None
            failed[g] = message
            continue
        items.append((g, y, se, prior))
    return groups, items, failed


def _group_prior(spec, y, se, n, measure, cache, shared):
    """The tau prior of one group, as Model.build picks and checks it (default by measure, bound to the data,
    refused where it lies below the data's resolution or is improper with one study)."""
    if spec is None:
        if measure in STANDARDISED:
            key = "standardised"
            if key not in cache:
                cache[key] = _priors.default_tau_prior(SimpleNamespace(measure=measure, n=None, se=se))[0]
            prior = cache[key]
        else:
            prior = _priors.default_tau_prior(SimpleNamespace(measure=measure, n=n, se=se))[0]
            prior = cache.setdefault(str(prior), prior)
    else:
        prior = spec
    if prior.proper:
        top = shared.get(id(prior))
        if top is None:
            top = shared[id(prior)] = float(prior.ppf(0.999))
        if top < 1e-6 * float(np.min(se)):
            prior.bind(SimpleNamespace(se=se))  # raises its PriorError
    elif len(y) < 2:
        raise ValueError("an improper prior on tau needs at least 2 studies")
    return prior
