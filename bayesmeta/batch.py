"""Many meta-analyses at once: `fit_many` (Bayesian, normal-normal model) and `frequentist_many` (the
frequentist twin), one row per group of a table.

    table = bm.fit_many(df, by=["outcome", "time"], y="yi", se="sei", tau_prior="halfnormal(0.5)",
                        probs=["mu < 0", "theta_new < -0.2"])
    table = bm.frequentist_many(df, by="analysis", method="REML")

Each group is what `bm.fit(bm.EffectData.from_table(group, **columns), ...)` would fit, and gets the same
numbers (to 1e-7; in practice 1e-10): the exact engine's quadrature runs for many groups in one NumPy pass
(`bayesmeta.engines.batch`), and the few groups whose quadrature fails its accuracy check are fitted one by
one with the adaptive single-analysis engine (column `engine`). Effects are read the way
`EffectData.from_table` reads them (y with se or vi, or the two arms' n, mean and SD; common column names
recognised), vectorised over the whole table; a group with a suspect value is read by `from_table` itself,
so a group with bad data raises its `DataError`, naming the group and the row of the table, or, with
errors="skip", is left out and listed in `table.attrs["skipped"]` with the reason (a list of records, so
that the attrs stay JSON-safe: pandas writes them into parquet files).

Groups go out in chunks (`chunk_size` analyses): in this process (a thread per core; every analysis gets
the same numbers whichever chunk it is in), or to the workers of a dask.distributed cluster
(`scheduler=` a Client or its address). Results come back in the order of the groups' first rows; only
the summary rows are kept, so memory stays flat with the number of analyses.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pandas as pd

from . import priors as _priors
from .effects import ARM_ROLES, STANDARDISED, EffectData, table_roles
from .engines.batch import QUANTITIES, STATS, exact_many
from .errors import DataError

ERRORS = ("raise", "skip")
_WARNINGS = threading.Lock()  # warnings.catch_warnings swaps process-wide state: one thread at a time
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
    from .posterior import parse_event as parse

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
    from .posterior import check_ci

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
        from .effects import _check_benefit, _check_measure

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
            from .effects import smd_from_summary

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
            warnings.warn(self.where(g, str(w.message)), w.category, stacklevel=4)
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


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def run_chunk(chunk, mu_prior, ci, events, engine="exact", seed=None, sampler=None):
    """Fit a chunk of groups [(index, y, se, tau prior), ...]: the vectorised exact engine, and `bm.fit` for the
    groups it hands back (or for all of them with engine='mcmc'). Returns (indices, values (G, C), engine
    labels, {index: reason} of the groups that failed, {index: [(warning category, message), ...]}). Runs in
    this process or on a dask worker; warnings are returned, to be given with the group's name."""
    idx = np.array([c[0] for c in chunk], int)
    ks = np.array([len(c[1]) for c in chunk], int)
    n_cols = len(QUANTITIES) * len(STATS) + len(events)
    labels = np.full(len(chunk), "exact (vectorised)", dtype=object)
    failed = {}
    if engine == "exact":
        offsets = np.concatenate([[0], np.cumsum(ks)])
        y = np.concatenate([c[1] for c in chunk]) if chunk else np.empty(0)
        se = np.concatenate([c[2] for c in chunk]) if chunk else np.empty(0)
        values, done = exact_many(y, se**2, offsets, [c[3] for c in chunk], mu_prior, ci, events)
    else:
        values, done = np.full((len(chunk), n_cols), np.nan), np.zeros(len(chunk), bool)
    said = {}
    for j in np.flatnonzero(~done):
        g, y, se, prior = chunk[j]
        with _WARNINGS, warnings.catch_warnings(record=True) as caught:  # catch_warnings is process-wide
            warnings.simplefilter("always")
            try:
                values[j] = _single(y, se, prior, mu_prior, ci, events, engine, seed, sampler or {})
                labels[j] = "exact (adaptive)" if engine == "exact" else "mcmc"
            except (ValueError, FloatingPointError, np.linalg.LinAlgError) as err:
                failed[int(g)] = f"{type(err).__name__}: {err}" if not isinstance(err, ValueError) else str(err)
                labels[j] = None
        if caught:
            said[int(g)] = list(dict.fromkeys((w.category, str(w.message)) for w in caught))
    return idx, values, labels, failed, said


