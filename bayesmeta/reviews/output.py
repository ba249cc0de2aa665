"""`bayesmeta review FILE --out DIR`: every analysis of a review fitted, written as a folder.

    DIR/index.html        one row per analysis: RevMan's stored result, our reproduction of it, the Bayesian
                          posterior of the mean effect (ratios on the ratio scale), tau, P(benefit) and P(benefit
                          beyond a minimal important difference), linked to the analysis's report
    DIR/analyses.csv      the same table, machine-readable
    DIR/check.csv         RevMan vs ours: every stored number beside its reproduction
    DIR/<number>/report.html      full report of the analysis (all studies pooled: RevMan's "Total")
    DIR/<number>/subgroups.html   the Bayesian subgroup model, where RevMan has subgroups

Minimal important differences (MID), in the benefit direction: 0.2 for standardised mean differences (a small
effect), a ratio of 0.75 for odds, risk and hazard ratios (GRADE's default for an appreciable benefit, a 25%
relative change); none for MD, RD and other measures unless given (`mid={"MD": 10, "RD": 0.05}`; ratios as the
ratio, e.g. {"OR": 0.8}).
"""

from __future__ import annotations

import html
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..frequentist_methods.wls import EstimationError
from .check import check_analysis, summarise

DEFAULT_MID = {"SMD": 0.2, "Hedges' g": 0.2, "ratio": 0.75}
ANALYSIS_ERRORS = (DataError, ValueError, ArithmeticError, EstimationError)


def mid_for(a, mid: dict | None) -> float | None:
    """The MID of analysis `a` on the model's scale (log for ratios), as a positive magnitude, or None."""
    table = {**DEFAULT_MID, **(mid or {})}
    value = table.get(a.display_measure, table.get(a.measure))
    if value is None and a.ratio:
        value = table["ratio"]
    if value is None:
        return None
    value = float(value)
    if a.ratio:
        if not value > 0 or value == 1:
            raise ValueError(f"the minimal important difference of {a.display_measure} must be a ratio other than "
                             f"1, not {value!r}")
        return abs(math.log(value))
    if not value > 0:
        raise ValueError(f"the minimal important difference of {a.display_measure} must be > 0, not {value!r}")
    return value


def _fmt_effect(a, mid_value, lo, hi) -> str:
    f = math.exp if a.ratio else float
    digits = 2 if a.ratio or a.model_measure in ("SMD", "SMD_RevMan") else 3 if a.model_measure == "RD" else 2
    return f"{f(mid_value):.{digits}f} [{f(lo):.{digits}f}, {f(hi):.{digits}f}]"


def _mid_text(a, mid_log, op) -> str:
    """The MID event in words on the display scale, e.g. 'OR ≤ 0.75' or 'SMD ≤ -0.2'."""
    if mid_log is None:
        return ""
    sign = -1 if op == "<" else 1
    if a.ratio:
        return f"{a.display_measure} {'≤' if sign < 0 else '≥'} {math.exp(sign * mid_log):.2f}"
    return f"{a.display_measure} {'≤' if sign < 0 else '≥'} {sign * mid_log:g}"


