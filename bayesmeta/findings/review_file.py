"""Review files: a whole review's summary of findings in TOML, and the same for RevMan reviews.

    [review]     title, intervention, comparison, population, setting
    [defaults]   any outcome key below, used by every outcome that does not set it
    [[outcome]]  name, follow_up, subgroup (words shown with the outcome), benefit ("lower" | "higher"),
                 mid, control_sd, control_risk, units, smd_as_risk, or_as_smd, optimal_information_size, design,
                 risk_of_bias_column, certainty = {domain = level}, reasons = {domain = "why"};
                 the data: dataset (bundled) or file (CSV beside the TOML; sep, decimal), columns = {role =
                 column} (roles of EffectData.from_table: y, se, vi, n, n1, n2, study, ...), measure, cluster,
                 select = {column = value or [values]} (merged over the defaults' select), per_study = "first";
                 the model: model ("random" | "common" | "three-level"), tau_prior, mu_prior, seed.

`summary_of_findings_from_file(path)` fits every outcome (exact engine) and returns the SummaryOfFindings.
`review_summary_of_findings(review, judgements)` does the same for a RevMan review (`bm.read_revman`): the
judgements file has [review], [defaults] and [[outcome]] tables with `analysis = "1.2"` (RevMan's number)
instead of the data keys; only `review.analyses` and `review.effects(number)` are used.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

from ..errors import DataError
from .outcome import Outcome
from .table import summary_of_findings

REVIEW_KEYS = {"title": str, "intervention": str, "comparison": str, "population": str, "setting": str}
OUTCOME_KEYS = {"name": str, "follow_up": str, "subgroup": str, "benefit": str, "mid": float, "control_sd": float,
                "control_risk": float, "units": str, "smd_as_risk": bool, "or_as_smd": bool,
                "optimal_information_size": int, "design": str, "risk_of_bias_column": str, "certainty": dict,
                "reasons": dict}
DATA_KEYS = {"dataset": str, "file": str, "sep": str, "decimal": str, "columns": dict, "measure": str,
             "cluster": str, "select": dict, "per_study": str}
MODEL_KEYS = {"model": str, "tau_prior": str, "mu_prior": str, "seed": int}
OUTCOME_ARGS = ("mid", "control_sd", "control_risk", "units", "smd_as_risk", "or_as_smd", "optimal_information_size",
                "design", "certainty", "reasons", "follow_up", "subgroup", "risk_of_bias_column")
KINDS = {str: "text", float: "number", int: "whole number", bool: "true or false", dict: "table"}


def _read(path) -> dict:
    path = Path(path)
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such review file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot be read as UTF-8 text ({err})") from None
    except tomllib.TOMLDecodeError as err:
        raise DataError(f"{path}: not valid TOML ({err})") from None


def is_review_file(path) -> bool:
    """Whether the TOML file at `path` is a review file (an [[outcome]] list, or a [review] or [outcome] table
    that `_outcomes` then checks) rather than an analysis file."""
    try:
        spec = _read(path)
        return "outcome" in spec or "review" in spec
    except DataError:
        return False


def _check_table(path, where, body, schema):
    if not isinstance(body, dict):
        raise DataError(f"{path}: [{where}] must be a table")
    for key, value in body.items():
        if key not in schema:
            raise DataError(f"{path}: unknown key '{where}.{key}' (allowed: {', '.join(schema)})")
        want = schema[key]
        ok = isinstance(value, want) or (want is float and isinstance(value, int))
        if not ok or (isinstance(value, bool) and want is not bool):
            raise DataError(f"{path}: '{where}.{key}' must be {KINDS[want]}, got {value!r}")


def _outcomes(path, spec, extra) -> list[dict]:
    """[review] checked and each [[outcome]] merged over [defaults] (select tables merged key by key)."""
    known = {"review", "defaults", "outcome"}
    for section in spec:
        if section not in known:
            raise DataError(f"{path}: unknown section [{section}] (allowed: review, defaults, outcome)")
    schema = {**OUTCOME_KEYS, **MODEL_KEYS, **extra}
    _check_table(path, "review", spec.get("review", {}), REVIEW_KEYS)
    for key in ("intervention", "comparison"):
        if key not in spec.get("review", {}):
            raise DataError(f"{path}: 'review.{key}' is required")
    defaults = spec.get("defaults", {})
    _check_table(path, "defaults", defaults, {k: v for k, v in schema.items() if k != "name"})
    listed = spec.get("outcome")
    if not isinstance(listed, list) or not listed:
        raise DataError(f"{path}: list the outcomes as [[outcome]] tables (none found)")
    out = []
    for i, body in enumerate(listed):
        _check_table(path, f"outcome[{i}]", body, schema)
        merged = {**defaults, **body}
        if "select" in defaults or "select" in body:
            merged["select"] = {**defaults.get("select", {}), **body.get("select", {})}
        out.append(merged)
    return out


def _where(path, i, o) -> str:
    return f"{path}: outcome[{i}]" + (f" ({o['name']!r})" if "name" in o else "")


def _select(table, o, where):
    for column, value in o.get("select", {}).items():
        if column not in table.columns:
            raise DataError(f"{where}: 'select.{column}': no such column in the data")
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, (dict, list)) for v in values):
            raise DataError(f"{where}: 'select.{column}' must be a value or a list of values, got {value!r}")
        table = table[table[column].isin(values)]
    if o.get("per_study") is not None:
        if o["per_study"] != "first":
            raise DataError(f"{where}: 'per_study' must be \"first\", got {o['per_study']!r}")
        study = o.get("columns", {}).get("study", "study")
        if study not in table.columns:
            raise DataError(f"{where}: 'per_study' needs the study column {study!r} (set 'columns.study')")
        table = table.drop_duplicates(subset=study, keep="first")
    if len(table) == 0:
        raise DataError(f"{where}: 'select' keeps no rows")
    return table.reset_index(drop=True)


def _effect_data(path, o, where):
    from .. import datasets
    from ..effects import EffectData
    from ..tables import read_table

    if ("dataset" in o) == ("file" in o):
        raise DataError(f"{where}: give exactly one of 'dataset' (a bundled data set) or 'file' (a CSV)")
    if "dataset" in o:
        if o["dataset"] not in datasets.REGISTRY:
            raise DataError(f"{where}: 'dataset' {o['dataset']!r} is not a bundled data set "
                            f"({', '.join(datasets.REGISTRY)})")
        table = datasets.load(o["dataset"])
        columns = o.get("columns") or datasets.REGISTRY[o["dataset"]]["columns"]
    else:
        try:  # a relative path is read from the review file's folder
            table = read_table(Path(path).parent / o["file"], sep=o.get("sep"), decimal=o.get("decimal"))
        except DataError as err:
            raise DataError(f"{where}: 'file' {o['file']!r}: {err}") from None
        columns = o.get("columns", {})
    table = _select(table, o, where)
    opts = {k: o[k] for k in ("measure", "benefit", "cluster") if k in o}
    try:
        return EffectData.from_table(table, **columns, outcome=o.get("name"), **opts)
    except DataError as err:
        raise DataError(f"{where}: {err}") from None


def _outcome(o, data, where) -> Outcome:
    from ..fitting import fit

    try:
        fitted = fit(data, model=o.get("model", "random"), tau_prior=o.get("tau_prior"), mu_prior=o.get("mu_prior"),
                     engine="exact", seed=o.get("seed", 1))
        return Outcome(o["name"], fitted, **{k: o[k] for k in OUTCOME_ARGS if k in o})
    except ValueError as err:  # DataError included
        raise DataError(f"{where}: {err}") from None


def _build(path, spec, outcomes):
    review = spec.get("review", {})
    return summary_of_findings(outcomes, intervention=review["intervention"], comparison=review["comparison"],
                               population=review.get("population"), setting=review.get("setting"),
                               title=review.get("title"))


def summary_of_findings_from_file(path):
    """Fit every outcome of the review file at `path` and return its SummaryOfFindings."""
    spec = _read(path)
    rows = _outcomes(path, spec, DATA_KEYS)
    outcomes = []
    for i, o in enumerate(rows):
        where = _where(path, i, o)
        if "name" not in o:
            raise DataError(f"{where}: 'name' is required")
        outcomes.append(_outcome(o, _effect_data(path, o, where), where))
    return _build(path, spec, outcomes)


def review_summary_of_findings(review, judgements):
    """The summary of findings of a RevMan review (`bm.read_revman(...)`) with the judgements file at
    `judgements`: one [[outcome]] per analysis (`analysis = "1.2"`), named after the analysis unless it sets
    `name`."""
    spec = _read(judgements)
    rows = _outcomes(judgements, spec, {"analysis": str})
    table = review.analyses
    outcomes = []
    for i, o in enumerate(rows):
        where = _where(judgements, i, o)
        number = o.get("analysis")
        if number is None:
            raise DataError(f"{where}: 'analysis' (RevMan's number, e.g. \"1.2\") is required")
        if number not in table.index:
            raise DataError(f"{where}: 'analysis' {number!r} is not in the review "
                            f"(analyses: {', '.join(map(str, table.index[:30]))})")
        o.setdefault("name", str(table.loc[number, "outcome"]))
        try:
            data = review.effects(number)
            if "benefit" in o:
                data = replace(data, benefit=o["benefit"])
        except ValueError as err:
            raise DataError(f"{where}: {err}") from None
        outcomes.append(_outcome(o, data, where))
    return _build(judgements, spec, outcomes)