def _single(y, se, prior, mu_prior, ci, events, engine, seed, sampler):
    """One group through bm.fit: the summary rows and the event probabilities, as fit_many lays them out."""
    from .model import fit

    data = EffectData(np.asarray(y, float), np.asarray(se, float), [f"Study {i + 1}" for i in range(len(y))])
    result = fit(data, tau_prior=prior, mu_prior=mu_prior, engine=engine, seed=seed, **sampler)
    summary = result.summary(ci=ci)
    row = [summary.loc[q, s] for q in QUANTITIES for s in STATS]
    for name, lo, hi in events:
        expr = f"{name} < {hi!r}" if lo is None else f"{name} > {lo!r}" if hi is None else f"{lo!r} < {name} < {hi!r}"
        row.append(result.prob(expr))
    return np.array(row, float)


# --------------------------------------------------------------------------- runners
def _progress(total, show):
    """A rich progress bar on stderr when it is a terminal (or show=True); else a no-op."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("analyses"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    bar.start()
    bar.add_task("fit", total=total)
    return bar


def _client(scheduler):
    """(client, close_after) from a dask.distributed Client or its address."""
    if scheduler is None:
        return None, False
    try:
        from dask.distributed import Client
    except ImportError as err:  # pragma: no cover - a dependency
        raise RuntimeError("scheduler= needs dask.distributed (pip install 'dask[distributed]')") from err
    if isinstance(scheduler, Client):
        return scheduler, False
    if isinstance(scheduler, str):
        return Client(scheduler), True
    raise ValueError(f"scheduler must be a dask.distributed Client or its address (e.g. 'tcp://host:8786'), "
                     f"not {type(scheduler).__name__}")


def _run(items, task, chunk_size, scheduler, threads, show):
    """Run task(chunk) over the chunks of `items` and yield the results in chunk order; at most a few chunks
    in flight (memory flat)."""
    chunks = list(_chunks(items, chunk_size))
    bar = _progress(len(items), show)
    try:
        client, close = _client(scheduler)
        try:
            if client is not None:
                yield from _run_dask(client, chunks, task, bar)
            elif threads > 1 and len(chunks) > 1:
                with ThreadPoolExecutor(threads) as pool:
                    pending = {}
                    for i, chunk in enumerate(chunks):
                        pending[i] = pool.submit(task, chunk)
                        if i >= threads:
                            yield _advance(bar, pending.pop(i - threads).result())
                    for i in sorted(pending):
                        yield _advance(bar, pending[i].result())
            else:
                for chunk in chunks:
                    yield _advance(bar, task(chunk))
        finally:
            if client is not None and close:
                client.close()
    finally:
        if bar is not None:
            bar.stop()


def _advance(bar, result):
    if bar is not None:
        bar.advance(bar.task_ids[0], len(result[0]))
    return result


def _run_dask(client, chunks, task, bar):
    """Chunks to the workers, two per worker in flight, results yielded in chunk order."""
    from dask.distributed import as_completed

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    window = 2 * workers
    futures, done, next_out, it = {}, {}, 0, iter(enumerate(chunks))
    queue = as_completed()
    for i, chunk in it:
        fut = client.submit(task, chunk, pure=False)
        futures[fut.key] = i
        queue.add(fut)
        if len(futures) >= window:
            break
    for fut in queue:
        done[futures.pop(fut.key)] = fut.result()
        fut.release()
        nxt = next(it, None)
        if nxt is not None:
            new = client.submit(task, nxt[1], pure=False)
            futures[new.key] = nxt[0]
            queue.add(new)
        while next_out in done:
            yield _advance(bar, done.pop(next_out))
            next_out += 1


def _default_threads():
    return max(1, min(os.cpu_count() or 1, 4))


# --------------------------------------------------------------------------- public
def fit_many(df: pd.DataFrame, by, y: str | None = None, se: str | None = None, vi: str | None = None,
             n1: str | None = None, mean1: str | None = None, sd1: str | None = None, n2: str | None = None,
             mean2: str | None = None, sd2: str | None = None, study: str | None = None, n: str | None = None,
             measure: str | None = None, benefit: str | None = None, tau_prior=None, mu_prior=None, probs=(),
             ci: float = 0.95, engine: str = "exact", errors: str = "raise", scheduler=None,
             chunk_size: int | None = None, threads: int | None = None, progress: bool | None = None,
             seed: int | None = None, **sampler) -> pd.DataFrame:
    """Bayesian normal-normal random-effects meta-analysis of every group of `df` (rows with the same values
    of the column(s) `by`): one row per group, in the order of the groups' first rows.

    Columns: the `by` columns, k, then for each of mu, tau, tau2, I2 and theta_new its posterior mean, sd,
    median, lower and upper (`ci` equal-tailed interval), named like `mu_median`; one column per `probs`
    expression ('mu < 0', 'theta_new < -0.2', 'tau > 0.5', '-0.5 < mu < 0'; quantities mu, theta_new, tau,
    tau2, I2), named by the expression; and `engine`, which says how each row was computed. The numbers
    are those of `bm.fit(group data, tau_prior=..., mu_prior=...)` on each group alone.

    Effect columns as `EffectData.from_table` (y with se or vi, or n1, mean1, sd1, n2, mean2, sd2; common
    names recognised), with `measure` and `benefit`. tau_prior, mu_prior: as `bm.fit` (prior strings,
    empirical priors, objects; the default tau prior by measure, per group). errors: "raise" (the first
    group with bad data raises a DataError naming the group, the row of the table and the column) or "skip"
    (such groups are left out and listed, with the reason, in `table.attrs["skipped"]`: records of the by
    values and the reason).
    engine: "exact" (vectorised quadrature; the adaptive single engine for the few groups whose quadrature
    fails its check) or "mcmc" (bm.fit per group, `seed` and the sampler settings draws, chains, tune,
    target_accept passed on; on a cluster each worker compiles the model once per number of studies).
    scheduler: None (this process, `threads` threads) or a dask.distributed Client or scheduler address:
    chunks of `chunk_size` groups go to the workers and come back in order, with the same numbers as in
    this process. progress: a rich progress bar (default: when stderr is a terminal).
    """
    from .model import check_seed

    ci = _check_ci(ci)
    if engine not in ("exact", "mcmc"):
        raise ValueError(f"engine must be 'exact' or 'mcmc', not {engine!r}")
    exprs = _probs(probs)
    events = [parse_event(e) for e in exprs]
    mu = _priors.mu_prior(mu_prior)
    if engine == "exact" and mu.kind == "student_t":
        raise ValueError("the exact engine takes a flat or normal prior on mu; use engine='mcmc' for a Student-t "
                         "prior")
    unknown = set(sampler) - {"draws", "chains", "tune", "target_accept"}
    if unknown:
        raise TypeError(f"fit_many() got unexpected keyword argument(s) {sorted(unknown)}")
    seed = check_seed(seed) if engine == "mcmc" else seed
    columns = dict(y=y, se=se, vi=vi, n1=n1, mean1=mean1, sd1=sd1, n2=n2, mean2=mean2, sd2=sd2, study=study, n=n)
    groups, items, failed = _prepare(df, by, columns, measure, benefit, tau_prior, errors)
    size, threads = _sizes_of(chunk_size, threads, len(items), scheduler, engine)
    task = _ChunkTask(mu, ci, events, engine, seed, sampler)
    names = [f"{q}_{s}" for q in QUANTITIES for s in STATS] + exprs
    table, labels, keep = _gather(groups, items, task, (size, scheduler, threads, progress), errors, failed, names)
    table["engine"] = labels[keep]
    table.attrs.update(_attrs(groups, failed, ci, tau_prior, mu, engine, seed))
    return table


def _gather(groups, items, task, how, errors, failed, names, first=None):
    """Run `task` over the chunks of `items` (how: chunk size, scheduler, threads, progress) and lay out its
    results, one row per group that did not fail: the by columns, k, the `first` columns, the `names`
    columns; and the per-group labels (engine or notes) and the kept groups. A chunk's warnings are given
    with the group's name; a group that failed raises (errors='raise') or joins `failed`."""
    values = np.full((len(groups), len(names)), np.nan)
    labels = np.full(len(groups), None, dtype=object)
    for idx, vals, lab, bad, said in _run(items, task, *how):
        values[idx], labels[idx] = vals, lab
        for g, messages in said.items():
            for category, message in messages:
                warnings.warn(f"{groups.name(g)}: {message}", category, stacklevel=3)
        for g, reason in bad.items():
            message = f"{groups.name(g)}: {reason}"
            if errors == "raise":
                raise DataError(message)
            failed[g] = message
    keep = np.array(sorted(set(range(len(groups))) - set(failed)), int)
    table = groups.keys.iloc[keep].reset_index(drop=True)
    table["k"] = np.diff(groups.offsets)[keep]
    for column, value in (first or {}).items():
        table[column] = value
    return pd.concat([table, pd.DataFrame(values[keep], columns=list(names))], axis=1), labels, keep


