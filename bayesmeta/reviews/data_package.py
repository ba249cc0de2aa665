"""RevMan Web data packages (Cochrane's "data package", a zip or its unpacked folder): the analysis tables
`*-overall-estimates-and-settings.csv` (one row per analysis: Analysis group / number / name, Data type,
Statistical method, Effect measure, Analysis model, group labels, the switches for subgroup and overall estimates,
and RevMan's pooled result: Mean, CI start, CI end, Heterogeneity Tau² / Chi² / df / P / I², Effect Z / P,
Subgroup Chi² / df / P / I²), `*-data-rows.csv` (one row per study and analysis: Subgroup, Study, Study year,
GIV Mean and GIV SE (generic data, ratios on the log scale), Experimental/Control mean, SD, cases, N, O-E,
Variance, Weight, Mean, CI start, CI end, Footnotes) and `*-subgroup-estimates.csv` (Subgroup number and the
subgroup's pooled result). Older packages nest these in a `*-data.zip` inside the download; both are read.
Where RevMan Web states a random-effects estimator or CI method (REML, Hartung-Knapp-Sidik-Jonkman) it is used.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from ..errors import DataError
from ..output_folder import display_path
from .core import Analysis, Review, make_rows
from .rm5 import measure_code
from .text import decode_table, key, parse_number, repair

SUFFIXES = {"settings": "-overall-estimates-and-settings.csv", "rows": "-data-rows.csv",
            "subgroups": "-subgroup-estimates.csv"}
KINDS = {"dichotomous": "dichotomous", "continuous": "continuous", "contrastlevel": "generic", "generic": "generic",
         "genericinversevariance": "generic", "oeandvariance": "o-e", "oevariance": "o-e"}
STORED = {"estimate": "mean", "lower": "cistart", "upper": "ciend", "z": "effectz", "p_z": "effectp",
          "tau2": "heterogeneitytau2", "chi2": "heterogeneitychi2", "df": "heterogeneitydf", "p_chi2": "heterogeneityp",
          "I2": "heterogeneityi2"}
TEST = {"subgroup_chi2": "subgroupchi2", "subgroup_df": "subgroupdf", "subgroup_p": "subgroupp",
        "subgroup_I2": "subgroupi2"}
TRUE = ("true", "yes", "1")


def is_data_package(path: Path) -> bool:
    if path.is_dir():
        return any(p.name.endswith(SUFFIXES["rows"]) for p in path.rglob("*.csv"))
    return zipfile.is_zipfile(path)


def _tables(path: Path) -> dict:
    """The three analysis tables as bytes, from a folder, a zip, or a zip nested in the zip."""
    found = {}

    def take(name, read):
        for role, suffix in SUFFIXES.items():
            if name.endswith(suffix) and role not in found:
                found[role] = read()

    if path.is_dir():
        for p in sorted(path.rglob("*.csv")):
            take(p.name, p.read_bytes)
        for p in sorted(path.rglob("*-data.zip")):
            _from_zip(zipfile.ZipFile(p), take)
    else:
        try:
            _from_zip(zipfile.ZipFile(path), take)
        except zipfile.BadZipFile as err:
            raise DataError(f"{path.name}: not a readable zip file ({err}); nothing was read") from None
    return found


def _from_zip(archive, take, depth=0):
    for info in archive.infolist():
        if info.filename.endswith(".csv"):
            take(info.filename, lambda info=info: archive.read(info))
        elif info.filename.endswith(".zip") and depth < 2:
            _from_zip(zipfile.ZipFile(io.BytesIO(archive.read(info))), take, depth + 1)


def _records(raw: bytes, name: str, what: str) -> list[dict]:
    text, _ = decode_table(raw)
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows:
        return []
    header = [key(h) for h in rows[0]]
    out = []
    for line_no, cells in enumerate(rows[1:], start=2):
        if len(cells) != len(header):
            raise DataError(f"{name}, {what} row {line_no}: {len(cells)} fields where the header has {len(header)} "
                            "(a truncated file?); nothing was read")
        out.append(dict(zip(header, (c.strip() for c in cells)), _line=line_no))
    return out


def read_data_package(path) -> Review:
    path = Path(path)
    name = display_path(path.name)
    tables = _tables(path)
    missing = [SUFFIXES[r] for r in ("settings", "rows") if r not in tables]
    if missing:
        raise DataError(f"{name}: not a RevMan Web data package (no file ending {' or '.join(missing)}); "
                        "nothing was read")
    settings = _records(tables["settings"], name, "overall-estimates-and-settings")
    rows = _records(tables["rows"], name, "data-rows")
    subgroups = _records(tables.get("subgroups", b""), name, "subgroup-estimates")
    sub_no, sub_stored = {}, {}
    for s in subgroups:
        k = (_num(s, "analysisgroup", name), _num(s, "analysisnumber", name))
        gname = repair(s.get("subgroup"))
        sub_no.setdefault(k, {})[gname] = _num(s, "subgroupnumber", name)
        sub_stored.setdefault(k, {})[gname] = {q: s.get(c) for q, c in STORED.items()}
    by_analysis = {}
    for r in rows:
        by_analysis.setdefault((_num(r, "analysisgroup", name), _num(r, "analysisnumber", name)), []).append(r)
    analyses = {}
    for s in settings:
        k = (_num(s, "analysisgroup", name), _num(s, "analysisnumber", name))
        a = _analysis(s, k, by_analysis.get(k, []), sub_no.get(k, {}), sub_stored.get(k, {}), name)
        if a.number in analyses:
            raise DataError(f"{name}, overall-estimates-and-settings row {s['_line']}: analysis {a.number} appears "
                            "twice")
        analyses[a.number] = a
    orphans = sorted(set(by_analysis) - {(a.comparison_no, a.outcome_no) for a in analyses.values()})
    if orphans:
        raise DataError(f"{name}: data rows of analysis {orphans[0][0]}.{orphans[0][1]} have no settings row")
    title = path.stem.removesuffix("-dataPackage")
    return Review(title=title, path=name, format="RevMan Web data package", analyses_by_number=analyses)


def _num(rec, k, name):
    value = parse_number(rec.get(k), f"{name}, row {rec['_line']}, column {k!r}")
    if value != value:
        raise DataError(f"{name}, row {rec['_line']}: column {k!r} is missing")
    return int(value)


def _analysis(s, k, rows, sub_no, sub_stored, name) -> Analysis:
    c_no, o_no = k
    number = f"{c_no}.{o_no}"
    where = f"analysis {number} (overall-estimates-and-settings row {s['_line']})"
    kind = KINDS.get(key(s.get("datatype")))
    if kind is None:
        raise DataError(f"{name}, {where}: unknown data type {s.get('datatype')!r}")
    measure = measure_code(s.get("effectmeasure") or ("MD" if kind == "continuous" else ""))
    method_text = (s.get("statisticalmethod") or "").upper()
    method = {"MH": "MH", "IV": "IV", "PETO": "Peto", "EXP_O_E_VAR": "Peto"}.get(method_text, "IV")
    model = "random" if "random" in (s.get("analysismodel") or "").casefold() else "fixed"
    level = parse_number((s.get("estimateci") or "95").rstrip("%"), f"{name}, {where}, column 'Estimate CI'") / 100
    log_scale = (s.get("logscaledata") or "").casefold() in TRUE
    records = [_row(r, kind, sub_no, name, number, log_scale) for r in rows]
    groups = [g for g in dict.fromkeys(r["subgroup"] for r in records) if g]
    has_groups = (s.get("subgroupestimates") or "").casefold() in TRUE and len(groups) > 0
    stored = {q: s.get(c) for q, c in STORED.items()}
    if has_groups:
        stored.update({q: s.get(c) for q, c in TEST.items()})
    notes = []
    tau2_method, ci_method = _estimators(s)
    a = Analysis(number=number, comparison_no=c_no, outcome_no=o_no, comparison=repair(s.get("analysisgroupname")),
                 name=repair(s.get("analysisname")) or f"Analysis {number}", data_type=kind, measure=measure,
                 method=method, model=model, rows=make_rows(records), source=name, where=where, subgroups=has_groups,
                 subgroup_test=(s.get("testforsubgroupdifferences") or "true").casefold() in TRUE,
                 totals="YES" if (s.get("overallestimates") or "true").casefold() in TRUE else "NO",
                 level=level if level == level else 0.95,
                 swap_events=(s.get("swapeventandnonevent") or "").casefold() in TRUE,
                 labels=dict(group1=repair(s.get("experimentalgrouplabel")), group2=repair(s.get("controlgrouplabel")),
                             left=repair(_first(s, "graphlabelleft", "leftgraphlabel", "favoursleft")),
                             right=repair(_first(s, "graphlabelright", "rightgraphlabel", "favoursright"))),
                 stored=stored, stored_subgroups={g: sub_stored.get(g, {}) for g in groups} if has_groups else {},
                 notes=notes, tau2_method=tau2_method, ci_method=ci_method)
    return a


def _first(rec, *keys):
    return next((rec[k] for k in keys if rec.get(k)), "")


def _estimators(s) -> tuple[str, str]:
    """RevMan Web's random-effects estimator and CI method where the settings state them (DL and Wald z else)."""
    tau2, ci = "DL", "z"
    for col, value in s.items():
        if not isinstance(value, str) or not any(w in col for w in ("estimator", "method", "confidence", "interval",
                                                                      "variance", "heterogeneity", "model")):
            continue
        v = value.casefold()
        if "restricted maximum" in v or v.strip() == "reml":
            tau2 = "REML"
        elif "paule" in v:
            tau2 = "PM"
        if "hartung" in v or "hksj" in v:
            ci = "hksj"
    return tau2, ci


