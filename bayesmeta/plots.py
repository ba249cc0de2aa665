"""Figures: Bayesian forest plot, posterior densities with probability regions, prior against posterior,
probability-of-benefit curves, bubble plot of a meta-regression, funnel plot, trace and rank plots (ArviZ 1.x
arviz-plots, matplotlib).

Every function returns a matplotlib Figure; `save(fig, path)` writes PNG, SVG or PDF by the suffix.
Intervals drawn are 95% (or `ci`) equal-tailed; axis labels say which direction is benefit.

The figures ask the fit's family what it has: a normal-normal fit has one pooled mu; a subgroup fit
(`bm.fit(data, subgroup=...)`) has mu[g] and theta_new[g] per subgroup, so the forest plot is drawn in blocks
and the densities and benefit curves per subgroup; a meta-regression (`moderators=...`) has coefficients and no
single mu, so its forest plot has no pooled diamond, `bubble` draws the effect against a moderator, and the
densities are those of the coefficients.
"""

from __future__ import annotations

import functools
import math
import re
import warnings

import numpy as np

from .effects import STANDARDISED, benefit_operator, benefit_sign

BLUE, ORANGE, GREY, GREEN, RED = "#1f4e79", "#d9822b", "#7f7f7f", "#2e7d32", "#b71c1c"


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg") and not _interactive():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _interactive():
    import sys

    return hasattr(sys, "ps1") or "ipykernel" in sys.modules


MAX_PIXELS = 20000  # the longest side of a PNG; a forest plot of hundreds of studies lowers its resolution


def save(fig, path, dpi=150):
    """Write a figure (PNG, SVG or PDF by the file suffix) and close it; a figure so tall that it would pass
    MAX_PIXELS is written at a lower resolution."""
    plain_text(fig)
    try:  # the saved area: the tight box of what is drawn (it may pass the figure's edges), with savefig's padding
        box = fig.get_tightbbox(fig.canvas.get_renderer())
        longest = max(box.width, box.height) + 2 * 0.1 + 0.05
    except (AttributeError, TypeError):  # a canvas without a renderer of its own
        longest = max(fig.get_size_inches()) + 0.25
    dpi = min(dpi, MAX_PIXELS / longest)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    _plt().close(fig)
    return path


LABEL_WIDTH = 60


def short_label(text, width: int = LABEL_WIDTH) -> str:
    """User text for a figure: one line, at most `width` characters (cut with an ellipsis); the tables of
    the report keep the full text."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "\u2026"


def wrapped(text, width: int, lines: int = 3) -> str:
    """User text over at most `lines` lines of `width` characters (the last cut with an ellipsis)."""
    import textwrap

    parts = textwrap.wrap(" ".join(str(text).split()), width) or [""]
    if len(parts) > lines:
        parts = parts[: lines - 1] + [short_label(" ".join(parts[lines - 1:]), width)]
    return "\n".join(parts)


def plain_text(fig):
    """Every text of the figure drawn as it is: no mathtext ($...$) and no TeX, whatever the labels hold."""
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        t.set_parse_math(False)
        t.set_usetex(False)
    return fig


def _plain(make):
    """Make the figure with mathtext and TeX off from the start (layout draws the text before it is returned)."""
    @functools.wraps(make)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return plain_text(make(*args, **kwargs))
    return wrapper


def direction_label(data, symbol="effect") -> str:
    """Axis label naming the measure and the benefit direction, e.g. 'SMD (< 0 favours intervention)'."""
    measure = {"SMD": "SMD (Hedges' g)", "SMD_RevMan": "SMD (RevMan)", "d": "Cohen's d", "MD": "mean difference"}.get(
        data.measure, data.measure)
    if data.benefit is None:
        return measure
    side = benefit_operator(data.benefit)
    return f"{measure}; {side} 0 favours the intervention"


# --------------------------------------------------------------------------- forest plot
FOREST_COLUMNS = ("observed", "shrunken", "weight")


FOREST_STYLES = ("bayes", "revman")


@_plain
def forest(fit, freq=None, order: str = "input", ci: float = 0.95, columns=FOREST_COLUMNS, title=None,
           style: str = "bayes"):
    """Forest plot. style="bayes" (the default, described first) or "revman" (RevMan's layout, described last).

    Bayesian forest plot: observed effects with CIs (squares sized by weight), shrunken posterior
    estimates with credible intervals, pooled mu, the predictive interval for a new study, and on request
    the frequentist pooled result(s). order: "input", "effect" or "weight"; columns: which of "observed",
    "shrunken", "weight" to print on the right, in that order (weights are the first frequentist
    result's, REML if none is given).

    Subgroup fits (`bm.fit(data, subgroup=...)`): the studies in one block per subgroup, each under a heading
    (subgroup, k, and its tau when each subgroup has its own), then the subgroup's Bayesian mean mu[g] (diamond,
    credible interval), the predictive interval of a new study in it (theta_new[g]) and, for each frequentist
    result, its subgroup estimate (a result without subgroups is recomputed by subgroup with the same method,
    CI type and level); at the bottom the test for subgroup differences as RevMan prints it (Chi², df, P and
    I² = max(0, (Q - df) / Q)) and one line per pair of subgroups with the posterior probability that their
    difference lies on the benefit side of 0. Weights are within each subgroup.

    Three-level fits (`model="three-level"`): the effects in one block per cluster, then the pooled mu, the
    predictive interval of a new effect in a new cluster and the frequentist (rma.mv) results.

    Meta-regression fits (`moderators=...`): observed and shrunken study effects (given each study's moderator
    values) and no pooled diamond (there is no single mu); a note gives the formula, the residual tau and, for a
    frequentist meta-regression result, its tau², QM test and R².

    style="revman": RevMan 5's forest plot of the first frequentist result in `freq` (RevMan 5's DerSimonian-Laird
    analysis if none is given): columns Study or Subgroup | Experimental and Control arm data (Mean, SD, Total, or
    Events, Total: whatever arm columns the data hold; the effect and its SE for effects given directly) | Weight |
    the effect [CI] | the plot; "Total (95% CI)" with the pooled diamond, "Heterogeneity: Tau² = ..; Chi² = ..,
    df = .. (P = ..); I² = ..%" and "Test for overall effect: Z = .. (P = ..)"; "Favours experimental" and
    "Favours control" under the axis on the sides the benefit direction gives them. Below RevMan's rows, in blue,
    the Bayesian posterior of the mean effect (diamond: posterior median, credible interval) and the predictive
    interval of a new study, with tau and the probability of benefit. Subgroup fits: RevMan's subgroup blocks
    (studies, "Subtotal (95% CI)", heterogeneity and overall-effect lines of the subgroup; study weights as percent
    of the overall analysis, as RevMan shows them), each followed by the subgroup's Bayesian rows, then the Total
    and the test for subgroup differences. A meta-regression has no RevMan plot (ValueError). The x axis is
    symmetric about 0; intervals that run beyond it end in an arrow. `columns` is not used."""
    if style not in FOREST_STYLES:
        raise ValueError(f"style must be 'bayes' (Bayesian forest plot) or 'revman' (RevMan's layout), not {style!r}")
    unknown = set(columns) - set(FOREST_COLUMNS)
    if unknown:
        raise ValueError(f"unknown forest plot column(s) {sorted(unknown)}; choose from {FOREST_COLUMNS}")
    if order not in ("input", "effect", "weight"):
        raise ValueError("order must be 'input', 'effect' or 'weight'")
    if style == "revman":
        return _forest_revman(fit, freq, order, ci, title)
    family = getattr(fit.family, "name", "normal-normal")
    if family == "subgroups":
        return _forest_subgroups(fit, freq, order, ci, columns, title)
    if family == "meta-regression":
        return _forest_regression(fit, freq, order, ci, columns, title)
    if family == "three-level":
        return _forest_clusters(fit, freq, order, ci, columns, title)
    from .frequentist_methods import as_results, frequentist

    plt = _plt()
    data = fit.data
    z = _z(ci)
    shrink = fit.shrinkage(ci=ci)
    freq_list = as_results(freq)
    weight_source = freq_list[0] if freq_list else frequentist(data, method="REML")
    weights = weight_source.weights.to_numpy()
    idx = np.arange(data.k)
    if order == "effect":
        idx = np.argsort(data.y)
    elif order == "weight":
        idx = np.argsort(-weights)
    elif order != "input":
        raise ValueError("order must be 'input', 'effect' or 'weight'")
    n_pooled = 2 + len(freq_list)
    height = 1.6 + 0.3 * (data.k + n_pooled + 1)
    fig, (ax, tx) = plt.subplots(1, 2, figsize=(11, height), sharey=True,
                                 gridspec_kw=dict(width_ratios=(1.35, 1), wspace=0.02))
    rows = np.arange(data.k)[::-1] + n_pooled + 1
    summ = fit.summary(ci=ci)
    for row, i in zip(rows, idx):
        lo, hi = data.y[i] - z * data.se[i], data.y[i] + z * data.se[i]
        ax.plot([lo, hi], [row + 0.15] * 2, color=GREY, lw=1.2)
        ax.plot(data.y[i], row + 0.15, "s", color=GREY, ms=3 + 9 * math.sqrt(weights[i] / weights.max()))
        s = shrink.iloc[i]
        ax.plot([s["lower"], s["upper"]], [row - 0.15] * 2, color=BLUE, lw=1.6)
        ax.plot(s["mean"], row - 0.15, "o", color=BLUE, ms=4)
    y_mu, y_pred = n_pooled, n_pooled - 1
    _diamond(ax, summ.loc["mu", "lower"], summ.loc["mu", "mean"], summ.loc["mu", "upper"], y_mu, BLUE)
    ax.plot([summ.loc["theta_new", "lower"], summ.loc["theta_new", "upper"]], [y_pred] * 2, color=BLUE, lw=5,
            alpha=0.45, solid_capstyle="butt")
    pooled_rows = [(y_mu, f"Bayesian pooled mu ({ci:.0%} CrI)", summ.loc["mu"]),
                   (y_pred, f"New study ({ci:.0%} predictive interval)", summ.loc["theta_new"])]
    for j, res in enumerate(freq_list):
        y_f = y_pred - 1 - j
        _diamond(ax, res.lower, res.mu, res.upper, y_f, ORANGE)
        pooled_rows.append((y_f, f"{res.label} ({res.level:.0%} CI)", dict(mean=res.mu, lower=res.lower,
                                                                            upper=res.upper)))
    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(summ.loc["mu", "mean"], color=BLUE, lw=0.8, ls=":")
    labels = [short_label(data.study[i]) for i in idx] + [r[1] for r in pooled_rows]
    ticks = list(rows) + [r[0] for r in pooled_rows]
    ax.set_yticks(ticks, labels)
    top = max(ticks) + 1.0
    ax.set_ylim(min(ticks) - 0.8, top)
    ax.axhline(n_pooled + 0.5, color=GREY, lw=0.5)
    ax.set_xlabel(direction_label(data))
    for a in (ax, tx):
        for spine in ("top", "right", "left"):
            a.spines[spine].set_visible(False)
        a.tick_params(axis="y", length=0)
    # Right-hand table: observed [CI], shrunken [CrI], weight (RevMan-style percent).
    tx.set_xlim(0, 1)
    tx.set_xticks([])
    tx.spines["bottom"].set_visible(False)
    headers = {"observed": f"Observed [{ci:.0%} CI]", "shrunken": f"Shrunken [{ci:.0%} CrI]",
               "weight": f"Weight ({weight_source.method})"}
    xpos = dict(zip(columns, (0.0, 0.40, 0.82)))
    for col, x in xpos.items():
        tx.text(x, top - 0.3, headers[col], fontsize=8, fontweight="bold", va="center")
    for row, i in zip(rows, idx):
        s = shrink.iloc[i]
        cells = {"observed": (f"{data.y[i]:.2f} [{data.y[i] - z * data.se[i]:.2f}, {data.y[i] + z * data.se[i]:.2f}]",
                              "black"),
                 "shrunken": (f"{s['mean']:.2f} [{s['lower']:.2f}, {s['upper']:.2f}]", BLUE),
                 "weight": (f"{weights[i]:.1f}%", "black")}
        for col, x in xpos.items():
            tx.text(x, row, cells[col][0], fontsize=8, va="center", color=cells[col][1])
    x_pooled = xpos.get("shrunken", xpos.get("observed", 0.0))
    for y_row, _, r in pooled_rows:
        tx.text(x_pooled, y_row, f"{r['mean']:.2f} [{r['lower']:.2f}, {r['upper']:.2f}]", fontsize=8, va="center",
                fontweight="bold")
    fig.suptitle(short_label(title, 120) if title else f"Bayesian random-effects meta-analysis, k = {data.k}; mu ~ "
                 f"{fit.spec.mu_prior}, tau ~ {fit.spec.tau_prior}", fontsize=10, x=0.02, ha="left", va="top",
                 y=1 - 0.1 / height)  # in inches from the top: clear of the column headers however tall the plot
    ax.plot([], [], "s", color=GREY, label=f"observed ({ci:.0%} CI)")
    ax.plot([], [], "o-", color=BLUE, label=f"shrunken posterior ({ci:.0%} CrI)")
    ax.plot([], [], color=BLUE, lw=5, alpha=0.45, label=f"{ci:.0%} predictive interval")
    fig.legend(loc="lower left", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.02, 0.0))
    fig.subplots_adjust(bottom=0.95 / height, top=1 - 0.45 / height)
    return fig


def _diamond(ax, lo, mid, hi, y, color):
    ax.fill([lo, mid, hi, mid], [y, y + 0.3, y, y - 0.3], color=color, alpha=0.85)


def _z(ci):
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + ci / 2)


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


def _prob_text(p) -> str:
    """'= 0.09' (two decimals in the middle, three near 0 and 1), '< 0.001', '> 0.999'."""
    if p < 0.001:
        return "< 0.001"
    if p > 0.999:
        return "> 0.999"
    return f"= {p:.2f}" if 0.01 <= p <= 0.99 else f"= {p:.3f}"


def subgroup_test_text(result) -> str:
    """RevMan's line for a frequentist subgroup analysis: 'Test for subgroup differences (DL): Chi² = 2.25,
    df = 2 (P = 0.32), I² = 11.1%', with I² = max(0, (Q - df) / Q)."""
    q, df = float(result.Q_between), result.Q_between_df
    i2 = 100 * max(0.0, (q - df) / q) if q > 0 else 0.0
    return (f"Test for subgroup differences ({result.label}): Chi\u00b2 = {q:.2f}, df = {df} "
            f"({format_pvalue(result.Q_between_pvalue)}), I\u00b2 = {i2:.1f}%")


