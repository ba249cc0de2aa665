"""`bayesmeta review FILE --out DIR`: every analysis of a review fitted, written as a folder.

    DIR/index.html        one row per analysis: RevMan's stored result, whether we reproduce it, the Bayesian
                          posterior of the pooled effect (ratios on the ratio scale), tau, the probability of benefit
                          and of a benefit beyond a minimal important difference, linked to the analysis's report
    DIR/analyses.csv      the same table, machine-readable
    DIR/check.csv         RevMan vs ours: every stored number (at full precision) beside its reproduction
    DIR/<number>/report.html      the analysis as the review pools it: all studies (RevMan's "Total"), or by
                                  subgroup where the review shows subtotals only (RevMan's totals "SUB")
    DIR/<number>/subgroups.html   the Bayesian subgroup model, where the review also shows a total

RevMan's totals rules are followed: an analysis the review does not pool (totals "NO", or "SUB" without
subgroups) gets no pooled estimate and no report. Work is done in two passes so that the index comes first: every
analysis is pooled, checked and fitted (exact engine, fast), the index written; then the reports and their forest
plots, in parallel processes (one per core) where the platform can fork. Warnings are printed once per analysis,
naming it.

Minimal important differences (MID), in the benefit direction: 0.2 for standardised mean differences (a small
effect), a ratio of 0.75 for odds, risk and hazard ratios (GRADE's default for an appreciable benefit, a 25%
relative change); none for MD, RD and other measures unless given (`mid={"MD": 10, "RD": 0.05}`; ratios as the
ratio, e.g. {"OR": 0.8}).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..frequentist_methods.wls import EstimationError
from .check import check_analysis, summarise
from .index_page import DASH, agreement, index_html, interval, num, pct

DEFAULT_MID = {"SMD": 0.2, "Hedges' g": 0.2, "ratio": 0.75}
ANALYSIS_ERRORS = (DataError, ValueError, ArithmeticError, EstimationError)
CHECK_COLUMNS = ["analysis", "where", "quantity", "revman", "ours", "stored_as", "difference", "tolerance", "agrees",
                 "status", "note"]


class ReviewWarning(UserWarning):
    """A warning about one analysis of a review (the message starts with its number)."""


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


def _mid_text(a, mid_log, op) -> str:
    """The MID event in words on the display scale, e.g. 'OR ≤ 0.75' or 'SMD ≤ -0.2'."""
    if mid_log is None:
        return ""
    sign = -1 if op == "<" else 1
    if a.ratio:
        return f"{a.display_measure} {'≤' if sign < 0 else '≥'} {math.exp(sign * mid_log):.2f}"
    return f"{a.display_measure} {'≤' if sign < 0 else '≥'} {sign * mid_log:g}"


@dataclass
class Prepared:
    """One analysis pooled, checked and fitted: its index row and what its reports need."""

    number: str
    row: dict
    checks: pd.DataFrame
    notes: list = field(default_factory=list)
    reports: list = field(default_factory=list)  # (file name, fit, frequentist result, title)
    thresholds: list | None = None
    report_notes: list = field(default_factory=list)


def prepare(review, a, seed=1, mid=None, tau_prior=None, engine="exact") -> Prepared:
    """Pool `a` as RevMan does, check it against the file, fit it (exact engine); nothing written yet."""
    row = dict(analysis=a.number, comparison=a.comparison, outcome=a.name, measure=a.display_measure,
               revman_method=f"{a.method}, {'Random' if a.model == 'random' else 'Fixed'}", totals=a.totals,
               report="", subgroups_report="", error="")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = _prepare(review, a, row, seed, mid, tau_prior, engine)
        except ANALYSIS_ERRORS as err:
            row.update(k=len(a.estimable()[0]), error=" ".join(str(err).split()))
            out = Prepared(a.number, row, pd.DataFrame(columns=CHECK_COLUMNS))
    out.notes = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
    out.report_notes += [f"Warning: {w}" for w in out.notes]
    return out


def _prepare(review, a, row, seed, mid, tau_prior, engine) -> Prepared:
    data = a.effects()
    freq = a.frequentist(data=data)
    checks = pd.DataFrame(check_analysis(a, freq), columns=CHECK_COLUMNS)
    row.update(k=data.k, revman=_stored_text(a), reproduction=agreement(checks, short=True))
    out = Prepared(a.number, row, checks)
    groups = [] if freq.subgroups is None else list(freq.subgroups.index)
    if a.totals == "NO" or (a.totals == "SUB" and not groups):
        own = ""
        if data.k == 1:  # one study: its own estimate is what there is
            y, half = data.y[0], 1.959963984540054 * data.se[0]
            own = f"; 1 study ({data.study[0]}): {interval(a, y, y - half, y + half)}"
        row.update(revman="not pooled" + own, bayes_mu=DASH, bayes_tau=DASH, p_benefit_text=DASH, p_mid_text=DASH,
                   ours_frequentist=DASH, reproduction=row["reproduction"] + "; the review does not pool these studies")
        return out
    by_subgroup = a.totals == "SUB" and len(groups) > 1
    fit = None if by_subgroup else review.fit(a.number, subgroup=None, seed=seed, tau_prior=tau_prior, engine=engine)
    fit_sub = _subgroup_fit(review, a, seed, tau_prior, engine) if len(groups) > 1 else None
    op = "<" if data.benefit == "lower" else ">" if data.benefit == "higher" else None
    mid_log = mid_for(a, mid)
    out.thresholds = None if op is None else [0.0] + ([(-mid_log if op == "<" else mid_log)] if mid_log else [])
    out.report_notes = _report_notes(review, a, freq, checks, op, mid_log)
    title = f"{a.number} {a.comparison}: {a.name}"
    out.report_notes[3:3] = _ratio_lines(a, fit if fit is not None else fit_sub)
    if by_subgroup:
        row.update(_by_subgroup_cells(a, fit_sub), report="report.html")
        out.reports.append(("report.html", fit_sub, freq, title + " (by subgroup; the review shows no total)"))
        return out
    row.update(_pooled_cells(a, fit, freq, op, mid_log), report="report.html")
    sub_of = f" (the subtotal of subgroup {groups[0]}; the review shows no total)" if a.totals == "SUB" else ""
    out.reports.append(("report.html", fit, freq, title + sub_of))
    if fit_sub is not None:
        row["subgroups_report"] = "subgroups.html"
        out.reports.append(("subgroups.html", fit_sub, freq, title + " (subgroups)"))
    return out


def _ratio_lines(a, fit) -> list[str]:
    """The pooled effects of a ratio measure on the ratio scale (the report's tables are on the log scale)."""
    if not a.ratio:
        return []
    summ = fit.summary()
    return [f"{q} on the ratio scale: {a.display_measure} {interval(a, s['median'], s['lower'], s['upper'])} "
            "(posterior median, 95% CrI)." for q, s in summ.iterrows() if q.startswith(("mu", "theta_new"))]


def _pooled_cells(a, fit, freq, op, mid_log) -> dict:
    summ = fit.summary()
    mu, k = summ.loc["mu"], fit.data.k
    tau = summ.loc["tau"]
    cells = dict(ours_frequentist=interval(a, freq.mu, freq.lower, freq.upper),
                 bayes_mu=interval(a, mu["median"], mu["lower"], mu["upper"]),
                 bayes_tau=(f"{DASH} (1 study: heterogeneity cannot be estimated)" if k < 2 else
                            f"{num(tau['median'])} ({num(tau['lower'])} to {num(tau['upper'])})"))
    measure = a.display_measure
    null = "1" if a.ratio else "0"
    if op is None:
        cells.update(p_benefit=np.nan, p_mid=np.nan, p_mid_text=DASH, p_benefit_text=(
            f"direction not stated: P({measure} < {null}) = {pct(fit.prob('mu < 0'))}, "
            f"P({measure} > {null}) = {pct(fit.prob('mu > 0'))}"))
        return cells
    p = fit.prob(f"mu {op} 0")
    cells.update(p_benefit=p, p_benefit_text=pct(p), p_mid=np.nan, p_mid_text=DASH)
    if mid_log:
        p_mid = fit.prob(f"mu {op}= {-mid_log if op == '<' else mid_log:g}")
        cells.update(p_mid=p_mid, p_mid_text=f"{pct(p_mid)} ({_mid_text(a, mid_log, op)})")
    return cells


def _by_subgroup_cells(a, fit_sub) -> dict:
    n = len(fit_sub.data.moderators["subgroup"].cat.categories)
    text = f"by subgroup ({n} subgroups, no total): see the report"
    return dict(ours_frequentist=DASH, bayes_mu=text, bayes_tau=DASH, p_benefit=np.nan, p_mid=np.nan,
                p_benefit_text=text, p_mid_text=DASH)


def _subgroup_fit(review, a, seed, tau_prior, engine):
    return review.fit(a.number, subgroup="subgroup", seed=seed, tau_prior=tau_prior, engine=engine)


def _stored_text(a) -> str:
    from .check import has_stored_result
    from .text import parse_number

    if a.totals == "NO":
        return "not pooled (totals: none)"
    if a.totals == "SUB":
        return "subtotals only"
    if not has_stored_result(a.stored):
        return ""
    vals = [parse_number(a.stored.get(q), q) for q in ("estimate", "lower", "upper")]
    d = 3 if a.model_measure == "RD" else 2
    return f"{num(vals[0], d)} ({num(vals[1], d)} to {num(vals[2], d)})"


def _report_notes(review, a, freq, checks, op, mid_log) -> list[str]:
    src = f"{review.path} ({review.format})" + (f", DOI {review.doi}" if review.doi else "")
    out = [f"Source: {src}; analysis {a.number}, {a.comparison}: {a.name}; {a.data_type} data, "
           f"{a.display_measure}, pooled in RevMan by {freq.label}.", f"Benefit direction: {a.benefit_note}."]
    if a.totals != "YES":
        out.append("The review pools these studies only within subgroups (RevMan's totals: subtotals only); no "
                   "total is given.")
    if a.ratio:
        out.append(f"{a.display_measure}s are analysed on the log scale (effects, mu and tau below are log "
                   f"{a.display_measure}s); the report states them as ratios.")
    if a.totals == "YES":
        shown = freq.display()
        out.append(f"RevMan's method reproduced ({freq.label}): {shown['measure']} "
                   f"{interval(a, freq.mu, freq.lower, freq.upper)} (95% CI).")
    out.append(f"Against the numbers the file stores: {agreement(checks)}.")
    aside = a.set_aside()
    if aside:
        out.append("Not estimable, set aside: " + "; ".join(f"{s} ({why})" for s, why in aside.items()) + ".")
    if op and mid_log:
        out.append(f"Minimal important difference: {_mid_text(a, mid_log, op)}.")
    return out + list(a.notes)


# --------------------------------------------------------------------------- writing
def write_reports(item: Prepared, folder: Path, figures: bool) -> list[str]:
    """Write the report(s) of one prepared analysis into `folder`; returns the warnings raised."""
    from ..reports import build_report

    if not item.reports:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, fit, freq, title in item.reports:
            try:
                figs = _figures(fit, freq, folder / "figures" / f"forest-{Path(name).stem}.svg") if figures else None
                page = build_report(fit, freq=freq, thresholds=item.thresholds, title=title, figures=figs,
                                    notes=item.report_notes).render("html")
            except ANALYSIS_ERRORS as err:  # the index links here: say why instead of stopping the review
                warnings.warn(f"the report could not be written: {' '.join(str(err).split())}", ReviewWarning)
                page = _error_page(title, err)
            (folder / name).write_text(page, encoding="utf-8")
    return [" ".join(str(w.message).split()) for w in caught]


def _error_page(title: str, err: Exception) -> str:
    import html

    e = html.escape
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title></head><body>"
            f"<h1>{e(title)}</h1><p>The report could not be written: {e(' '.join(str(err).split()))}</p>"
            "<p>The index and check.csv still hold this analysis's RevMan result and its check.</p></body></html>")


