"""The one formatting module of every output (reports, figures, tables, review pages).

Numbers: `decimals_for` (three significant digits for the largest value), `format_number`, `aligned_numbers`;
probabilities: `format_probability` ('< 0.001', '> 0.999', three decimals), `pct`, `prob_text`; P values as
RevMan prints them (`format_pvalue`); a missing value as an en dash (`MISSING`); intervals as 'lower to upper'
(`display_table`); the thresholds and events of the probability statements in the benefit direction
(`benefit_thresholds`, `default_thresholds`, `probability_events`); escaping per format (`md_escape` for
markdown, `html.escape` for HTML, `one_line` for text) and figure text drawn as it is (`plain_text`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .effects import STANDARDISED, benefit_operator, benefit_sign

MISSING = "\u2013"  # an en dash: a cell without a value


def article(spoken: str) -> str:
    """'an' before a number read with a vowel sound (8, 11, 18, 80-89: "an 83.2% probability"), else 'a'."""
    return "an" if spoken.startswith("8") or spoken.split(".")[0] in ("11", "18") else "a"


def studies(k: int) -> str:
    """A count of studies as a sentence says it: '1 study', '12 studies'."""
    return f"{k} study" if k == 1 else f"{k} studies"


def pct(p: float) -> str:
    """A probability in words-friendly percent: 99.7%, <0.1%, >99.9%."""
    if p > 0.999:
        return ">99.9%"
    if p < 0.001:
        return "<0.1%"
    return f"{100 * p:.1f}%"


def benefit_thresholds(thresholds, benefit, name: str = "thresholds") -> list[float]:
    """The thresholds of the probability statements, checked: a non-empty list of finite numbers on the
    benefit side (<= 0 for benefit "lower", >= 0 for "higher"); sorted from the least to the most demanding,
    duplicates dropped. The report, probabilities.csv and the density figure all state these."""
    if isinstance(thresholds, (int, float)) and not isinstance(thresholds, bool):
        thresholds = [thresholds]
    if not isinstance(thresholds, (list, tuple, np.ndarray)) or len(thresholds) == 0:
        raise ValueError(f"'{name}' must list at least one effect, e.g. [0, -0.2] (0: any benefit), got {thresholds!r}")
    sign = benefit_sign(benefit) if benefit else None
    out = []
    for i, c in enumerate(thresholds):
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, float, np.number)) or not np.isfinite(c):
            raise ValueError(f"'{name}[{i}]' must be a finite number, got {c!r}")
        if sign is not None and c * sign < 0:
            side = "0 or below" if sign < 0 else "0 or above"
            raise ValueError(f"'{name}[{i}]' is {c!r}, on the side of harm: with benefit {benefit!r} the thresholds "
                             f"are effects {side} (write {-c!r})")
        out.append(float(c))
    return sorted(set(out), key=lambda c: (abs(c), c))


def default_thresholds(data) -> list[float]:
    """0 (any benefit) and, for standardised mean differences, a small effect (0.2 in the benefit direction)."""
    if data.measure in STANDARDISED:
        return [0.0, benefit_sign(data.benefit) * 0.2]
    return [0.0]


def probability_events(data, thresholds=None, quantities=("mu", "theta_new")) -> list[str]:
    """The events of the probability statements, for mu then theta_new: 'mu < 0' (any benefit) and
    'mu <= -0.2' (a benefit at least that large), in the benefit direction; without one, 'mu < c' for c <= 0
    and 'mu > c' otherwise. The report, probabilities.csv and the density figure state these events."""
    cs = benefit_thresholds(default_thresholds(data) if thresholds is None else thresholds, data.benefit)
    out = []
    for quantity in quantities:
        for c in cs:
            if data.benefit is None:
                op = "<" if c <= 0 else ">"
            else:
                op = benefit_operator(data.benefit) + ("" if c == 0 else "=")
            out.append(f"{quantity} {op} {c:g}")
    return out


_SUBJECTS = {"mu": "the pooled effect", "theta_new": "the effect in a new study", "tau": "tau", "tau2": "tau\u00b2",
             "I2": "I\u00b2 (%)"}
_OPERATORS = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}


def quantity_words(quantity: str) -> str:
    """A quantity of fit.prob in words: 'mu' -> 'the pooled effect', 'theta_new[online]' -> 'the effect in a new
    study in online', 'beta[weeks]' -> 'the coefficient of weeks', 'mu[a] - mu[b]' -> 'the pooled effect in a
    minus the pooled effect in b'; anything else as it is."""
    quantity = quantity.strip()
    if " - " in quantity:
        a, b = (quantity_words(q) for q in quantity.split(" - ", 1))
        return f"{a} minus {b}"
    base, _, rest = quantity.partition("[")
    arg = rest[:-1] if rest.endswith("]") else None
    if base == "beta" and arg is not None:
        return "the intercept" if arg == "intercept" else f"the coefficient of {arg}"
    if base in _SUBJECTS:
        return _SUBJECTS[base] + (f" in {arg}" if arg is not None else "")
    return quantity


