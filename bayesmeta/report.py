"""Reports a review author can publish: the answer first (the pooled effect with its credible interval, the
probabilities of benefit, heterogeneity in words, the frequentist result beside it, the prior in one sentence),
then the forest plots, then the details (data, model and priors, posterior tables, sensitivity, frequentist
results, small-study effects, diagnostics, reproducibility), each figure in the section it belongs to.

One content builder (`build_report`) makes one `Report` of `Section`s; three renderers draw it as text, markdown
and self-contained HTML (a table of contents, tables that scroll on narrow screens, print CSS, figures as inline
SVG). Every table goes through one formatter (`display_table`): headers in words, numbers right-aligned with
the same decimals down a column (or along a row for tables of quantities), probabilities below 0.001 as
"< 0.001", no scientific notation for ordinary values; so the three formats print the same cells.
"""

from __future__ import annotations

import base64
import html
import io
import math
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from .effects import STANDARDISED, benefit_operator, benefit_sign

RATIO_MEASURES = {"logOR": "OR", "logRR": "RR"}  # measures pooled on the log scale, stated as ratios
SIZE_WORDS = {0.2: "small", 0.5: "medium", 0.8: "large"}  # Cohen's benchmarks for SMDs
MISSING = "\u2013"  # an en dash: a cell without a value


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, object]] = field(default_factory=list)  # (caption, Figure or PNG/SVG path)
    items: list[str] = field(default_factory=list)  # a list of points, after the paragraphs
    key_tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # before the points (the answer)

    def all_tables(self):
        """The tables in the order they are shown: key tables (before the points), then the others."""
        return [*self.key_tables, *self.tables]


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