def analyse(review, a, seed=1, mid=None, tau_prior=None, engine="exact", figures=True, folder: Path | None = None):
    """Fit one analysis and write its report(s) into `folder`; returns the index row (a dict)."""
    from ..report import build_report

    row = dict(analysis=a.number, comparison=a.comparison, outcome=a.name, measure=a.display_measure,
               revman_method=f"{a.method}, {'Random' if a.model == 'random' else 'Fixed'}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = a.effects()
            freq = a.frequentist()
            checks = pd.DataFrame(check_analysis(a))
            fit = review.fit(a.number, subgroup=None, seed=seed, tau_prior=tau_prior, engine=engine)
            fit_sub = freq_sub = None
            if a.has_subgroups(data):
                fit_sub = _subgroup_fit(a, data, seed, tau_prior, engine)
                freq_sub = a.frequentist(data=fit_sub.data)
        except ANALYSIS_ERRORS as err:
            row.update(k=len(a.estimable()[0]), error=" ".join(str(err).split()))
            return row, None
    notes = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
    op = "<" if data.benefit == "lower" else ">" if data.benefit == "higher" else None
    mid_log = mid_for(a, mid)
    summ = fit.summary()
    mu = summ.loc["mu"]
    row.update(k=data.k, revman=_stored_text(a), reproduction=_agreement(checks),
               ours_frequentist=_fmt_effect(a, freq.mu, freq.lower, freq.upper),
               bayes_mu=_fmt_effect(a, mu["median"], mu["lower"], mu["upper"]),
               bayes_tau=f"{summ.loc['tau', 'median']:.3f} [{summ.loc['tau', 'lower']:.3f}, "
                         f"{summ.loc['tau', 'upper']:.3f}]",
               benefit=data.benefit, p_benefit=fit.prob(f"mu {op} 0") if op else np.nan,
               mid=_mid_text(a, mid_log, op) if op else "",
               p_mid=fit.prob(f"mu {op}= {-mid_log if op == '<' else mid_log:g}") if op and mid_log else np.nan,
               subgroups=len(a.subgroup_names) if fit_sub is not None else 0, notes="; ".join(notes), error="")
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        thresholds = None if op is None else [0.0] + ([(-mid_log if op == "<" else mid_log)] if mid_log else [])
        for name, f, fr in (("report.html", fit, freq), ("subgroups.html", fit_sub, freq_sub)):
            if f is None:
                continue
            figs = _figures(f, fr) if figures else None
            title = f"{a.number} {a.comparison}: {a.name}" + (" (subgroups)" if f is fit_sub else "")
            notes_f = _report_notes(review, a, data, freq, f, checks, notes, op, mid_log)
            text = build_report(f, freq=fr, thresholds=thresholds, title=title, figures=figs, notes=notes_f)
            (folder / name).write_text(text.render("html"), encoding="utf-8")
            _close(figs)
    return row, fit


def _subgroup_fit(a, data, seed, tau_prior, engine):
    """The Bayesian subgroup model, its subgroup names with non-breaking spaces (the report splits its probability
    events at spaces, so 'mu[Older adults] < 0' would not read; the names look the same)."""
    from dataclasses import replace

    from ..model import fit

    mods = data.moderators.copy()
    mods["subgroup"] = mods["subgroup"].cat.rename_categories(lambda g: str(g).replace(" ", "\u00a0"))
    if tau_prior is None and a.ratio and data.measure == "generic":
        from ..priors import turner

        tau_prior = turner()
    return fit(replace(data, moderators=mods), subgroup="subgroup", seed=seed, tau_prior=tau_prior, engine=engine)


def _figures(fit, freq):
    from .. import plots

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {"Forest plot (observed and shrunken study effects, pooled posterior, RevMan's pooled result)":
                plots.forest(fit, freq=freq)}


def _close(figs):
    if figs:
        import matplotlib.pyplot as plt

        for fig in figs.values():
            plt.close(fig)


def _stored_text(a) -> str:
    from .check import has_stored_result
    from .core import parse_number

    if not has_stored_result(a.stored):
        return ""
    vals = [parse_number(a.stored.get(q), q) for q in ("estimate", "lower", "upper")]
    digits = 3 if a.model_measure == "RD" else 2
    return f"{vals[0]:.{digits}f} [{vals[1]:.{digits}f}, {vals[2]:.{digits}f}]"


def _agreement(checks: pd.DataFrame) -> str:
    if checks.empty:
        return "nothing stored to compare"
    bad = checks[~checks["agrees"]]
    if bad.empty:
        return f"agrees ({len(checks)} of {len(checks)} stored numbers)"
    first = bad.iloc[0]
    return (f"differs in {len(bad)} of {len(checks)} numbers (e.g. {first['where']}, {first['quantity']}: RevMan "
            f"{first['stored_as']}, ours {first['ours']:.6g})")


def _report_notes(review, a, data, freq, fit, checks, warned, op, mid_log) -> list[str]:
    src = f"{review.path} ({review.format})" + (f", DOI {review.doi}" if review.doi else "")
    out = [f"Source: {src}; analysis {a.number}, {a.comparison}: {a.name}; {a.data_type} data, "
           f"{a.display_measure}, pooled in RevMan by {freq.label}.", f"Benefit direction: {a.benefit_note}."]
    if a.ratio:
        out.append(f"{a.display_measure}s are analysed on the log scale (effects, mu and tau below are log "
                   f"{a.display_measure}s); the ratio scale is given here.")
        summ = fit.summary()
        for q in [r for r in summ.index if r.startswith(("mu", "theta_new"))]:
            s = summ.loc[q]
            out.append(f"{q} on the ratio scale: {a.display_measure} {math.exp(s['median']):.3f} (95% CrI "
                       f"{math.exp(s['lower']):.3f} to {math.exp(s['upper']):.3f}).")
    shown = freq.display()
    out.append(f"RevMan's method reproduced ({freq.label}): {shown['measure']} {shown['estimate']:.3f} (95% CI "
               f"{shown['lower']:.3f} to {shown['upper']:.3f}); against the numbers the file stores: "
               f"{_agreement(checks)}.")
    aside = a.set_aside()
    if aside:
        out.append("Not estimable, set aside: " + "; ".join(f"{s} ({why})" for s, why in aside.items()) + ".")
    if op and mid_log:
        out.append(f"Minimal important difference: {_mid_text(a, mid_log, op)}.")
    out += list(a.notes) + [f"Warning: {w}" for w in warned]
    return out


def write_review(review, out, seed: int = 1, mid: dict | None = None, tau_prior=None, engine: str = "exact",
                 figures: bool = True, progress: bool = False, overwrite: bool = False) -> dict:
    """Fit every analysis of `review` and write the folder described in the module docstring. Returns
    {"out": folder, "table": the index DataFrame, "check": RevMan vs ours, "files": {...}}. An analysis that
    cannot be analysed (no estimable studies, ...) is listed with the reason; the others are still written.
    A folder that is not empty is refused unless `overwrite`; then only what an earlier run wrote is replaced
    (bayesmeta.output_folder: staged, atomic, nothing left behind on failure or SIGTERM)."""
    from ..output_folder import OutputFolder

    out = Path(out)
    with OutputFolder(out, overwrite) as stage:
        rows = []
        analyses = list(review)
        for a in _progress(analyses, progress):
            row, _ = analyse(review, a, seed, mid, tau_prior, engine, figures, stage / a.number)
            rows.append(row)
        table = pd.DataFrame(rows)
        check = review.check()
        table.to_csv(stage / "analyses.csv", index=False)
        check.to_csv(stage / "check.csv", index=False)
        (stage / "index.html").write_text(index_html(review, table, summarise(check), seed), encoding="utf-8")
    files = {"index": out / "index.html", "analyses": out / "analyses.csv", "check": out / "check.csv"}
    return dict(out=out, table=table, check=check, files=files)


def _progress(items, show):
    if not show:
        yield from items
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("fitting analyses", total=len(items))
        for item in items:
            bar.update(task, description=f"analysis {item.number}")
            yield item
            bar.advance(task)


def _pct(p) -> str:
    from ..report import pct

    return "" if p is None or not np.isfinite(p) else pct(p)


def index_html(review, table: pd.DataFrame, agreement: pd.DataFrame, seed: int) -> str:
    """The review's index page: every label escaped, one row per analysis linked to its report."""
    e = html.escape
    head = ["Analysis", "Outcome", "Measure", "RevMan", "k", "RevMan's result (stored)", "Our reproduction",
            "Bayesian mean effect, median [95% CrI]", "tau, median [95% CrI]", "P(benefit)",
            "P(benefit beyond the MID)"]
    body = []
    for r in table.itertuples():
        link = f'<a href="{e(r.analysis)}/report.html">{e(r.analysis)}</a>'
        if getattr(r, "subgroups", 0):
            link += f'<br><a class="small" href="{e(r.analysis)}/subgroups.html">subgroups</a>'
        if getattr(r, "error", ""):
            cells = [e(r.analysis), e(f"{r.comparison}: {r.outcome}"), e(r.measure), e(r.revman_method),
                     e(str(r.k)), f'<td colspan="6" class="error">not analysed: {e(r.error)}</td>']
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells[:-1]) + cells[-1] + "</tr>")
            continue
        mid = f"{_pct(r.p_mid)} <span class=\"small\">({e(r.mid)})</span>" if r.mid else "–"
        p_benefit = _pct(r.p_benefit) if r.benefit else "direction not stated"
        cells = [link, e(f"{r.comparison}: {r.outcome}"), e(r.measure), e(r.revman_method), e(str(r.k)),
                 e(r.revman or "not stored"), e(r.reproduction), e(r.bayes_mu), e(r.bayes_tau), e(p_benefit), mid]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    n_all = int(agreement["compared"].sum()) if len(agreement) else 0
    n_ok = int(agreement["agree"].sum()) if len(agreement) else 0
    notes = "".join(f"<li>{e(n)}</li>" for n in review.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(review.title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.5em; vertical-align: top; text-align: left; }}
th {{ background: #f2f2f2; }} .small {{ font-size: 0.85em; color: #555; }} .error {{ color: #a00; }}
</style></head><body>
<h1>{e(review.title)}</h1>
<p>{e(review.path)} ({e(review.format)}){', DOI ' + e(review.doi) if review.doi else ''}; {len(table)} analyses.
Ratios (OR, RR, HR) are shown on the ratio scale; benefit is the side the file's graph labels give the
intervention. Bayesian fits: normal-normal random-effects model of all studies of each analysis (RevMan's
"Total"), exact engine, default prior on tau by measure (Turner et al. for log odds and risk ratios), flat prior
on the mean, seed {seed}.</p>
<p>RevMan vs ours: {n_ok} of {n_all} stored numbers reproduced to the digits the file stores (details in
<a href="check.csv">check.csv</a>; the table as <a href="analyses.csv">analyses.csv</a>).</p>
{f'<ul>{notes}</ul>' if notes else ''}
<table>
<thead><tr>{''.join(f'<th>{e(h)}</th>' for h in head)}</tr></thead>
<tbody>
{chr(10).join(body)}
</tbody></table>
</body></html>
"""