class _ChunkTask:
    """run_chunk with the shared settings (a picklable callable for the workers)."""

    def __init__(self, mu, ci, events, engine, seed, sampler):
        self.args = (mu, ci, events, engine, seed, sampler)

    def __call__(self, chunk):
        mu, ci, events, engine, seed, sampler = self.args
        return run_chunk(chunk, mu, ci, events, engine, seed, sampler)


def _sizes_of(chunk_size, threads, n_items, scheduler, engine):
    if threads is None:  # MCMC samples its chains in parallel itself
        threads = _default_threads() if scheduler is None and engine != "mcmc" else 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1, not {threads!r}")
    if chunk_size is None:
        per = 20 if engine == "mcmc" else 2000
        chunk_size = max(1, min(per, math.ceil(n_items / max(2 * threads, 8 if scheduler is not None else 1))))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a whole number >= 1, not {chunk_size!r}")
    return chunk_size, threads


def _attrs(groups, failed, ci, tau_prior, mu, engine, seed):
    """The table's attrs, JSON-safe (pandas writes them into parquet files): `skipped` is a list of records
    {by columns..., "reason"} (pd.DataFrame(table.attrs["skipped"]) makes it a table)."""
    skipped = [{**{c: _plain(v) for c, v in zip(groups.by, groups.keys.iloc[g])}, "reason": failed[g]}
               for g in sorted(failed)]
    out = dict(skipped=skipped, interval=f"{ci:.0%} equal-tailed credible interval",
               tau_prior="default by measure" if tau_prior is None else str(_priors.tau_prior(tau_prior)),
               mu_prior=str(mu), engine=engine)
    if engine == "mcmc":
        out["seed"] = int(seed)
    return out

