"""RevMan 5's CSV export of the analyses: one table whose hierarchy is in the Comparison / Outcome / Subgroup
Number columns. A comparison row has outcome number 0 (its Name is the comparison's); an outcome row has a Data
Type (DIC, CON, IV, IPD) and subgroup number 0, with the settings (Statistical Method, Effect Measure, Analysis
Model), the labels and RevMan's pooled result (Effect Estimate, CI Start, CI End, Q, P(Q), I²(Q), Tau², Z, P(Z),
Qint, P(Qint), I²(Qint), df); a subgroup row has a Data Type and its subgroup number; the other rows are
studies (Name, Year of study, Events/Mean/SD/Total 1 and 2, and for generic data Effect Estimate and SE).
Unused cells are 0; numbers may carry thousands separators. Ratios are shown as ratios, SEs on the log scale.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..errors import DataError
from ..output_folder import display_path
from .core import Analysis, Review, is_ratio_measure, make_rows
from .rm5 import MEASURE_NAMES, METHODS, measure_code
from .text import decode_table, generic_log_effect, key, parse_number, repair

REQUIRED = ("comparisonnumber", "outcomenumber", "subgroupnumber", "name")
KINDS = {"DIC": "dichotomous", "CON": "continuous", "IV": "generic", "GIV": "generic", "GEN": "generic",
         "IPD": "o-e", "OE": "o-e", "OEV": "o-e"}
STORED = {"estimate": "effectestimate", "lower": "cistart", "upper": "ciend", "z": "z", "p_z": "pz", "tau2": "tau2",
          "chi2": "q", "df": "df", "p_chi2": "pq", "I2": "i2q"}
TEST = {"subgroup_chi2": "qint", "subgroup_p": "pqint", "subgroup_I2": "i2qint"}


def looks_like_export(header: list[str]) -> bool:
    keys = {key(h) for h in header}
    return all(r in keys for r in REQUIRED[:3])


def read_csv_export(path, raw: bytes | None = None) -> Review:
    path = Path(path)
    name = display_path(path.name)
    text, _ = decode_table(path.read_bytes() if raw is None else raw)
    rows = list(csv.reader(io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{name}: the file is empty; nothing was read")
    header = [key(h) for h in rows[0]]
    missing = [r for r in REQUIRED if r not in header]
    if missing:
        raise DataError(f"{name}: not a RevMan 5 CSV export (no column(s) {', '.join(missing)} in the header); "
                        "nothing was read")
    col = {h: i for i, h in reversed(list(enumerate(header)))}
    comparisons, outcomes, current = {}, {}, None
    for line_no, cells in enumerate(rows[1:], start=2):
        if len(cells) != len(header):
            raise DataError(f"{name}, row {line_no}: {len(cells)} fields where the header has {len(header)} (a "
                            "truncated file, or an export with the risk-of-bias table?); nothing was read")
        cell = _Row(cells, col, name, line_no)
        c_no, o_no, g_no = cell.int("comparisonnumber"), cell.int("outcomenumber"), cell.int("subgroupnumber")
        dtype = cell.text("datatype").upper()
        if o_no == 0:
            comparisons[c_no] = cell.text("name") or f"Comparison {c_no}"
            continue
        number = f"{c_no}.{o_no}"
        if dtype and g_no == 0:
            if number in outcomes:
                raise DataError(f"{name}, row {line_no}: analysis {number} appears twice")
            current = _outcome(cell, number, c_no, o_no, comparisons.get(c_no, f"Comparison {c_no}"), name, line_no)
            outcomes[number] = current
        elif current is None or current["number"] != number:
            raise DataError(f"{name}, row {line_no}: a row of analysis {number} before its outcome row")
        elif dtype:
            gname = cell.text("name") or f"Subgroup {g_no}"
            current["groups"][g_no] = gname
            current["stored_sub"][gname] = {q: cell.raw(c) for q, c in STORED.items()}
        else:
            current["records"].append(_study(cell, current, g_no, line_no))
    analyses = {n: _analysis(o) for n, o in outcomes.items()}
    return Review(title=path.stem, path=name, format="RevMan 5 CSV export", analyses_by_number=analyses)


class _Row:
    """One line of the export: cells by column key, numbers parsed with errors naming the row and column."""

    def __init__(self, cells, col, name, line_no):
        self.cells, self.col, self.name, self.line_no = cells, col, name, line_no

    def raw(self, k):
        i = self.col.get(k)
        return None if i is None else self.cells[i].strip()

    def text(self, k):
        return repair(self.raw(k))

    def num(self, k):
        return parse_number(self.raw(k), f"{self.name}, row {self.line_no}, column {k!r}")

    def int(self, k):
        value = self.num(k)
        if value != value or value != int(value):
            raise DataError(f"{self.name}, row {self.line_no}, column {k!r}: {self.raw(k)!r} is not a whole number")
        return int(value)


def _outcome(cell, number, c_no, o_no, c_name, name, line_no) -> dict:
    dtype = cell.text("datatype").upper()
    kind = KINDS.get(dtype) or KINDS.get(dtype[:3])
    if kind is None:
        raise DataError(f"{name}, row {line_no}, column 'Data Type': unknown data type {dtype!r} (DIC, CON, IV, IPD)")
    measure = measure_code(cell.text("effectmeasure") or ("MD" if kind == "continuous" else ""))
    if not measure:
        raise DataError(f"{name}, row {line_no}, column 'Effect Measure': no effect measure for analysis {number}")
    method = METHODS.get(cell.text("statisticalmethod").upper(), "MH" if kind == "dichotomous" else "IV")
    model = "random" if cell.text("analysismodel").casefold().startswith("random") else "fixed"
    log_flag = next((cell.text(k) for k in cell.col if k.startswith("entereddataareonlogscale")), None)
    return dict(number=number, c_no=c_no, o_no=o_no, c_name=c_name, name=cell.text("name") or f"Outcome {number}",
                kind=kind, measure=measure, method=method, model=model, source=name,
                where=f"analysis {number} (row {line_no})", stored={q: cell.raw(c) for q, c in STORED.items()},
                test={q: cell.raw(c) for q, c in TEST.items()}, groups={}, stored_sub={}, records=[],
                log_data="YES" if str(log_flag).casefold() in ("yes", "true") else None,
                swap=str(cell.raw("swapeventandnonevent") or "").casefold() in ("yes", "true"),
                labels=dict(group1=cell.text("grouplabel1"), group2=cell.text("grouplabel2"),
                            left=cell.text("leftgraphlabel"), right=cell.text("rightgraphlabel")))


def _study(cell, o, g_no, line_no) -> dict:
    year = cell.text("yearofstudy")
    rec = dict(study=cell.text("name"), study_id=None, year=year if year not in ("", "0") else None,
               subgroup=o["groups"].get(g_no) if g_no else None, subgroup_no=g_no or None,
               where=f"row {line_no} (analysis {o['number']})", footnotes=None,
               stored_effect=cell.raw("effectestimate"), stored_se=cell.raw("se"), stored_weight=cell.raw("weight"))
    if not rec["study"]:
        raise DataError(f"{o['source']}, row {line_no}: a study row without a name")
    if g_no and g_no not in o["groups"]:
        raise DataError(f"{o['source']}, row {line_no}: subgroup {g_no} of analysis {o['number']} has no subgroup row")
    n1, n2 = cell.num("total1"), cell.num("total2")
    if o["kind"] == "dichotomous":
        rec.update(events1=cell.num("events1"), n1=n1, events2=cell.num("events2"), n2=n2)
    elif o["kind"] == "continuous":
        rec.update(mean1=cell.num("mean1"), sd1=cell.num("sd1"), n1=n1, mean2=cell.num("mean2"),
                   sd2=cell.num("sd2"), n2=n2)
    elif o["kind"] == "o-e":
        rec.update(oe=cell.num("oe"), var=cell.num("var"), n1=n1, n2=n2)
    else:
        es, se = cell.num("effectestimate"), cell.num("se")
        if is_ratio_measure(o["measure"]):
            es = generic_log_effect(es, se, cell.num("cistart"), cell.num("ciend"), 0.95, o["log_data"])
        rec.update(y=es, se=se, n1=n1, n2=n2)
    return rec


def _analysis(o) -> Analysis:
    has_groups = bool(o["groups"])
    stored = dict(o["stored"])
    if has_groups:
        stored.update(o["test"])
    return Analysis(number=o["number"], comparison_no=o["c_no"], outcome_no=o["o_no"], comparison=o["c_name"],
                    name=o["name"], data_type=o["kind"], measure=o["measure"], method=o["method"], model=o["model"],
                    rows=make_rows(o["records"]), source=o["source"], where=o["where"], subgroups=has_groups,
                    swap_events=o["swap"], log_data=o["log_data"], labels=o["labels"], stored=stored,
                    stored_subgroups=o["stored_sub"])


__all__ = ["MEASURE_NAMES", "looks_like_export", "read_csv_export"]