def _figures(fit, freq, path: Path) -> dict:
    """The forest plot, saved as `path` (the report inlines it and links to it). SVG with its text as text
    (svg.fonttype "none": selectable, a third of the size, and half the CPU of text drawn as paths, which was most
    of the time of a review), cut to what is drawn (the figure's labels reach past its left margin)."""
    import matplotlib
    import matplotlib.pyplot as plt

    from .. import plots

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), matplotlib.rc_context({"svg.fonttype": "none"}):
        warnings.simplefilter("ignore")
        fig = plots.forest(fit, freq=freq)
        try:
            bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)  # "tight" without its extra draw
            fig.savefig(path, format="svg", bbox_inches=bbox)
        finally:
            plt.close(fig)
    return {"Forest plot (observed and shrunken study effects, pooled posterior, RevMan's pooled result)": path}


_JOBS: list = []  # the prepared analyses, inherited by forked workers


def _write_one(args):
    i, folder, figures = args
    return i, write_reports(_JOBS[i], Path(folder), figures)


def workers_for(n_jobs: int, workers: int | None) -> int:
    """Processes for the reports: `workers`, else one per core this process may use; 1 without fork."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(n_jobs, workers or cores))


def _write_all(prepared, stage: Path, figures: bool, workers: int | None) -> dict:
    """{analysis number: warnings} after writing every report, in `workers` processes."""
    jobs = [(i, str(stage / p.number), figures) for i, p in enumerate(prepared) if p.reports]
    n = workers_for(len(jobs), workers)
    if n == 1:
        return {prepared[i].number: write_reports(prepared[i], Path(f), fg) for i, f, fg in jobs}
    from concurrent.futures import ProcessPoolExecutor

    _JOBS[:] = prepared
    try:
        with warnings.catch_warnings():  # the workers only draw and write files: no lock of another thread is used
            warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
            with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
                return {prepared[i].number: caught for i, caught in pool.map(_write_one, jobs)}
    finally:
        _JOBS.clear()


def write_review(review, out, seed: int = 1, mid: dict | None = None, tau_prior=None, engine: str = "exact",
                 figures: bool = True, progress: bool = False, overwrite: bool = False, numbers=None,
                 workers: int | None = None, sof=None) -> dict:
    """Fit every analysis of `review` (or those in `numbers`) and write the folder described in the module
    docstring. Returns {"out": folder, "table": the index DataFrame, "check": RevMan vs ours, "files": {...}}. An
    analysis that cannot be analysed (no estimable studies, ...) is listed with the reason; the others are still
    written. A folder that is not empty is refused unless `overwrite`; then only what an earlier run wrote is
    replaced (bayesmeta.output_folder: staged, atomic, nothing left behind on failure or SIGTERM). `workers`:
    processes for the reports (default: one per core). `sof`: a judgements file (TOML, one [[outcome]] per
    analysis, see bayesmeta.findings.review_file) whose summary of findings is written to summary_of_findings/."""
    from ..findings.output import write_summary_of_findings
    from ..findings.review_file import review_summary_of_findings
    from ..output_folder import OutputFolder

    out = Path(out)
    analyses = list(review) if numbers is None else [review.analysis(n) for n in numbers]
    findings = None if sof is None else review_summary_of_findings(review, sof)  # its errors before any writing
    with OutputFolder(out, overwrite) as stage:
        prepared = [prepare(review, a, seed, mid, tau_prior, engine) for a in _progress(analyses, progress)]
        table = pd.DataFrame([p.row for p in prepared])
        check = pd.concat([p.checks for p in prepared if len(p.checks)] or [pd.DataFrame(columns=CHECK_COLUMNS)],
                          ignore_index=True)
        table.to_csv(stage / "analyses.csv", index=False)
        check.to_csv(stage / "check.csv", index=False)
        (stage / "index.html").write_text(index_html(review, table, summarise(check), seed), encoding="utf-8")
        late = _write_all(prepared, stage, figures, workers)
        if findings is not None:
            write_summary_of_findings(findings, stage / "summary_of_findings")
    for p in prepared:
        for message in dict.fromkeys(p.notes + late.get(p.number, [])):
            warnings.warn(f"analysis {p.number}: {message}", ReviewWarning, stacklevel=2)
    files = {"index": out / "index.html", "analyses": out / "analyses.csv", "check": out / "check.csv"}
    if findings is not None:
        files["summary_of_findings"] = out / "summary_of_findings" / "summary_of_findings.html"
    return dict(out=out, table=table, check=check, files=files, sof=findings)


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