# --------------------------------------------------------------------------- the frequentist twin
FREQ_FIELDS = ("mu", "se", "lower", "upper", "pvalue", "tau2", "tau2_lower", "tau2_upper", "I2", "I2_lower",
               "I2_upper", "H2", "Q", "Q_pvalue", "pi_lower", "pi_upper")


def run_freq_chunk(chunk, options):
    """bm.frequentist on each group of a chunk [(index, y, se, measure), ...]: (indices, values (G, F), notes,
    {index: reason} of the groups that failed, {}: their warnings are in the notes). DL and REML without moderators are computed for all groups
    at once (`rma_many`); the groups it leaves (Fisher scoring that does not converge, the local-maximum
    warning, k = 1 with Knapp-Hartung ...) and the other methods one by one."""
    from .frequentist_methods import frequentist

    idx = np.array([c[0] for c in chunk], int)
    values = np.full((len(chunk), len(FREQ_FIELDS)), np.nan)
    notes = np.full(len(chunk), "", dtype=object)
    done = np.zeros(len(chunk), bool)
    if chunk:
        values, notes, done = rma_many([c[1] for c in chunk], [c[2] for c in chunk], **options)
    failed = {}
    for j in np.flatnonzero(~done):
        g, y, se, measure = chunk[j]
        data = EffectData(y, se, [f"Study {i + 1}" for i in range(len(y))], measure=measure)
        with _WARNINGS, warnings.catch_warnings(record=True) as caught:  # catch_warnings is process-wide
            warnings.simplefilter("always")
            try:
                res = frequentist(data, **options)
            except (ValueError, RuntimeError, FloatingPointError) as err:
                failed[int(g)] = str(err)
                continue
        values[j] = [getattr(res, f) for f in FREQ_FIELDS]
        said = list(dict.fromkeys([*res.notes, *(str(w.message) for w in caught)]))
        notes[j] = "; ".join(said)
    return idx, values, notes, failed, {}  # warnings are in the notes


# --------------------------------------------------------------------------- rma() for many groups at once
def _padded(ys, ses, width=None):
    k = np.array([len(y) for y in ys])
    K = int(k.max()) if width is None else int(width)
    mask = np.arange(K)[None, :] < k[:, None]
    y, se = np.zeros((len(k), K)), np.ones((len(k), K))
    y[mask], se[mask] = np.concatenate(ys), np.concatenate(ses)
    return y, se, mask, k


