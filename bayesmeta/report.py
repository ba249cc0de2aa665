"""Plain-language reports: the model and priors in words, the data, the posterior table, probability
statements in the benefit direction, the frequentist results beside them, diagnostics, versions, seed.

One content builder (`build_report`), three renderers: text, markdown and self-contained HTML (figures
embedded as base64 PNG).
"""

from __future__ import annotations

import base64
import html
import io
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
import pandas as pd

from .effects import STANDARDISED, benefit_operator, benefit_sign

SIZE_WORDS = {0.2: "small", 0.5: "medium", 0.8: "large"}  # Cohen's benchmarks for SMDs


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, object]] = field(default_factory=list)  # (caption, Figure or PNG path)


@dataclass
class Report:
    title: str
    sections: list[Section]

    def render(self, format: str = "text") -> str:  # noqa: A002
        if format == "text":
            return _text(self)
        if format == "markdown":
            return self.to_markdown()
        if format == "html":
            return _html(self)
        raise ValueError("format must be 'text', 'markdown' or 'html'")

    def to_markdown(self, figure_paths: dict | None = None) -> str:
        """Markdown; figures link to `figure_paths[caption]` (or to the path they were given as)."""
        return _markdown(self, figure_paths or {})


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


def fit_events(fit, thresholds=None) -> list[str]:
    """Every event the report states for this fit: `probability_events` for each pooled effect of the model
    (mu and theta_new; per subgroup mu[g] and theta_new[g]), then each comparison on the benefit side of 0
    (subgroup differences, moderator coefficients). probabilities.csv lists the same events."""
    out = []
    for _, mean_q, new_q in fit.family.pooled():
        out += probability_events(fit.data, thresholds, (mean_q, new_q))
    op = benefit_operator(fit.data.benefit) if fit.data.benefit else ">"
    return out + [f"{q} {op} 0" for q, _ in fit.family.comparisons()]


def probability_statements(fit, thresholds=None, intervention="the intervention") -> list[str]:
    """Sentences such as 'There is a 99.7% probability that the intervention reduces pain intensity
    (SMD < 0) and a 68.5% probability that the reduction is at least small (SMD <= -0.2).', one pair per
    pooled effect of the model, then one per comparison ('... that format online rather than group goes with
    the more favourable effect'). The events are those of `fit_events` (and of probabilities.csv)."""
    data = fit.data
    outcome = data.outcome if data.outcome != "effect" else "the outcome"
    m = data.measure if data.measure != "generic" else "effect"
    if data.benefit is None:
        return [f"P({e}) = {pct(fit.prob(e))} (no benefit direction was declared)" for e in fit_events(fit, thresholds)]
    sign = benefit_sign(data.benefit)
    op0 = benefit_operator(data.benefit)
    verb, noun = ("reduces", "reduction") if sign < 0 else ("improves", "improvement")
    out = []
    for where, mean_q, new_q in fit.family.pooled():
        place = f" {where}" if where else ""
        for quantity, subject in ((mean_q, f"{intervention} {verb} {outcome} on average{place}"),
                                  (new_q, f"{intervention} {verb} {outcome} in a new study{place}")):
            parts = []
            for event in probability_events(data, thresholds, (quantity,)):
                _, op, value = event.split(" ")
                p = fit.prob(event)
                c = abs(float(value))
                if c == 0:
                    parts.append(f"a {pct(p)} probability that {subject} ({m} {op} 0)")
                else:
                    size = SIZE_WORDS.get(round(c, 6)) if data.measure in STANDARDISED else None
                    what = f"at least {size}" if size else f"at least {c:g} in size"
                    parts.append(f"a {pct(p)} probability that the {noun} is {what} ({m} {op} {value})")
            out.append("There is " + ", and ".join(parts) + ".")
    for quantity, words in fit.family.comparisons():
        p = fit.prob(f"{quantity} {op0} 0")
        out.append(f"There is a {pct(p)} probability that {words} goes with the more favourable effect "
                   f"({quantity} {op0} 0).")
    return out