def subgroup_difference_lines(fit, ci: float = 0.95, width: int = 30) -> list[str]:
    """One line per pair of subgroups: 'P(online − group > 0) = 0.09; difference -0.29 [-0.71, 0.13]', the
    later subgroup minus the earlier, '>' or '<' the benefit direction (fit.differences())."""
    import itertools

    table = fit.differences(ci=ci)
    op = benefit_operator(fit.data.benefit)
    pairs = list(itertools.combinations(fit.family.groups, 2))  # the order of fit.family.contrasts()
    out = []
    for (a, b), (_, row) in zip(pairs, table.iterrows()):
        out.append(f"P({short_label(b, width)} \u2212 {short_label(a, width)} {op} 0) {_prob_text(row[f'P({op} 0)'])}; "
                   f"difference {row['mean']:.2f} [{row['lower']:.2f}, {row['upper']:.2f}]")
    return out


def _by_moderators(result, data, subgroup=None, moderators=None, terms=None):
    """A frequentist result for the fit's subgroups or formula: as given if it is one, else recomputed with the same
    method, CI type and level."""
    from .frequentist_methods import frequentist

    if subgroup is not None and result.subgroups is not None:
        if result.subgroup != subgroup:
            raise ValueError(f"the frequentist result is a subgroup analysis by {result.subgroup!r}, the fit by "
                             f"{subgroup!r}")
        return result
    if moderators is not None and result.moderators is not None and result.subgroups is None:
        if result.k != data.k or tuple(result.coefficients.index) != tuple(terms):
            raise ValueError(f"the frequentist meta-regression ({result.moderators}, k = {result.k}) is not the fit's "
                             f"({moderators}, k = {data.k})")
        return result
    return frequentist(data, method=result.preset or result.method, ci=result.ci, level=result.level,
                       subgroup=subgroup, moderators=moderators)


