"""`fit_many`: one Bayesian meta-analysis per group, through the vectorised exact kernels (`bayesmeta.engines.batch`), with groups that fail the kernels' own check refitted by `bm.fit`."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .. import priors as _priors
from ..effects import EffectData
from ..engines import get_engine
from ..engines.batch import QUANTITIES, STATS
from .groups import _check_ci, _prepare, _probs, parse_event
from .scheduling import _WARNINGS, _attrs, _gather, _sizes_of


def run_chunk(chunk, mu_prior, ci, events, engine="exact", seed=None, sampler=None):
    """Fit a chunk of groups [(index, y, se, tau prior), ...]: the engine's vectorised kernels where it has them
    (`batch`), and `bm.fit` for the groups they hand back (or for all of them). Returns (indices, values (G, C), engine
    labels, {index: reason} of the groups that failed, {index: [(warning category, message), ...]}). Runs in
    this process or on a dask worker; warnings are returned, to be given with the group's name."""
    idx = np.array([c[0] for c in chunk], int)
    ks = np.array([len(c[1]) for c in chunk], int)
    n_cols = len(QUANTITIES) * len(STATS) + len(events)
    labels = np.full(len(chunk), f"{engine} (vectorised)", dtype=object)
    failed = {}
    eng = get_engine(engine)
    if eng.batch:
        offsets = np.concatenate([[0], np.cumsum(ks)])
        y = np.concatenate([c[1] for c in chunk]) if chunk else np.empty(0)
        se = np.concatenate([c[2] for c in chunk]) if chunk else np.empty(0)
        values, done = eng.fit_batch(y, se**2, offsets, [c[3] for c in chunk], mu_prior, ci, events)
    else:
        values, done = np.full((len(chunk), n_cols), np.nan), np.zeros(len(chunk), bool)
    said = {}
    for j in np.flatnonzero(~done):
        g, y, se, prior = chunk[j]
        with _WARNINGS, warnings.catch_warnings(record=True) as caught:  # catch_warnings is process-wide
            warnings.simplefilter("always")
            try:
                values[j] = _single(y, se, prior, mu_prior, ci, events, engine, seed, sampler or {})
                labels[j] = eng.group_label
            except (ValueError, FloatingPointError, np.linalg.LinAlgError) as err:
                failed[int(g)] = f"{type(err).__name__}: {err}" if not isinstance(err, ValueError) else str(err)
                labels[j] = None
        if caught:
            said[int(g)] = list(dict.fromkeys((w.category, str(w.message)) for w in caught))
    return idx, values, labels, failed, said


def _single(y, se, prior, mu_prior, ci, events, engine, seed, sampler):
    """One group through bm.fit: the summary rows and the event probabilities, as fit_many lays them out."""
    from ..fitting import fit

    data = EffectData(np.asarray(y, float), np.asarray(se, float), [f"Study {i + 1}" for i in range(len(y))])
    result = fit(data, tau_prior=prior, mu_prior=mu_prior, engine=engine, seed=seed, **sampler)
    summary = result.summary(ci=ci)
    row = [summary.loc[q, s] for q in QUANTITIES for s in STATS]
    for name, lo, hi in events:
        expr = f"{name} < {hi!r}" if lo is None else f"{name} > {lo!r}" if hi is None else f"{lo!r} < {name} < {hi!r}"
        row.append(result.prob(expr))
    return np.array(row, float)


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
    from ..fitting import check_seed

    ci = _check_ci(ci)
    eng = get_engine(engine)
    exprs = _probs(probs)
    events = [parse_event(e) for e in exprs]
    mu = _priors.mu_prior(mu_prior)
    eng.check_mu_prior(mu)
    unknown = set(sampler) - {"draws", "chains", "tune", "target_accept"}
    if unknown:
        raise TypeError(f"fit_many() got unexpected keyword argument(s) {sorted(unknown)}")
    seed = check_seed(seed) if eng.sampled else seed
    columns = dict(y=y, se=se, vi=vi, n1=n1, mean1=mean1, sd1=sd1, n2=n2, mean2=mean2, sd2=sd2, study=study, n=n)
    groups, items, failed = _prepare(df, by, columns, measure, benefit, tau_prior, errors)
    size, threads = _sizes_of(chunk_size, threads, len(items), scheduler, eng.sampled, eng.chunk)
    task = _ChunkTask(mu, ci, events, engine, seed, sampler)
    names = [f"{q}_{s}" for q in QUANTITIES for s in STATS] + exprs
    table, labels, keep = _gather(groups, items, task, (size, scheduler, threads, progress), errors, failed, names)
    table["engine"] = labels[keep]
    table.attrs.update(_attrs(groups, failed, ci, tau_prior, mu, eng.name, seed if eng.sampled else None))
    return table


class _ChunkTask:
    """run_chunk with the shared settings (a picklable callable for the workers)."""

    def __init__(self, mu, ci, events, engine, seed, sampler):
        self.args = (mu, ci, events, engine, seed, sampler)

    def __call__(self, chunk):
        mu, ci, events, engine, seed, sampler = self.args
        return run_chunk(chunk, mu, ci, events, engine, seed, sampler)