def versions(sampler: str | None = None) -> dict[str, str]:
    """Versions of Python and the packages that made the numbers (with PyMC's where a sampler ran)."""
    names = ["bayesmeta", "numpy", "scipy", "pandas", "xarray", "arviz-base", "arviz-stats", "arviz-plots",
             "matplotlib", "formulaic"] + (["pymc", "pytensor", sampler] if sampler else [])
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def build_report(fit, freq=None, thresholds=None, intervention="the intervention", title=None,
                 figures=None, ci: float = 0.95, notes=(), sensitivity=None) -> Report:
    """The content of a report; `figures` maps captions to matplotlib Figures or PNG paths."""
    from .comparison import compare
    from .frequentist_methods import as_results

    data = fit.data
    freq_list = as_results(freq)
    title = title or f"Bayesian meta-analysis of {data.outcome if data.outcome != 'effect' else 'the effect'}"
    direction = {"lower": "lower values (negative effects) favour the intervention",
                 "higher": "higher values (positive effects) favour the intervention",
                 None: "no benefit direction was declared"}[data.benefit]
    sections = []
    s_data = Section("Data", [
        f"{data.k} studies; effect measure {data.measure} (treatment minus control); {direction}.", *notes])
    studies = data.to_dataframe(covariates=False).set_index("study")
    for col in ("n1", "n2"):
        if col in studies:
            studies[col] = studies[col].astype("Int64")
    s_data.tables.append(("Studies (observed effects and standard errors)", studies))
    sections.append(s_data)
    model = Section("Model and priors", [fit.spec.describe()])
    note = getattr(fit.spec, "tau_prior_note", None)
    if note:
        model.paragraphs.append(note)
    model.paragraphs.append(f"Engine: {fit.describe_engine()}.")
    sections.append(model)
    summ = fit.summary(ci=ci)
    post = Section("Posterior", [f"Intervals are {summ.attrs['interval']}s. I2 is in percent; theta_new is the "
                                 "effect expected in a new study (the predictive distribution)."])
    post.tables.append(("Posterior summaries", summ))
    if fit.family.contrasts():
        post.tables.append(("Differences between subgroups", fit.differences(ci=ci)))
    post.tables.append(("Study effects after shrinkage", fit.shrinkage(ci=ci)))
    sections.append(post)
    sections.append(Section("Probability statements",
                            probability_statements(fit, thresholds, intervention)))
    if sensitivity is not None:
        sec = Section("Sensitivity to the prior on tau", [
            "The same model refitted with other priors on the heterogeneity tau (medians and 95% intervals)."])
        sec.tables.append(("Prior sensitivity", sensitivity))
        sections.append(sec)
    if freq_list:
        comp = compare(fit, freq_list, ci=ci)
        freq_par = [_frequentist_sentence(r) for r in freq_list]
        sec = Section("Frequentist results beside the Bayesian", freq_par + [
            "Bayesian estimates are posterior medians; frequentist tau2 intervals are Q-profile intervals."])
        sec.tables.append(("Side by side", comp))
        sections.append(sec)
    diag = Section("Diagnostics", [f"Engine: {fit.describe_engine()}."])
    st = fit.settings
    if "sampler" in st:
        diag.paragraphs.append(f"{st['chains']} chains x {st['draws']} draws after {st['tune']} tuning steps "
                               f"({st['sampler']}, target_accept {st['target_accept']}); {st['divergences']} "
                               "divergent transitions. R-hat should be below 1.01 and bulk/tail ESS above 400.")
    diag.tables.append(("Sampler convergence (ArviZ)" if "sampler" in st else "Quadrature", fit.diagnostics()))
    try:
        bf = fit.bayes_factors()
        diag.tables.append(("Bayes factors (exact)", bf))
    except ValueError as err:
        diag.paragraphs.append(f"Bayes factors: {err}.")
    sections.append(diag)
    if figures:
        sections.append(Section("Figures", figures=list(figures.items())))
    vers = versions(fit.settings.get("sampler"))
    sections.append(Section("Reproducibility", [
        f"Seed {fit.seed}. " + ", ".join(f"{k} {v}" for k, v in vers.items()) + "."]))
    return Report(title, sections)


def _frequentist_sentence(r) -> str:
    """One frequentist result in a sentence: the pooled estimate, or for moderators the omnibus test and
    residual heterogeneity, or for subgroups the test for subgroup differences (as RevMan prints it)."""
    pct_ = f"{r.level:.0%}"
    if r.subgroups is not None:
        i2 = max(0.0, 100 * (r.Q_between - r.Q_between_df) / r.Q_between) if r.Q_between > 0 else 0.0
        return (f"{r.label} by {r.subgroup} ({r.subgroup_tau} tau2): test for subgroup differences Chi2 = "
                f"{r.Q_between:.2f}, df = {r.Q_between_df} (P = {r.Q_between_pvalue:.3g}), I2 = {i2:.1f}%; overall "
                f"{r.mu:.2f} ({pct_} CI {r.lower:.2f} to {r.upper:.2f}).")
    if r.is_regression:
        df = r.QM_df if isinstance(r.QM_df, int) else ", ".join(map(str, r.QM_df))
        r2 = "" if r.R2 is None else f", R2 = {r.R2:.0f}%"
        return (f"{r.label} meta-regression {r.moderators}: test of moderators QM = {r.QM:.2f} (df = {df}), "
                f"p = {r.QM_pvalue:.3g}; residual heterogeneity QE = {r.QE:.2f}, p = {r.QE_pvalue:.3g}; residual "
                f"tau2 = {r.tau2:.3f}, I2 = {r.I2:.0f}%{r2}.")
    return (f"{r.label}: {r.mu:.2f} ({pct_} CI {r.lower:.2f} to {r.upper:.2f}), p = {r.pvalue:.3g}; tau2 = "
            f"{r.tau2:.3f}, I2 = {r.I2:.0f}%" + (f"; prediction interval {r.pi_lower:.2f} to {r.pi_upper:.2f}"
                                                 if r.prediction else ""))