class _Mean:
    """WeightedFit(ones, w, y) of frequentist_methods.wls for many rows (padding: weight 0), with its
    operations: the weighted mean with one refinement step, rss = y'Py, y'PPy, tr(P), tr(PP), log|X'WX|. A
    study with more than half of the weight (at most one per row) gets 1 - h, its residual and its row of H
    from the other studies (leave-one-out, no cancellation); with k = 1 it alone informs the mean (h = 1)."""

    def __init__(self, w, y, mask):
        w = np.where(mask, w, 0.0)
        self.scale = w.max(axis=1)
        ws = w / self.scale[:, None]
        total = ws.sum(axis=1)
        h = ws / total[:, None]
        m = np.where(mask, 1.0 - h, 0.0)
        mean = np.sum(ws * y, axis=1) / total
        mean = mean + np.sum(ws * (y - mean[:, None]), axis=1) / total
        resid = np.where(mask, y - mean[:, None], 0.0)
        rows = np.arange(len(w))
        d = np.argmax(h, axis=1)
        dom = h[rows, d] > 0.5
        others = mask & (np.arange(w.shape[1])[None, :] != d[:, None]) & dom[:, None]
        rest = np.sum(np.where(others, ws, 0.0), axis=1)
        m_d = np.where(dom, rest / (rest + ws[rows, d]), m[rows, d])
        mean_d = np.sum(np.where(others, ws * y, 0.0), axis=1) / np.where(rest > 0, rest, 1.0)
        r_d = np.where(rest > 0, m_d * (y[rows, d] - mean_d), 0.0)
        m[rows, d] = m_d
        resid[rows, d] = np.where(dom, r_d, resid[rows, d])
        self.ws, self.total, self.m, self.b, self.resid = ws, total, m, mean, resid
        self._dom, self._d, self._others, self._rest = dom, d, others, rest

    @property
    def rss(self):
        return self.scale * np.sum(self.ws * self.resid**2, axis=1)

    @property
    def ypp(self):
        return self.scale**2 * np.sum((self.ws * self.resid) ** 2, axis=1)

    @property
    def tr_p(self):
        return self.scale * np.sum(self.ws * self.m, axis=1)

    @property
    def tr_pp(self):
        ws, m, dom, rows = self.ws, self.m, self._dom, np.arange(len(self.ws))
        ordinary = np.where(dom[:, None], self._others, ws > 0)
        g = np.sum(np.where(ordinary, ws**2, 0.0), axis=1) / self.total
        out = np.sum((ws * m) ** 2, axis=1) + np.maximum(0.0, g**2 - np.sum(np.where(ordinary, (ws * (1.0 - m)) ** 2,
                                                                                     0.0), axis=1))
        wd = ws[rows, self._d]
        with np.errstate(divide="ignore", invalid="ignore"):
            row2 = wd[:, None] * ws * (m[rows, self._d] / self._rest)[:, None] ** 2  # (its row of H)^2
            extra = 2 * wd * np.sum(np.where(self._others, ws * row2, 0.0), axis=1)
        return self.scale**2 * (out + np.where(dom & (self._rest > 0), extra, 0.0))

    @property
    def logdet(self):
        return 2 * np.log(np.sqrt(self.total)) + np.log(self.scale)


def _zeroin(f, a, b, tol, maxiter=1000):
    """wls.zeroin (Brent's method in netlib's form, as R's uniroot) for many rows at once, step for step;
    f(rows, x) -> values. NaN where it does not converge or the ends have the same sign."""
    eps = np.finfo(float).eps
    a, b = np.array(a, float), np.array(b, float)
    rows = np.arange(len(a))
    fa, fb = f(rows, a), f(rows, b)
    out = np.full(len(a), np.nan)
    out = np.where(fb == 0, b, out)
    out = np.where(fa == 0, a, out)
    active = np.flatnonzero((fa != 0) & (fb != 0) & ~(fa * fb > 0))
    c, fc = a.copy(), fa.copy()
    for _ in range(maxiter + 1):
        if active.size == 0:
            break
        A, B, C, FA, FB, FC = a[active], b[active], c[active], fa[active], fb[active], fc[active]
        prev = B - A
        swap = np.abs(FC) < np.abs(FB)
        A, B, C = np.where(swap, B, A), np.where(swap, C, B), np.where(swap, B, C)
        FA, FB, FC = np.where(swap, FB, FA), np.where(swap, FC, FB), np.where(swap, FB, FC)
        tol_act = 2 * eps * np.abs(B) + tol[active] / 2
        new = (C - B) / 2
        finished = (np.abs(new) <= tol_act) | (FB == 0)
        out[active[finished]] = B[finished]
        interp = ~finished & (np.abs(prev) >= tol_act) & (np.abs(FA) > np.abs(FB))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            cb = C - B
            secant = A == C
            t1s = FB / FA
            q0, t1, t2 = FA / FC, FB / FC, FB / FA
            p = np.where(secant, cb * t1s, t2 * (cb * q0 * (q0 - t1) - (B - A) * (t1 - 1.0)))
            q = np.where(secant, 1.0 - t1s, (q0 - 1.0) * (t1 - 1.0) * (t2 - 1.0))
            q = np.where(p > 0, -q, q)
            p = np.abs(p)
            accept = interp & (p < 0.75 * cb * q - np.abs(tol_act * q) / 2) & (p < np.abs(prev * q / 2))
            new = np.where(accept, p / q, new)
        new = np.where(np.abs(new) < tol_act, np.where(new > 0, tol_act, -tol_act), new)
        go = ~finished
        ids = active[go]
        A, FA = B[go], FB[go]
        B = B[go] + new[go]
        FB = f(ids, B)
        flip = ((FB > 0) & (FC[go] > 0)) | ((FB < 0) & (FC[go] < 0))
        a[ids], fa[ids], b[ids], fb[ids] = A, FA, B, FB
        c[ids], fc[ids] = np.where(flip, A, C[go]), np.where(flip, FA, FC[go])
        active = ids
    return out