def _forest_subgroups(fit, freq, order, ci, columns, title):
    from .design import subgroup_labels
    from .frequentist_methods import as_results, frequentist

    fam, data = fit.family, fit.data
    results = [_by_moderators(r, data, subgroup=fam.column) for r in as_results(freq)]
    if results:
        source = results[0]
    else:  # for the weights: the fit has already warned about what the data hold (e.g. a subgroup of one study)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = frequentist(data, method="REML", subgroup=fam.column)
    labels = np.asarray(subgroup_labels(data, fam.column)[0], dtype=str)
    table = source.subgroups.rename(index=str)
    tau2 = np.array([float(np.nan_to_num(table.loc[g, "tau2"])) for g in labels])
    w = 1 / (data.vi + tau2)
    weights = np.empty(data.k)
    for g in fam.groups:
        weights[labels == g] = 100 * w[labels == g] / w[labels == g].sum()
    summ = fit.summary(ci=ci)
    separate = fam.tau_mode == "separate"
    blocks = []
    for g in fam.groups:
        gl = short_label(g, 30)
        heading = []
        if separate:
            t = summ.loc[f"tau[{g}]"]
            heading.append((f"tau = {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}]", BLUE))
        for r in results:
            row = r.subgroups.rename(index=str).loc[g]
            het = ", ".join(f"{name} = {row[col]:{fmt}}" for name, col, fmt in
                            (("Tau\u00b2", "tau2", ".2f"), ("I\u00b2", "I2", ".0f")) if np.isfinite(row[col]))
            het = (het + ("%" if np.isfinite(row["I2"]) else "")) or "heterogeneity not estimable"
            heading.append((f"{r.label}: {het}", ORANGE))
        pooled = [("diamond", f"Bayesian mu[{gl}] ({ci:.0%} CrI)", summ.loc[f"mu[{g}]"], BLUE),
                  ("bar", f"New study in {gl} ({ci:.0%} predictive interval)", summ.loc[f"theta_new[{g}]"], BLUE)]
        for r in results:
            row = r.subgroups.rename(index=str).loc[g]
            pooled.append(("diamond", f"{r.label}, {gl} ({r.level:.0%} CI)",
                           dict(mean=row["mu"], lower=row["lower"], upper=row["upper"]), ORANGE))
        blocks.append(dict(heading=f"{short_label(g, 40)} (k = {fam.sizes[g]})", heading_note=heading,
                           studies=np.flatnonzero(labels == g), pooled=pooled, vline=summ.loc[f"mu[{g}]", "mean"]))
    notes = [(subgroup_test_text(r), "black") for r in (results or [source])]
    op = benefit_operator(data.benefit)
    side = "" if data.benefit is None else f"; {op} 0: the first named subgroup's effect is the more favourable"
    diffs = subgroup_difference_lines(fit, ci)
    if len(diffs) > 8:  # many subgroups: three pairs a line
        diffs = ["   ".join(diffs[i:i + 3]) for i in range(0, len(diffs), 3)]
    notes.append((f"Bayesian differences between subgroup means (posterior mean [{ci:.0%} CrI]{side}):", BLUE))
    notes += [("    " + d, BLUE) for d in diffs]
    if separate:
        notes.append(("Each subgroup has its own tau (posterior median [CrI] in its heading).", BLUE))
    else:
        t = summ.loc["tau"]
        notes.append((f"tau common to all subgroups: {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}] "
                      f"(posterior median [{ci:.0%} CrI]), borrowing strength across subgroups.", BLUE))
    notes.append((f"Weights within each subgroup ({source.label}).", GREY))
    title = title or (f"Bayesian subgroup analysis by {short_label(fam.column, 40)} ({fam.tau_mode} tau), "
                      f"k = {data.k}; mu[g] ~ {fit.spec.mu_prior}, tau ~ {fit.spec.tau_prior}")
    legend = [("observed", ci), ("shrunken", ci), ("bayes", ci), ("predictive", ci)] + (
        [("freq", results[0].level)] if results else [])
    return _forest_blocks(fit, ci, columns, order, weights, source.label, blocks, notes, title, legend)


def _forest_clusters(fit, freq, order, ci, columns, title):
    """Three-level fits: the effects in one block per cluster (heading: the cluster and its number of effects),
    then the pooled mu, the predictive interval of a new effect in a new cluster and the frequentist results."""
    from .frequentist_methods import as_results, frequentist

    fam, data = fit.family, fit.data
    results = as_results(freq)
    source = results[0] if results else frequentist(data, method="REML", model="three-level")
    weights = source.weights.to_numpy()
    summ = fit.summary(ci=ci)
    sizes = np.bincount(fam.cluster_index, minlength=fam.clusters)
    blocks = [dict(heading=f"{short_label(c, 40)} ({sizes[j]} effect{'s' if sizes[j] > 1 else ''})",
                   studies=np.flatnonzero(fam.cluster_index == j), pooled=[])
              for j, c in enumerate(fam.cluster_names)]
    pooled = [("diamond", f"Bayesian mu ({ci:.0%} CrI)", summ.loc["mu"], BLUE),
              ("bar", f"New effect in a new cluster ({ci:.0%} predictive interval)", summ.loc["theta_new"], BLUE)]
    pooled += [("diamond", f"{r.label} ({r.level:.0%} CI)", dict(mean=r.mu, lower=r.lower, upper=r.upper), ORANGE)
               for r in results]
    blocks.append(dict(heading="All clusters", studies=[], pooled=pooled))
    t, tw = summ.loc["tau"], summ.loc["tau_within"]
    notes = [(f"tau between clusters {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}], within clusters "
              f"{tw['median']:.2f} [{tw['lower']:.2f}, {tw['upper']:.2f}] (posterior median [{ci:.0%} CrI]).", BLUE),
             (f"Weights: each effect's share of the pooled estimate ({source.label}).", GREY)]
    title = title or (f"Bayesian three-level meta-analysis, {data.k} effects in {fam.clusters} clusters; "
                      f"mu ~ {fit.spec.mu_prior}, tau ~ {fit.spec.tau_prior}, tau_within ~ {fit.spec.tau_within_prior}")
    legend = [("observed", ci), ("shrunken", ci), ("bayes pooled", ci), ("predictive", ci)] + (
        [("freq pooled", results[0].level)] if results else [])
    return _forest_blocks(fit, ci, columns, order, weights, source.label, blocks, notes, title, legend)


def _forest_regression(fit, freq, order, ci, columns, title):
    from .frequentist_methods import as_results, frequentist

    fam, data = fit.family, fit.data
    results = [_by_moderators(r, data, moderators=fam.formula, terms=fam.terms) for r in as_results(freq)]
    if results:
        source = results[0]
    else:  # for the weights: the fit has already warned about what the data hold
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = frequentist(data, method="REML", moderators=fam.formula)
    weights = source.weights.to_numpy()
    summ = fit.summary(ci=ci)
    t, i2 = summ.loc["tau"], summ.loc["I2"]
    notes = [(f"Meta-regression {fam.formula}: shrunken study effects given each study's moderator values; no "
              "single pooled effect (see fit.coefficients(), fit.predict() and plots.bubble).", BLUE),
             (f"Residual heterogeneity: tau = {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}], I\u00b2 = "
              f"{i2['median']:.0f}% [{i2['lower']:.0f}, {i2['upper']:.0f}] (posterior median [{ci:.0%} CrI]).", BLUE)]
    for r in results:
        df = r.QM_df
        test = (f"F = {r.QM:.2f}, df = {df[0]}, {df[1]}" if isinstance(df, tuple) else f"QM = {r.QM:.2f}, df = {df}")
        r2 = "" if r.R2 is None or not np.isfinite(r.R2) else f", R\u00b2 = {r.R2:.0f}%"
        notes.append((f"{r.label}: tau\u00b2 = {r.tau2:.3f}, test of moderators {test} ({format_pvalue(r.QM_pvalue)})"
                      f"{r2}", ORANGE))
    if getattr(fam.design, "dropped", ()):
        notes.append((f"Left out for a missing moderator: {', '.join(str(d[1]) for d in fam.design.dropped)}", GREY))
    title = title or (f"Bayesian meta-regression {short_label(fam.formula, 60)}, k = {data.k}; "
                      f"tau ~ {fit.spec.tau_prior}")
    fitted = fam.design.X @ fit.coefficients(ci=ci)["mean"].to_numpy()  # posterior mean of x_i' beta
    blocks = [dict(heading=None, studies=np.arange(data.k), pooled=[], vline=None, fitted=fitted)]
    legend = [("observed", ci), ("shrunken given moderators", ci), ("fitted", ci)]
    return _forest_blocks(fit, ci, columns, order, weights, source.label, blocks, notes, title, legend)


_ROW_IN = 0.3  # inches per forest plot row
_NOTE_IN = 0.19  # inches per note line under a forest plot


