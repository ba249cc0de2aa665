"""The report section "Is the answer robust?": leave-one-out, the prior grid, power-scaling sensitivity, outlying
studies and model comparison, each in one sentence with a compact table (bayesmeta.robustness and
bayesmeta.model_checking compute them; figures come from bayesmeta.plots.robustness)."""

from __future__ import annotations

import pandas as pd

from ..formatting import aligned_numbers, pct
from ..model_checking import compare_models, outliers, power_scaling
from ..robustness import leave_one_out, sensitivity
from .document import Section


def _ranges(table, label):
    """(lowest median, its label, highest median, its label, lowest and highest P(benefit))."""
    med = table["mu_median"]
    lo, hi = med.idxmin(), med.idxmax()
    return med[lo], label(lo), med[hi], label(hi), table["p_benefit"].min(), table["p_benefit"].max()


def _compact(table, labels, ci) -> pd.DataFrame:
    """Median with its interval, P(benefit) and P(a new study shows benefit), one row per label."""
    return pd.DataFrame({f"mu: median ({ci:.0%} CrI)": list(zip(table["mu_median"], table["mu_lower"],
                                                                  table["mu_upper"])),
                         "P(benefit)": list(table["p_benefit"]), "P(new study shows benefit)":
                         list(table["p_new_benefit"])}, index=pd.Index(labels, name=""))


def leave_one_out_sentence(loo) -> str:
    """The range of the pooled effect and of P(benefit) over leave-one-out, and the most influential study."""
    lo, s_lo, hi, s_hi, p_lo, p_hi = _ranges(loo, str)
    most = loo["mu_change"].abs().idxmax()
    a, b, d = aligned_numbers(lo, hi, abs(loo.loc[most, "mu_change"]))
    return (f"Leaving out one study at a time (exact refits), the pooled effect (posterior median) ranges from {a} "
            f"(without {s_lo}) to {b} (without {s_hi}) and P(benefit) from {pct(p_lo)} to {pct(p_hi)}; the most "
            f"influential study is {most} (without it the median moves by {d}).")


def prior_grid_sentence(grid) -> str:
    """The range of the pooled effect and of P(benefit) over the prior grid."""
    lo, s_lo, hi, s_hi, p_lo, p_hi = _ranges(grid, lambda i: grid.loc[i, "tau_label"])
    a, b = aligned_numbers(lo, hi)
    return (f"Over {len(grid)} priors, the pooled effect ranges from {a} ({s_lo}) to {b} ({s_hi}), P(benefit) from "
            f"{pct(p_lo)} to {pct(p_hi)} and P(a new study shows benefit) from {pct(grid['p_new_benefit'].min())} "
            f"to {pct(grid['p_new_benefit'].max())}.")


def outlier_sentence(out) -> str:
    """The studies likely outside the predictive distribution of the others, or the least typical one."""
    likely = out.index[out["p_outlier"] >= 0.5].tolist()
    if likely:
        return (f"Likely outliers (P >= 50% that the study's effect lies outside the 95% predictive interval of the "
                f"others): {', '.join(map(str, likely))}.")
    top = out["p_outlier"].idxmax()
    return (f"No study is likely an outlier: the largest posterior probability that a study's effect lies outside the "
            f"95% predictive interval of the others is {pct(out.loc[top, 'p_outlier'])} ({top}).")


def comparison_sentence(table) -> str:
    """The model that predicts best by PSIS-LOO and by how much, or that the models cannot be told apart (the
    difference within two standard errors)."""
    best, second = table.index[0], table.index[1]
    diff, se = abs(table.loc[second, "elpd_diff"]), table.loc[second, "dse"]
    d, s = aligned_numbers(diff, se)
    weights = ", ".join(f"{name} {w:.2f}" for name, w in table["weight"].items())
    if diff < 2 * se:
        return (f"By leave-one-out predictive accuracy (PSIS-LOO) the {' and '.join(map(str, table.index))} models "
                f"cannot be told apart (difference in expected log predictive density {d}, SE {s}); stacking "
                f"weights {weights}.")
    return (f"By leave-one-out predictive accuracy (PSIS-LOO) the {best} model predicts best, ahead of the {second} "
            f"model by {d} in expected log predictive density (SE {s}); stacking weights {weights}.")


def robustness_section(fit, ci: float = 0.95, figures=(), models: dict | None = None) -> Section:
    """"Is the answer robust?": one sentence each for leave-one-out, the prior grid, power-scaling, outliers and
    (with `models`, a dict of fits by name including this one) model comparison, with compact tables and
    `figures` [(caption, figure)]."""
    loo, grid, power = leave_one_out(fit, ci=ci), sensitivity(fit, ci=ci), power_scaling(fit)
    sec = Section("Is the answer robust?", figures=list(figures))
    sec.items += [leave_one_out_sentence(loo), prior_grid_sentence(grid),
                  f"Power-scaling sensitivity (priorsense): {power.attrs['verdict']}",
                  outlier_sentence(outliers(fit, ci, loo))]
    if models:
        table = compare_models(models)
        sec.items.append(comparison_sentence(table))
        sec.tables.append(("Model comparison (arviz-stats compare, PSIS-LOO)", table[["rank", "elpd", "elpd_diff",
                                                                                      "dse", "weight"]]))
    sec.tables.append(("Leave-one-out (exact refits without each study)", _compact(loo, list(loo.index), ci)))
    labels = [f"{t}, {m}" for t, m in zip(grid["tau_label"], grid["mu_label"])]  # the codes: tau_prior, mu_prior
    sec.tables.append(("Prior sensitivity", _compact(grid, labels, ci)))
    sec.tables.append(("Power-scaling sensitivity (above 0.05: sensitive)", power))
    return sec