def rma_many(ys, ses, method="REML", ci="z", level=0.95, prediction="default", control=None):
    """See `_rma_many`; groups are bucketed by their number of studies (padded as the exact batch engine
    pads them), so that a group's numbers do not depend on the other groups of its chunk."""
    from .engines.batch import k_bucket

    G = len(ys)
    values, notes, done = np.full((G, len(FREQ_FIELDS)), np.nan), np.full(G, "", dtype=object), np.zeros(G, bool)
    padded = np.array([k_bucket(len(y)) for y in ys])
    for K in np.unique(padded):
        rows = np.flatnonzero(padded == K)
        with np.errstate(all="ignore"):  # rows with k = 1 or beyond the range are computed, then left out
            v, n, d = _rma_many([ys[i] for i in rows], [ses[i] for i in rows], method, ci, level, prediction,
                                control, K)
        values[rows], notes[rows], done[rows] = v, n, d
    return values, notes, done


def _rma_many(ys, ses, method, ci, level, prediction, control, width=None):
    """frequentist_methods.rma's intercept-only result (DL or REML) for many groups at once, with the same
    operations: scaling by a power of two, metafor's controls, Fisher scoring from the Hedges start, the REML
    local-maximum check, Wald or Knapp-Hartung inference, Q-profile CI (Brent's method step for step) and the
    prediction interval; k = 1 and a study with most of the weight as wls computes them. Returns values (G,
    FREQ_FIELDS), notes and `done`: False for the groups left to bm.frequentist (other methods, k = 1 with
    Knapp-Hartung or a t interval, Fisher scoring that does not converge, the local-maximum warning, a
    Knapp-Hartung fit with Q_E at rounding level, data beyond the scaling's range)."""
    from scipy import stats

    from .frequentist_methods.rma import MAX_RANGE, PRESETS, _prediction_kind
    from .frequentist_methods.tau2 import DEFAULT_CONTROL

    G = len(ys)
    values = np.full((G, len(FREQ_FIELDS)), np.nan)
    notes = np.full(G, "", dtype=object)
    if method in PRESETS:
        spec = PRESETS[method]
        method, ci, prediction = spec["method"], spec["ci"], spec["prediction"]
    if method not in ("DL", "REML"):
        return values, notes, np.zeros(G, bool)
    y0, se0, mask, k = _padded(ys, ses, width)
    pred = _prediction_kind(prediction, ci, method)
    single = k == 1  # tau^2 = 0 with a note; no Q, I^2 or Q-profile CI; Knapp-Hartung and t intervals refused
    ok = ~single | ((ci == "z") & (pred in (None, "z")))
    # scaling (rma._scale_factor) and the controls in scaled units (rma._scaled_control)
    lo = np.where(mask, se0, np.inf).min(axis=1)
    med = np.array([np.median(y) for y in ys])
    spread = np.where(mask, np.abs(y0 - med[:, None]), 0.0).max(axis=1)
    hi = np.maximum(np.where(mask, se0, 0.0).max(axis=1), spread)
    ok &= hi / lo <= MAX_RANGE
    with np.errstate(divide="ignore", invalid="ignore"):
        c = 2.0 ** np.round(0.5 * (np.log2(lo) + np.log2(hi)))
    c = np.where(ok, c, 1.0)
    w0 = np.where(mask, 1 / se0**2, 0.0)
    centre = np.sum(w0 * y0, axis=1) / np.sum(w0, axis=1)  # centred as rma._fit centres: y + 1e8 keeps its digits
    y, v = np.where(mask, y0 - centre[:, None], 0.0) / c[:, None], np.where(mask, (se0 / c[:, None]) ** 2, 1.0)
    ctrl = {**DEFAULT_CONTROL, **(control or {})}
    threshold = np.minimum(ctrl["threshold"] / c**2, 1e-3)
    tol = np.minimum(ctrl["tol"] / c**2, 1e-2)
    tau2_max = np.minimum(np.maximum(ctrl["tau2_max"] / c**2, 1.0), 1e4)
    df = k - 1
    fe = _Mean(1 / v, y, mask)
    # tau^2
    if method == "DL":
        tau2 = (fe.rss - df) / fe.tr_p
    else:
        ols = _Mean(np.ones_like(v), y, mask)
        he = (ols.rss - np.sum(np.where(mask, v * ols.m, 0.0), axis=1)) / np.maximum(df, 1)
        tau2 = np.maximum(0.0, he)
        floor = 1e-12 * np.array([np.median(v[i, :k[i]]) for i in range(G)])
        change = np.full(G, np.inf)
        active = np.flatnonzero(ok & ~single)
        for it in range(1, ctrl["maxiter"] + 2):
            active = active[change[active] > np.maximum(threshold[active], floor[active] + 1e-12 * tau2[active])]
            if active.size == 0:
                break
            if it > ctrl["maxiter"]:
                ok[active] = False  # does not converge: bm.frequentist says so
                break
            fit = _Mean(1 / (v[active] + tau2[active, None]), y[active], mask[active])
            with np.errstate(divide="ignore", invalid="ignore"):
                adj = (fit.ypp - fit.tr_p) / fit.tr_pp
            bad = ~np.isfinite(adj)
            ok[active[bad]] = False
            adj = np.where(bad, 0.0, adj)
            # step halving at 0 (tau2.py: while tau2 + adj < 0: adj /= 2); from tau2 = 0 it halves a negative step
            # until it underflows to -0.0, i.e. no step
            adj = np.where((tau2[active] == 0) & (adj < 0), -0.0, adj)
            while np.any(tau2[active] + adj < 0):
                adj = np.where(tau2[active] + adj < 0, adj / 2, adj)
            change[active] = np.where(bad, 0.0, np.abs(adj))
            tau2[active] += adj
        above = ok & ~single & (tau2 > threshold)
        if above.any():  # the local-maximum check: where it fires, bm.frequentist warns and sets 0
            i = np.flatnonzero(above)
            def loglik(t):
                f = _Mean(1 / (v[i] + t[:, None]), y[i], mask[i])
                ll = -0.5 * np.sum(np.where(mask[i], np.log(v[i] + t[:, None]), 0.0), axis=1) - 0.5 * f.rss
                return ll - 0.5 * f.logdet
            ok[i[loglik(np.zeros(len(i))) - loglik(tau2[i]) > tol[i]]] = False
    tau2 = np.maximum(0.0, np.where(ok & ~single, tau2, 0.0))
    fit = _Mean(1 / (v + tau2[:, None]), y, mask)
    vb = (1 / np.sqrt(fit.total)) ** 2 / fit.scale
    if ci == "hksj":
        eps = np.finfo(float).eps
        size = np.abs(y) + np.abs(fit.b)[:, None]
        rounding = fit.scale * np.sum(np.where(mask, fit.ws * (eps * size) ** 2, 0.0), axis=1)
        ok &= fit.rss > 100 * rounding
        vb = vb * fit.rss / np.maximum(df, 1)
        crit = stats.t.ppf(0.5 + level / 2, np.maximum(df, 1))
        sf = lambda x: stats.t.sf(x, np.maximum(df, 1))  # noqa: E731
    else:
        crit, sf = stats.norm.ppf(0.5 + level / 2), stats.norm.sf
    se_b = np.sqrt(vb)
    stat = (fit.b + centre / c) / se_b
    qe = np.maximum(0.0, fe.rss)
    s2 = df / fe.tr_p
    lo_t, hi_t = _q_profile(y, v, mask, k, tau2, level, tol, tau2_max, ok & ~single)
    ok &= (np.isfinite(lo_t) & np.isfinite(hi_t)) | single
    bounds = np.column_stack([tau2, lo_t, hi_t])
    I2 = 100 * bounds / (bounds + s2[:, None])
    H2 = bounds / s2[:, None] + 1
    mu, se_mu = fit.b * c + centre, se_b * c
    pi_lo = pi_hi = np.full(G, np.nan)
    if pred:
        pdf = {"z": None, "t": df, "hts": k - 2}[pred]
        if pdf is not None:
            ok &= pdf >= 1
        pcrit = stats.norm.ppf(0.5 + level / 2) if pdf is None else stats.t.ppf(0.5 + level / 2, np.maximum(pdf, 1))
        half = pcrit * np.sqrt(se_mu**2 + tau2 * c**2)
        pi_lo, pi_hi = mu - half, mu + half
    out = np.column_stack([mu, se_mu, mu - crit * se_mu, mu + crit * se_mu, 2 * sf(np.abs(stat)),
                           tau2 * c**2, lo_t * c**2, hi_t * c**2, I2[:, 0], I2[:, 1], I2[:, 2], H2[:, 0], qe,
                           stats.chi2.sf(qe, np.maximum(df, 1)), pi_lo, pi_hi])
    out[single, 6:14] = np.nan  # tau2 CI, I2 (and CI), H2, Q, Q_pvalue: rma leaves them out for k = 1
    values[ok] = out[ok]
    boundary = ok & (tau2 == 0) & ~single
    notes[boundary] = (f"{method}: tau^2 estimated at the boundary (0); the random-effects result equals the "
                       "common-effect one")
    notes[ok & single] = "k = 1: heterogeneity cannot be estimated; tau^2 set to 0"
    return values, notes, ok