def event_words(event: str, measure: str | None = None, benefit: str | None = None) -> str:
    """An event of fit.prob in words for a reader, in the benefit direction: 'mu < 0' -> 'the pooled effect
    favours the intervention', 'theta_new <= -0.2' (SMD) -> 'the effect in a new study is at least 0.2 SD in
    favour'; against it or without a direction 'tau > 0.5' -> 'tau is above 0.5'. The code form stays in the
    report's reproducibility appendix and in probabilities.csv."""
    parts = event.rsplit(" ", 2)
    if len(parts) != 3 or parts[1] not in _OPERATORS:
        return event
    quantity, op, value = parts
    try:
        c = float(value)
    except ValueError:
        return event
    if any(o in quantity for o in "<>"):  # an interval such as '-0.5 < mu < 0'
        return event
    subject = quantity_words(quantity)
    base = quantity.split("[")[0].strip()
    if benefit is None or op.rstrip("=") != benefit_operator(benefit) or base not in ("mu", "theta_new", "beta"):
        return f"{subject} is {_OPERATORS[op]} {c:g}"
    if " - " in quantity and c == 0:  # a difference between subgroups
        a, b = (q.strip().partition("[")[2].rstrip("]") for q in quantity.split(" - ", 1))
        return f"the effect is more favourable in {a} than in {b}"
    if base == "beta" or " - " in quantity:
        return f"{subject} is {_OPERATORS[op]} {c:g}, towards benefit"
    if c == 0:
        return f"{subject} favours the intervention"
    if measure in STANDARDISED:
        return f"{subject} is at least {abs(c):g} SD in favour"
    if measure in ("logOR", "logRR"):
        return f"{subject} is a ratio ({measure[3:]}) of {math.exp(c):.3g} or further in favour"
    return f"{subject} is at least {abs(c):g} ({measure or 'effect'} units) in favour"


# --------------------------------------------------------------------------- one formatter for every table
@dataclass
class DisplayTable:
    """A table as printed: header cells, rows of cells (text), and the alignment of each column ('l' or 'r')."""

    header: list[str]
    rows: list[list[str]]
    align: list[str]