def article(spoken: str) -> str:
    """'an' before a number read with a vowel sound (8, 11, 18, 80-89: "an 83.2% probability"), else 'a'."""
    return "an" if spoken.startswith("8") or spoken.split(".")[0] in ("11", "18") else "a"


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
    ratio = RATIO_MEASURES.get(data.measure)  # log OR / log RR: say the threshold on the ratio scale

    def bound(value: str) -> str:
        return f"{ratio} {op} {math.exp(float(value)):.3g}" if ratio else f"{m} {op} {value}"

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
                _, op, value = event.rsplit(" ", 2)  # a subgroup name may hold spaces
                p = fit.prob(event)
                c = abs(float(value))
                if c == 0:
                    parts.append(f"{article(pct(p))} {pct(p)} probability that {subject} ({bound(value)})")
                else:
                    size = SIZE_WORDS.get(round(c, 6)) if data.measure in STANDARDISED else None
                    what = f"at least {size}" if size else (f"beyond a ratio of {math.exp(float(value)):.3g}" if ratio
                                                            else f"at least {c:g} in size")
                    parts.append(f"{article(pct(p))} {pct(p)} probability that the {noun} is {what} ({bound(value)})")
            out.append("There is " + ", and ".join(parts) + ".")
    for quantity, words in fit.family.comparisons():
        p = fit.prob(f"{quantity} {op0} 0")
        out.append(f"There is {article(pct(p))} {pct(p)} probability that {words} goes with the more favourable effect "
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


# --------------------------------------------------------------------------- words for quantities and results
QUANTITY_WORDS = {"mu": "Pooled effect", "theta_new": "Effect in a new study", "tau": "Between-study SD",
                  "tau2": "Between-study variance", "I2": "I\u00b2 in percent", "tau_within": "Within-trial SD",
                  "tau2_within": "Within-trial variance", "I2_between": "I\u00b2 between trials in percent",
                  "I2_within": "I\u00b2 within trials in percent"}


def quantity_label(name: str) -> str:
    """A row label in words with the quantity's name for fit.prob: 'Pooled effect (mu)', 'Pooled effect in
    online (mu[online])', 'Coefficient of weeks (beta[weeks])', 'Intercept (beta[intercept])'."""
    name = str(name)
    base, _, rest = name.partition("[")
    arg = rest[:-1] if rest.endswith("]") else None
    if " - " in name or " + " in name:
        return name
    if base == "beta" and arg is not None:
        words = "Intercept" if arg == "intercept" else f"Coefficient of {arg}"
    elif base in QUANTITY_WORDS:
        words = QUANTITY_WORDS[base]
        if arg is not None:
            words = f"{words}, {arg}" if words.endswith(")") else f"{words} in {arg}"
    else:
        return name
    return f"{words} ({name})"


def format_pvalue(p) -> str:
    """A P value as RevMan prints it: 'P = 0.32', 'P = 0.004', 'P < 0.00001'."""
    from .plots import format_pvalue as revman

    return revman(p)


def _tau_rows(fit) -> list[str]:
    return [r for r in fit.family.summary_rows() if r.split("[")[0].startswith("tau") and
            not r.split("[")[0].startswith("tau2")]


def _i2_rows(fit) -> list[str]:
    return [r for r in fit.family.summary_rows() if r.split("[")[0].startswith("I2")]


def i2_words(i2: float) -> str:
    """The Cochrane Handbook's rough guide to I² (section 10.10.2), cut where its overlapping bands meet."""
    if i2 < 30:
        return "might not be important"
    if i2 < 50:
        return "moderate"
    if i2 < 75:
        return "substantial"
    return "considerable"


def heterogeneity_sentence(fit, ci: float = 0.95) -> str:
    """Heterogeneity in words: tau and I² (posterior medians and credible intervals) and the Cochrane Handbook's
    words for the I² median."""
    fam = fit.family
    if not fam.random:
        return "Heterogeneity: a common-effect model (tau = 0): the studies are assumed to share one true effect."
    s = fit.summary(ci=ci)
    parts = []
    for q in _tau_rows(fit):
        r = s.loc[q]
        parts.append(f"{q} = {r['median']:.2f} ({ci:.0%} CrI {r['lower']:.2f} to {r['upper']:.2f})")
    for q in _i2_rows(fit):
        r = s.loc[q]
        parts.append(f"{q.replace('I2', 'I\u00b2')} = {r['median']:.0f}% ({ci:.0%} CrI {r['lower']:.0f}% to "
                     f"{r['upper']:.0f}%), {i2_words(r['median'])}")
    where = "" if len(_tau_rows(fit)) == 1 else " (per subgroup or level)"
    return (f"Heterogeneity between studies{where}: " + "; ".join(parts) +
            " (posterior medians; words from the Cochrane Handbook's rough guide to I\u00b2).")


def effect_sentences(fit, ci: float = 0.95, intervention: str = "the intervention") -> list[str]:
    """The pooled effect(s) with credible and predictive intervals (posterior medians), or for a meta-regression
    the coefficients, in a sentence each."""
    data, s = fit.data, fit.summary(ci=ci)
    m = data.measure if data.measure != "generic" else "effect"
    direction = {"lower": f"negative values favour {intervention}", "higher": f"positive values favour {intervention}",
                 None: "no benefit direction was declared"}[data.benefit]
    out = []
    for where, mean_q, new_q in fit.family.pooled():
        a, b = s.loc[mean_q], s.loc[new_q]
        place = f" {where}" if where else ""
        out.append(f"Pooled effect{place}: {m} {a['median']:.2f} ({ci:.0%} CrI {a['lower']:.2f} to {a['upper']:.2f}); "
                   f"in a new study {b['median']:.2f} ({ci:.0%} predictive interval {b['lower']:.2f} to "
                   f"{b['upper']:.2f}). Posterior medians; {direction}.")
    if not fit.family.pooled():
        for q, words in fit.family.comparisons():
            a = s.loc[q]
            d = max(2, decimals_for([a["median"], a["lower"], a["upper"]]))
            med, lo, hi = (format_number(a[c], d) for c in ("median", "lower", "upper"))
            out.append(f"{q} ({words}): {med} ({ci:.0%} CrI {lo} to {hi}); posterior median, {m} units; {direction}.")
    return out


def prior_sentence(fit) -> str:
    """The priors in one sentence."""
    fam, spec = fit.family, fit.spec
    names, priors = fam.coefficient_rows(), fam.coef_priors
    if getattr(fam, "name", "") == "meta-regression":
        groups = {}
        for n, p_ in zip(names, priors):
            groups.setdefault(str(p_), []).append(n)
        coef = "; ".join(f"{p_} on {', '.join(ns)}" for p_, ns in groups.items())
    else:
        coef = priors[0].describe()
    tau = f", and a {spec.tau_prior.describe()}" if fam.random else ""
    within = getattr(spec, "tau_within_prior", None)
    if within is not None:
        tau += f"; within trials, a {within.describe()}"
    return f"Priors: {coef}{tau}."


def frequentist_sentence(r) -> str:
    """One frequentist result in a sentence: the pooled estimate, or for moderators the omnibus test and
    residual heterogeneity, or for subgroups the test for subgroup differences (as RevMan prints it)."""
    pct_ = f"{r.level:.0%}"
    if r.subgroups is not None:
        i2 = max(0.0, 100 * (r.Q_between - r.Q_between_df) / r.Q_between) if r.Q_between > 0 else 0.0
        return (f"{r.label} by {r.subgroup} ({r.subgroup_tau} tau\u00b2): test for subgroup differences Chi\u00b2 = "
                f"{r.Q_between:.2f}, df = {r.Q_between_df} ({format_pvalue(r.Q_between_pvalue)}), I\u00b2 = {i2:.1f}%; "
                f"overall {r.mu:.2f} ({pct_} CI {r.lower:.2f} to {r.upper:.2f}).")
    if r.is_regression:
        df = r.QM_df if isinstance(r.QM_df, int) else ", ".join(map(str, r.QM_df))
        r2 = "" if r.R2 is None or not np.isfinite(r.R2) else f", R\u00b2 = {r.R2:.0f}%"
        return (f"{r.label} meta-regression {r.moderators}: test of moderators QM = {r.QM:.2f} (df = {df}), "
                f"{format_pvalue(r.QM_pvalue)}; residual heterogeneity QE = {r.QE:.2f}, {format_pvalue(r.QE_pvalue)}; "
                f"residual tau\u00b2 = {r.tau2:.3f}, I\u00b2 = {r.I2:.0f}%{r2}.")
    return (f"{r.label}: {r.mu:.2f} ({pct_} CI {r.lower:.2f} to {r.upper:.2f}), {format_pvalue(r.pvalue)}; tau\u00b2 = "
            f"{r.tau2:.3f}, I\u00b2 = {r.I2:.0f}%" + (f"; prediction interval {r.pi_lower:.2f} to {r.pi_upper:.2f}."
                                                    if r.prediction else "."))


_frequentist_sentence = frequentist_sentence  # the earlier name


# --------------------------------------------------------------------------- tables for the report
def _pairs(lo, hi) -> list:
    return [(float(a), float(b)) for a, b in zip(lo, hi)]


def summary_table(fit, ci: float = 0.95) -> pd.DataFrame:
    """fit.summary() with row labels and headers in words; decimals by row (each quantity on its own scale)."""
    s = fit.summary(ci=ci)
    out = pd.DataFrame({"Mean": s["mean"].to_numpy(), "SD": s["sd"].to_numpy(), "Median": s["median"].to_numpy(),
                        f"{ci:.0%} CrI": _pairs(s["lower"], s["upper"])},
                       index=pd.Index([quantity_label(q) for q in s.index], name="Quantity"))
    out.attrs["row_groups"] = [scale_of(q) for q in s.index]
    return out


def scale_of(quantity: str) -> str:
    """The scale a quantity is on, for shared decimals: effects (mu, theta_new, coefficients, differences), tau,
    tau², I²."""
    base = str(quantity).split("[")[0].strip()
    if base.startswith("tau2"):
        return "tau2"
    if base.startswith("tau"):
        return "tau"
    if base.startswith("I2"):
        return "I2"
    return "effect"


def answer_table(fit, thresholds=None, ci: float = 0.95) -> pd.DataFrame:
    """One row per pooled effect (per subgroup): the pooled effect (posterior median) with its credible interval,
    the predictive interval of a new study, and the probabilities of the report's events for both."""
    s = fit.summary(ci=ci)
    rows, index = [], []
    for where, mean_q, new_q in fit.family.pooled():
        a, b = s.loc[mean_q], s.loc[new_q]
        row = {"Pooled effect (median)": a["median"], f"{ci:.0%} CrI": (a["lower"], a["upper"]),
               f"New study: {ci:.0%} PrI": (b["lower"], b["upper"])}
        for event in probability_events(fit.data, thresholds, (mean_q, new_q)):
            name = event.replace(mean_q, "mean effect", 1) if event.startswith(mean_q + " ") else event.replace(
                new_q, "new study", 1)
            row[f"P({name})"] = fit.prob(event)
        rows.append(row)
        index.append(where.removeprefix("in subgroup ") or "all studies")
    name = "Subgroup" if getattr(fit.family, "column", None) else "Effect"
    return pd.DataFrame(rows, index=pd.Index(index, name=name))


def shrinkage_table(fit, ci: float = 0.95) -> pd.DataFrame:
    s = fit.shrinkage(ci=ci)
    out = pd.DataFrame({f"Observed ({fit.data.measure})": s["y"].to_numpy(), "SE": s["se"].to_numpy(),
                        "Posterior mean": s["mean"].to_numpy(), "Posterior SD": s["sd"].to_numpy(),
                        f"{ci:.0%} CrI": _pairs(s["lower"], s["upper"])},
                       index=pd.Index(list(s.index), name="Study"))
    return out


def differences_table(fit, ci: float = 0.95) -> pd.DataFrame:
    d = fit.differences(ci=ci)
    prob = [c for c in d.columns if c.startswith("P(")][0]
    out = pd.DataFrame({"Mean": d["mean"].to_numpy(), "SD": d["sd"].to_numpy(), "Median": d["median"].to_numpy(),
                        f"{ci:.0%} CrI": _pairs(d["lower"], d["upper"]), prob: d[prob].to_numpy()},
                       index=pd.Index(list(d.index), name="Difference"))
    return out


def probability_table(fit, thresholds=None) -> pd.DataFrame:
    """Every event of the report (fit_events, as probabilities.csv) with its posterior probability."""
    events = fit_events(fit, thresholds)
    return pd.DataFrame({"Posterior probability": [fit.prob(e) for e in events]},
                        index=pd.Index(events, name="Event"))


ARM_WORDS = {"n1": "N (intervention)", "mean1": "Mean (intervention)", "sd1": "SD (intervention)",
             "n2": "N (control)", "mean2": "Mean (control)", "sd2": "SD (control)", "events1": "Events (intervention)",
             "events2": "Events (control)", "n": "N"}


def studies_table(fit) -> pd.DataFrame:
    """The data: effect, SE, the arms where given, and the moderators the model uses."""
    data = fit.data
    table = data.to_dataframe(covariates=False).set_index("study")
    out = pd.DataFrame({f"Effect ({data.measure})": table["y"].to_numpy(), "SE": table["se"].to_numpy()},
                       index=pd.Index(list(table.index), name="Study"))
    for col in table.columns:
        if col in ARM_WORDS:
            values = table[col]
            if col.startswith(("n", "events")):
                values = values.astype("Int64")
            out[ARM_WORDS[col]] = values.to_numpy()
    used = []
    fam = fit.family
    if getattr(fam, "column", None):
        used = [fam.column]
    elif hasattr(fam, "design"):
        used = list(fam.design.columns)
    if data.moderators is not None:
        for col in used:
            if col in data.moderators.columns and col not in out.columns:
                out[col] = data.moderators[col].to_numpy()
    if getattr(data, "cluster", None) is not None:
        out["Cluster"] = np.asarray(data.cluster, dtype=object)
    return out


def side_by_side_table(fit, freq_list, ci: float = 0.95, full: bool = True) -> pd.DataFrame:
    """bm.compare() in words: estimate (Bayesian: posterior median) with its interval, tau, tau² with its
    interval, I² and the prediction interval; `full=False` keeps the estimate, the intervals and I²."""
    from .comparison import compare

    comp = compare(fit, freq_list, ci=ci)
    if isinstance(comp.index, pd.MultiIndex):  # subgroup means or coefficients, each with its analyses together
        params = list(dict.fromkeys(comp.index.get_level_values(0)))
        comp = comp.iloc[sorted(range(len(comp)), key=lambda i: params.index(comp.index[i][0]))]
        index = pd.Index([f"{quantity_label(p).split(' (')[0] if p != 'intercept' else 'Intercept'}: {a}"
                          for p, a in comp.index], name="Parameter: analysis")
        return pd.DataFrame({"Estimate": comp["estimate"].to_numpy(), "Interval": _pairs(comp["lower"], comp["upper"]),
                             "Kind of interval": comp["interval"].to_numpy()}, index=index)
    out = pd.DataFrame({"Estimate": comp["estimate"].to_numpy(), "Interval": _pairs(comp["lower"], comp["upper"]),
                        "Kind of interval": comp["interval"].to_numpy()},
                       index=pd.Index(list(comp.index), name="Analysis"))
    if full:
        out["tau"] = comp["tau"].to_numpy()
        out["tau\u00b2"] = comp["tau2"].to_numpy()
        out["tau\u00b2 interval"] = _pairs(comp["tau2_lower"], comp["tau2_upper"])
    out["I\u00b2 (%)"] = comp["I2"].to_numpy()
    out["Prediction interval"] = _pairs(comp["pi_lower"], comp["pi_upper"])
    return out


def sensitivity_display(table: pd.DataFrame, ci: float = 0.95) -> pd.DataFrame:
    """analysis.sensitivity_table for reading: one column per prior on tau, one row per quantity (median with its
    interval; tau² left out, tau says it), per predictive interval and per probability."""
    cols = list(table.columns)
    rows, groups, probs = {}, [], []
    for c in cols:
        if c.endswith((" lower", " upper")) or c.startswith("P(") or scale_of(c) == "tau2":
            continue
        if f"{c} lower" in cols:
            rows[f"{quantity_label(c)}: median ({ci:.0%} CrI)"] = [
                (float(m), float(lo), float(hi)) for m, lo, hi in zip(table[c], table[f"{c} lower"], table[f"{c} upper"])]
        else:
            rows[f"{quantity_label(c)}: median"] = list(table[c])
        groups.append(scale_of(c))
        probs.append(False)
    for c in cols:
        base = c[: -len(" lower")] if c.endswith(" lower") else None
        if base and base not in cols:  # theta_new: only its interval
            rows[f"{quantity_label(base)}: {ci:.0%} PrI"] = _pairs(table[c], table[f"{base} upper"])
            groups.append(scale_of(base))
            probs.append(False)
    for c in cols:
        if c.startswith("P("):
            rows[c] = list(table[c])
            groups.append("probability")
            probs.append(True)
    out = pd.DataFrame.from_dict(rows, orient="index", columns=[str(i) for i in table.index])
    out.index.name = "Quantity (prior on tau in the columns)"
    out.attrs.update(row_groups=groups, probability_rows=probs)
    return out


def diagnostics_table(table: pd.DataFrame) -> pd.DataFrame:
    """fit.diagnostics() with headers in words."""
    words = {"nodes": "Nodes", "panels": "Panels", "log_evidence": "Log evidence", "r_hat": "R-hat",
             "ess_bulk": "Bulk ESS", "ess_tail": "Tail ESS", "mcse_mean": "MCSE of the mean", "mcse_sd": "MCSE of the SD",
             "divergences": "Divergences", "mean": "Mean", "sd": "SD"}
    out = table.rename(columns=lambda c: words.get(str(c), str(c)))
    out.index = pd.Index([str(i) for i in out.index], name=str(table.index.name or "").capitalize() or None)
    out.attrs["decimals"] = {"R-hat": 3, "Bulk ESS": 0, "Tail ESS": 0, "Log evidence": 3}
    return out


def bayes_factor_table(table: pd.DataFrame) -> pd.DataFrame:
    out = table.rename(columns={"BF01": "BF01 (for the null)", "BF10": "BF10 (against the null)"})
    out.index = pd.Index([str(i) for i in out.index], name="Null hypothesis")
    out.attrs["by"] = "row"
    return out


# --------------------------------------------------------------------------- the report
FIGURE_PLACES = {"forest_revman": "forest", "forest": "forest", "prior_posterior": "model", "density": "posterior",
                 "benefit": "posterior", "bubble": "posterior", "funnel": "funnel", "trace": "diagnostics",
                 "rank": "diagnostics"}


def _placed_figures(figures) -> dict[str, list]:
    """{place: [(caption, figure)]}: `figures` maps a figure's name (forest, density, ...) to (caption, figure),
    or a caption to a figure (those go to a section of their own at the end)."""
    places = {}
    for key, value in (figures or {}).items():
        if isinstance(value, tuple):
            caption, fig = value
            place = FIGURE_PLACES.get(key, "figures")
        else:
            caption, fig, place = key, value, "figures"
        places.setdefault(place, []).append((caption, fig))
    return places


def build_report(fit, freq=None, thresholds=None, intervention="the intervention", title=None,
                 figures=None, ci: float = 0.95, notes=(), sensitivity=None) -> Report:
    """The content of a report, answer first. `figures` maps figure names (forest_revman, forest, density,
    benefit, bubble, prior_posterior, funnel, trace, rank) to (caption, figure), each put in its section, or
    captions to figures (put at the end); a figure is a matplotlib Figure or the path of its PNG (an SVG beside
    it is inlined in the HTML)."""
    from .frequentist_methods import as_results

    data = fit.data
    freq_list = as_results(freq)
    places = _placed_figures(figures)
    title = title or f"Bayesian meta-analysis of {data.outcome if data.outcome != 'effect' else 'the effect'}"
    direction = {"lower": "lower values (negative effects) favour the intervention",
                 "higher": "higher values (positive effects) favour the intervention",
                 None: "no benefit direction was declared"}[data.benefit]
    sections = []
    # ---- the answer
    summary = Section("Summary")
    statements = probability_statements(fit, thresholds, intervention)
    n_pooled = 2 * len(fit.family.pooled())  # two sentences per pooled effect, then one per comparison
    several = n_pooled > 2
    if several:  # one row per subgroup in a table; the sentences go to the details
        summary.key_tables.append(("The answer by subgroup (posterior medians and intervals; probabilities of "
                                   "benefit)", answer_table(fit, thresholds, ci)))
        summary.items += statements[n_pooled:]
    else:
        summary.items += effect_sentences(fit, ci, intervention) + statements
    summary.items.append(heterogeneity_sentence(fit, ci))
    summary.items += [frequentist_sentence(r) for r in freq_list]
    summary.items.append(prior_sentence(fit))
    if freq_list:
        summary.tables.append(("Bayesian and frequentist estimates side by side",
                               side_by_side_table(fit, freq_list, ci, full=False)))
    sections.append(summary)
    if places.get("forest"):
        sections.append(Section("Forest plots", [
            "RevMan's layout first (the frequentist analysis, with the Bayesian posterior and predictive interval in "
            "blue below it), then the Bayesian forest plot with each study's shrunken estimate."
            if len(places["forest"]) > 1 else ""], figures=places["forest"]))
        if not sections[-1].paragraphs[0]:
            sections[-1].paragraphs = []
    # ---- the details
    s_data = Section("Data", [
        f"{data.k} studies; effect measure {data.measure} (treatment minus control); {direction}.", *notes])
    s_data.tables.append(("Studies (observed effects and standard errors)", studies_table(fit)))
    sections.append(s_data)
    model = Section("Model and priors", [fit.spec.describe()])
    note = getattr(fit.spec, "tau_prior_note", None)
    if note:
        model.paragraphs.append(note)
    model.paragraphs.append(f"Engine: {fit.describe_engine()}.")
    model.figures += places.get("model", [])
    sections.append(model)
    post = Section("Posterior", [f"Intervals are {fit.summary(ci=ci).attrs['interval']}s (CrI). I\u00b2 is in "
                                 "percent" + ("; theta_new is the effect expected in a new study (the predictive "
                                              "distribution)." if fit.family.pooled() else ".")])
    if several:
        post.items += statements[:n_pooled]
    post.tables.append(("Posterior summaries", summary_table(fit, ci)))
    if fit.family.contrasts():
        post.tables.append(("Differences between subgroups", differences_table(fit, ci)))
    post.tables.append(("Posterior probabilities", probability_table(fit, thresholds)))
    post.tables.append(("Study effects after shrinkage", shrinkage_table(fit, ci)))
    post.figures += places.get("posterior", [])
    sections.append(post)
    if sensitivity is not None:
        sec = Section("Sensitivity to the prior on tau", [
            "The same model refitted with other priors on the heterogeneity tau (medians and 95% intervals)."])
        sec.tables.append(("Prior sensitivity", sensitivity_display(sensitivity, ci)))
        sections.append(sec)
    if freq_list:
        sec = Section("Frequentist results beside the Bayesian", [frequentist_sentence(r) for r in freq_list] + [
            "Bayesian estimates are posterior medians; frequentist tau\u00b2 intervals are Q-profile intervals."])
        sec.tables.append(("Side by side", side_by_side_table(fit, freq_list, ci)))
        sections.append(sec)
    if places.get("funnel"):
        sections.append(Section("Small-study effects", [
            "Funnel plot of the observed effects against their standard errors, with Egger's regression test where "
            "the studies differ in size."], figures=places["funnel"]))
    diag = Section("Diagnostics", [f"Engine: {fit.describe_engine()}."])
    st = fit.settings
    if "sampler" in st:
        diag.paragraphs.append(f"{st['chains']} chains x {st['draws']} draws after {st['tune']} tuning steps "
                               f"({st['sampler']}, target_accept {st['target_accept']}); {st['divergences']} "
                               "divergent transitions. R-hat should be below 1.01 and bulk/tail ESS above 400.")
    diag.tables.append(("Sampler convergence (ArviZ)" if "sampler" in st else "Quadrature",
                        diagnostics_table(fit.diagnostics())))
    try:
        diag.tables.append(("Bayes factors (exact)", bayes_factor_table(fit.bayes_factors())))
    except ValueError as err:
        diag.paragraphs.append(f"Bayes factors: {err}.")
    diag.figures += places.get("diagnostics", [])
    sections.append(diag)
    if places.get("figures"):
        sections.append(Section("Figures", figures=places["figures"]))
    vers = versions(fit.settings.get("sampler"))
    sections.append(Section("Reproducibility", [
        f"Seed {fit.seed}. " + ", ".join(f"{k} {v}" for k, v in vers.items()) + "."]))
    return Report(title, sections)


def render_report(fit, format="text", **kwargs) -> str:  # noqa: A002
    return build_report(fit, **kwargs).render(format)


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
        row = [_one_line(flat.index[i])]
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
                text = _one_line(v)
            row.append(text)
        rows.append(row)
    header = [flat.index.name or ""] + headers
    return DisplayTable(header, rows, ["l"] + ["r" if numeric[j] else "l" for j in range(n_cols)])


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


# --------------------------------------------------------------------------- text
def _figure_numbers(report: Report) -> dict[int, int]:
    numbers, n = {}, 0
    for sec in report.sections:
        for fig in sec.figures:
            n += 1
            numbers[id(fig)] = n
    return numbers


def _text_table(t: DisplayTable) -> list[str]:
    widths = [max(len(t.header[j]), *(len(r[j]) for r in t.rows)) if t.rows else len(t.header[j])
              for j in range(len(t.header))]

    def line(cells):
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, t.align)).rstrip()

    return [line(t.header), "  ".join("-" * w for w in widths)] + [line(r) for r in t.rows]


