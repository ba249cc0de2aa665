"""The sentences of a report: probability statements in the benefit direction, the pooled effect, heterogeneity in words, the prior and the frequentist result in one sentence each."""

from __future__ import annotations

import functools
import math
import platform
from importlib import metadata

import numpy as np

from ..effects import STANDARDISED, benefit_operator, benefit_sign
from ..formatting import (
    article,
    decimals_for,
    event_words,
    format_number,
    format_pvalue,
    pct,
    probability_events,
)

RATIO_MEASURES = {"logOR": "OR", "logRR": "RR"}  # measures pooled on the log scale, stated as ratios


SIZE_WORDS = {0.2: "small", 0.5: "medium", 0.8: "large"}  # Cohen's benchmarks for SMDs


def fit_events(fit, thresholds=None) -> list[str]:
    """Every event the report states for this fit: `probability_events` for each pooled effect of the model
    (mu and theta_new; per subgroup mu[g] and theta_new[g]), then each comparison on the benefit side of 0
    (subgroup differences, moderator coefficients). probabilities.csv lists the same events."""
    out = []
    for _, mean_q, new_q in fit.family.pooled():
        out += probability_events(fit.data, thresholds, (mean_q, new_q))
    op = benefit_operator(fit.data.benefit) if fit.data.benefit else ">"
    return out + [f"{q} {op} 0" for q, _ in fit.family.comparisons()]


def both_directions(fit, mean_q, new_q, where="") -> str:
    """Direction not stated: the probabilities of both directions, for the mean and for a new study."""
    ratio = RATIO_MEASURES.get(fit.data.measure)
    m = ratio or (fit.data.measure if fit.data.measure != "generic" else "effect")
    null = "1" if ratio else "0"
    place = f" {where}" if where else ""
    parts = [f"P({m}{' in a new study' if q == new_q else ''} {op} {null}) = {pct(fit.prob(f'{q} {op} 0'))}"
             for q in (mean_q, new_q) for op in ("<", ">")]
    return (f"Direction not stated{place} (the review does not say which side favours the intervention): "
            + "; ".join(parts) + ".")


def event_label(fit, event: str) -> str:
    """An event as a reader reads it: 'P(the effect in a new study is at least 0.2 SD in favour)'."""
    return f"P({event_words(event, fit.data.measure, fit.data.benefit)})"


def bayes_label(fit) -> str:
    """The Bayesian analysis named for a reader: 'Bayesian: half-normal prior on tau (scale 0.5), flat prior on mu'."""
    priors = [fit.spec.tau_prior.label()] if fit.family.random else []
    return "Bayesian: " + ", ".join(priors + [p.label() for p in dict.fromkeys(fit.family.coef_priors)])


def reproduce_rows(fit, thresholds=None, tau_priors=None) -> dict[str, str]:
    """What the report shows, in words, mapped to the code that computes it (the report's appendix): the fit,
    each prior on tau of the sensitivity table (`tau_priors`: code -> label), and each probability."""
    spec = fit.spec
    args = ", ".join(f"{k}={v!r}" for k, v in fit.family.arguments().items() if v not in (None, "random"))
    call = (f"bm.fit(data, tau_prior={str(spec.tau_prior)!r}, mu_prior={str(spec.mu_prior)!r}, "
            f"engine={fit.engine!r}, seed={fit.seed}" + (f", {args}" if args else "") + ")")
    rows = {"The model": call}
    for code, label in dict(tau_priors).items():
        rows[f"Sensitivity: {label}"] = f"tau_prior={code!r}"
    for event in fit_events(fit, thresholds):
        rows[event_label(fit, event)] = f"fit.prob({event!r})"
    return rows


def sign_convention(fit, intervention: str = "the intervention") -> str:
    """The sign convention, stated once: 'Sign convention: SMD = intervention minus control; negative values
    favour X.' Effects given directly are read as given."""
    data = fit.data
    m = data.measure if data.measure != "generic" else "effect"
    how = (f"{m} = intervention minus control" if data.arms is not None or m in RATIO_MEASURES
           else f"the effects ({m}) as given in the data")
    if data.benefit is None:
        return f"Sign convention: {how}; no benefit direction was declared."
    side = "negative" if data.benefit == "lower" else "positive"
    return f"Sign convention: {how}; {side} values favour {intervention}."


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
        return [both_directions(fit, mean_q, new_q, where) for where, mean_q, new_q in fit.family.pooled()]
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
    return dict(_versions(sampler))