def _forest_blocks(fit, ci, columns, order, weights, weight_label, blocks, notes, title, legend):
    """The forest plot in blocks of studies, each with an optional heading row and pooled rows after its studies;
    `notes` (text, colour) are printed under the axis, above the legend."""
    from matplotlib.lines import Line2D

    plt = _plt()
    data = fit.data
    z = _z(ci)
    shrink = fit.shrinkage(ci=ci)
    entries = []  # (kind, payload, height in rows), top to bottom
    for b in blocks:
        idx = np.asarray(b["studies"], int)
        if order == "effect":
            idx = idx[np.argsort(data.y[idx], kind="stable")]
        elif order == "weight":
            idx = idx[np.argsort(-weights[idx], kind="stable")]
        if b.get("heading"):
            entries.append(("heading", b, 1.0))
        entries += [("study", i, 1.0) for i in idx] + [("pooled", r, 1.0) for r in b["pooled"]]
        entries.append(("gap", b, 0.6))
    entries.pop()
    span = sum(h for *_, h in entries)
    ys, y = [], span
    for *_, h in entries:
        ys.append(y)
        y -= h
    legend_rows = math.ceil(len(legend) / 3)
    bottom_in = 0.6 + _NOTE_IN * len(notes) + 0.22 * legend_rows + 0.1
    top_in = 0.45
    height = _ROW_IN * (span + 1.8) + bottom_in + top_in
    fig, (ax, tx) = plt.subplots(1, 2, figsize=(11, height), sharey=True,
                                 gridspec_kw=dict(width_ratios=(1.35, 1), wspace=0.02))
    tx.set_xlim(0, 1)
    headers = {"observed": f"Observed [{ci:.0%} CI]", "shrunken": f"Shrunken [{ci:.0%} CrI]",
               "weight": f"Weight ({weight_label})"}
    xpos = dict(zip(columns, (0.0, 0.40, 0.82)))
    top = ys[0] + 1.0
    for col, x in xpos.items():
        tx.text(x, top - 0.3, headers[col], fontsize=8, fontweight="bold", va="center")
    x_pooled = xpos.get("shrunken", xpos.get("observed", 0.0))
    ticks, tick_labels, bold = [], [], []
    block_rows = {}  # id(block) -> rows of its studies and pooled rows
    fitted = blocks[0].get("fitted")  # meta-regression: the mean effect x_i' beta at each study's moderators
    current = None
    for (kind, item, _), row in zip(entries, ys):
        if kind == "heading":
            current = id(item)
            ticks.append(row)
            tick_labels.append(item["heading"])
            bold.append(True)
            previous = None
            for text, colour in item.get("heading_note", []):  # one after the other on the heading row
                if previous is None:
                    previous = tx.text(0.0, row, text, fontsize=7.5, va="center", color=colour)
                else:
                    previous = tx.annotate(text, xy=(1, 0.5), xycoords=previous, xytext=(9, 0),
                                           textcoords="offset points", fontsize=7.5, va="center", color=colour)
            continue
        if kind == "gap":
            current = None
            continue
        if kind == "study":
            i = item
            lo, hi = data.y[i] - z * data.se[i], data.y[i] + z * data.se[i]
            ax.plot([lo, hi], [row + 0.15] * 2, color=GREY, lw=1.2)
            ax.plot(data.y[i], row + 0.15, "s", color=GREY, ms=3 + 9 * math.sqrt(weights[i] / np.max(weights)))
            s = shrink.iloc[i]
            ax.plot([s["lower"], s["upper"]], [row - 0.15] * 2, color=BLUE, lw=1.6)
            ax.plot(s["mean"], row - 0.15, "o", color=BLUE, ms=4)
            if fitted is not None:
                ax.plot(fitted[i], row - 0.15, "|", color=GREEN, ms=9, mew=2)
            cells = {"observed": (f"{data.y[i]:.2f} [{lo:.2f}, {hi:.2f}]", "black"),
                     "shrunken": (f"{s['mean']:.2f} [{s['lower']:.2f}, {s['upper']:.2f}]", BLUE),
                     "weight": (f"{weights[i]:.1f}%", "black")}
            for col, x in xpos.items():
                tx.text(x, row, cells[col][0], fontsize=8, va="center", color=cells[col][1])
            label = short_label(data.study[i])
        else:
            shape, label, r, colour = item
            mean, lo, hi = float(r["mean"]), float(r["lower"]), float(r["upper"])
            if not np.all(np.isfinite([mean, lo, hi])):
                tx.text(x_pooled, row, "not estimable", fontsize=8, va="center", color=GREY)
            elif shape == "diamond":
                _diamond(ax, lo, mean, hi, row, colour)
            else:
                ax.plot([lo, hi], [row] * 2, color=colour, lw=5, alpha=0.45, solid_capstyle="butt")
            if np.all(np.isfinite([mean, lo, hi])):
                tx.text(x_pooled, row, f"{mean:.2f} [{lo:.2f}, {hi:.2f}]", fontsize=8, va="center", fontweight="bold",
                        color="black" if colour == BLUE else colour)
        ticks.append(row)
        tick_labels.append(label)
        bold.append(False)
        block_rows.setdefault(current if current is not None else id(blocks[0]), []).append(row)
    for b in blocks:
        rows = block_rows.get(id(b))
        if b.get("vline") is not None and rows:
            ax.plot([b["vline"]] * 2, [max(rows) + 0.45, min(rows) - 0.45], color=BLUE, lw=0.8, ls=":")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ticks, tick_labels)
    for lab, is_bold in zip(ax.get_yticklabels(), bold):
        if is_bold:
            lab.set_fontweight("bold")
    ax.set_ylim(min(ys) - 0.8, top)
    for row, (kind, *_) in zip(ys, entries):
        if kind == "gap":
            ax.axhline(row - 0.3, color=GREY, lw=0.5)
    ax.set_xlabel(direction_label(data))
    for a in (ax, tx):
        for spine in ("top", "right", "left"):
            a.spines[spine].set_visible(False)
        a.tick_params(axis="y", length=0)
    tx.set_xticks([])
    tx.spines["bottom"].set_visible(False)
    fig.suptitle(short_label(title, 140), fontsize=10, x=0.02, ha="left", va="top", y=1 - 0.1 / height)
    # Notes under the axis (the test for subgroup differences, the Bayesian differences, tau), then the legend.
    legend_in = 0.22 * legend_rows + 0.1
    for j, (text, colour) in enumerate(notes):
        fig.text(0.02, (legend_in + _NOTE_IN * (len(notes) - j - 0.5)) / height, text, fontsize=8, va="center",
                 color=colour)
    styles = {"observed": dict(marker="s", color=GREY, ls="none", label=f"observed ({ci:.0%} CI)"),
              "shrunken": dict(marker="o", color=BLUE, label=f"shrunken posterior ({ci:.0%} CrI)"),
              "shrunken given moderators": dict(marker="o", color=BLUE,
                                                label=f"shrunken posterior given the moderators ({ci:.0%} CrI)"),
              "bayes": dict(marker="D", color=BLUE, ls="none", label=f"Bayesian subgroup mean ({ci:.0%} CrI)"),
              "predictive": dict(color=BLUE, lw=5, alpha=0.45, label=f"{ci:.0%} predictive interval"),
              "freq": dict(marker="D", color=ORANGE, ls="none", label="frequentist subgroup estimate (CI)"),
              "bayes pooled": dict(marker="D", color=BLUE, ls="none", label=f"Bayesian pooled mean ({ci:.0%} CrI)"),
              "freq pooled": dict(marker="D", color=ORANGE, ls="none", label="frequentist pooled estimate (CI)"),
              "fitted": dict(marker="|", color=GREEN, ls="none", ms=9, mew=2,
                             label="mean effect at the study's moderator values (x'beta)")}
    handles = [Line2D([], [], **styles[name]) for name, _ in legend]
    fig.legend(handles=handles, loc="lower left", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.02, 0.0))
    fig.subplots_adjust(bottom=bottom_in / height, top=1 - top_in / height)
    return fig