def _q_profile(y, v, mask, k, tau2, level, tol, tau2_max, ok):
    """tau2.q_profile_ci for many rows (Q_E(tau^2) = the chi^2_{k-1} quantiles; metafor's interval, widened
    tenfold until the bound is inside, Brent's method at `tol`)."""
    from scipy import stats

    df = np.maximum(k - 1, 1)
    alpha = 1 - level
    crit_hi, crit_lo = stats.chi2.isf(alpha / 2, df), stats.chi2.ppf(alpha / 2, df)
    q0 = _Mean(1 / v, y, mask).rss
    start = np.maximum(tau2_max, 10 * tau2)

    def q_stat(rows, t):
        return _Mean(1 / (v[rows] + t[:, None]), y[rows], mask[rows]).rss

    def bound(crit):
        out = np.where(q0 < crit, 0.0, np.nan)
        i = np.flatnonzero(ok & (q0 >= crit))
        hi = start[i].copy()
        for _ in range(400):  # _upper_end: the first of hi, 10 hi, ... where Q_E falls below crit
            more = q_stat(i, hi) > crit[i]
            if not more.any():
                break
            hi = np.where(more, hi * 10, hi)
        target = crit[i]
        out[i] = _zeroin(lambda rows, t: q_stat(i[rows], t) - target[rows], np.zeros(len(i)), hi, tol[i])
        return out

    return bound(crit_hi), bound(crit_lo)


