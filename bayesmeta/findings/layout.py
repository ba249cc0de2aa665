"""The printed summary-of-findings table, the same for HTML, markdown and Word: GRADEpro's columns (HEADERS, with
their proportions WIDTHS), one list of Cells per outcome and the legend under the table."""

from __future__ import annotations

from dataclasses import dataclass, field

from .absolute import MEASURE_NAMES
from .certainty import SYMBOLS
from .formatting import MISSING
from .statements import equals_probability

HEADERS = ("Outcomes", "Anticipated absolute effect (95% CrI)", "Relative effect (95% CrI)",
           "No. of participants (studies)", "Certainty of the evidence (GRADE)", "Posterior probabilities",
           "What happens")
WIDTHS = (17, 15, 12, 10, 11, 18, 17)  # percent of the printed table per column, GRADEpro's proportions
CERTAINTY_MEANING = {
    "high": "we are very confident that the true effect lies close to that of the estimate",
    "moderate": "we are moderately confident in the effect estimate: the true effect is likely to be close to it, "
                "but there is a possibility that it is substantially different",
    "low": "our confidence in the effect estimate is limited: the true effect may be substantially different",
    "very low": "we have very little confidence in the effect estimate: the true effect is likely to be "
                "substantially different"}


@dataclass
class Cell:
    """A printed cell: lines of text and the numbers of the footnotes it refers to."""

    lines: list
    notes: list = field(default_factory=list)


def _outcome_lines(o, measure) -> list[str]:
    lines = [o.name + (f" ({o.subgroup})" if o.subgroup else "")]
    lines += [f"Follow-up: {o.follow_up}"] if o.follow_up else []
    mid = f"; MID {o.mid_words()}" if o.mid is not None else ""
    return lines + [f"Measure: {MEASURE_NAMES.get(measure, measure)}{mid}"]


def cells(sof) -> list[list[Cell]]:
    """One list of Cells per outcome of `sof` (a SummaryOfFindings), in the order of HEADERS."""
    out = []
    for (_, r), o, marks in zip(sof.table.iterrows(), sof.outcomes, sof.marks):
        absolute = [r["absolute"]] + ([f"Assumed with {sof.comparison}: {r['control']}"] if r["control"] else [])
        who = "RCTs" if o.design == "randomised" else "studies"
        count = f"{r['studies']} {who}" + (f", {r['k']} effects" if r["k"] != r["studies"] else "")
        participants = MISSING if r["participants"] is None else f"{r['participants']:,}"
        probs = [r["bayesian"]]
        if r["p_new_benefit"] is not None:
            probs.append(f"P(a new study shows benefit){equals_probability(r['p_new_benefit'])}")
        out.append([Cell(_outcome_lines(o, r["measure"])), Cell(absolute), Cell([r["relative"]]),
                    Cell([f"{participants} ({count})"]),
                    Cell([f"{SYMBOLS[r['certainty']]} {r['certainty'].capitalize()}"], marks),
                    Cell(probs), Cell([r["statement"]])])
    return out


def legend(sof) -> list[str]:
    """The question (population, setting, intervention, comparison) and what the table's terms mean."""
    lines = [f"Population: {sof.population}." if sof.population else "",
             f"Setting: {sof.setting}." if sof.setting else "",
             f"Intervention: {sof.intervention}. Comparison: {sof.comparison}.",
             "Effects are posterior medians with 95% equal-tailed credible intervals (CrI) of the pooled effect; "
             "probabilities are posterior probabilities. MID: minimal important difference.",
             "GRADE Working Group grades of evidence: "
             + "; ".join(f"{k} certainty: {v}" for k, v in CERTAINTY_MEANING.items()) + "."]
    return [line for line in lines if line]
