"""Checks of an input table shared by every builder of EffectData (summaries, estimates, 2x2 counts): study labels, clusters, required and numeric columns, the benefit direction, moderators as covariates; each error names the row and column."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from .errors import DataError, plain

BENEFIT = ("lower", "higher", None)


def _labels(df: pd.DataFrame, study: str | None, cluster: str | None = None) -> np.ndarray:
    if study is None and cluster is not None:  # several effects per trial: "Trial #1", "Trial #2", ...
        _require_columns(df, [cluster])
        clusters = _cluster_labels(df[cluster].tolist(), None, f"column {cluster!r}")
        seen = {}
        out = []
        for c in clusters:
            seen[c] = seen.get(c, 0) + 1
            out.append(f"{c} #{seen[c]}")
        return _unique_labels(out, f"column {cluster!r}")
    if study is None:
        return np.array([f"Study {i + 1}" for i in range(len(df))], dtype=object)
    _require_columns(df, [study])
    for i, value in enumerate(df[study]):
        if _is_missing(value) or str(value).strip() == "":
            raise DataError(f"row {i + 1}, column {study!r}: the study label is missing (a study called NA? "
                            "read the file with bayesmeta.tables.read_table, which keeps NA as a label)")
    labels = [str(v) for v in df[study]]
    if cluster is not None and len(set(labels)) < len(labels):
        return _nested_labels(df, study, cluster, labels)
    return _unique_labels(labels, f"column {study!r}")


def _nested_labels(df, study, cluster, labels) -> np.ndarray:
    """Effect labels that repeat across clusters but not within one ("school 1" in every district, as metafor's
    `~ 1 | district/school`) become "district 11 / school 1"; a label twice in one cluster is an error."""
    _require_columns(df, [cluster])
    clusters = _cluster_labels(df[cluster].tolist(), labels, f"column {cluster!r}")
    seen = {}
    for i, key in enumerate(zip(clusters, labels)):
        if key in seen:
            raise DataError(f"row {i + 1} ({key[1]!r}), column {study!r}: duplicated label within cluster {key[0]!r} "
                            f"(also row {seen[key] + 1}); give each effect of a cluster its own label")
        seen[key] = i

    def part(column, value):
        return f"{column} {value}" if _is_number(value) else value

    return _unique_labels([f"{part(cluster, c)} / {part(study, s)}" for c, s in zip(clusters, labels)],
                          f"columns {cluster!r}/{study!r}")


def _is_number(text) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cluster_labels(values, labels, where: str) -> np.ndarray:
    """Cluster labels as text; DataError naming the row for a missing one."""
    values = list(values)
    if labels is not None and len(values) != len(labels):
        raise DataError(f"EffectData {where} must hold one cluster per effect ({len(labels)}), not {len(values)}")
    for i, value in enumerate(values):
        if _is_missing(value) or not str(value).strip():
            lab = f" ({labels[i]!r})" if labels is not None else ""
            raise DataError(f"row {i + 1}{lab}, {where}: the cluster label is missing")
    return np.array([str(v) for v in values], dtype=object)


def _cluster_column(df, cluster, labels):
    if cluster is None:
        return None
    _require_columns(df, [cluster])
    return _cluster_labels(df[cluster].tolist(), labels, f"column {cluster!r}")


def _unique_labels(labels, where: str) -> np.ndarray:
    """The labels, each once; labels that differ only in white space ("Smith 2010" and "Smith  2010 ") are
    refused as well: they are almost always one study typed twice, and silently two studies otherwise."""
    seen, spaced = {}, {}
    for i, lab in enumerate(labels):
        if lab in seen:
            raise DataError(f"row {i + 1} ({lab!r}), {where}: duplicated study label (also row {seen[lab] + 1}); "
                            "give each comparison its own label or select one row per study")
        key = " ".join(str(lab).split())
        if key in spaced:
            j = spaced[key]
            raise DataError(f"row {i + 1} ({lab!r}), {where}: the label differs from row {j + 1} ({labels[j]!r}) only "
                            "in white space; if they are one study remove the duplicate, if two give them distinct "
                            "labels")
        seen[lab], spaced[key] = i, i
    return np.array(labels, dtype=object)


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _require_columns(df: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = [str(c) for c in df.columns]
        listing = ", ".join(repr(c) for c in have[:40]) + (f", ... ({len(have)} in all)" if len(have) > 40 else "")
        raise DataError(f"column(s) {missing} not found; the table has columns [{listing}]")


def _numeric(df: pd.DataFrame, col: str, labels) -> np.ndarray:
    """The column as floats; DataError naming row and column for text, missing or infinite values."""
    _require_columns(df, [col])
    values = np.empty(len(df))
    for i, (lab, raw) in enumerate(zip(labels, df[col])):
        where = f"row {i + 1} ({lab!r}), column {col!r}"
        if _is_missing(raw) or (isinstance(raw, str) and raw.strip() == ""):
            raise DataError(f"{where}: value is missing")
        if isinstance(raw, (bool, np.bool_)):
            raise DataError(f"{where}: {plain(raw)!r} is not a number")
        try:
            if isinstance(raw, str) and "_" in raw:  # float() would read "1_000" as 1000
                raise ValueError(raw)
            value = float(raw)
        except (TypeError, ValueError):
            hint = ""
            if isinstance(raw, str) and re.fullmatch(r"\s*[-+]?\d+,\d+\s*", raw):
                hint = (" (a decimal comma? bayesmeta.tables.read_table and the command line read semicolon-separated "
                        "files with "
                        "decimal commas; with pandas use read_csv(sep=';', decimal=','))")
            raise DataError(f"{where}: {plain(raw)!r} is not a number{hint}") from None
        if np.isnan(value):
            raise DataError(f"{where}: value is missing (NaN)")
        if not np.isfinite(value):
            raise DataError(f"{where}: value is infinite")
        values[i] = value
    return values


def _positive(values, col, labels, what="must be > 0"):
    for i, (lab, v) in enumerate(zip(labels, values)):
        if not v > 0:
            raise DataError(f"row {i + 1} ({lab!r}), column {col!r}: {plain(v)!r} {what}")
    return values


def _group_size(df, col, labels, smallest=2):
    n = _numeric(df, col, labels)
    for i, (lab, v) in enumerate(zip(labels, n)):
        where = f"row {i + 1} ({lab!r}), column {col!r}"
        if v != np.round(v):
            raise DataError(f"{where}: group size {plain(v)!r} is not a whole number")
        if v < smallest:
            raise DataError(f"{where}: group size {v:g} is below {smallest}"
                            + ("; an SD needs at least two participants" if smallest == 2 else ""))
    return n


def _check_benefit(benefit):
    if benefit not in BENEFIT:
        raise DataError(f"benefit must be 'lower' or 'higher' (the direction of a favourable effect), not {benefit!r}")
    return benefit


def _moderator_list(moderators) -> tuple:
    if moderators is None:
        return ()
    if isinstance(moderators, str):
        return (moderators,)
    return tuple(moderators)


def _covariates(df: pd.DataFrame, labels, used, moderators) -> pd.DataFrame:
    """Every column of `df` not used for the effects (study, y, se, arms ...), indexed by study label: the
    covariates a later meta-regression can use. Listed `moderators` must be there and complete."""
    listed = _moderator_list(moderators)
    _require_columns(df, list(listed))
    used = {c for c in used if c is not None}
    keep = [c for c in df.columns if c not in used or c in listed]
    covariates = df[keep].copy()
    covariates.index = pd.Index(labels, name="study")
    _check_listed(covariates, listed, labels)
    return covariates


def _check_listed(covariates, listed, labels):
    for col in listed:
        if col not in covariates.columns:
            raise DataError(f"moderator {col!r} is not among the covariates {list(covariates.columns)}")
        for i, (lab, v) in enumerate(zip(labels, covariates[col])):
            if _is_missing(v) or (isinstance(v, str) and not v.strip()):
                raise DataError(f"row {i + 1} ({lab!r}), column {col!r}: moderator value is missing")


def _check_precision(y, se, labels, ycol="y", secol="se"):
    """Effects and standard errors that float64 can carry through the models: se^2, the weights 1/se^2,
    y^2/se^2, the spread of the effects and the summed weights must all be finite and se^2 must not
    underflow. Otherwise a DataError naming the row and saying to rescale (other units)."""
    tiny, huge = np.finfo(float).tiny, np.finfo(float).max
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        v = se**2
        w = 1 / v
        yw = y**2 * w
    for i, lab in enumerate(labels):
        where = f"row {i + 1} ({lab!r}), column {secol!r}"
        if not v[i] < huge:
            raise DataError(f"{where}: the standard error {se[i]:.3g} squared overflows float64 (> 1.8e308); "
                            "express the effects in other units")
        if not v[i] >= tiny or not np.isfinite(w[i]):
            raise DataError(f"{where}: the standard error {se[i]:.3g} squared underflows float64 (< 2.2e-308); "
                            "express the effects in other units")
        if not np.isfinite(yw[i]):
            raise DataError(f"row {i + 1} ({lab!r}), columns {ycol!r}/{secol!r}: the effect {y[i]:.3g} is too large "
                            f"for its standard error {se[i]:.3g} to be used in float64 (y^2/se^2 overflows); "
                            "express the effects in other units")
    with np.errstate(over="ignore", invalid="ignore"):
        totals = (np.sum(w), np.sum(np.abs(y) * w), np.sum(yw), (np.max(y) - np.min(y)) ** 2 * np.max(w))
    if not np.all(np.isfinite(totals)):
        raise DataError(f"columns {ycol!r}/{secol!r}: the effects and standard errors span too many orders of "
                        "magnitude for float64 (the summed precisions or the squared spread over the smallest "
                        "variance overflow); check the units of each row")


def _check_df(df):
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise DataError("the table is empty: no studies to pool")
    dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if dupes:
        raise DataError(f"column(s) {dupes} appear more than once in the table; rename them so each is unique")