def _text(report: Report) -> str:
    title = _one_line(report.title)
    lines = [title, "=" * len(title), ""]
    numbers = _figure_numbers(report)
    for sec in report.sections:
        lines += [sec.title, "-" * len(sec.title)]
        lines += [*sec.paragraphs]
        for caption, table in sec.key_tables:
            lines += ["", caption + ":", *_text_table(display_table(table)), ""]
        lines += [f"- {_one_line(item)}" for item in sec.items]
        for caption, table in sec.tables:
            lines += ["", caption + ":", *_text_table(display_table(table))]
        for fig in sec.figures:
            lines.append(f"[Figure {numbers[id(fig)]}: {fig[0]}]")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- markdown
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
    numbers = _figure_numbers(report)
    for sec in report.sections:
        lines += [f"## {md_escape(sec.title, block=True)}", ""]
        for p in sec.paragraphs:
            lines += [md_escape(p, block=True), ""]
        for caption, table in sec.key_tables:
            lines += [f"**{md_escape(caption)}**", "", _md_table(display_table(table)), ""]
        if sec.items:
            lines += [f"- {md_escape(item, block=True)}" for item in sec.items] + [""]
        for caption, table in sec.tables:
            lines += [f"**{md_escape(caption)}**", "", _md_table(display_table(table)), ""]
        for fig in sec.figures:
            caption, obj = fig
            path = figure_paths.get(caption, obj if isinstance(obj, (str, Path)) else None)
            target = "<" + str(path).replace("<", "%3C").replace(">", "%3E") + ">" if path else None
            label = f"Figure {numbers[id(fig)]}: {caption}"
            lines += [f"![{md_escape(label)}]({target})" if target else f"*{md_escape(label)}*", "",
                      f"*{md_escape(label)}*" if target else "", ""]
            if not target:
                lines = lines[:-2]
    return "\n".join(lines)


