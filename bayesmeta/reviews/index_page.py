"""The review's index page (`bayesmeta review`'s index.html) and the words of its cells: every number as a
journal prints it (bayesmeta.formatting), every cell escaped, RevMan's totals rules (no overall result where the review pools only
within subgroups or not at all), "direction not stated" with the probabilities of both directions where the file
does not say which side favours the intervention, and "differs" only beyond the check's tolerance."""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from ..formatting import MISSING, format_number
from ..formatting import pct as format_pct

DASH = MISSING


def num(value, digits: int = 2) -> str:
    """formatting.format_number, with a dash where the value is missing."""
    return format_number(value, digits) if value is not None and np.isfinite(value) else MISSING


def pct(p) -> str:
    """formatting.pct ('97.3%', '<0.1%', '>99.9%'), with a dash where the probability is missing."""
    return format_pct(p) if p is not None and np.isfinite(p) else MISSING


def digits_for(a) -> int:
    return 3 if a.model_measure == "RD" else 2


def interval(a, mid, lo, hi) -> str:
    """'0.64 (0.34 to 1.19)' on the display scale (ratios as ratios)."""
    f = math.exp if a.ratio else float
    d = digits_for(a)
    return f"{num(f(mid), d)} ({num(f(lo), d)} to {num(f(hi), d)})"


def agreement(checks: pd.DataFrame, short: bool = False) -> str:
    """RevMan vs ours in words: how many stored numbers, placeholders, and those beyond the tolerance (`short`:
    the index's cell)."""
    if checks.empty:
        return "nothing stored to compare"
    status = checks["status"]
    n, filler, bad = len(checks), int((status == "placeholder").sum()), checks[status == "differs"]
    if short and bad.empty:
        return f"all {n} reproduced" + (f" ({filler} placeholders)" if filler else "")
    filler_text = f"; {filler} are RevMan's placeholders (nothing to estimate)" if filler else ""
    if bad.empty:
        return f"all {n} stored numbers reproduced to RevMan's stored precision{filler_text}"
    first = bad.iloc[0]
    return (f"{len(bad)} of {n} stored numbers differ beyond RevMan's stored precision (first: {first['where']}, "
            f"{first['quantity']}: RevMan {first['stored_as']}, ours {first['ours']:.6g}; see check.csv)")


def index_html(review, table: pd.DataFrame, agreement_table: pd.DataFrame, seed: int) -> str:
    """The review's index page: one row per analysis linked to its report(s)."""
    e = html.escape
    head = ["Analysis", "Outcome", "Measure", "RevMan", "k", "RevMan's result (stored)", "RevMan vs ours",
            "Bayesian pooled effect, median (95% CrI)", "tau, median (95% CrI)", "Probability of benefit",
            "Probability of benefit beyond the MID"]
    body = [_row(r) for r in table.itertuples()]
    compared = int(agreement_table["compared"].sum()) if len(agreement_table) else 0
    agree = int(agreement_table["agree"].sum()) if len(agreement_table) else 0
    filler = int(agreement_table["placeholder"].sum()) if len(agreement_table) else 0
    differ = int(agreement_table["differ"].sum()) if len(agreement_table) else 0
    notes = "".join(f"<li>{e(n)}</li>" for n in review.notes)
    source = e(review.path) + f" ({e(review.format)})" + (f", DOI {e(review.doi)}" if review.doi else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(review.title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1em auto; max-width: 1400px; padding: 0 1em; color: #222;
       line-height: 1.4; overflow-wrap: anywhere; }}
.table-wrap {{ max-width: 100%; overflow-x: auto; }}
table {{ border-collapse: collapse; font-size: 0.9em; font-variant-numeric: tabular-nums; }}
*, *::before, *::after {{ box-sizing: border-box; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; text-align: left;
         overflow-wrap: normal; word-break: normal; hyphens: manual; }}
td:nth-child(1), td:nth-child(3), td:nth-child(4), td:nth-child(5) {{ white-space: nowrap; }}
td:nth-child(2) {{ min-width: 14em; }}
th {{ background: #f2f2f2; }} .small {{ font-size: 0.85em; color: #555; }} .error {{ color: #a00; }}
@media (max-width: 700px) {{
  thead {{ display: none; }} table, tbody, tr, td {{ display: block; width: 100%; }}
  tr {{ border: 1px solid #ccc; margin: 0 0 0.8em; }} td {{ border: 0; border-bottom: 1px solid #eee; }}
  td::before {{ content: attr(data-label); display: block; font-size: 0.8em; color: #555; }}
  td, th {{ white-space: normal !important; min-width: 0 !important; }}
}}
@media print {{ tr {{ break-inside: avoid; }} h1, h2 {{ break-after: avoid; }} }}
</style></head><body>
<h1>{e(review.title)}</h1>
<p>{source}; {len(table)} analyses. Ratios (OR, RR, HR) are shown on the ratio scale. The benefit direction is
taken only from graph labels that say "Favours ..." (or as declared with --benefit / --benefit-map); where the
file does not state it the page says "direction not stated" and gives the probabilities of both directions.
Bayesian fits: normal-normal random-effects model of the studies of each analysis, exact engine, default prior on
tau by measure (Turner et al. for log odds and risk ratios), flat prior on the mean, seed {seed}. Analyses that
the review pools only within subgroups (RevMan's totals "subtotals only") are shown by subgroup; those it does
not pool get no pooled estimate.</p>
<p>RevMan vs ours: of {compared} numbers RevMan stored, {agree} are reproduced to the digits the file stores
and {filler} are RevMan's placeholders where there is nothing to estimate (heterogeneity of one study, weights of
an analysis it does not pool); {differ} differ beyond that tolerance. Details, with RevMan's stored value at full
precision beside ours: <a href="check.csv">check.csv</a>; this table: <a href="analyses.csv">analyses.csv</a>.
A dash (–) marks a value that does not exist (one study: no heterogeneity to estimate; no direction stated: no
probability of benefit).</p>
{f'<ul>{notes}</ul>' if notes else ''}
<div class="table-wrap"><table>
<thead><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table></div>
</body></html>
"""


LABELS = ["Analysis", "Outcome", "Measure", "RevMan", "k", "RevMan's result (stored)", "RevMan vs ours",
          "Bayesian pooled effect", "tau", "Probability of benefit", "Beyond the MID"]


def _row(r) -> str:
    e = html.escape
    number = e(str(r.analysis))
    link = f'<a href="{number}/report.html">{number}</a>' if getattr(r, "report", "") else number
    if getattr(r, "subgroups_report", ""):
        link += f'<br><a class="small" href="{number}/subgroups.html">by subgroup</a>'
    first = [link, e(f"{r.comparison}: {r.outcome}"), e(str(r.measure)), e(str(r.revman_method)), e(str(r.k))]
    if getattr(r, "error", ""):
        cells = [f"<td data-label=\"{e(lab)}\">{c}</td>" for lab, c in zip(LABELS, first)]
        return "<tr>" + "".join(cells) + f'<td colspan="6" class="error">not analysed: {e(r.error)}</td></tr>'
    rest = [e(r.revman or "not stored"), e(r.reproduction), e(r.bayes_mu), e(r.bayes_tau), e(r.p_benefit_text),
            e(r.p_mid_text)]
    return "<tr>" + "".join(f"<td data-label=\"{e(lab)}\">{c}</td>" for lab, c in zip(LABELS, first + rest)) + "</tr>"