class _FreqTask:
    def __init__(self, options):
        self.options = options

    def __call__(self, chunk):
        return run_freq_chunk(chunk, self.options)


def frequentist_many(df: pd.DataFrame, by, y: str | None = None, se: str | None = None, vi: str | None = None,
                     n1: str | None = None, mean1: str | None = None, sd1: str | None = None, n2: str | None = None,
                     mean2: str | None = None, sd2: str | None = None, study: str | None = None,
                     measure: str | None = None, benefit: str | None = None, method: str = "REML", ci: str = "z",
                     level: float = 0.95, prediction: str | None = "default", control: dict | None = None,
                     errors: str = "raise", scheduler=None, chunk_size: int | None = None,
                     threads: int | None = None, progress: bool | None = None) -> pd.DataFrame:
    """`bm.frequentist` (metafor's rma()) on every group of `df`: one row per group, in the order of the groups'
    first rows, with the by columns, k, method, ci, then mu, se, lower, upper, pvalue, tau2 (and its Q-profile
    CI), I2 (and its CI), H2, Q, Q_pvalue, pi_lower, pi_upper, and `notes` (boundary estimates, one-study
    groups). method: FE DL REML ML PM SJ HS HE EB, or a preset (revman5, cochrane); ci: z or hksj. Columns,
    errors, scheduler, chunks and progress as `fit_many`. A group whose estimator fails (e.g. REML not
    converging) raises, naming the group, or with errors="skip" is listed in attrs["skipped"]."""
    from .frequentist_methods.rma import PRESETS, _check_options

    if method in PRESETS:
        spec = PRESETS[method]
        _check_options(spec["method"], spec["ci"], level, "separate")
    else:
        _check_options(method, ci, level, "separate")
    columns = dict(y=y, se=se, vi=vi, n1=n1, mean1=mean1, sd1=sd1, n2=n2, mean2=mean2, sd2=sd2, study=study, n=None)
    groups, items, failed = _prepare(df, by, columns, measure, benefit, None, errors, bayes=False)
    size, threads = _sizes_of(chunk_size, threads, len(items), scheduler, "freq")
    task = _FreqTask(dict(method=method, ci=ci, level=level, prediction=prediction, control=control))
    first = dict(method=PRESETS[method]["method"] if method in PRESETS else method,
                 ci=PRESETS[method]["ci"] if method in PRESETS else ci)
    table, notes, keep = _gather(groups, items, task, (size, scheduler, threads, progress), errors, failed,
                                 FREQ_FIELDS, first)
    table["notes"] = notes[keep]
    attrs = _attrs(groups, failed, 0.95, None, _priors.mu_prior(None), "frequentist", None)
    table.attrs.update(skipped=attrs["skipped"], level=float(level))
    return table