def _md_table(t: DisplayTable) -> str:
    rows = ["| " + " | ".join(md_escape(h) for h in t.header) + " |",
            "|" + "".join("---:|" if a == "r" else "---|" for a in t.align)]
    rows += ["| " + " | ".join(md_escape(v) for v in r) + " |" for r in t.rows]
    return "\n".join(rows)


# --------------------------------------------------------------------------- HTML
def _png_base64(fig) -> str:
    if isinstance(fig, (str, Path)):
        with open(fig, "rb") as fh:
            return base64.b64encode(fh.read()).decode()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _svg_text(fig) -> str | None:
    """The SVG of a figure: the .svg beside a PNG path, or the Figure saved as SVG; None where there is none."""
    if isinstance(fig, (str, Path)):
        path = Path(fig)
        svg = path if path.suffix.lower() == ".svg" else path.with_suffix(".svg")
        return svg.read_text(encoding="utf-8") if svg.exists() else None
    from .plots import plain_text

    buf = io.StringIO()
    plain_text(fig)
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def inline_svg(svg: str, prefix: str, label: str) -> str:
    """Matplotlib's SVG made fit to sit inside an HTML page: no XML prolog, comments (which hold the figure's
    text as written) or metadata; its ids prefixed (several figures share glyph names); its global style rule
    moved onto the root; scaled to the width of the page (the viewBox keeps the shape); labelled for screen
    readers."""
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->|<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'(href=")#([^"]+)"', lambda m: f'{m.group(1)}#{prefix}-{m.group(2)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    svg = re.sub(r"<svg\b", f'<svg role="img" aria-label="{html.escape(label, quote=True)}" '
                 'stroke-linejoin="round" stroke-linecap="butt"', svg, count=1)
    return svg.strip()