@functools.lru_cache(maxsize=None)
def _versions(sampler) -> tuple:
    """Looked up once per process (reading the package metadata took a tenth of a review's report time)."""
    names = ["bayesmeta", "numpy", "scipy", "pandas", "xarray", "arviz-base", "arviz-stats", "arviz-plots",
             "matplotlib", "formulaic"] + (["pymc", "pytensor", sampler] if sampler else [])
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return tuple(out.items())


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
    if fit.data.k < 2:
        return ("Heterogeneity cannot be estimated from one study: the between-study SD (tau) in the tables below is "
                "the prior's, not a finding from the data, and the interval for a new study rests on it.")
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
                 None: "direction not stated"}[data.benefit]
    out = []
    if data.k == 1:
        lo, hi = data.y[0] - 1.959963984540054 * data.se[0], data.y[0] + 1.959963984540054 * data.se[0]
        out.append(f"One study ({data.study[0]}): its own estimate {m} {data.y[0]:.2f} (95% CI {lo:.2f} to "
                   f"{hi:.2f}); with one study there is no pooling and heterogeneity cannot be estimated.")
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
    if fam.display == "regression":
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
    total = getattr(r, "totals", "YES") == "YES"
    if r.subgroups is not None and not r.Q_between_df:
        g = r.subgroups.index[0]
        return (f"{r.label}, subgroup {g} (the only one with estimable studies): {r.mu:.2f} ({pct_} CI {r.lower:.2f} "
                f"to {r.upper:.2f}), {format_pvalue(r.pvalue)}; no test for subgroup differences.")
    if r.subgroups is not None:
        i2 = max(0.0, 100 * (r.Q_between - r.Q_between_df) / r.Q_between) if r.Q_between > 0 else 0.0
        overall = f"; overall {r.mu:.2f} ({pct_} CI {r.lower:.2f} to {r.upper:.2f})" if total else \
            "; the review gives no total (subtotals only)"
        return (f"{r.label} by {r.subgroup} ({r.subgroup_tau} tau\u00b2): test for subgroup differences Chi\u00b2 = "
                f"{r.Q_between:.2f}, df = {r.Q_between_df} ({format_pvalue(r.Q_between_pvalue)}), I\u00b2 = {i2:.1f}%"
                f"{overall}.")
    if r.k < 2:
        return (f"{r.label}: the one study's own estimate {r.mu:.2f} ({pct_} CI {r.lower:.2f} to {r.upper:.2f}), "
                f"{format_pvalue(r.pvalue)}; heterogeneity cannot be estimated from one study.")
    if r.is_regression:
        df = r.QM_df if isinstance(r.QM_df, int) else ", ".join(map(str, r.QM_df))
        r2 = "" if r.R2 is None or not np.isfinite(r.R2) else f", R\u00b2 = {r.R2:.0f}%"
        return (f"{r.label} meta-regression {r.moderators}: test of moderators QM = {r.QM:.2f} (df = {df}), "
                f"{format_pvalue(r.QM_pvalue)}; residual heterogeneity QE = {r.QE:.2f}, {format_pvalue(r.QE_pvalue)}; "
                f"residual tau\u00b2 = {r.tau2:.3f}, I\u00b2 = {r.I2:.0f}%{r2}.")
    return (f"{r.label}: {r.mu:.2f} ({pct_} CI {r.lower:.2f} to {r.upper:.2f}), {format_pvalue(r.pvalue)}; tau\u00b2 = "
            f"{r.tau2:.3f}, I\u00b2 = {r.I2:.0f}%" + (f"; prediction interval {r.pi_lower:.2f} to {r.pi_upper:.2f}."
                                                    if r.prediction else "."))