# --------------------------------------------------------------------------- RevMan-style forest plot
ARM_FIELDS = (("mean", "Mean"), ("sd", "SD"), ("events", "Events"), ("n", "Total"))  # RevMan's column order
REVMAN_FAMILIES = ("normal-normal", "subgroups")  # the models RevMan draws a forest plot of
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
    from .frequentist_methods import as_results, frequentist
    from .posterior import check_ci

    ci = check_ci(ci)
    fam, data = fit.family, fit.data
    family = getattr(fam, "name", "normal-normal")
    if family not in REVMAN_FAMILIES:
        raise ValueError(f"RevMan draws no forest plot of a {family} model (RevMan pools studies, overall or by "
                         "subgroup): use style='bayes'" + (" or plots.bubble" if family == "meta-regression" else ""))
    results = as_results(freq)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what the data hold (e.g. a subgroup of one study) the fit has said
        source = results[0] if results else frequentist(data, method="revman5")
        if family == "subgroups":
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
        rows = [("bayes", f"Bayesian: pooled effect{where} ({ci:.0%} CrI)", (m["mean"], m["lower"], m["upper"]),
                 "diamond"),
                ("bayes", f"Bayesian: new study{where} ({ci:.0%} PrI)", (p["mean"], p["lower"], p["upper"]), "bar")]
        if op:
            rows.append(("line", f"Bayesian: P({short_label(mean_q, 40)} {op} 0) {_prob_text(fit.prob(f'{mean_q} {op} 0'))}; "
                                 f"P({short_label(new_q, 40)} {op} 0) {_prob_text(fit.prob(f'{new_q} {op} 0'))}", BLUE))
        return rows

    rows = []  # (kind, ...) top to bottom
    missing_arms = False
    if family == "subgroups":
        from .design import subgroup_labels

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
    if family == "subgroups":
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
    coef = "mu[g]" if family == "subgroups" else "mu"
    rows.append(("line", f"Bayesian model (blue): {coef} ~ {fit.spec.mu_prior}" +
                 (f", tau ~ {fit.spec.tau_prior}; {taus} (posterior median [{ci:.0%} CrI])" if tau_rows
                  else "; common effect (tau = 0)"), BLUE))
    rows.append(("line", f"Bayesian rows: posterior mean [{ci:.0%} credible interval]; PrI: predictive interval of "
                         "the effect in a new study.", BLUE))
    for kind, *rest in rows:
        if kind == "study" and arms[0][0] and any(cell(col, h, rest[0]) == "" for _, cols in arms for col, h in cols):
            missing_arms = True
    if missing_arms:
        rows.append(("line", "A blank arm cell: not reported (the effect was entered directly); totals count the "
                             "studies with arm data.", GREY))

    # ---- column layout, in inches from the left edge
    study_labels = {i: short_label(data.study[i], 45) for kind, *rest in rows if kind == "study" for i in rest[:1]}
    label_w = _text_width(list(study_labels.values()) + ["Study or Subgroup", "Subtotal (95% CI)"]) + _RM_PAD
    label_w = max(label_w, _text_width(["Study or Subgroup", "Total (95% CI)", "Subtotal (95% CI)"], bold=True) + _RM_PAD)
    col_w = {}
    for _, cols in arms:
        for col, header in cols:
            values = [cell(col, header, i) for i in study_labels] + list(totals(np.arange(data.k)).values())
            col_w[col] = max(_text_width(values), _text_width([header], bold=True),
                             _text_width(values, bold=True)) + _RM_PAD
    weight_w = _text_width(["100.0%", "Weight"], bold=True) + _RM_PAD
    est_texts, ci_texts = [], []
    for kind, *rest in rows:
        if kind in ("study", "total", "bayes"):
            mean, lo, hi = _row_interval(kind, rest, data, z)
            est_texts.append(f"{mean:.2f}")
            ci_texts.append(f"[{lo:.2f}, {hi:.2f}]")
    est_w = _text_width(est_texts, bold=True)
    ci_w = _text_width(ci_texts, bold=True)
    effect_w = max(est_w + 0.06 + ci_w, _text_width([measure, method], bold=True)) + _RM_PAD
    group_gap = 0.12
    x = 0.1
    x_label = x
    x += label_w
    col_right, groups_span = {}, []
    for name, cols in arms:
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
    span_bayes = _text_width([r[1] for r in rows if r[0] == "bayes"])
    span_lines = max(_text_width([r[1] for r in rows if r[0] == "line"], size=_RM_FONT - 0.5),
                     _text_width([r[1] for r in rows if r[0] == "heading"], bold=True))
    extra = max(0.0, span_bayes + _RM_PAD - (x_effect0 - x_label), span_lines + _RM_PAD - (x_plot - x_label))
    if extra > 0:  # widen the label column
        label_w += extra
        col_right = {c: v + extra for c, v in col_right.items()}
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
    for r in rows:
        h = heights.get(r[0], 1.0) * _RM_ROW
        ys.append(y + h / 2)
        y += h
    body_bottom = y + 0.05
    axis_h = 0.75
    height = body_bottom + axis_h

    plt = _plt()
    fig = plt.figure(figsize=(width, height))
    tab = fig.add_axes((0, 0, 1, 1))
    tab.set_xlim(0, width)
    tab.set_ylim(height, 0)
    tab.axis("off")
    ax = fig.add_axes((x_plot / width, 1 - body_bottom / height, _RM_PLOT / width, (body_bottom - body_top) / height))
    ax.set_ylim(body_bottom, body_top)
    fs = _RM_FONT
    if title:
        tab.text(x_label, 0.12, short_label(title, 150), fontsize=fs + 1.5, fontweight="bold", va="top")
    # header: group names over their columns (underlined), then the column names
    h1, h2 = head_top + 0.7 * _RM_ROW, head_top + 1.8 * _RM_ROW
    for name, a, b in groups_span:
        if name:
            tab.text((a + b) / 2, h1, name, fontsize=fs, fontweight="bold", ha="center", va="center")
            tab.plot([a, b], [h1 + 0.45 * _RM_ROW] * 2, color="black", lw=0.6)
    tab.text(x_label, h2, "Study or Subgroup", fontsize=fs, fontweight="bold", va="center")
    for _, cols in arms:
        for col, header in cols:
            tab.text(col_right[col], h2, header, fontsize=fs, fontweight="bold", ha="right", va="center")
    tab.text(x_weight, h2, "Weight", fontsize=fs, fontweight="bold", ha="right", va="center")
    for xc in (x_effect0 + (effect_w - _RM_PAD) / 2, x_plot + _RM_PLOT / 2):
        tab.text(xc, h1, measure, fontsize=fs, fontweight="bold", ha="center", va="center")
        tab.text(xc, h2, method, fontsize=fs, fontweight="bold", ha="center", va="center")
    tab.plot([x_label, x_plot + _RM_PLOT], [body_top - 0.25 * _RM_ROW] * 2, color=GREY, lw=0.5)

    limit_values = []
    for kind, *rest in rows:
        if kind in ("total", "bayes"):
            limit_values += list(_row_interval(kind, rest, data, z))
        elif kind == "study":
            limit_values.append(float(data.y[rest[0]]))
    limit = _symmetric_limit(limit_values)
    ax.set_xlim(-limit, limit)
    w_max = np.max(weights) if len(weights) else 1.0
    for (kind, *rest), yc in zip(rows, ys):
        if kind == "heading":
            tab.text(x_label, yc, rest[0], fontsize=fs, fontweight="bold", va="center")
        elif kind == "line":
            text, colour = rest
            tab.text(x_label, yc, text, fontsize=fs - 0.5, va="center", color=colour)
        elif kind in ("study", "total", "bayes"):
            mean, lo, hi = _row_interval(kind, rest, data, z)
            bold = kind != "study"
            colour = BLUE if kind == "bayes" else "black"
            weight = "bold" if bold else "normal"
            if kind == "study":
                i = rest[0]
                tab.text(x_label, yc, study_labels[i], fontsize=fs, va="center")
                for _, cols in arms:
                    for col, header in cols:
                        tab.text(col_right[col], yc, cell(col, header, i), fontsize=fs, ha="right", va="center")
                tab.text(x_weight, yc, f"{weights[i]:.1f}%", fontsize=fs, ha="right", va="center")
                _revman_study(ax, mean, lo, hi, yc, limit, weights[i] / w_max)
            elif kind == "total":
                label, tot, w, _ = rest
                tab.text(x_label, yc, f"{label} ({overall.level:.0%} CI)", fontsize=fs, fontweight="bold", va="center")
                for col, text in tot.items():
                    tab.text(col_right[col], yc, text, fontsize=fs, fontweight="bold", ha="right", va="center")
                tab.text(x_weight, yc, f"{w:.1f}%", fontsize=fs, fontweight="bold", ha="right", va="center")
                _revman_diamond(ax, lo, mean, hi, yc, "black")
            else:
                label, _, shape = rest
                tab.text(x_label, yc, label, fontsize=fs, fontweight="bold", va="center", color=BLUE)
                if shape == "diamond":
                    _revman_diamond(ax, lo, mean, hi, yc, BLUE)
                else:
                    ax.plot([max(lo, -limit), min(hi, limit)], [yc, yc], color=BLUE, lw=5, alpha=0.45,
                            solid_capstyle="butt")
            tab.text(x_est, yc, f"{mean:.2f}", fontsize=fs, fontweight=weight, ha="right", va="center", color=colour)
            tab.text(x_est + 0.06, yc, f"[{lo:.2f}, {hi:.2f}]", fontsize=fs, fontweight=weight, va="center",
                     color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks([])
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ticks = [-limit, -limit / 2, 0.0, limit / 2, limit]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=fs)
    ax.tick_params(axis="x", length=3, pad=2)
    left, right = favours_labels(data.benefit)
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


# --------------------------------------------------------------------------- densities
HETEROGENEITY = ("tau", "I2")  # quantities bounded below by 0: tau, tau2, tau_within, I2, I2_between ...