_CSS = """
:root{color-scheme:light}
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:0 auto;
padding:1em 1em 3em;color:#222;line-height:1.45;overflow-wrap:anywhere}
h1{font-size:1.6em;line-height:1.2}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
nav.toc{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:.6em 1.2em;margin:1em 0}
nav.toc h2{font-size:1em;border:0;margin:.2em 0;padding:0}nav.toc ol{margin:.3em 0;padding-left:1.4em}
section.summary ul{padding-left:1.2em}section.summary li{margin:.35em 0}
.table-wrap{max-width:100%;overflow-x:auto;margin:.6em 0 1.4em;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.88em;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.3em 0;caption-side:top}
th,td{border-bottom:1px solid #ddd;padding:.3em .65em;vertical-align:top}
thead th{border-bottom:2px solid #888;text-align:left;vertical-align:bottom;white-space:normal;overflow-wrap:normal;min-width:3.5em}
th,td{white-space:nowrap}th.num,td.num{text-align:right}.long{white-space:normal;min-width:12em}
tbody th{text-align:left;font-weight:normal}tbody tr:nth-child(even){background:#fafafa}
figure{margin:1.2em 0}.fig-wrap{max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch}
figure svg,figure img{display:block;max-width:100%;height:auto}
figcaption{font-size:.9em;color:#444;margin-top:.3em}figcaption a{color:#555}
@media (max-width:600px){body{padding:.6em;font-size:15px}table{font-size:.82em}
.fig-wrap svg,.fig-wrap img{max-width:none;width:auto}}
@media print{
@page{margin:16mm 14mm}
body{max-width:none;padding:0;font-size:10pt;color:#000}
nav.toc{background:none;border:0;padding:0}
h2{break-after:avoid;page-break-after:avoid}
figure,table,tr,li{break-inside:avoid;page-break-inside:avoid}
.table-wrap,.fig-wrap{overflow:visible}table{font-size:7.5pt;max-width:100%}
th,td,thead th{white-space:normal;overflow-wrap:normal;padding:.15em .35em}.long{min-width:0}
.fig-wrap svg,.fig-wrap img{width:auto;max-width:100%}
thead{display:table-header-group}
a{color:inherit;text-decoration:none}
figcaption .files{display:none}
}
"""


