"""Metapsy-standard tables (the Metapsy databases of psychotherapy trials): semicolon-separated, decimal commas,
one row per comparison and outcome, several rows per study (multi-arm trials, several instruments, several
time points), per-arm means, SDs and group sizes (arm 1 = the psychological treatment).

As a review: one comparison per outcome domain (`outcome_domain`; one comparison without it), one analysis per
time point (`time`, post-test first), in the order of the file. Within an analysis each trial arm comparison
(study x multi_arm1 x multi_arm2) gives one effect: Hedges' g with the exact correction from the arms' means, SDs
and sizes (as the Metapsy `.g` column), or the precalculated g where the arms are not reported; of several
instruments the first "primary" one (`outcome_hierachy`) is used and the others are named in the notes.
Comparisons of a multi-arm trial are labelled "Study (arm 1 vs arm 2)" and share a control group (noted; the
`trial` column allows a three-level model). Lower symptom scores are better: benefit "lower" unless given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..output_folder import display_path
from .core import Analysis, Review, make_rows
from .text import parse_number, repair

REQUIRED = ("study", "mean_arm1", "mean_arm2", "sd_arm1", "sd_arm2", "n_arm1", "n_arm2")
TIME_ORDER = ("post", "follow up", "follow-up", "fu")


def looks_like_metapsy(columns) -> bool:
    cols = {str(c) for c in columns}
    return all(c in cols for c in REQUIRED) and ("condition_arm1" in cols or "outcome_type" in cols)


def read_metapsy(path, benefit="lower", table: pd.DataFrame | None = None) -> Review:
    from ..tables import read_table

    path = Path(path)
    name = display_path(path.name)
    df = read_table(path, labels=["study", "multi_arm1", "multi_arm2"]) if table is None else table
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(f"{name}: not a Metapsy table (no column(s) {', '.join(missing)}); nothing was read")
    df = df.reset_index(drop=True)
    df["_line"] = np.arange(len(df)) + 2
    domain = df["outcome_domain"].map(_text) if "outcome_domain" in df else pd.Series(["all outcomes"] * len(df))
    time = df["time"].map(_text) if "time" in df else pd.Series(["post"] * len(df))
    df["_domain"], df["_time"] = domain.replace("", "unspecified"), time.replace("", "unspecified")
    analyses = {}
    for c_no, dom in enumerate(dict.fromkeys(df["_domain"]), start=1):
        part = df[df["_domain"] == dom]
        times = sorted(dict.fromkeys(part["_time"]), key=_time_key)
        for o_no, tp in enumerate(times, start=1):
            a = _analysis(part[part["_time"] == tp], c_no, o_no, dom, tp, name, benefit)
            analyses[a.number] = a
    title = f"Metapsy database {path.stem}"
    return Review(title=title, path=name, format="Metapsy table", analyses_by_number=analyses,
                  notes=[f"one analysis per outcome domain and time point; Hedges' g (exact J); benefit {benefit!r}"])


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else repair(value)


def _time_key(t):
    t2 = t.casefold()
    return (TIME_ORDER.index(t2) if t2 in TIME_ORDER else len(TIME_ORDER), t2)


def _analysis(rows, c_no, o_no, domain, timepoint, name, benefit) -> Analysis:
    number = f"{c_no}.{o_no}"
    arms1 = rows["multi_arm1"].map(_text) if "multi_arm1" in rows else pd.Series([""] * len(rows), index=rows.index)
    arms2 = rows["multi_arm2"].map(_text) if "multi_arm2" in rows else pd.Series([""] * len(rows), index=rows.index)
    primary = (rows["outcome_hierachy"].map(_text).str.casefold() == "primary") if "outcome_hierachy" in rows \
        else pd.Series(True, index=rows.index)
    keys = list(zip(rows["study"].map(_text), arms1, arms2))
    chosen, notes = {}, []
    for idx, k, prim in zip(rows.index, keys, primary):
        best = chosen.get(k)
        if best is None or (prim and not primary[best]):
            chosen[k] = idx
    for idx, k in zip(rows.index, keys):
        if chosen[k] != idx:
            instrument = _text(rows.at[idx, "instrument"]) if "instrument" in rows else ""
            notes.append(f"{k[0]}: {instrument or 'another instrument'} (line {rows.at[idx, '_line']}) not used; "
                         f"line {rows.at[chosen[k], '_line']} is")
    trials = pd.Series([k[0] for k in chosen]).value_counts()
    records = []
    for k, idx in chosen.items():
        study, a1, a2 = k
        label = f"{study} ({a1 or 'arm 1'} vs {a2 or 'arm 2'})" if trials[study] > 1 else study
        records.append(_record(rows.loc[idx], label, study, name, number))
    multi = sorted(s for s, n in trials.items() if n > 1)
    if multi:
        notes.append("multi-arm trials contribute several comparisons that share a control group: " + ", ".join(multi))
    labels = dict(group1="psychological treatment", group2="control",
                  left="Favours treatment" if benefit == "lower" else "Favours control",
                  right="Favours control" if benefit == "lower" else "Favours treatment")
    return Analysis(number=number, comparison_no=c_no, outcome_no=o_no, comparison=domain, name=timepoint,
                    data_type="continuous", measure="HEDGES_G", method="IV", model="random", rows=make_rows(records),
                    source=name, where=f"analysis {number} ({domain}, {timepoint})", labels=labels, notes=notes)


def _record(row, label, study, name, number) -> dict:
    line = row["_line"]

    def num(col):
        return parse_number(row[col], f"{name}, line {line}, column {col!r}") if col in row.index else np.nan

    g, se = num("precalc_g"), num("precalc_g_se")
    if not (np.isfinite(g) and np.isfinite(se)):
        g, se = num(".g"), num(".g_se")
    return dict(study=label, study_id=study, year=None, subgroup=None, subgroup_no=None,
                where=f"line {line} (analysis {number})", footnotes=None, stored_effect=None, stored_se=None,
                stored_weight=None, mean1=num("mean_arm1"), sd1=num("sd_arm1"),
                n1=num("n_arm1"), mean2=num("mean_arm2"), sd2=num("sd_arm2"), n2=num("n_arm2"), y=g, se=se)
