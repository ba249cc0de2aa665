"""Which direction of an analysis favours the intervention: read only where the review file states it, or as the
user declares it; never guessed.

RevMan's graph labels say it when they read "Favours X" / "Favours Y" (or "Favors ..."): X or Y names the
experimental group (its group label, or words such as "experimental", "intervention", "treatment") or the
comparator (its group label, or "control", "placebo", "sham", "usual care", "standard", ...). "Favours
experimental" on the left means that effects below the line of no effect favour the intervention: benefit
"lower". Labels that are only the group names ("MIT" / "TURP"), empty labels and labels that contradict each other
state no direction: the analysis is reported with "direction not stated" and the probabilities of both
directions, until the user declares it, for the whole file (`benefit="lower"`, `--benefit`) or per analysis
(`benefit={"1.1": "higher"}`, `--benefit-map FILE` with a TOML table of analysis number = "lower" | "higher").
A declaration per analysis wins over the labels (the report says so).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

from ..errors import DataError
from ..output_folder import display_path

DIRECTIONS = ("lower", "higher")
FAVOURS = re.compile(r"^\s*favou?rs?\b[\s:]*(.*)$", re.I | re.S)
CONTROL_WORDS = ("control", "placebo", "sham", "comparator", "usual care", "standard", "std", "no treatment",
                 "no intervention", "waiting list", "wait list", "waitlist")
TREATMENT_WORDS = ("experimental", "intervention", "treatment")


def _norm(text) -> str:
    return re.sub(r"[^0-9a-z]+", "", FAVOURS.sub(r"\1", str(text or "")).casefold())


def _group_named(label, group1, group2) -> int | None:
    """1 (the experimental group), 2 (the comparator) or None: whom a graph label "Favours X" names."""
    m = FAVOURS.match(str(label or ""))
    if not m or not m.group(1).strip():
        return None
    what, groups = _norm(m.group(1)), ((_norm(group1), 1), (_norm(group2), 2))
    for g, side in groups:
        if g and what == g:
            return side
    contained = sorted(((len(g), side) for g, side in groups
                        if g and min(len(g), len(what)) >= 3 and (g in what or what in g)), reverse=True)
    if len(contained) == 1 or (contained and contained[0][0] > contained[1][0]):
        return contained[0][1]
    words = m.group(1).casefold()
    for names, side in ((CONTROL_WORDS, 2), (TREATMENT_WORDS, 1)):
        if any(re.search(rf"\b{re.escape(w)}\b", words) for w in names):
            return side
    return None


def benefit_from_labels(left, right, group1, group2) -> tuple[str | None, str]:
    """(benefit, why): "lower" where the left graph label favours the experimental group (or the right one the
    comparator), "higher" the other way round, None where the labels do not state it (see the module docstring)."""
    lg, rg = _group_named(left, group1, group2), _group_named(right, group1, group2)
    lower, higher = lg == 1 or rg == 2, lg == 2 or rg == 1
    shown = f"{left!r} (left) / {right!r} (right)" if (left or right) else "none in the file"
    if lower != higher:
        side = "below" if lower else "above"
        return ("lower" if lower else "higher"), (f"graph labels {shown}: effects {side} the line of no effect "
                                                  "favour the experimental intervention")
    why = "contradict each other" if lower else "do not say which side favours the intervention"
    return None, f"direction not stated: the graph labels ({shown}) {why}"


def check_direction(value, where: str) -> str:
    if value not in DIRECTIONS:
        raise DataError(f"{where}: the benefit must be 'lower' or 'higher', not {value!r}")
    return value


def apply_benefit(review, benefit) -> None:
    """Declare the benefit direction: None, "lower"/"higher" (every analysis whose file states none) or a
    mapping {analysis number: "lower"/"higher"} (those analyses, whatever their labels say)."""
    if benefit is None:
        return
    if isinstance(benefit, Mapping):
        for key, value in benefit.items():
            number = str(key).strip()
            if number not in review.analyses_by_number:
                shown = ", ".join(review.numbers[:20]) + (" ..." if len(review) > 20 else "")
                raise DataError(f"benefit: no analysis {number!r} in {review.path} (its analyses: {shown})")
            review.analyses_by_number[number].declared_benefit = check_direction(value, f"benefit[{number!r}]")
        return
    check_direction(benefit, "benefit")
    for analysis in review:
        analysis.default_benefit = benefit


def load_benefit_map(path) -> dict:
    """A benefit map from a TOML file: `"1.1" = "higher"` lines (optionally under a [benefit] table)."""
    p = Path(path)
    shown = display_path(p)
    try:
        spec = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(f"--benefit-map {shown!r}: cannot be read ({err.strerror or err})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"--benefit-map {shown!r}: not a TOML file ({err})") from None
    table = spec.get("benefit", spec) if isinstance(spec.get("benefit", spec), dict) else spec
    out = {}
    for key, value in table.items():
        out[str(key)] = check_direction(value, f"--benefit-map {shown!r}, key {key!r}")
    if not out:
        raise DataError(f"--benefit-map {shown!r}: no entries (write lines such as \"1.1\" = \"higher\")")
    return out