def _slug(text: str, used: set) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    used.add(slug)
    return slug


LONG_CELL = 28  # characters: a longer cell wraps in the HTML table (shorter ones stay on one line)


def _html_table(caption: str, t: DisplayTable, ident: str) -> str:
    esc = html.escape
    head = "".join(f"<th scope='col'{" class='num'" if a == 'r' and j else ''}>{esc(h)}</th>"
                   for j, (h, a) in enumerate(zip(t.header, t.align)))
    body = []

    def cls(text, align):  # numbers right-aligned; text on one line unless long (then it wraps)
        return " class='num'" if align == "r" else " class='long'" if len(text) > LONG_CELL else ""

    for r in t.rows:
        cells = [f"<th scope='row'{cls(r[0], 'l')}>{esc(r[0])}</th>"]
        cells += [f"<td{cls(v, a)}>{esc(v)}</td>" for v, a in zip(r[1:], t.align[1:])]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='table-wrap' role='region' tabindex='0' aria-labelledby='{ident}'><table>"
            f"<caption id='{ident}'>{esc(caption)}</caption><thead><tr>{head}</tr></thead><tbody>"
            + "".join(body) + "</tbody></table></div>")


def _html_figure(caption: str, fig, number: int) -> str:
    esc = html.escape
    label = f"Figure {number}: {caption}"
    svg = _svg_text(fig)
    links = ""
    if isinstance(fig, (str, Path)):
        path = Path(fig)
        files = [(p.suffix[1:].upper(), p.name) for p in (path.with_suffix(".svg"), path.with_suffix(".png"))
                 if p.exists()]
        if files:
            links = " <span class='files'>(" + ", ".join(f"<a href='figures/{esc(n, quote=True)}'>{k}</a>"
                                                          for k, n in files) + ")</span>"
    body = (inline_svg(svg, f"f{number}", label) if svg is not None else
            f"<img alt='{esc(label, quote=True)}' src='data:image/png;base64,{_png_base64(fig)}'>")
    return (f"<figure id='figure-{number}'><div class='fig-wrap' tabindex='0'>{body}</div>"
            f"<figcaption>{esc(label)}{links}</figcaption></figure>")