def _finite(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def decimals_for(values) -> int:
    """Decimals that give the largest |value| three significant digits (0 to 4): 0.41 -> 3, 1.8 -> 2, 76 -> 1."""
    v = [abs(float(x)) for x in values if _finite(x) and x != 0]
    if not v:
        return 0
    return int(min(4, max(0, 2 - math.floor(math.log10(max(v))))))


def format_number(v, decimals: int) -> str:
    """A number with `decimals` decimals, thousands unseparated, no '-0.000'; scientific only beyond 1e9."""
    v = float(v)
    if abs(v) >= 1e9:
        return f"{v:.3g}"
    text = f"{v:.{decimals}f}"
    if re.fullmatch(r"-0\.?0*", text):
        text = text[1:]
    return text


def format_bayes_factor(bf) -> str:
    """A Bayes factor as a journal prints it: '< 1/1000', '> 1000', else three significant digits ('0.0421',
    '2.35', '187'; 0 to 4 decimals by size); a dash where missing."""
    if not _finite(bf):
        return MISSING
    bf = float(bf)
    if bf < 1e-3:
        return "< 1/1000"
    if bf > 1e3:
        return "> 1000"
    decimals = 0 if bf >= 100 else 1 if bf >= 10 else 2 if bf >= 1 else 3 if bf >= 0.01 else 4
    return f"{bf:.{decimals}f}"


def format_probability(p) -> str:
    """'< 0.001', '> 0.999' or three decimals."""
    p = float(p)
    if p < 0.001:
        return "< 0.001"
    if p > 0.999:
        return "> 0.999"
    return f"{p:.3f}"


def _is_probability(header: str) -> bool:
    return header.startswith("P(") or header.lower() in ("probability", "posterior probability")


def _cell_numbers(v) -> list:
    if isinstance(v, tuple):
        return [x for x in v if _finite(x)]
    return [v] if _finite(v) else []


def _is_missing(v) -> bool:
    if v is None or v is pd.NA:
        return True
    if isinstance(v, tuple):
        return all(_is_missing(x) for x in v)
    return isinstance(v, (float, np.floating)) and not math.isfinite(v)


def display_table(df: pd.DataFrame) -> DisplayTable:
    """The printed form of a table, the same for text, markdown and HTML: the row labels as the first column
    under the index's name (never a row of its own), numbers with the same decimals down a column (along a row
    when df.attrs['by'] == 'row', shared by the rows of one scale in df.attrs['row_groups']; df.attrs['decimals']
    fixes a column's), whole numbers as such, probabilities as
    '< 0.001' / '> 0.999' / three decimals (columns headed 'P(...)', rows flagged in df.attrs['probability_rows']),
    intervals (a pair of numbers) as 'lower to upper', a triple as 'estimate (lower to upper)', missing values as
    an en dash; numbers right-aligned, text left-aligned."""
    flat = _flat_labels(df)
    groups = df.attrs.get("row_groups")
    prob_rows = df.attrs.get("probability_rows")
    by_row = df.attrs.get("by") == "row" or groups is not None
    fixed = df.attrs.get("decimals", {})
    headers = [str(c) for c in flat.columns]
    values = flat.to_numpy(dtype=object)
    n_rows, n_cols = values.shape
    whole = []
    for j in range(n_cols):
        col = df.iloc[:, j]
        nums = [x for v in values[:, j] for x in _cell_numbers(v)]
        integer_dtype = pd.api.types.is_integer_dtype(col.dtype)
        whole.append(integer_dtype or (bool(nums) and all(float(x).is_integer() for x in nums) and
                                       all(isinstance(x, (int, np.integer)) for x in nums)))
    if by_row:
        dec_rows = [decimals_for([x for j, v in enumerate(values[i]) if not _is_probability(headers[j])
                                  for x in _cell_numbers(v)]) if not (prob_rows and prob_rows[i]) else 3
                    for i in range(n_rows)]
        if groups is not None:  # rows on one scale share their decimals
            shared = {}
            for g, d in zip(groups, dec_rows):
                shared[g] = min(shared.get(g, d), d)
            dec_rows = [shared[g] for g in groups]
    else:
        dec_cols = [fixed.get(headers[j], decimals_for([x for v in values[:, j] for x in _cell_numbers(v)]))
                    for j in range(n_cols)]
    rows, numeric = [], [False] * n_cols
    for i in range(n_rows):
        row = [one_line(flat.index[i])]
        for j in range(n_cols):
            v = values[i, j]
            d = fixed.get(headers[j], dec_rows[i]) if by_row else dec_cols[j]
            if _is_missing(v):
                text = MISSING
            elif isinstance(v, tuple):
                numeric[j] = True
                shown = [MISSING if not _finite(x) else format_number(x, d) for x in v]
                text = " to ".join(shown) if len(v) == 2 else f"{shown[0]} ({' to '.join(shown[1:])})"
            elif _finite(v):
                numeric[j] = True
                if _is_probability(headers[j]) or (prob_rows and prob_rows[i]):
                    text = format_probability(v)
                elif whole[j]:
                    text = f"{int(v)}"
                else:
                    text = format_number(v, d)
            else:
                text = one_line(v)
            row.append(text)
        rows.append(row)
    header = [flat.index.name or ""] + headers
    return DisplayTable(header, rows, ["l"] + ["r" if numeric[j] else "l" for j in range(n_cols)])


def one_line(text) -> str:
    """Text without line breaks or tabs, which would shift the rows and columns of a table."""
    return " ".join(str(text).split())


def _flat_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Row and column labels as plain text: levels of a MultiIndex joined with ' / ' (never a tuple)."""
    def flat(index):
        if isinstance(index, pd.MultiIndex):
            out = pd.Index([" / ".join(map(one_line, t)) for t in index], dtype=object)
            out.name = " / ".join(one_line(n) for n in index.names if n is not None) or None
            return out
        out = pd.Index([one_line(v) for v in index], dtype=object)
        out.name = None if index.name is None else one_line(index.name)
        return out

    out = df.copy()
    out.index, out.columns = flat(df.index), flat(df.columns)
    return out


# --------------------------------------------------------------------------- markdown
_MD_INLINE = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def md_escape(text, block: bool = False) -> str:
    """Text shown literally by markdown renderers: one line; markdown's inline characters escaped; &, < and >
    as entities (so no raw HTML passes through). block=True for text that starts a block (a paragraph, a
    heading): then a leading #, +, -, = or 'N.' is escaped too, so that it is not read as a heading or list."""
    line = one_line(text).translate(_MD_INLINE)
    if not block:
        return line
    if line[:1] in ("#", "+", "-", "="):
        return "\\" + line
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", line)


# --------------------------------------------------------------------------- numbers on figures
def plain_text(fig):
    """Every text of the figure drawn as it is: no mathtext ($...$) and no TeX, whatever the labels hold."""
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        t.set_parse_math(False)
        t.set_usetex(False)
    return fig


# --------------------------------------------------------------------------- forest plots of moderator models
def format_pvalue(p) -> str:
    """A P value as RevMan prints it: 'P = 0.32', 'P = 0.004', 'P < 0.00001'."""
    if p is None or not np.isfinite(p):
        return "P not available"
    if p < 1e-5:
        return "P < 0.00001"
    if p >= 0.01:
        return f"P = {p:.2f}"
    return f"P = {p:.{-math.floor(math.log10(p))}f}"


def prob_text(p) -> str:
    """'= 0.09' (two decimals in the middle, three near 0 and 1), '< 0.001', '> 0.999'."""
    if p < 0.001:
        return "< 0.001"
    if p > 0.999:
        return "> 0.999"
    return f"= {p:.2f}" if 0.01 <= p <= 0.99 else f"= {p:.3f}"


def aligned_numbers(*values) -> list[str]:
    """Numbers printed alike: two decimals, more where the largest is small (three significant digits)."""
    d = max(2, decimals_for(values))
    return [format_number(v, d) for v in values]


def prob_text3(p) -> str:
    """'= 0.685', '< 0.001', '> 0.999': a probability on a figure, three decimals."""
    if p < 0.001:
        return "< 0.001"
    if p > 0.999:
        return "> 0.999"
    return f"= {p:.3f}"
