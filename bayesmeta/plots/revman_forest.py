"""The forest plot as RevMan 5 draws it: arm columns, weights, the study and pooled intervals, heterogeneity, overall effect and subgroup-difference lines."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np

from ..effects import benefit_operator
from ..formatting import format_pvalue, prob_text
from .common import BLUE, GREY, _plt, _z, short_label
from .notes import _by_moderators, subgroup_difference_lines

# --------------------------------------------------------------------------- RevMan-style forest plot
ARM_FIELDS = (("mean", "Mean"), ("sd", "SD"), ("events", "Events"), ("n", "Total"))  # RevMan's column order




_RM_FONT = 8.0  # points


_RM_ROW = 0.2  # inches per row


_RM_PAD = 0.16  # inches between columns


_RM_PLOT = 2.9  # inches: the width of the plot column


REVMAN_MEASURES = {"SMD": "Std. Mean Difference", "SMD_RevMan": "Std. Mean Difference", "d": "Std. Mean Difference",
                   "MD": "Mean Difference"}


def arm_columns(data) -> list[tuple[str, list[tuple[str, str]]]]:
    """RevMan's per-arm columns that the data hold: [("Experimental", [(column, header), ...]), ("Control", ...)]
    from `data.arms`, in RevMan's order: mean, SD and total for a continuous outcome (mean1, sd1, n1), events and
    total for a dichotomous one (events1, n1); [] for effects given directly (estimate and SE)."""
    arms = getattr(data, "arms", None)
    if arms is None:
        return []
    out = []
    for arm, name in ((1, "Experimental"), (2, "Control")):
        cols = [(f"{field}{arm}", header) for field, header in ARM_FIELDS if f"{field}{arm}" in arms.columns]
        if cols:
            out.append((name, cols))
    return out


def _arm_decimals(values, header) -> int:
    """Decimals of an arm column: none for counts; for means and SDs as many as the data have, at most two (three
    for values below 0.1), the same down the column."""
    if header in ("Total", "Events"):
        return 0
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v):
        return 0
    cap = 3 if np.max(np.abs(v)) < 0.1 else 2
    for d in range(cap + 1):
        if np.allclose(v, np.round(v, d), rtol=0, atol=1e-9):
            return d
    return cap


def revman_heterogeneity(tau2, q, df, p, i2, random=True) -> str:
    """'Heterogeneity: Tau² = 0.01; Chi² = 13.72, df = 11 (P = 0.25); I² = 20%' as RevMan prints it ('Not
    applicable' for one study)."""
    if df is None or df < 1 or not np.isfinite(q):
        return "Heterogeneity: Not applicable"
    tau = f"Tau\u00b2 = {tau2:.2f}; " if random and np.isfinite(tau2) else ""
    i2_text = f"{i2:.0f}%" if np.isfinite(i2) else "not estimable"
    return f"Heterogeneity: {tau}Chi\u00b2 = {q:.2f}, df = {df} ({format_pvalue(p)}); I\u00b2 = {i2_text}"


def revman_overall_effect(mu, se, p, ci="z", df=None) -> str:
    """'Test for overall effect: Z = 3.43 (P = 0.0006)' (t with its df for Knapp-Hartung results)."""
    if not (np.isfinite(mu) and np.isfinite(se) and se > 0):
        return "Test for overall effect: Not applicable"
    stat = abs(mu / se)
    if ci == "hksj":
        return f"Test for overall effect: t = {stat:.2f}, df = {df} ({format_pvalue(p)})"
    return f"Test for overall effect: Z = {stat:.2f} ({format_pvalue(p)})"


def revman_subgroup_test(result) -> str:
    """'Test for subgroup differences: Chi² = 2.25, df = 2 (P = 0.32), I² = 11.1%' (RevMan's line)."""
    q, df = float(result.Q_between), result.Q_between_df
    i2 = 100 * max(0.0, (q - df) / q) if q > 0 else 0.0
    return (f"Test for subgroup differences: Chi\u00b2 = {q:.2f}, df = {df} ({format_pvalue(result.Q_between_pvalue)}), "
            f"I\u00b2 = {i2:.1f}%")


def favours_labels(benefit) -> tuple[str, str]:
    """The words under the left and right half of the axis: RevMan's 'Favours experimental' on the side where the
    effect is a benefit."""
    if benefit == "lower":
        return "Favours experimental", "Favours control"
    if benefit == "higher":
        return "Favours control", "Favours experimental"
    return "Lower values", "Higher values"


def _text_width(texts, size=_RM_FONT, bold=False) -> float:
    """The widest of `texts` in inches (DejaVu Sans metrics, as drawn)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    measure = TextToPath()
    return max([measure.get_text_width_height_descent(t, prop, ismath=False)[0] / 72 for t in texts if t] or [0.0])


def _symmetric_limit(values) -> float:
    """RevMan's symmetric scale: the smallest of 0.1, 0.2, 0.5, 1, 2, 4, 5, 10, 20, 50, 100 ... that holds `values`."""
    need = max([abs(v) for v in values if np.isfinite(v)] or [1.0])
    for decade in range(-3, 12):
        for step in (1, 2, 4, 5):
            limit = step * 10.0**decade
            if limit >= need:
                return limit
    return need


def _forest_revman(fit, freq, order, ci, title):
    """RevMan's forest plot: the rows (`_revman_rows`), their layout (`_revman_layout`), then the drawing."""
    c = _revman_rows(fit, freq, order, ci)
    return _draw_revman(c, _revman_layout(c, title), title)


def _revman_rows(fit, freq, order, ci) -> SimpleNamespace:
    """The frequentist source, the arm columns and the rows of RevMan's forest plot, top to bottom: (kind, ...)."""
    from ..frequentist_methods import as_results, frequentist
    from ..posterior import check_ci

    ci = check_ci(ci)
    fam, data = fit.family, fit.data
    if not fam.revman_forest:
        raise ValueError(f"RevMan draws no forest plot of a {fam.name} model (RevMan pools studies, overall or by "
                         "subgroup): use style='bayes'" + (" or plots.bubble" if fam.display == "regression" else ""))
    by_subgroup = fam.display == "subgroups"
    results = as_results(freq)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what the data hold (e.g. a subgroup of one study) the fit has said
        source = results[0] if results else frequentist(data, method="revman5")
        if by_subgroup:
            by_group = _by_moderators(source, data, subgroup=fam.column)
            overall = source if source.subgroups is None else frequentist(
                data, method=source.preset or source.method, ci=source.ci, level=source.level)
        else:
            if source.subgroups is not None or source.is_regression:
                source = frequentist(data, method=source.preset or source.method, ci=source.ci, level=source.level)
            overall, by_group = source, None
    random = overall.method != "FE"
    summ = fit.summary(ci=ci)
    z = _z(overall.level)
    weights = overall.weights.to_numpy(float)
    arms = arm_columns(data)
    table = data.arms.reset_index(drop=True) if arms else None
    if not arms:  # effects given directly: RevMan's generic inverse-variance columns
        arms = [("", [("y", REVMAN_MEASURES.get(data.measure, "Effect")), ("se", "SE")])]
        table = {"y": data.y, "se": data.se}
    measure = REVMAN_MEASURES.get(data.measure, "Effect")
    method = "IV, " + ("Random" if random else "Fixed")
    if overall.method not in ("DL", "FE") or overall.ci == "hksj":
        method += f" ({overall.method}{', HKSJ' if overall.ci == 'hksj' else ''})"
    method += f", {overall.level:.0%} CI"
    op = benefit_operator(data.benefit) if data.benefit else None

    decimals = {col: _arm_decimals(table[col], header) for _, cols in arms for col, header in cols if col not in ("y", "se")}

    def cell(col, header, i):
        if col in ("y", "se"):
            return f"{table[col][i]:.4f}"
        v = float(table[col].iloc[i])
        return f"{v:.{decimals[col]}f}" if np.isfinite(v) else ""

    def totals(idx):
        out = {}
        for _, cols in arms:
            for col, header in cols:
                if header in ("Total", "Events"):
                    values = table[col].iloc[idx].to_numpy(float)
                    out[col] = f"{np.nansum(values):.0f}" if np.isfinite(values).any() else ""
        return out

    def ordered(idx):
        idx = np.asarray(idx, int)
        if order == "effect":
            return idx[np.argsort(data.y[idx], kind="stable")]
        if order == "weight":
            return idx[np.argsort(-weights[idx], kind="stable")]
        return idx

    def bayes_rows(mean_q, new_q, where=""):
        m, p = summ.loc[mean_q], summ.loc[new_q]
        rows = [("bayes", f"Bayesian: pooled effect{where} ({ci:.0%} CrI)", (m["median"], m["lower"], m["upper"]),
                 "diamond"),
                ("bayes", f"Bayesian: new study{where} ({ci:.0%} PrI)", (p["median"], p["lower"], p["upper"]), "bar")]
        if op:
            rows.append(("line", f"Bayesian: P(benefit{where}) {prob_text(fit.prob(f'{mean_q} {op} 0'))}; "
                                 f"P(benefit in a new study{where}) {prob_text(fit.prob(f'{new_q} {op} 0'))}", BLUE))
        return rows

    rows = []  # (kind, ...) top to bottom
    missing_arms = False
    if by_subgroup:
        from ..design import subgroup_labels

        labels = np.asarray(subgroup_labels(data, fam.column)[0], dtype=str)
        sub = by_group.subgroups.rename(index=str)
        for g in fam.groups:
            idx = np.flatnonzero(labels == g)
            r = sub.loc[g]
            rows.append(("heading", short_label(g, 60)))
            rows += [("study", i) for i in ordered(idx)]
            rows.append(("total", "Subtotal", totals(idx), weights[idx].sum(), (r["mu"], r["lower"], r["upper"])))
            k_g = int(r["k"])
            rows.append(("line", revman_heterogeneity(r["tau2"], r["Q"], k_g - 1, r["Q_pvalue"], r["I2"], random),
                         "black"))
            rows.append(("line", revman_overall_effect(r["mu"], r["se"], r["pvalue"], overall.ci, k_g - 1), "black"))
            rows += bayes_rows(f"mu[{g}]", f"theta_new[{g}]", f" in {short_label(g, 30)}")
            rows.append(("gap",))
    else:
        rows += [("study", i) for i in ordered(np.arange(data.k))]
    rows.append(("total", "Total", totals(np.arange(data.k)), weights.sum(), (overall.mu, overall.lower,
                                                                              overall.upper)))
    rows.append(("line", revman_heterogeneity(overall.tau2, overall.Q, overall.k - 1, overall.Q_pvalue, overall.I2,
                                              random), "black"))
    rows.append(("line", revman_overall_effect(overall.mu, overall.se, overall.pvalue, overall.ci, overall.k - 1),
                 "black"))
    if by_subgroup:
        rows.append(("line", revman_subgroup_test(by_group), "black"))
        rows.append(("gap",))
        op_text = "" if op is None else f" ({op} 0: the later subgroup's effect is the more favourable)"
        rows.append(("line", f"Bayesian differences between subgroups{op_text}:", BLUE))
        rows += [("line", "  " + d, BLUE) for d in subgroup_difference_lines(fit, ci)]
        tau_rows = [q for q in fam.summary_rows() if q.startswith("tau") and not q.startswith("tau2")]
    else:
        rows.append(("gap",))
        rows += bayes_rows("mu", "theta_new")
        tau_rows = ["tau"] if fam.random else []
    taus = "; ".join(f"{short_label(q, 40)} = {summ.loc[q, 'median']:.2f} [{summ.loc[q, 'lower']:.2f}, "
                     f"{summ.loc[q, 'upper']:.2f}]" for q in tau_rows)
    coef = "mu[g]" if by_subgroup else "mu"
    rows.append(("line", f"Bayesian model (blue): {fit.spec.mu_prior.label()}{' on each ' + coef if by_subgroup else ''}"
                 + (f", {fit.spec.tau_prior.label()}; {taus} (posterior median [{ci:.0%} CrI])" if tau_rows
                    else "; common effect (tau = 0)"), BLUE))
    rows.append(("line", f"Bayesian rows: posterior median [{ci:.0%} credible interval]; PrI: predictive interval of "
                         "the effect in a new study.", BLUE))
    for kind, *rest in rows:
        if kind == "study" and arms[0][0] and any(cell(col, h, rest[0]) == "" for _, cols in arms for col, h in cols):
            missing_arms = True
    if missing_arms:
        rows.append(("line", "A blank arm cell: not reported (the effect was entered directly); totals count the "
                             "studies with arm data.", GREY))
    return SimpleNamespace(data=data, overall=overall, z=z, weights=weights, arms=arms, measure=measure,
                           method=method, rows=rows, cell=cell, totals=totals)


def _revman_layout(c, title) -> SimpleNamespace:
    """Column positions (inches from the left edge) and row positions (inches from the top)."""
    study_labels = {i: short_label(c.data.study[i], 45) for kind, *rest in c.rows if kind == "study" for i in rest[:1]}
    label_w = _text_width(list(study_labels.values()) + ["Study or Subgroup", "Subtotal (95% CI)"]) + _RM_PAD
    label_w = max(label_w, _text_width(["Study or Subgroup", "Total (95% CI)", "Subtotal (95% CI)"], bold=True) + _RM_PAD)
    col_w = {}
    for _, cols in c.arms:
        for col, header in cols:
            values = [c.cell(col, header, i) for i in study_labels] + list(c.totals(np.arange(c.data.k)).values())
            col_w[col] = max(_text_width(values), _text_width([header], bold=True),
                             _text_width(values, bold=True)) + _RM_PAD
    weight_w = _text_width(["100.0%", "Weight"], bold=True) + _RM_PAD
    est_texts, ci_texts = [], []
    for kind, *rest in c.rows:
        if kind in ("study", "total", "bayes"):
            mean, lo, hi = _row_interval(kind, rest, c.data, c.z)
            est_texts.append(f"{mean:.2f}")
            ci_texts.append(f"[{lo:.2f}, {hi:.2f}]")
    est_w = _text_width(est_texts, bold=True)
    ci_w = _text_width(ci_texts, bold=True)
    effect_w = max(est_w + 0.06 + ci_w, _text_width([c.measure, c.method], bold=True)) + _RM_PAD
    group_gap = 0.12
    x = 0.1
    x_label = x
    x += label_w
    col_right, groups_span = {}, []
    for name, cols in c.arms:
        start = x
        for col, _ in cols:
            x += col_w[col]
            col_right[col] = x - _RM_PAD / 2
        groups_span.append((name, start + _RM_PAD / 2, x - _RM_PAD / 2))
        x += group_gap
    x_weight = x + weight_w - _RM_PAD / 2
    x += weight_w
    x_effect0 = x + _RM_PAD / 2
    x += effect_w
    x_plot = x + 0.05
    # spanning texts must end before the effect column (Bayesian labels) or the plot (headings and lines)
    span_bayes = _text_width([r[1] for r in c.rows if r[0] == "bayes"])
    span_lines = max(_text_width([r[1] for r in c.rows if r[0] == "line"], size=_RM_FONT - 0.5),
                     _text_width([r[1] for r in c.rows if r[0] == "heading"], bold=True))
    extra = max(0.0, span_bayes + _RM_PAD - (x_effect0 - x_label), span_lines + _RM_PAD - (x_plot - x_label))
    if extra > 0:  # widen the label column
        label_w += extra
        col_right = {k: v + extra for k, v in col_right.items()}
        groups_span = [(n, a + extra, b + extra) for n, a, b in groups_span]
        x_weight, x_effect0, x_plot = x_weight + extra, x_effect0 + extra, x_plot + extra
    x_est = x_effect0 + est_w
    width = x_plot + _RM_PLOT + 0.35

    # ---- rows, in inches from the top
    heights = {"gap": 0.5}
    title_h = 0.35 if title else 0.0
    head_top = 0.12 + title_h
    body_top = head_top + 2.6 * _RM_ROW
    ys, y = [], body_top
    for r in c.rows:
        h = heights.get(r[0], 1.0) * _RM_ROW
        ys.append(y + h / 2)
        y += h
    body_bottom = y + 0.05
    axis_h = 0.75
    height = body_bottom + axis_h
    return SimpleNamespace(study_labels=study_labels, col_right=col_right, groups_span=groups_span,
                           x_weight=x_weight, x_effect0=x_effect0, effect_w=effect_w, x_plot=x_plot, x_est=x_est,
                           x_label=x_label, width=width, height=height, head_top=head_top, body_top=body_top,
                           body_bottom=body_bottom, ys=ys)


def _draw_revman(c, g, title):
    """Draw the rows `c` at the positions `g`: a table axes over the whole figure and the plot column."""
    plt = _plt()
    fig = plt.figure(figsize=(g.width, g.height))
    tab = fig.add_axes((0, 0, 1, 1))
    tab.set_xlim(0, g.width)
    tab.set_ylim(g.height, 0)
    tab.axis("off")
    ax = fig.add_axes((g.x_plot / g.width, 1 - g.body_bottom / g.height, _RM_PLOT / g.width,
                       (g.body_bottom - g.body_top) / g.height))
    ax.set_ylim(g.body_bottom, g.body_top)
    fs = _RM_FONT
    if title:
        tab.text(g.x_label, 0.12, short_label(title, 150), fontsize=fs + 1.5, fontweight="bold", va="top")
    # header: group names over their columns (underlined), then the column names
    h1, h2 = g.head_top + 0.7 * _RM_ROW, g.head_top + 1.8 * _RM_ROW
    for name, a, b in g.groups_span:
        if name:
            tab.text((a + b) / 2, h1, name, fontsize=fs, fontweight="bold", ha="center", va="center")
            tab.plot([a, b], [h1 + 0.45 * _RM_ROW] * 2, color="black", lw=0.6)
    tab.text(g.x_label, h2, "Study or Subgroup", fontsize=fs, fontweight="bold", va="center")
    for _, cols in c.arms:
        for col, header in cols:
            tab.text(g.col_right[col], h2, header, fontsize=fs, fontweight="bold", ha="right", va="center")
    tab.text(g.x_weight, h2, "Weight", fontsize=fs, fontweight="bold", ha="right", va="center")
    for xc in (g.x_effect0 + (g.effect_w - _RM_PAD) / 2, g.x_plot + _RM_PLOT / 2):
        tab.text(xc, h1, c.measure, fontsize=fs, fontweight="bold", ha="center", va="center")
        tab.text(xc, h2, c.method, fontsize=fs, fontweight="bold", ha="center", va="center")
    tab.plot([g.x_label, g.x_plot + _RM_PLOT], [g.body_top - 0.25 * _RM_ROW] * 2, color=GREY, lw=0.5)

    limit_values = []
    for kind, *rest in c.rows:
        if kind in ("total", "bayes"):
            limit_values += list(_row_interval(kind, rest, c.data, c.z))
        elif kind == "study":
            limit_values.append(float(c.data.y[rest[0]]))
    limit = _symmetric_limit(limit_values)
    ax.set_xlim(-limit, limit)
    w_max = np.max(c.weights) if len(c.weights) else 1.0
    for (kind, *rest), yc in zip(c.rows, g.ys):
        if kind == "heading":
            tab.text(g.x_label, yc, rest[0], fontsize=fs, fontweight="bold", va="center")
        elif kind == "line":
            text, colour = rest
            tab.text(g.x_label, yc, text, fontsize=fs - 0.5, va="center", color=colour)
        elif kind in ("study", "total", "bayes"):
            mean, lo, hi = _row_interval(kind, rest, c.data, c.z)
            bold = kind != "study"
            colour = BLUE if kind == "bayes" else "black"
            weight = "bold" if bold else "normal"
            if kind == "study":
                i = rest[0]
                tab.text(g.x_label, yc, g.study_labels[i], fontsize=fs, va="center")
                for _, cols in c.arms:
                    for col, header in cols:
                        tab.text(g.col_right[col], yc, c.cell(col, header, i), fontsize=fs, ha="right",
                                 va="center")
                tab.text(g.x_weight, yc, f"{c.weights[i]:.1f}%", fontsize=fs, ha="right", va="center")
                _revman_study(ax, mean, lo, hi, yc, limit, c.weights[i] / w_max)
            elif kind == "total":
                label, tot, w, _ = rest
                tab.text(g.x_label, yc, f"{label} ({c.overall.level:.0%} CI)", fontsize=fs, fontweight="bold",
                         va="center")
                for col, text in tot.items():
                    tab.text(g.col_right[col], yc, text, fontsize=fs, fontweight="bold", ha="right", va="center")
                tab.text(g.x_weight, yc, f"{w:.1f}%", fontsize=fs, fontweight="bold", ha="right", va="center")
                _revman_diamond(ax, lo, mean, hi, yc, "black")
            else:
                label, _, shape = rest
                tab.text(g.x_label, yc, label, fontsize=fs, fontweight="bold", va="center", color=BLUE)
                if shape == "diamond":
                    _revman_diamond(ax, lo, mean, hi, yc, BLUE)
                else:
                    ax.plot([max(lo, -limit), min(hi, limit)], [yc, yc], color=BLUE, lw=5, alpha=0.45,
                            solid_capstyle="butt")
            tab.text(g.x_est, yc, f"{mean:.2f}", fontsize=fs, fontweight=weight, ha="right", va="center", color=colour)
            tab.text(g.x_est + 0.06, yc, f"[{lo:.2f}, {hi:.2f}]", fontsize=fs, fontweight=weight, va="center",
                     color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks([])
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ticks = [-limit, -limit / 2, 0.0, limit / 2, limit]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=fs)
    ax.tick_params(axis="x", length=3, pad=2)
    left, right = favours_labels(c.data.benefit)
    for xf, text in ((0.25, left), (0.75, right)):
        ax.annotate(text, xy=(xf, 0), xycoords="axes fraction", xytext=(0, -22), textcoords="offset points",
                    ha="center", va="top", fontsize=fs)
    ax.patch.set_alpha(0)
    return fig


def _row_interval(kind, rest, data, z):
    """(estimate, lower, upper) of a study, total or Bayesian row."""
    if kind == "study":
        i = rest[0]
        return float(data.y[i]), float(data.y[i] - z * data.se[i]), float(data.y[i] + z * data.se[i])
    mean, lo, hi = rest[-2] if kind == "bayes" else rest[-1]
    return float(mean), float(lo), float(hi)


def _revman_study(ax, mean, lo, hi, y, limit, rel_weight):
    """A study's square (area proportional to its weight) and CI line; an arrow where the CI leaves the axis."""
    a, b = max(lo, -limit), min(hi, limit)
    ax.plot([a, b], [y, y], color="black", lw=0.9)
    if lo < -limit:
        ax.plot(-limit, y, marker="<", color="black", ms=4, clip_on=False)
    if hi > limit:
        ax.plot(limit, y, marker=">", color="black", ms=4, clip_on=False)
    if -limit <= mean <= limit:
        ax.plot(mean, y, "s", color="#2f6b2f", mec="#2f6b2f", ms=2.5 + 6.5 * math.sqrt(rel_weight))


def _revman_diamond(ax, lo, mid, hi, y, colour):
    h = 0.38 * _RM_ROW
    ax.fill([lo, mid, hi, mid], [y, y - h, y, y + h], color=colour, lw=0, clip_on=True)