def _row(r, kind, sub_no, name, number, log_scale) -> dict:
    line = r["_line"]
    where = f"data-rows row {line} (analysis {number})"

    def num(k):
        return parse_number(r.get(k), f"{name}, {where}, column {k!r}")

    gname = repair(r.get("subgroup")) or None
    rec = dict(study=repair(r.get("study")), study_id=None, year=repair(r.get("studyyear")) or None, subgroup=gname,
               subgroup_no=sub_no.get(gname) if gname else None, where=where,
               footnotes=repair(r.get("footnotes")) or None, stored_effect=r.get("mean"), stored_se=None,
               stored_weight=r.get("weight"))
    if not rec["study"]:
        raise DataError(f"{name}, {where}: a data row without a study")
    n1, n2 = num("experimentaln"), num("controln")
    if kind == "dichotomous":
        rec.update(events1=num("experimentalcases"), n1=n1, events2=num("controlcases"), n2=n2)
    elif kind == "continuous":
        rec.update(mean1=num("experimentalmean"), sd1=num("experimentalsd"), n1=n1, mean2=num("controlmean"),
                   sd2=num("controlsd"), n2=n2)
    elif kind == "o-e":
        rec.update(oe=num("oe"), var=num("variance"), n1=n1, n2=n2)
    else:
        rec.update(y=num("givmean"), se=num("givse"), n1=n1, n2=n2)
    return rec
