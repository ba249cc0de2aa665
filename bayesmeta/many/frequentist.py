"""`frequentist_many`: one frequentist meta-analysis per group, vectorised (`frequentist_methods.many`), the same numbers as `bm.frequentist`."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .. import priors as _priors
from ..effects import EffectData
from .groups import _prepare
from .rma_kernel import FREQ_FIELDS, rma_many
from .scheduling import _WARNINGS, _attrs, _gather, _sizes_of


def run_freq_chunk(chunk, options):
    """bm.frequentist on each group of a chunk [(index, y, se, measure), ...]: (indices, values (G, F), notes,
    {index: reason} of the groups that failed, {}: their warnings are in the notes). DL and REML without moderators are computed for all groups
    at once (`rma_many`); the groups it leaves (Fisher scoring that does not converge, the local-maximum
    warning, k = 1 with Knapp-Hartung ...) and the other methods one by one."""
    from ..frequentist_methods import frequentist

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
    from ..frequentist_methods.rma import PRESETS, _check_options

    if method in PRESETS:
        spec = PRESETS[method]
        _check_options(spec["method"], spec["ci"], level, "separate")
    else:
        _check_options(method, ci, level, "separate")
    columns = dict(y=y, se=se, vi=vi, n1=n1, mean1=mean1, sd1=sd1, n2=n2, mean2=mean2, sd2=sd2, study=study, n=None)
    groups, items, failed = _prepare(df, by, columns, measure, benefit, None, errors, bayes=False)
    size, threads = _sizes_of(chunk_size, threads, len(items), scheduler)
    task = _FreqTask(dict(method=method, ci=ci, level=level, prediction=prediction, control=control))
    first = dict(method=PRESETS[method]["method"] if method in PRESETS else method,
                 ci=PRESETS[method]["ci"] if method in PRESETS else ci)
    table, notes, keep = _gather(groups, items, task, (size, scheduler, threads, progress), errors, failed,
                                 FREQ_FIELDS, first)
    table["notes"] = notes[keep]
    attrs = _attrs(groups, failed, 0.95, None, _priors.mu_prior(None), "frequentist", None)
    table.attrs.update(skipped=attrs["skipped"], level=float(level))
    return table
