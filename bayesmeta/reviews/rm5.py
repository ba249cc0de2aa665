"""RevMan 5 files (.rm5): XML with root COCHRANE_REVIEW.

Read: the title (COVER_SHEET/TITLE) and DOI; every STUDY (ID, NAME, YEAR); under ANALYSES_AND_DATA each
COMPARISON (NO, NAME) and its DICH_OUTCOME / CONT_OUTCOME / IV_OUTCOME / IPD_OUTCOME with their settings
(EFFECT_MEASURE, METHOD, RANDOM, SUBGROUPS, SUBGROUP_TEST, TOTALS, CI_TOTAL, SWAP_EVENTS, LOG_DATA), the
group and graph labels, RevMan's pooled results (EFFECT_SIZE, CI_START, CI_END, Z, P_Z, TAU2, CHI2, DF, P_CHI2,
I2; the subgroup test in Q, P_Q, I2_Q), the *_SUBGROUPs with theirs, and the *_DATA rows (EVENTS_1/2,
TOTAL_1/2, MEAN_1/2, SD_1/2; EFFECT_SIZE and SE of generic data; O_E and VAR), joined to studies by STUDY_ID.
Footnotes and other elements inside a data row are kept as its footnotes. Ratios are stored as ratios
(EFFECT_SIZE; LOG_EFFECT_SIZE is log10) with the SE on the natural-log scale.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..errors import DataError
from ..output_folder import display_path
from .core import Analysis, Review, make_rows
from .text import generic_log_effect, parse_number, repair, strip_controls

KINDS = {"DICH": "dichotomous", "CONT": "continuous", "IV": "generic", "IPD": "o-e"}
MEASURE_NAMES = {"odds ratio": "OR", "peto odds ratio": "PETO_OR", "peto_or": "PETO_OR", "risk ratio": "RR",
                 "risk difference": "RD", "mean difference": "MD", "std. mean difference": "SMD",
                 "standardized mean difference": "SMD", "standardised mean difference": "SMD",
                 "hazard ratio": "HR", "odds ratio (non-event)": "OR", "risk ratio (non-event)": "RR"}
METHODS = {"MH": "MH", "IV": "IV", "PETO": "Peto", "EXP_O_E_VAR": "Peto"}
STORED = {"estimate": "EFFECT_SIZE", "lower": "CI_START", "upper": "CI_END", "z": "Z", "p_z": "P_Z", "tau2": "TAU2",
          "chi2": "CHI2", "df": "DF", "p_chi2": "P_CHI2", "I2": "I2"}
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
TEST = {"subgroup_chi2": "Q", "subgroup_p": "P_Q", "subgroup_I2": "I2_Q"}


def measure_code(text) -> str:
    """RevMan's effect measure as a short code: OR, RR, RD, PETO_OR, MD, SMD, HR, or the name as written."""
    t = repair(text)
    return MEASURE_NAMES.get(t.casefold(), t.upper() if t.upper() in ("OR", "RR", "RD", "MD", "SMD", "HR",
                                                                      "PETO_OR") else t)


def parse_root(raw: bytes, name: str):
    """The XML root of a RevMan 5 file, or a one-line DataError saying why it is not one."""
    cleaned, _ = strip_controls(raw)
    try:
        root = _parse(cleaned)
    except ET.ParseError as err:
        line, col = err.position
        why = str(err).split(":")[0]
        if line == 1 and col == 0 or not cleaned.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
            raise DataError(f"{name}: not a RevMan 5 file (not XML: {why}); nothing was read") from None
        raise DataError(f"{name}: not a complete RevMan 5 file (XML error at line {line}, column {col + 1}: {why}; "
                        "a truncated or damaged file?); nothing was read") from None
    if root.tag != "COCHRANE_REVIEW":
        raise DataError(f"{name}: not a RevMan 5 review (the XML's root element is <{root.tag}>, not "
                        "<COCHRANE_REVIEW>); nothing was read")
    return root