def _html(report: Report) -> str:
    esc = html.escape
    used: set = set()
    ids = [_slug(sec.title, used) for sec in report.sections]
    numbers = _figure_numbers(report)
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           f"<title>{esc(_one_line(report.title))}</title><style>{_CSS}</style></head><body>",
           f"<header><h1>{esc(_one_line(report.title))}</h1></header>"]
    if len(report.sections) > 2:
        out.append("<nav class='toc' aria-label='Contents'><h2>Contents</h2><ol>" + "".join(
            f"<li><a href='#{i}'>{esc(sec.title)}</a></li>" for i, sec in zip(ids, report.sections)) + "</ol></nav>")
    out.append("<main>")
    table_no = 0
    for sec, ident in zip(report.sections, ids):
        cls = " class='summary'" if ident == "summary" else ""
        out.append(f"<section id='{ident}'{cls}><h2>{esc(sec.title)}</h2>")
        out += [f"<p>{esc(p)}</p>" for p in sec.paragraphs]
        for caption, table in sec.key_tables:
            table_no += 1
            out.append(_html_table(caption, display_table(table), f"table-{table_no}"))
        if sec.items:
            out.append("<ul>" + "".join(f"<li>{esc(_one_line(item))}</li>" for item in sec.items) + "</ul>")
        for caption, table in sec.tables:
            table_no += 1
            out.append(_html_table(caption, display_table(table), f"table-{table_no}"))
        for fig in sec.figures:
            out.append(_html_figure(fig[0], fig[1], numbers[id(fig)]))
        out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out)
