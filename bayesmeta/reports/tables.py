"""The tables of a report, as DataFrames: summary, answer (effect and probabilities), shrinkage, differences, probabilities, studies, Bayesian and frequentist side by side, sensitivity, diagnostics, Bayes factors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..formatting import format_bayes_factor, probability_events
from .statements import bayes_label, event_label, fit_events, quantity_label, reproduce_rows


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
            generic = event.replace(mean_q, "mu", 1) if event.startswith(mean_q + " ") else event.replace(
                new_q, "theta_new", 1)  # the subgroup is the row
            row[event_label(fit, generic)] = fit.prob(event)
        rows.append(row)
        index.append(where.removeprefix("in subgroup ") or "all studies")
    name = "Subgroup" if getattr(fit.family, "column", None) else "Effect"
    return pd.DataFrame(rows, index=pd.Index(index, name=name))


def shrinkage_table(fit, ci: float = 0.95) -> pd.DataFrame:
    s = fit.shrinkage(ci=ci)
    out = pd.DataFrame({f"Observed ({fit.data.measure})": s["y"].to_numpy(), "SE": s["se"].to_numpy(),
                        "Posterior median": s["median"].to_numpy(), "Posterior mean": s["mean"].to_numpy(),
                        "Posterior SD": s["sd"].to_numpy(), f"{ci:.0%} CrI": _pairs(s["lower"], s["upper"])},
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
    """Every event of the report (fit_events, as probabilities.csv) in words, with its posterior probability."""
    events = fit_events(fit, thresholds)
    return pd.DataFrame({"Posterior probability": [fit.prob(e) for e in events]},
                        index=pd.Index([event_label(fit, e) for e in events], name="Event"))


def reproduce_table(fit, thresholds=None, tau_priors=None) -> pd.DataFrame:
    """The appendix: each thing the report shows in words beside the code that computes it."""
    rows = reproduce_rows(fit, thresholds, tau_priors or {})
    return pd.DataFrame({"Code": list(rows.values())}, index=pd.Index(list(rows), name="Shown as"))


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
    from ..comparison import compare

    comp = compare(fit, freq_list, ci=ci)
    bayes = str(comp.index[0][1] if isinstance(comp.index, pd.MultiIndex) else comp.index[0])
    comp = comp.rename(index={bayes: bayes_label(fit)})  # the code form is in the appendix
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
    one = fit.data.k < 2  # one study: no heterogeneity to show (the Bayesian tau would be the prior's)
    if full:
        out["tau"] = np.nan if one else comp["tau"].to_numpy()
        out["tau\u00b2"] = np.nan if one else comp["tau2"].to_numpy()
        out["tau\u00b2 interval"] = [(np.nan, np.nan)] * len(comp) if one else _pairs(comp["tau2_lower"],
                                                                                        comp["tau2_upper"])
    out["I\u00b2 (%)"] = np.nan if one else comp["I2"].to_numpy()
    out["Prediction interval"] = _pairs(comp["pi_lower"], comp["pi_upper"])
    return out


LABEL_COLUMN = "tau prior label"  # sensitivity.csv: the reader's name of each prior (the index is its code)


def prior_labels(table: pd.DataFrame) -> dict[str, str]:
    """code -> reader's label of each prior on tau of a sensitivity table (its index, and its label column)."""
    from ..priors import tau_prior

    labels = (table[LABEL_COLUMN] if LABEL_COLUMN in table.columns else
              [tau_prior(str(i)).label() for i in table.index])
    return dict(zip(map(str, table.index), labels))


def sensitivity_display(table: pd.DataFrame, ci: float = 0.95, fit=None) -> pd.DataFrame:
    """analysis.sensitivity_table for reading: one column per prior on tau (its reader's label), one row per
    quantity (median with its interval; tau² left out, tau says it), per predictive interval and per probability
    (in words when the `fit` is given)."""
    names = list(prior_labels(table).values())
    table = table.drop(columns=[LABEL_COLUMN], errors="ignore")
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
            rows[c if fit is None else event_label(fit, c[2:-1])] = list(table[c])
            groups.append("probability")
            probs.append(True)
    out = pd.DataFrame.from_dict(rows, orient="index", columns=names)
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
    """Bayes factors as a journal prints them (formatting.format_bayes_factor: '< 1/1000', '> 1000')."""
    out = table.map(format_bayes_factor).rename(columns={"BF01": "BF01 (for the null)",
                                                         "BF10": "BF10 (against the null)"})
    out.index = pd.Index([str(i) for i in out.index], name="Null hypothesis")
    out.attrs["by"] = "row"
    return out
