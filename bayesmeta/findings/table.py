"""The summary-of-findings table: one row per outcome, in the order given, with GRADE certainty, the
informative statement, the Bayesian probabilities, the package's suggestions and footnotes for every
downgrade. `bm.summary_of_findings(outcomes, intervention=..., comparison=...)` builds it; `SummaryOfFindings`
renders it as HTML, markdown, CSV and Word (one set of printed cells, `cells()`, serves every format).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .certainty import DOMAIN_WORDS, DOMAINS, LEVELS
from .outcome import Outcome, _text
from .absolute import relative_words
from .layout import cells, legend
from .statements import bayesian_sentence, effect_size_class, informative_statement

COLUMNS = ("outcome", "follow_up", "k", "participants", "measure", "effect", "lower", "upper", "absolute_effect",
           "absolute_lower", "absolute_upper", "absolute", "p_benefit", "p_mid", "p_new_benefit", "certainty",
           "statement", "suggestions", "reasons")
EXTRA = ("subgroup", "studies", "relative", "bayesian", "absolute_scale", "control", "mid", "pred_lower",
         "pred_upper", "tau", "I2")
LEVEL_WORDS = {1: "one level", 2: "two levels"}


def _sentence_name(name: str) -> str:
    """The outcome name inside a sentence: first letter lower case unless it starts an acronym ('IBS')."""
    return name if name[1:2].isupper() else name[:1].lower() + name[1:]


class SummaryOfFindings:
    """A summary of findings: `.table` (DataFrame, one row per outcome), `.footnotes` (numbered texts) and the
    exporters `to_html`, `to_markdown`, `to_csv`, `to_docx`."""

    def __init__(self, outcomes, intervention="the intervention", comparison="control", population=None,
                 setting=None, title=None):
        if isinstance(outcomes, Outcome):
            outcomes = [outcomes]
        outcomes = list(outcomes) if isinstance(outcomes, (list, tuple)) else None
        if not outcomes or not all(isinstance(o, Outcome) for o in outcomes):
            raise DataError("outcomes must be a non-empty list of bm.Outcome(...)")
        rows = [tuple(" ".join(str(v or "").split()).casefold() for v in (o.name, o.follow_up, o.subgroup))
                for o in outcomes]
        twice = next((o for o, r in zip(outcomes, rows) if rows.count(r) > 1), None)
        if twice is not None:
            raise DataError(f"outcome {twice.name!r} is listed twice with the same follow_up and subgroup: a summary "
                            "of findings has one row per outcome (tell them apart by name, follow_up or subgroup)")
        self.outcomes = outcomes
        self.intervention = _text(intervention, "intervention", required=True)
        self.comparison = _text(comparison, "comparison", required=True)
        self.population = _text(population, "population")
        self.setting = _text(setting, "setting")
        self.title = _text(title, "title") or self._default_title()
        self.footnotes: list[str] = []
        self.marks: list[list[int]] = []  # per outcome, the numbers of its footnotes
        rows = [self._row(o) for o in outcomes]
        table = pd.DataFrame(rows, columns=[*COLUMNS, *EXTRA])
        for column in table.columns:  # missing values stay None (printed as a dash), never NaN
            values = [r[column] for r in rows]
            if any(v is None for v in values):
                table[column] = pd.Series(values, dtype=object)
        self.table = table

    def _default_title(self) -> str:
        who = f" for {self.population}" if self.population else ""
        return f"{self.intervention[:1].upper()}{self.intervention[1:]} compared with {self.comparison}{who}"

    def __repr__(self) -> str:
        return f"SummaryOfFindings({self.title!r}, {len(self.outcomes)} outcomes)"

    # ---------------------------------------------------------------- rows
    def _note(self, text: str) -> int:
        if text not in self.footnotes:
            self.footnotes.append(text)
        return self.footnotes.index(text) + 1

    def _row(self, o: Outcome) -> dict:
        e, p, absolute = o.effect(), o.probabilities(), o.absolute()
        measure, rating = o.data.measure, o.rating
        name = _sentence_name(o.name)
        size = effect_size_class(e["effect"], o.mid, o.smd_scale())
        statement = informative_statement(rating, e["effect"], size, self.intervention, name, o.benefit)
        if o.follow_up:
            statement = f"{statement[:-1]} ({o.follow_up})."
        bayes = bayesian_sentence(name, o.benefit, p["p_benefit"] if o.benefit else p["p_lower"], o.mid,
                                  p["p_mid"], o.mid_words())
        suggested = o.suggestions()
        reasons = self._reasons(o, suggested)
        self.marks.append([self._note(r) for r in reasons])
        return dict(outcome=o.name, follow_up=o.follow_up, k=o.k, participants=o.participants, measure=measure,
                    effect=e["effect"], lower=e["lower"], upper=e["upper"], absolute_effect=absolute.value,
                    absolute_lower=absolute.lower, absolute_upper=absolute.upper, absolute=absolute.words,
                    p_benefit=p["p_benefit"], p_mid=p["p_mid"], p_new_benefit=p["p_new_benefit"], certainty=rating,
                    statement=statement, suggestions="; ".join(s.text() for s in suggested) or "none",
                    reasons=" | ".join(reasons), subgroup=o.subgroup, studies=o.studies,
                    relative=relative_words(measure, e["effect"], e["lower"], e["upper"]), bayesian=bayes,
                    absolute_scale=absolute.scale or None, control=absolute.control or None, mid=o.mid,
                    pred_lower=e["pred_lower"], pred_upper=e["pred_upper"], tau=e["tau"], I2=e["i2"])

    @staticmethod
    def _reasons(o: Outcome, suggested) -> list[str]:
        """One footnote per domain the authors rated down or the data suggest rating down: the authors' level and
        reason, and what the data suggest (which never changes the certainty)."""
        out = []
        by_domain = {s.domain: s for s in suggested}
        for domain in DOMAINS:
            level, hint = o.certainty.get(domain, "not serious"), by_domain.get(domain)
            if LEVELS[level] == 0 and hint is None:
                continue
            if LEVELS[level]:
                text = f"{DOMAIN_WORDS[domain]}: rated down {LEVEL_WORDS[LEVELS[level]]} ({level}) by the authors"
                text += f": {o.reasons[domain]}" if domain in o.reasons else ""
            else:
                text = f"{DOMAIN_WORDS[domain]}: not rated down by the authors"
            if hint is not None:
                text += f". The data suggest {hint.level}: {hint.reason}"
            out.append(text + ".")
        return out

    # ---------------------------------------------------------------- printed cells, shared by every format
    def cells(self) -> list:
        """The printed table: one list of Cells per outcome, in the order of layout.HEADERS."""
        return cells(self)

    def legend(self) -> list[str]:
        """What the table's terms mean, printed under it."""
        return legend(self)

    # ---------------------------------------------------------------- exporters
    def to_html(self, path=None) -> str:
        """A self-contained HTML page (written to `path` when given)."""
        from .render_html import render_html

        return _written(render_html(self), path)

    def to_markdown(self, path=None) -> str:
        """A markdown table with its footnotes (written to `path` when given)."""
        from .render_markdown import render_markdown

        return _written(render_markdown(self), path)

    def to_csv(self, path=None) -> str | None:
        """The table as CSV (every column; empty cells where a value is unknown); text if no path is given."""
        safe = self.table.map(_csv_cell)
        if path is None:
            return safe.to_csv(index=False)
        safe.to_csv(path, index=False)
        return None

    def to_docx(self, path) -> None:
        """A Word document with the table, its footnotes and legend (python-docx)."""
        from .render_docx import render_docx

        render_docx(self, path)


def _csv_cell(value):
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; None and NaN stay empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _written(text: str, path) -> str:
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def summary_of_findings(outcomes, intervention="the intervention", comparison="control", population=None,
                        setting=None, title=None) -> SummaryOfFindings:
    """The summary of findings of `outcomes` (bm.Outcome) for `intervention` compared with `comparison`."""
    return SummaryOfFindings(outcomes, intervention, comparison, population, setting, title)