def bounded(quantity: str) -> bool:
    """True for a heterogeneity quantity (an SD, a variance or an I²), which cannot be negative."""
    return split_base(quantity).startswith(HETEROGENEITY)


def posterior_curve(fit, quantity, x) -> np.ndarray:
    """The posterior density of `quantity` on the grid x: exact (`fit.density`, the normal mixture over tau) where
    the backend is exact; from the draws otherwise (a kernel density estimate, reflected at 0 for tau, tau², I²,
    which cannot be negative, so that the curve does not leak below the boundary). 0 below a boundary."""
    x = np.asarray(x, float)
    if not bounded(quantity):
        return np.nan_to_num(np.asarray(fit.density(quantity, x), float))
    # at 0 itself: the limit from above (the curve's value just inside the boundary)
    at = np.where(x == 0, max(float(np.max(np.abs(x))), 1.0) * 1e-9, x)
    y = np.nan_to_num(np.asarray(fit.density(quantity, at), float))
    if not fit.backend.exact:
        y = y + np.nan_to_num(np.asarray(fit.density(quantity, -at), float))
    return np.where(x < 0, 0.0, y)


def _grid(fit, quantity, lo_p=0.0005, hi_p=0.9995):
    """The range of x to draw a quantity over: its 0.05% to 99.95% quantiles, from 0 for heterogeneity."""
    lo, hi = (float(v) for v in fit.ppf(quantity, [lo_p, hi_p]))
    return (0.0, hi) if bounded(quantity) else (lo, hi)


EFFECT_TITLES = {"mu": "Pooled effect (mu)", "theta_new": "Effect in a new study (theta_new)",
                 "tau": "Between-study SD (tau)", "tau2": "Between-study variance (tau\u00b2)", "I2": "I\u00b2 (%)"}


