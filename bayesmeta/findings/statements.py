"""GRADE informative statements (Santesso et al. 2020, J Clin Epidemiol 119:126-135) and the Bayesian sentence.

The verb carries the certainty: high "reduces", moderate "probably reduces", low "may reduce"; very low "the
evidence is very uncertain about the effect of X on Y". The size comes from the posterior median m of the pooled
effect, on the SMD scale where the measure allows (log OR x sqrt(3)/pi; a mean difference / the control SD):

* |m| below the MID: "little to no difference";
* from the MID to below 0.5 SD: "slightly" (a small but important effect);
* 0.5 to below 0.8 SD: no size word ("reduces pain");
* 0.8 SD or more: "substantially".

Without a MID, 0.2 SD is the MID of standardised scales; on other scales without a MID the size words are left out.
The direction: where lower is better (pain) "reduces" / "increases", where higher is better "improves" /
"worsens"; without a stated benefit direction the wording is neutral ("results in lower pain").
"""

from __future__ import annotations

import math

from .formatting import format_probability

CONVENTIONAL = (0.2, 0.5, 0.8)
VERBS = {("lower", -1): ("reduce", "reduces"), ("lower", 1): ("increase", "increases"),
         ("higher", 1): ("improve", "improves"), ("higher", -1): ("worsen", "worsens")}
SIZE_ADVERB = {"small": " slightly", "moderate": "", "large": " substantially", "unsized": ""}


def effect_size_class(median: float, mid: float | None, smd_scale: float | None) -> str:
    """'trivial', 'small', 'moderate', 'large' or 'unsized' for the posterior median against the MID and
    0.2 / 0.5 / 0.8 (smd_scale: the factor that puts the effect on the SMD scale; None where none exists)."""
    size = abs(median)
    if smd_scale is None:
        if mid is None:
            return "unsized"
        return "trivial" if size < mid else "unsized"
    smd, mid_smd = size * smd_scale, (mid * smd_scale if mid is not None else CONVENTIONAL[0])
    if smd < mid_smd:
        return "trivial"
    if smd < max(CONVENTIONAL[1], mid_smd):
        return "small"
    return "moderate" if smd < max(CONVENTIONAL[2], mid_smd) else "large"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def informative_statement(certainty: str, median: float, size: str, intervention: str, outcome: str,
                          benefit: str | None) -> str:
    """The GRADE sentence for one outcome (see the module docstring for the rules)."""
    if certainty == "very low":
        return f"The evidence is very uncertain about the effect of {intervention} on {outcome}."
    sign = -1 if median < 0 else 1
    if size == "trivial":
        verb = {"high": "results in", "moderate": "probably results in", "low": "may result in"}[certainty]
        return _capital(f"{intervention} {verb} little to no difference in {outcome}.")
    adverb = SIZE_ADVERB[size]
    if benefit is None:  # neutral: the direction of the scale only
        verb = {"high": "results in", "moderate": "probably results in", "low": "may result in"}[certainty]
        sized = {"small": "slightly ", "large": "substantially "}.get(size, "")
        return _capital(f"{intervention} {verb} {sized}{'lower' if sign < 0 else 'higher'} {outcome}.")
    base, third = VERBS[(benefit, sign)]
    verb = {"high": third, "moderate": f"probably {third}", "low": f"may {base}"}[certainty]
    return _capital(f"{intervention} {verb} {outcome}{adverb}.")


def bayesian_sentence(outcome: str, benefit: str | None, p_benefit: float, mid: float | None,
                      p_mid: float | None, mid_words: str) -> str:
    """'P(less pain) = 0.99; P(a reduction larger than the MID of 0.2 SD) = 0.71'."""
    if benefit is None:
        return f"P(lower {outcome}){equals_probability(p_benefit)}"
    better = f"less {outcome}" if benefit == "lower" else f"better {outcome}"
    text = f"P({better}){equals_probability(p_benefit)}"
    if mid is not None and p_mid is not None and math.isfinite(p_mid):
        change = "a reduction" if benefit == "lower" else "an improvement"
        text += f"; P({change} larger than the MID of {mid_words}){equals_probability(p_mid)}"
    return text


def equals_probability(p: float) -> str:
    """' = 0.71', or ' > 0.999' / ' < 0.001' at the ends."""
    text = format_probability(p)
    return f" {text}" if text[0] in "<>" else f" = {text}"