def render_report(fit, format="text", **kwargs) -> str:  # noqa: A002
    return build_report(fit, **kwargs).render(format)


# --------------------------------------------------------------------------- renderers
def _fmt_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cells as text (numbers to 3-4 significant figures, missing as NA), one-level row and column labels."""
    def fmt(v):
        if v is pd.NA or v is None:
            return "NA"
        if isinstance(v, (float, np.floating)):
            if not np.isfinite(v):
                return "NA"
            return f"{v:.4g}" if abs(v) >= 1e4 or (v != 0 and abs(v) < 1e-3) else f"{v:.3f}"
        return _one_line(v)

    return _flat_labels(df).map(fmt)


def _one_line(text) -> str:
    """Text without line breaks or tabs, which would shift the rows and columns of a table."""
    return " ".join(str(text).split())


def _flat_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Row and column labels as plain text: levels of a MultiIndex joined with ' / ' (never a tuple)."""
    def flat(index):
        if isinstance(index, pd.MultiIndex):
            out = pd.Index([" / ".join(map(_one_line, t)) for t in index], dtype=object)
            out.name = " / ".join(_one_line(n) for n in index.names if n is not None) or None
            return out
        out = pd.Index([_one_line(v) for v in index], dtype=object)
        out.name = None if index.name is None else _one_line(index.name)
        return out

    out = df.copy()
    out.index, out.columns = flat(df.index), flat(df.columns)
    return out


def _text(report: Report) -> str:
    title = _one_line(report.title)
    lines = [title, "=" * len(title), ""]
    for sec in report.sections:
        lines += [sec.title, "-" * len(sec.title)]
        lines += [*sec.paragraphs]
        for caption, table in sec.tables:
            lines += ["", caption + ":", _fmt_table(table).to_string()]
        for caption, _ in sec.figures:
            lines.append(f"[figure: {caption}]")
        lines.append("")
    return "\n".join(lines)


_MD_INLINE = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"} | {"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def md_escape(text, block: bool = False) -> str:
    """Text shown literally by markdown renderers: one line; markdown's inline characters escaped; &, < and >
    as entities (so no raw HTML passes through). block=True for text that starts a block (a paragraph, a
    heading): then a leading #, +, -, = or 'N.' is escaped too, so that it is not read as a heading or list."""
    line = _one_line(text).translate(_MD_INLINE)
    if not block:
        return line
    if line[:1] in ("#", "+", "-", "="):
        return "\\" + line
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", line)


def _markdown(report: Report, figure_paths: dict) -> str:
    lines = [f"# {md_escape(report.title, block=True)}", ""]
    for sec in report.sections:
        lines += [f"## {md_escape(sec.title, block=True)}", ""]
        for p in sec.paragraphs:
            lines += [md_escape(p, block=True), ""]
        for caption, table in sec.tables:
            lines += [f"**{md_escape(caption)}**", "", _md_table(_fmt_table(table)), ""]
        for caption, fig in sec.figures:
            path = figure_paths.get(caption, fig if isinstance(fig, str) else None)
            target = "<" + str(path).replace("<", "%3C").replace(">", "%3E") + ">" if path else None
            lines += [f"![{md_escape(caption)}]({target})" if target else f"*{md_escape(caption)}*", ""]
    return "\n".join(lines)


def _md_table(df: pd.DataFrame) -> str:
    head = [df.index.name or ""] + [str(c) for c in df.columns]
    rows = ["| " + " | ".join(md_escape(h) for h in head) + " |", "|" + "---|" * len(head)]
    rows += ["| " + " | ".join(md_escape(v) for v in [i, *r]) + " |" for i, r in zip(df.index, df.to_numpy())]
    return "\n".join(rows)


def _png_base64(fig) -> str:
    if isinstance(fig, str):
        with open(fig, "rb") as fh:
            return base64.b64encode(fh.read()).decode()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.6em}table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em;display:block;overflow-x:auto;max-width:100%}th,td{border:1px solid #ccc;
padding:.25em .6em;text-align:right}th:first-child,td:first-child{text-align:left}caption{text-align:left;
font-weight:600;padding:.3em 0}figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}"""


def _html(report: Report) -> str:
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{html.escape(report.title)}</h1>"]
    for sec in report.sections:
        out.append(f"<h2>{html.escape(sec.title)}</h2>")
        out += [f"<p>{html.escape(p)}</p>" for p in sec.paragraphs]
        for caption, table in sec.tables:
            t = _fmt_table(table).to_html(border=0, escape=True)
            out.append(t.replace("<table class=\"dataframe\">", f"<table><caption>{html.escape(caption)}</caption>", 1))
        for caption, fig in sec.figures:
            out.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{_png_base64(fig)}'>"
                       f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    out.append("</body></html>")
    return "\n".join(out)