@_plain
def density(fit, quantities=("mu", "theta_new"), thresholds=None, ci: float = 0.95):
    """Posterior densities with the regions beyond each threshold, in the benefit direction, shaded and their
    posterior probabilities written on the plot (the events of the report and of probabilities.csv; default
    thresholds: 0, and 0.2 in the benefit direction for SMDs); the bar under each curve is the `ci` credible
    interval, the dot the median. The curves are `posterior_curve`: the exact mixture densities for the exact
    engine (no random draws), kernel density estimates of the draws for MCMC.

    Normal-normal fits: one panel per quantity ("mu", "theta_new"; also "tau", "tau2" or "I2", unshaded, from 0) on
    a common x axis. Subgroup fits: one row of panels per subgroup, one panel per quantity ("mu" and/or "theta_new",
    i.e. mu[g] and theta_new[g]) on a common x axis, with the same shaded events. Meta-regression fits: the densities
    of the coefficients (or of the quantities named, e.g. ["beta[weeks]"]) with P(coefficient beyond 0 in the benefit
    direction) shaded: the probability that the effect is more favourable as the moderator rises (or than at the
    reference level)."""
    from .posterior import check_ci
    from .report import benefit_thresholds, default_thresholds, probability_events

    ci = check_ci(ci)
    plt = _plt()
    fam, data = fit.family, fit.data
    family = getattr(fam, "name", "normal-normal")
    op = benefit_operator(data.benefit)
    if isinstance(quantities, str):
        quantities = [quantities]
    quantities = list(quantities)
    shading = "the regions below each threshold" if data.benefit is None else "the probability of benefit"
    if family == "subgroups":
        bad = [q for q in quantities if q not in ("mu", "theta_new")]
        if bad or not quantities:
            raise ValueError(f"for a subgroup fit, density() draws 'mu' and/or 'theta_new' of each subgroup, not {bad}")
        cs = benefit_thresholds(default_thresholds(data) if thresholds is None else thresholds, data.benefit)
        what = {"mu": "mean effect (mu)", "theta_new": "a new study (theta_new)"}
        panels = [[(f"{q}[{g}]", f"{short_label(g, 30)}: {what[q]}",
                    probability_events(data, cs, quantities=(f"{q}[{g}]",))) for q in quantities] for g in fam.groups]
        suptitle = f"Posterior densities by subgroup ({short_label(fam.column, 40)}); shaded: {shading}"
        share = True
    elif family == "meta-regression":
        names = (fam.coefficient_rows() if quantities == ["mu", "theta_new"] else quantities)
        for q in names:
            fit.quantity(q)  # a clear error for a name the model does not have
        cs = [0.0]
        flat = [(q, short_label(q, 45), [f"{q} {op} 0"]) for q in names]
        ncols = min(3, len(flat))
        panels = [flat[i:i + ncols] for i in range(0, len(flat), ncols)]
        direction = "" if data.benefit is None else (
            " (the effect more favourable as the moderator rises, or than at the reference level)")
        suptitle = f"Meta-regression {short_label(fam.formula, 60)}: posterior densities; shaded: P(coefficient {op} 0)"
        suptitle += direction
        share = False
    else:
        if not quantities:
            raise ValueError("name at least one quantity to draw, e.g. ('mu', 'theta_new')")
        for q in quantities:
            fit.quantity(q)
        cs = benefit_thresholds(default_thresholds(data) if thresholds is None else thresholds, data.benefit)
        panels = [[(q, EFFECT_TITLES.get(q, short_label(q, 45)),
                    [] if bounded(q) else probability_events(data, cs, quantities=(q,)))
                   for q in quantities]]
        suptitle = f"Posterior densities; shaded: {shading}"
        share = not any(bounded(q) for q in quantities)
    nrows, ncols = len(panels), max(len(row) for row in panels)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 2.7 * nrows + 0.8), squeeze=False)
    if share:
        ends = np.array([_grid(fit, q) for row in panels for q, *_ in row])
        common = (min(ends[:, 0].min(), min(cs)), max(ends[:, 1].max(), max(cs)))
    from matplotlib import colormaps

    full_names = all(len(q) <= 24 for row in panels for q, *_ in row)  # else 'P(mu < 0)' under the subgroup's title
    for r, row in enumerate(panels):
        for c in range(ncols):
            ax = axes[r, c]
            if c >= len(row):
                ax.set_visible(False)
                continue
            q, title, events = row[c]
            lo, hi = common if share else _grid(fit, q)
            is_bounded = bounded(q)
            pad = 0.03 * (hi - lo)
            x = np.linspace(lo if is_bounded else lo - pad, hi + pad, 600)
            y = posterior_curve(fit, q, x)
            ax.plot(x, y, color=BLUE, lw=1.6)
            shades = colormaps["Greens"](np.linspace(0.25, 0.8, max(len(events), 1)))
            texts = []
            for colour, expr in zip(shades, events):
                _, cmp, value = expr.rsplit(" ", 2)
                cut = float(value)
                ax.fill_between(x, 0, y, where=x <= cut if cmp.startswith("<") else x >= cut, color=colour, alpha=0.9,
                                lw=0)
                shown = q if full_names else split_base(q)  # the panel's title names the subgroup or term
                texts.append(f"P({shown} {cmp} {value}) {_prob_text3(fit.prob(expr))}")
                if x[0] <= cut <= x[-1]:
                    ax.axvline(cut, color=GREY, lw=0.8, ls="--")
            q_lo, q_med, q_hi = fit.ppf(q, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
            ax.plot([q_lo, q_hi], [0, 0], color="black", lw=3, solid_capstyle="butt", clip_on=False)
            ax.plot(q_med, 0, "o", color="white", mec="black", ms=5, clip_on=False)
            med, lo_t, hi_t = _numbers(q_med, q_lo, q_hi)
            texts.append(f"median {med}, {ci:.0%} CrI {lo_t} to {hi_t}")
            ax.text(0.02, 0.96, "\n".join(texts), transform=ax.transAxes, va="top", fontsize=8,
                    bbox=dict(boxstyle="round", fc="white", ec=GREY, alpha=0.9))
            top = float(y[len(y) // 50:].max()) if is_bounded else float(y.max())  # I² can be infinite at 0
            ax.set_ylim(0, 1.75 * max(top, 1e-300))
            ax.set_xlim(x[0], x[-1])
            ax.set_yticks([])
            for spine in ("top", "right"):
                ax.spines[spine].set_visible(False)
            ax.set_title(title, fontsize=9, loc="left")
            if c == 0:
                ax.set_ylabel("posterior density", fontsize=8)
            if is_bounded:
                xlabel = f"{EFFECT_TITLES.get(split_base(q), q)}" + ("" if split_base(q) == "I2" else
                                                                     f" ({data.measure} units)")
            elif share or split_base(q) != "beta":
                xlabel = direction_label(data)
            else:
                xlabel = f"coefficient ({data.measure} per unit or against the reference level)"
            ax.set_xlabel(xlabel, fontsize=8)
    engine = ("exact posterior densities" if fit.backend.exact else
              "kernel density estimates of the posterior draws")
    fig.suptitle(wrapped(f"{suptitle}; black bar: {ci:.0%} credible interval, dot: median ({engine})",
                         int(16 * 5.2 * ncols)), fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def _numbers(*values) -> list[str]:
    """Numbers printed alike: two decimals, more where the largest is small (three significant digits)."""
    from .report import decimals_for, format_number

    d = max(2, decimals_for(values))
    return [format_number(v, d) for v in values]


def _prob_text3(p) -> str:
    """'= 0.685', '< 0.001', '> 0.999': a probability on a figure, three decimals."""
    if p < 0.001:
        return "< 0.001"
    if p > 0.999:
        return "> 0.999"
    return f"= {p:.3f}"


GROUP_COLOURS = (BLUE, GREEN, RED, "#6a3d9a", "#8c564b", "#17becf", "#7f7f00", "#e377c2")


def _group_colour(j):
    return GROUP_COLOURS[j % len(GROUP_COLOURS)]


def split_base(name: str) -> str:
    """'beta[weeks]' -> 'beta'."""
    return name.split("[", 1)[0].strip()


@_plain
def prior_posterior(fit, quantities=("tau", "mu")):
    """The prior density (the prior's own density function) against the posterior density (`posterior_curve`:
    exact for the exact engine) of tau, from 0 (each tau[g] when every subgroup has its own) and, where their priors
    are proper, of mu, of each subgroup mean mu[g] or of each coefficient beta[term] ("mu" or "beta" in `quantities`
    asks for these). A ValueError when no prior asked for is proper."""
    plt = _plt()
    fam, tau_prior = fit.family, fit.spec.tau_prior
    panels = []  # (quantity, prior density, title, prior's name)
    if "tau" in quantities and fam.random and tau_prior.proper:
        taus = ["tau"] if fam.tau_dim is None else [f"tau[{g}]" for g in fam.groups]
        for q in taus:
            panels.append((q, lambda x: np.exp(tau_prior.logpdf(x)), f"{short_label(q, 40)}: prior {tau_prior}",
                           tau_prior))
        within = getattr(fit.spec, "tau_within_prior", None)  # the second level of a multilevel model
        if within is not None and within.proper:
            panels.append(("tau_within", lambda x: np.exp(within.logpdf(x)), f"tau_within: prior {within}", within))
    if "mu" in quantities or "beta" in quantities:
        for name, prior in zip(fam.coefficient_rows(), fam.coef_priors):
            if prior.proper:
                panels.append((name, lambda x, p=prior: np.exp(p.logpdf(x)), f"{short_label(name, 40)}: prior {prior}",
                               prior))
    if not panels:
        raise ValueError("no proper prior to draw against the posterior (flat or improper priors)")
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.2 * nrows + 0.4), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for j, (ax, (q, prior_pdf, title, prior)) in enumerate(zip(axes.ravel(), panels)):
        lo, hi = _grid(fit, q)
        if bounded(q):  # from 0 (just above: the prior's and posterior's limits at the boundary)
            hi = max(hi * 1.2, min(float(prior.ppf(0.9)), 3 * hi))  # show the prior's bulk, not its heavy tail
            lo = hi * 1e-9
            what = "within-trial SD" if split_base(q) == "tau_within" else "between-study SD"
            xlabel = f"{split_base(q)} ({what}, {fit.data.measure} units)"
        else:
            width = hi - lo
            lo, hi = lo - width, hi + width
            xlabel = f"{short_label(q, 50)} ({fit.data.measure})"
        x = np.linspace(lo, hi, 600)
        ax.plot(x, np.nan_to_num(prior_pdf(x)), color=GREY, lw=1.5, ls="--", label=f"prior density ({prior})")
        ax.plot(x, posterior_curve(fit, q, x), color=BLUE, lw=1.8, label="posterior density")
        ax.set_xlim(0.0 if bounded(q) else lo, hi)
        ax.set_ylim(bottom=0)
        ax.set_yticks([])
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
        ax.set_title(short_label(title, 70), fontsize=9, loc="left")
        ax.set_xlabel(xlabel, fontsize=8)
        if j % ncols == 0:
            ax.set_ylabel("density", fontsize=8)
        ax.legend(frameon=False, fontsize=8)
    engine = "exact posterior density" if fit.backend.exact else "posterior: kernel density estimate of the draws"
    fig.suptitle(f"Prior (dashed) against posterior (solid); {engine}", fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- benefit curves
@_plain
def benefit_curves(fit, max_effect: float | None = None, n: int = 101):
    """P(mu beyond c) and P(theta_new beyond c) as c runs from 0 to `max_effect` in the benefit direction
    (default 1 for standardised mean differences, with Cohen's benchmarks; otherwise the effect a new study
    exceeds with 1% probability, in the units of the data).

    Subgroup fits: one colour per subgroup, P(mu[g] beyond c) solid and P(theta_new[g] beyond c) dashed.
    Meta-regression fits have no pooled effect: a ValueError says so (draw `bubble`, or ask `fit.prob` about a
    coefficient or `fit.predict` at given moderator values)."""
    plt = _plt()
    family = getattr(fit.family, "name", "normal-normal")
    if family == "meta-regression":
        raise ValueError("benefit curves are drawn for pooled effects (normal-normal and subgroup models); a "
                         "meta-regression has no single pooled effect: draw plots.bubble(fit, moderator) instead")
    if family == "subgroups":
        groups = fit.family.groups
        series = [(f"mu[{g}]", _group_colour(j), "-", f"{short_label(g, 30)}: mean effect")
                  for j, g in enumerate(groups)]
        series += [(f"theta_new[{g}]", _group_colour(j), "--", f"{short_label(g, 30)}: new study")
                   for j, g in enumerate(groups)]
    else:
        series = [("mu", BLUE, "-", "pooled effect mu"), ("theta_new", ORANGE, "-", "effect in a new study")]
    sign = benefit_sign(fit.data.benefit)
    standardised = fit.data.measure in STANDARDISED
    if max_effect is None:
        max_effect = 1.0 if standardised else max(float(np.max(np.abs(fit.ppf(q, [0.01, 0.99]))))
                                                  for q, *_ in series if q.startswith("theta_new"))
    if not (np.isfinite(max_effect) and max_effect > 0):
        raise ValueError(f"max_effect must be a positive number, not {max_effect!r}")
    cs = np.linspace(0, max_effect, n)
    op = benefit_operator(fit.data.benefit)
    fig, ax = plt.subplots(figsize=(6.4 if family != "subgroups" else 9.2, 4))
    for q, colour, style, label in series:
        ax.plot(cs, [fit.prob(f"{q} {op} {sign * c:g}") for c in cs], color=colour, lw=2, ls=style, label=label)
    for c, name in ((0.2, "small"), (0.5, "medium"), (0.8, "large")):
        if standardised and c <= max_effect:
            ax.axvline(c, color=GREY, lw=0.7, ls=":")
            ax.text(c, 1.02, name, ha="center", fontsize=8, color=GREY, transform=ax.get_xaxis_transform())
    ax.set_ylim(0, 1)
    ax.set_xlim(0, max_effect)
    word = "reduction" if sign < 0 else "improvement"
    ax.set_xlabel(f"size of {word} c (|{fit.data.measure}|" + (", Cohen's benchmarks dotted)" if standardised else ")"))
    ax.set_ylabel(f"P(effect {op} {'-' if sign < 0 else ''}c)")
    if family == "subgroups":
        ax.set_title(f"Probability of benefit of at least c, by {short_label(fit.family.column, 40)}", fontsize=10,
                     loc="left", pad=16)
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.set_title("Probability of benefit of at least c", fontsize=10, loc="left", pad=16)
        ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bubble plot
def _enters_as_factor(design, column) -> bool:
    """True when the formula reads `column` as a factor, e.g. C(weeks) (formulaic's encoder state)."""
    state = getattr(design.spec, "encoder_state", None) or {}
    pattern = re.compile(rf"(?<![\w.]){re.escape(column)}(?!\w)")
    for expression, value in state.items():
        kind = value[0] if isinstance(value, tuple) else value
        if pattern.search(str(expression)) and str(getattr(kind, "value", kind)) == "categorical":
            return True
    return False


@_plain
def bubble(fit, moderator: str, at: dict | None = None, ci: float = 0.95, n: int = 101):
    """Bubble plot of a meta-regression: the observed effects against a continuous moderator (a numeric column
    of the formula), each circle's area proportional to the study's random-effects weight 1 / (se² + tau²) with
    tau its posterior median; the posterior mean of the effect x'beta along the moderator (`fit.predict` on `n`
    points from the smallest to the largest value of the moderator) with its `ci` credible band and the wider
    predictive band of a new study. The other moderators of the formula are held at `at` (a dict column ->
    value) or else at their reference level (factors) or mean (numbers); the subtitle says which. The circles are
    the observed effects as they are (not adjusted to those values of the other moderators).

    A ValueError for a fit without moderators, a moderator that is not a column of the formula or that enters
    it as a factor (C(x)), and for `at` naming a column the formula does not use."""
    import pandas as pd

    from .posterior import check_ci

    ci = check_ci(ci)
    fam = fit.family
    if getattr(fam, "name", None) != "meta-regression":
        raise ValueError(f"a bubble plot needs a meta-regression fit (bm.fit(data, moderators='~ ...')); this is a "
                         f"{getattr(fam, 'name', 'normal-normal')} model without moderators")
    design = fam.design
    if not isinstance(moderator, str) or moderator not in design.columns:
        raise ValueError(f"{moderator!r} is not a column of the formula {design.formula!r}; its columns are "
                         f"{list(design.columns)}")
    if moderator in design.levels or _enters_as_factor(design, moderator):
        raise ValueError(f"{moderator!r} enters the formula {design.formula!r} as a factor; a bubble plot needs a "
                         "numeric (continuous) moderator")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be a whole number of grid points, 2 or more, not {n!r}")
    at = {} if at is None else at
    if not isinstance(at, dict):
        raise ValueError(f"at must be a dict of moderator values such as {{'setting': 'group'}}, not {at!r}")
    others = [c for c in design.columns if c != moderator]
    unknown = [c for c in at if c not in others]
    if unknown:
        raise ValueError(f"at: {unknown[0]!r} is not another moderator of the formula {design.formula!r} (others: "
                         f"{others})")
    data = fit.data
    table = data.moderators.reset_index(drop=True)
    x = pd_numeric(table[moderator])
    held, said = {}, []
    for col in others:
        if col in at:
            held[col], how = at[col], ""
        elif col in design.levels:
            held[col], how = design.levels[col][0], " (reference level)"
        else:
            held[col], how = float(pd_numeric(table[col]).mean()), " (mean)"
        value = f"{held[col]:.3g}" if isinstance(held[col], float) else short_label(held[col], 30)
        said.append(f"{short_label(col, 30)} = {value}{how}")
    grid = np.linspace(x.min(), x.max(), n)
    newdata = pd.DataFrame({moderator: grid, **{c: [v] * n for c, v in held.items()}})
    pred = fit.predict(newdata, ci=ci)
    tau = float(fit.ppf("tau", 0.5)[0]) if fam.random else 0.0
    w = 1 / (data.se**2 + tau**2)
    area = 500 * w / w.max()  # points²: area proportional to the weight
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.6, 5.2))
    ax.fill_between(grid, pred["pred_lower"], pred["pred_upper"], color=BLUE, alpha=0.10, lw=0,
                    label=f"{ci:.0%} predictive band (effect in a new study)")
    ax.fill_between(grid, pred["lower"], pred["upper"], color=BLUE, alpha=0.28, lw=0,
                    label=f"{ci:.0%} credible band (mean effect)")
    ax.plot(grid, pred["mean"], color=BLUE, lw=2, label="posterior mean effect")
    ax.scatter(x, data.y, s=area, color=GREY, alpha=0.55, edgecolors="black", linewidths=0.7, zorder=3,
               label=f"studies (area \u221d weight 1/(se\u00b2 + tau\u00b2), tau = {tau:.2f})")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel(short_label(moderator))
    ax.set_ylabel(direction_label(data))
    ax.grid(alpha=0.3)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    title = (f"Meta-regression {short_label(design.formula, 60)}: effect against {short_label(moderator, 30)}, "
             f"k = {data.k}")
    held_text = ("other moderators held at " + ", ".join(said)) if said else "no other moderators"
    sub = f"Posterior mean and bands from fit.predict; tau = posterior median; {held_text}"
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    ax.set_title(wrapped(sub, 105), fontsize=8, loc="left", color=GREY)
    handles, labels = ax.get_legend_handles_labels()
    order = [3, 2, 1, 0]  # studies, mean, credible, predictive
    legend = ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8, frameon=False,
                       loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    legend.legend_handles[0].set_sizes([60])
    fig.tight_layout()
    return fig


def pd_numeric(values) -> np.ndarray:
    """A moderator column as floats (the design has checked that it holds numbers)."""
    import pandas as pd

    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)


# --------------------------------------------------------------------------- funnel, trace, rank
@_plain
def funnel(data, result=None, level: float = 0.95):
    """Funnel plot: effects against standard errors with the pooled estimate and pseudo-CI lines."""
    from .frequentist_methods import egger_test, funnel_data

    plt = _plt()
    f = funnel_data(data, result, level)
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    ax.fill_betweenx(f["se_grid"], f["lower"], f["upper"], color="#eeeeee")
    ax.plot(f["lower"], f["se_grid"], color=GREY, lw=0.8, ls="--")
    ax.plot(f["upper"], f["se_grid"], color=GREY, lw=0.8, ls="--")
    ax.axvline(f["mu"], color=BLUE, lw=1)
    ax.plot(f["y"], f["se"], "o", color=BLUE, ms=5, alpha=0.8)
    ax.invert_yaxis()
    ax.set_ylabel("standard error")
    ax.set_xlabel(direction_label(data))
    note = ""
    if data.k >= 3 and not np.allclose(data.se, data.se[0]):
        eg = egger_test(data)
        note = f"; Egger's test p = {eg.pvalue:.3f}"
    ax.set_title(f"Funnel plot ({level:.0%} pseudo-CI around the common-effect estimate{note})", fontsize=9,
                 loc="left")
    fig.tight_layout()
    return fig


@_plain
def trace(fit):
    """Trace plot of mu and tau (arviz-plots)."""
    import arviz_plots as azp

    pc = azp.plot_trace(fit.idata, var_names=_sampled(fit), backend="matplotlib")
    return _titled(_figure_of(pc, _sampled(fit)[0]), "MCMC trace: each colour one chain; the chains should overlap, "
                   "with no trend or stuck stretch")


@_plain
def rank(fit):
    """Rank (ECDF difference) plot of mu and tau for checking mixing across chains (arviz-plots)."""
    import arviz_plots as azp

    pc = azp.plot_rank(fit.idata, var_names=_sampled(fit), backend="matplotlib")
    return _titled(_figure_of(pc, _sampled(fit)[0]), "MCMC rank plot: each colour one chain, its ranks' ECDF minus "
                   "the uniform; well-mixed chains stay near 0 (p: test of uniform ranks)")


def _titled(fig, text):
    fig.suptitle(text, fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def _sampled(fit):
    coef = getattr(fit.family, "coef_name", "mu")  # mu, mu[group] or beta[term]
    return [coef, "tau"] if fit.spec.model == "random" else [coef]


def _figure_of(pc, var):
    target = pc.viz["plot"][var]
    ax = target.values.ravel()[0]
    return ax.figure


@_plain
def pooled_probabilities(table, important: float):
    """Posterior P(benefit) and P(benefit at least `important`) per published review, under the
    sceptical, neutral and enthusiastic priors (the table of `analysis.run_pooled_analysis`)."""
    plt = _plt()
    reviews = list(dict.fromkeys(table["review"]))
    fig, ax = plt.subplots(figsize=(9, 0.75 * len(reviews) + 1.6))
    colours = {"sceptical": RED, "neutral": GREY, "enthusiastic": GREEN}
    col_imp = [c for c in table.columns if c.startswith("P(benefit >=")][0]
    for j, (prior, colour) in enumerate(colours.items()):
        sub = table[table["prior"] == prior].set_index("review").loc[reviews]
        ypos = np.arange(len(reviews))[::-1] + (1 - j) * 0.22
        ax.plot(sub["P(benefit)"], ypos, "o", color=colour, label=f"{prior}: P(benefit)")
        ax.plot(sub[col_imp], ypos, "D", color=colour, mfc="white", label=f"{prior}: {col_imp}")
    ax.set_yticks(np.arange(len(reviews))[::-1], [_two_lines(r) for r in reviews], fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("posterior probability")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.5 / len(reviews)), frameon=False)
    ax.set_title(f"Probability of benefit and of a benefit of at least {important:g} SMD", fontsize=10, loc="left")
    fig.tight_layout()
    return fig


def _two_lines(label: str, width: int = 55) -> str:
    """'review / outcome' as two shortened lines, so rows of one review stay distinguishable."""
    return "\n".join(short_label(p, width) for p in str(label).split(" / ", 1))
