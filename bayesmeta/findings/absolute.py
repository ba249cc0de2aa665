"""Absolute effects as GRADE tables write them, from the pooled effect's posterior median and 95% interval.

* SMD: "0.37 SD lower (0.59 lower to 0.15 lower)"; with the control group's SD of a familiar instrument, the
  mean difference in its units: MD = SMD x control_sd.
* log OR / log RR with an assumed control risk p: events per 1,000 with the intervention,
  p1 = OR p / (1 - p + OR p) or p1 = RR p (capped at 1), and the difference 1,000 (p1 - p):
  "43 fewer per 1,000 (from 60 fewer to 20 fewer)". RD: 1,000 RD.
* SMD as log OR (Chinn 2000): log OR = SMD pi / sqrt(3), on request (smd_as_risk) with a control risk; and
  the other way, a log OR in SD units, SMD = log OR sqrt(3) / pi (or_as_smd).

Intervals are transformed at their ends (every transformation is monotone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..effects import STANDARDISED
from .formatting import MISSING, decimals_for, format_number

RATIOS = {"logOR": "OR", "logRR": "RR"}
MEASURE_NAMES = {"logOR": "OR", "logRR": "RR", "SMD_RevMan": "SMD", "d": "Cohen's d", "generic": "effect"}
SMD_TO_LOG_OR = math.pi / math.sqrt(3)


@dataclass(frozen=True)
class Absolute:
    """An absolute effect: value and interval (None where it cannot be given), its scale and the words."""

    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    scale: str = ""
    words: str = MISSING
    control: str = ""  # the assumed control risk or SD in words ("120 per 1,000"), where one was used


def risk_with_intervention(measure: str, effect: float, control_risk: float) -> float:
    """The risk with the intervention for a log OR, log RR or RD `effect` and control risk p."""
    p = control_risk
    if measure == "logOR":
        odds_ratio = math.exp(effect)
        return odds_ratio * p / (1 - p + odds_ratio * p)
    if measure == "logRR":
        return min(math.exp(effect) * p, 1.0)
    if measure == "RD":
        return min(max(p + effect, 0.0), 1.0)
    raise ValueError(f"no risk for measure {measure!r}")


def _direction(value: float, words: tuple[str, str]) -> str:
    return words[0] if value < 0 else words[1]


def continuous_words(value, lower, upper, unit: str, decimals: int) -> str:
    """'0.37 SD lower (0.59 lower to 0.15 lower)'; unit '' gives 'MD 2.9 lower (...)'."""
    words = ("lower", "higher")
    head = f"{format_number(abs(value), decimals)} {unit} " if unit else f"MD {format_number(abs(value), decimals)} "
    ends = [f"{format_number(abs(v), decimals)} {_direction(v, words)}" for v in (lower, upper)]
    return f"{head}{_direction(value, words)} ({ends[0]} to {ends[1]})"


def per_thousand_words(value, lower, upper) -> str:
    """'43 fewer per 1,000 (from 60 fewer to 20 fewer)' from differences per 1,000."""
    words = ("fewer", "more")
    ends = [f"{abs(v):.0f} {_direction(v, words)}" for v in (lower, upper)]
    return f"{abs(value):.0f} {_direction(value, words)} per 1,000 (from {ends[0]} to {ends[1]})"


def absolute_effect(measure, estimate, lower, upper, control_sd=None, control_risk=None, smd_as_risk=False,
                    units=None, or_as_smd=False) -> Absolute:
    """The absolute effect of a pooled `estimate` (lower, upper) on the scale of `measure` (see the module)."""
    values = (estimate, lower, upper)
    if measure == "logOR" and or_as_smd:
        values, measure = tuple(v / SMD_TO_LOG_OR for v in values), "SMD"
    if measure in STANDARDISED and smd_as_risk and control_risk is not None:
        return _per_thousand("logOR", [v * SMD_TO_LOG_OR for v in values], control_risk)
    if measure in STANDARDISED:
        if control_sd is not None:
            md = [v * control_sd for v in values]
            unit = units or ""
            control = f"control group SD {format_number(control_sd, decimals_for([control_sd]))}" + (
                f" {units}" if units else "")
            return Absolute(*md, scale=f"MD{f' ({units})' if units else ''}",
                            words=continuous_words(*md, unit, _two_digits(md)), control=control)
        return Absolute(*values, scale="SD", words=continuous_words(*values, "SD", 2))
    if measure == "MD":
        return Absolute(*values, scale=f"MD{f' ({units})' if units else ''}",
                        words=continuous_words(*values, units or "", _two_digits(values)))
    if measure in ("logOR", "logRR", "RD") and control_risk is not None:
        return _per_thousand(measure, values, control_risk)
    if measure == "RD":
        diff = [1000 * v for v in values]
        return Absolute(*diff, scale="per 1,000", words=per_thousand_words(*diff))
    return Absolute()


def _two_digits(values) -> int:
    """Decimals that give the largest |value| two significant digits: 0.86 -> 2, 4.6 -> 1, 12 -> 0."""
    return max(decimals_for(values) - 1, 0)


def _per_thousand(measure, values, control_risk) -> Absolute:
    diff = [1000 * (risk_with_intervention(measure, v, control_risk) - control_risk) for v in values]
    control = f"{1000 * control_risk:.0f} per 1,000"
    return Absolute(*diff, scale="per 1,000", words=per_thousand_words(*diff), control=control)


def relative_words(measure, estimate, lower, upper) -> str:
    """The pooled effect as the table prints it: 'SMD -0.37 (-0.59 to -0.15)', 'OR 0.70 (0.52 to 0.94)'."""
    values = [estimate, lower, upper]
    if measure in RATIOS:
        values = [math.exp(v) for v in values]
        name = RATIOS[measure]
    else:
        name = {"generic": "Effect"}.get(measure, MEASURE_NAMES.get(measure, measure))
    decimals = 2 if measure in STANDARDISED or measure in RATIOS else decimals_for(values)
    est, lo, hi = (format_number(v, decimals) for v in values)
    return f"{name} {est} ({lo} to {hi})"