def _parse(raw: bytes):
    """Parse as declared; a byte-order mark means UTF-8 whatever the declaration says, and a file declared UTF-8
    that is not (Latin-1 bytes in it) is read as Latin-1 (`repair` then mends each string)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return ET.fromstring(_DECLARATION.sub("", raw[3:].decode("utf-8", errors="replace"), count=1))
    try:
        return ET.fromstring(raw)
    except ET.ParseError:
        head = raw[:200].lower()
        if b"iso-8859-1" in head or b"latin" in head:
            raise
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return ET.fromstring(_DECLARATION.sub("", raw.decode("latin-1"), count=1))
        raise


def read_rm5(path, raw: bytes | None = None) -> Review:
    path = Path(path)
    name = display_path(path.name)
    root = parse_root(path.read_bytes() if raw is None else raw, name)
    title = repair("".join(root.find("COVER_SHEET/TITLE").itertext())) if root.find("COVER_SHEET/TITLE") is not None \
        else path.stem
    studies = {}
    for st in root.iter("STUDY"):
        sid = st.get("ID")
        if sid:
            studies[sid] = dict(study_id=sid, study=repair(st.get("NAME")) or sid, year=repair(st.get("YEAR")) or None)
    import pandas as pd

    analyses = {}
    data = root.find("ANALYSES_AND_DATA")
    for comp in ([] if data is None else data.findall("COMPARISON")):
        c_no = _int(comp.get("NO"), f"{name}, COMPARISON {comp.get('ID')!r}, attribute NO")
        c_name = _child_text(comp, "NAME") or f"Comparison {c_no}"
        for outcome in comp:
            kind = outcome.tag.removesuffix("_OUTCOME")
            if not outcome.tag.endswith("_OUTCOME") or kind not in KINDS:
                continue
            a = _outcome(outcome, kind, c_no, c_name, studies, name)
            if a.number in analyses:
                raise DataError(f"{name}: analysis {a.number} appears twice ({a.where})")
            analyses[a.number] = a
    frame = pd.DataFrame(list(studies.values()), columns=["study_id", "study", "year"])
    doi = repair(root.get("DOI")) or None
    return Review(title=title, path=name, format="RevMan 5 (.rm5)", analyses_by_number=analyses, studies=frame, doi=doi)


def _outcome(el, kind, c_no, c_name, studies, name) -> Analysis:
    o_no = _int(el.get("NO"), f"{name}, {el.tag} {el.get('ID')!r}, attribute NO")
    number = f"{c_no}.{o_no}"
    o_name = _child_text(el, "NAME") or f"Outcome {number}"
    where = f"{el.tag} {o_name!r} (analysis {number})"
    measure = measure_code(el.get("EFFECT_MEASURE") or _child_text(el, "EFFECT_MEASURE") or
                           ("PETO_OR" if kind == "IPD" else "MD" if kind == "CONT" else ""))
    if not measure:
        raise DataError(f"{name}, {where}: no effect measure (attribute or element EFFECT_MEASURE)")
    method = METHODS.get((el.get("METHOD") or "").upper(), "Peto" if kind == "IPD" else
                         "MH" if kind == "DICH" else "IV")
    model = "random" if (el.get("RANDOM") or "NO").upper() == "YES" else "fixed"
    ci_total = parse_number(el.get("CI_TOTAL"), f"{name}, {where}, attribute CI_TOTAL")
    level = ci_total / 100 if ci_total == ci_total else 0.95
    log_data = el.get("LOG_DATA")
    records, stored_sub, sub_no = [], {}, {}
    subgroup_elements = [s for s in el if s.tag == f"{kind}_SUBGROUP"]
    groups = [(s, _child_text(s, "NAME") or f"Subgroup {s.get('NO')}") for s in subgroup_elements]
    for i, (s, gname) in enumerate(groups):
        sub_no[gname] = parse_number(s.get("NO"), f"{name}, {where}, {s.tag} {gname!r}, attribute NO")
        if sub_no[gname] != sub_no[gname]:
            sub_no[gname] = i + 1
        stored_sub[gname] = {q: s.get(attr) for q, attr in STORED.items()}
    blocks = [(s, g) for s, g in groups] or [(el, None)]
    for block, gname in blocks:
        for row in block:
            if row.tag != f"{kind}_DATA":
                continue
            records.append(_row(row, kind, gname, sub_no.get(gname), studies, name, number, measure, log_data, level))
    rows = make_rows(records)
    stored = {q: el.get(attr) for q, attr in {**STORED, **TEST}.items()}
    has_subgroups = (el.get("SUBGROUPS") or "NO").upper() == "YES" and bool(groups)
    labels = {k: _child_text(el, tag) for k, tag in (("group1", "GROUP_LABEL_1"), ("group2", "GROUP_LABEL_2"),
                                                     ("left", "GRAPH_LABEL_1"), ("right", "GRAPH_LABEL_2"))}
    return Analysis(number=number, comparison_no=c_no, outcome_no=o_no, comparison=c_name, name=o_name,
                    data_type=KINDS[kind], measure=measure, method=method, model=model, rows=rows, source=name,
                    where=where, subgroups=has_subgroups,
                    subgroup_test=(el.get("SUBGROUP_TEST") or "YES").upper() == "YES",
                    totals=(el.get("TOTALS") or "YES").upper(), level=level,
                    swap_events=(el.get("SWAP_EVENTS") or "NO").upper() == "YES", log_data=log_data, labels=labels,
                    stored=stored, stored_subgroups=stored_sub if has_subgroups else {})


def _row(row, kind, gname, gno, studies, name, number, measure, log_data, level) -> dict:
    sid = row.get("STUDY_ID") or ""
    study = studies.get(sid)
    where = f"{row.tag} of study {sid!r} in analysis {number}"
    if study is None:
        raise DataError(f"{name}, {where}: no STUDY with ID {sid!r} in the file")

    def num(attr):
        return parse_number(row.get(attr), f"{name}, {where}, attribute {attr}")

    rec = dict(study=study["study"], study_id=sid, year=study["year"], subgroup=gname, subgroup_no=gno, where=where,
               footnotes=repair(" ".join(row.itertext())) or None, stored_effect=row.get("EFFECT_SIZE"),
               stored_se=row.get("SE"), stored_weight=row.get("WEIGHT"), stored_lower=row.get("CI_START"),
               stored_upper=row.get("CI_END"))
    if kind == "DICH":
        rec.update(events1=num("EVENTS_1"), n1=num("TOTAL_1"), events2=num("EVENTS_2"), n2=num("TOTAL_2"))
    elif kind == "CONT":
        rec.update(mean1=num("MEAN_1"), sd1=num("SD_1"), n1=num("TOTAL_1"), mean2=num("MEAN_2"), sd2=num("SD_2"),
                   n2=num("TOTAL_2"))
    elif kind == "IPD":
        rec.update(oe=num("O_E"), var=num("VAR"), n1=num("TOTAL_1"), n2=num("TOTAL_2"))
    else:
        from .core import is_ratio_measure

        es, se = num("EFFECT_SIZE"), num("SE")
        if is_ratio_measure(measure):
            es = generic_log_effect(es, se, num("CI_START"), num("CI_END"), level, log_data)
        rec.update(y=es, se=se, n1=num("TOTAL_1"), n2=num("TOTAL_2"))
    return rec


def _child_text(el, tag) -> str:
    child = el.find(tag)
    return "" if child is None else repair("".join(child.itertext()))


def _int(text, where) -> int:
    value = parse_number(text, where)
    if value != value or value != int(value):
        raise DataError(f"{where}: {text!r} is not a whole number")
    return int(value)
