"""Bayesian forest plots: observed and shrunken study estimates, the pooled diamond and the predictive interval; blocks per subgroup, per cluster, or (meta-regression) without a pooled diamond."""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..effects import benefit_operator
from ..formatting import format_pvalue
from .common import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    FONT,
    _diamond,
    _plain,
    _plt,
    _z,
    axis_limits,
    direction_label,
    interval_text,
    short_label,
)
from .notes import _by_moderators, subgroup_difference_lines, subgroup_test_text
from .revman_forest import _forest_revman

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
    blocks = {"subgroups": _forest_subgroups, "regression": _forest_regression, "clusters": _forest_clusters}
    if fit.family.display in blocks:  # the layout the family declares
        return blocks[fit.family.display](fit, freq, order, ci, columns, title)
    return _forest_pooled(fit, freq, order, ci, columns, title)


def _forest_pooled(fit, freq, order, ci, columns, title):
    """One pooled effect: the studies, then (under a line) the pooled effect, the predictive interval and each
    frequentist result; the dotted line at the posterior median of mu runs through all rows."""
    from ..frequentist_methods import as_results, frequentist

    data, summ = fit.data, fit.summary(ci=ci)
    results = as_results(freq)
    source = results[0] if results else frequentist(data, method="REML")
    pooled = [("diamond", f"Pooled effect ({ci:.0%} CrI)", summ.loc["mu"], BLUE),
              ("bar", f"Effect in a new study ({ci:.0%} predictive interval)", summ.loc["theta_new"], BLUE)]
    pooled += [("diamond", f"{r.label} ({r.level:.0%} CI)", dict(median=r.mu, lower=r.lower, upper=r.upper), ORANGE)
               for r in results]
    blocks = [dict(heading=None, studies=np.arange(data.k), pooled=[], vline=summ.loc["mu", "median"]),
              dict(heading=None, studies=[], pooled=pooled)]
    title = title or (f"Bayesian random-effects meta-analysis, k = {data.k}; {fit.spec.tau_prior.label()}, "
                      f"{fit.spec.mu_prior.label()}")
    legend = [("observed", ci), ("shrunken", ci), ("predictive", ci)]
    return _forest_blocks(fit, ci, columns, order, source.weights.to_numpy(), source.method, blocks, [], title,
                          legend)


def _forest_subgroups(fit, freq, order, ci, columns, title):
    from ..design import subgroup_labels
    from ..frequentist_methods import as_results, frequentist

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
        if separate and fam.sizes[g] > 1:  # one study: its tau would be the prior's, not a finding
            t = summ.loc[f"tau[{g}]"]
            heading.append((f"tau = {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}]", BLUE))
        for r in results:
            row = r.subgroups.rename(index=str).loc[g]
            het = ", ".join(f"{name} = {row[col]:{fmt}}" for name, col, fmt in
                            (("Tau\u00b2", "tau2", ".2f"), ("I\u00b2", "I2", ".0f")) if np.isfinite(row[col]))
            het = (het + ("%" if np.isfinite(row["I2"]) else "")) or "heterogeneity not estimable"
            if row["k"] < 2:
                het = "heterogeneity not applicable (1 study)"
            heading.append((f"{r.label}: {het}", ORANGE))
        pooled = [("diamond", f"Pooled effect in {gl} ({ci:.0%} CrI)", summ.loc[f"mu[{g}]"], BLUE),
                  ("bar", f"New study in {gl} ({ci:.0%} predictive interval)", summ.loc[f"theta_new[{g}]"], BLUE)]
        for r in results:
            row = r.subgroups.rename(index=str).loc[g]
            pooled.append(("diamond", f"{r.label}, {gl} ({r.level:.0%} CI)",
                           dict(median=row["mu"], lower=row["lower"], upper=row["upper"]), ORANGE))
        blocks.append(dict(heading=f"{short_label(g, 40)} (k = {fam.sizes[g]})", heading_note=heading,
                           studies=np.flatnonzero(labels == g), pooled=pooled, vline=summ.loc[f"mu[{g}]", "median"]))
    notes = [(subgroup_test_text(r), "black") for r in (results or [source])]
    op = benefit_operator(data.benefit)
    side = "" if data.benefit is None else f"; {op} 0: the first named subgroup's effect is the more favourable"
    diffs = subgroup_difference_lines(fit, ci)
    if len(diffs) > 8:  # many subgroups: three pairs a line
        diffs = ["   ".join(diffs[i:i + 3]) for i in range(0, len(diffs), 3)]
    notes.append((f"Bayesian differences between subgroup means (posterior median [{ci:.0%} CrI]{side}):", BLUE))
    notes += [("    " + d, BLUE) for d in diffs]
    if separate:
        notes.append(("Each subgroup has its own tau (posterior median [CrI] in its heading).", BLUE))
    else:
        t = summ.loc["tau"]
        notes.append((f"tau common to all subgroups: {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}] "
                      f"(posterior median [{ci:.0%} CrI]), borrowing strength across subgroups.", BLUE))
    notes.append((f"Weights within each subgroup ({source.label}).", GREY))
    title = title or (f"Bayesian subgroup analysis by {short_label(fam.column, 40)} ({fam.tau_mode} tau), "
                      f"k = {data.k}; {fit.spec.mu_prior.label()} on each mu[g], {fit.spec.tau_prior.label()}")
    legend = [("observed", ci), ("shrunken", ci), ("bayes", ci), ("predictive", ci)] + (
        [("freq", results[0].level)] if results else [])
    return _forest_blocks(fit, ci, columns, order, weights, source.label, blocks, notes, title, legend)


def _forest_clusters(fit, freq, order, ci, columns, title):
    """Three-level fits: the effects in one block per cluster (heading: the cluster and its number of effects),
    then the pooled mu, the predictive interval of a new effect in a new cluster and the frequentist results."""
    from ..frequentist_methods import as_results, frequentist

    fam, data = fit.family, fit.data
    results = as_results(freq)
    source = results[0] if results else frequentist(data, method="REML", model="three-level")
    weights = source.weights.to_numpy()
    summ = fit.summary(ci=ci)
    sizes = np.bincount(fam.cluster_index, minlength=fam.clusters)
    blocks = [dict(heading=f"{short_label(c, 40)} ({sizes[j]} effect{'s' if sizes[j] > 1 else ''})",
                   studies=np.flatnonzero(fam.cluster_index == j), pooled=[])
              for j, c in enumerate(fam.cluster_names)]
    pooled = [("diamond", f"Pooled effect ({ci:.0%} CrI)", summ.loc["mu"], BLUE),
              ("bar", f"New effect in a new cluster ({ci:.0%} predictive interval)", summ.loc["theta_new"], BLUE)]
    pooled += [("diamond", f"{r.label} ({r.level:.0%} CI)", dict(median=r.mu, lower=r.lower, upper=r.upper), ORANGE)
               for r in results]
    blocks.append(dict(heading="All clusters", studies=[], pooled=pooled))
    t, tw = summ.loc["tau"], summ.loc["tau_within"]
    notes = [(f"tau between clusters {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}], within clusters "
              f"{tw['median']:.2f} [{tw['lower']:.2f}, {tw['upper']:.2f}] (posterior median [{ci:.0%} CrI]).", BLUE),
             (f"Weights: each effect's share of the pooled estimate ({source.label}).", GREY)]
    title = title or (f"Bayesian three-level meta-analysis, {data.k} effects in {fam.clusters} clusters; "
                      f"{fit.spec.mu_prior.label()}; between clusters {fit.spec.tau_prior.label()}, within clusters "
                      f"{fit.spec.tau_within_prior.label()}")
    legend = [("observed", ci), ("shrunken", ci), ("bayes", ci), ("predictive", ci)] + (
        [("freq pooled", results[0].level)] if results else [])
    return _forest_blocks(fit, ci, columns, order, weights, source.label, blocks, notes, title, legend)


def _forest_regression(fit, freq, order, ci, columns, title):
    from ..frequentist_methods import as_results, frequentist

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
                      f"{fit.spec.tau_prior.label()}")
    fitted = fam.design.X @ fit.coefficients(ci=ci)["mean"].to_numpy()  # posterior mean of x_i' beta
    blocks = [dict(heading=None, studies=np.arange(data.k), pooled=[], vline=None, fitted=fitted)]
    legend = [("observed", ci), ("shrunken given moderators", ci), ("fitted", ci)]
    return _forest_blocks(fit, ci, columns, order, weights, source.label, blocks, notes, title, legend)


_ROW_IN = 0.3  # inches per forest plot row


_NOTE_IN = 0.22  # inches per note line under a forest plot


def study_marks(ax, rows, data, idx, z, weights, shrink, limits) -> None:
    """Each study's observed effect (grey square sized by its weight, with its CI, cut at the axis `limits` with
    an arrow head) and shrunken posterior median (blue dot with its CrI), one row each: a few collections for all
    studies instead of four lines per study (a forest plot of a whole review draws thousands)."""
    rows, idx = np.asarray(rows, float), np.asarray(idx, int)
    y, se = data.y[idx], data.se[idx]
    lo, hi = y - z * se, y + z * se
    s = shrink.iloc[idx]
    ax.hlines(rows + 0.15, np.maximum(lo, limits[0]), np.minimum(hi, limits[1]), color=GREY, lw=1.2, zorder=2)
    for side, beyond, marker in ((limits[0], lo < limits[0], "<"), (limits[1], hi > limits[1], ">")):
        for row in rows[beyond]:  # few: the axis is set by the other studies
            ax.plot(side, row + 0.15, marker=marker, color=GREY, ms=5, clip_on=False)
    ax.hlines(rows - 0.15, s["lower"], s["upper"], color=BLUE, lw=1.6, zorder=2)
    size = 3 + 9 * np.sqrt(weights[idx] / np.max(weights))  # marker width in points, as Line2D's markersize
    ax.scatter(y, rows + 0.15, s=size**2, marker="s", color=GREY, linewidths=0, zorder=2.5)
    ax.scatter(s["median"], rows - 0.15, s=16, marker="o", color=BLUE, linewidths=0, zorder=2.5)


def _forest_blocks(fit, ci, columns, order, weights, weight_label, blocks, notes, title, legend):
    """The forest plot in blocks of studies, each with an optional heading row and pooled rows after its studies;
    `notes` (text, colour) are printed under the axis, above the legend."""
    from matplotlib.lines import Line2D

    plt = _plt()
    data = fit.data
    z = _z(ci)
    shrink = fit.shrinkage(ci=ci)
    core = [*shrink["lower"], *shrink["upper"], *data.y]
    core += [float(r[c]) for b in blocks for _, _, r, _ in b["pooled"] for c in ("median", "lower", "upper")]
    limits = axis_limits(core, data.y - z * data.se, data.y + z * data.se)
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
    fig, (ax, tx) = plt.subplots(1, 2, figsize=(12, height), sharey=True,
                                 gridspec_kw=dict(width_ratios=(1.2, 1), wspace=0.02))
    tx.set_xlim(0, 1)
    headers = {"observed": f"Observed [{ci:.0%} CI]", "shrunken": f"Shrunken [{ci:.0%} CrI]",
               "weight": f"Weight ({weight_label})"}
    xpos = dict(zip(columns, (0.0, 0.42, 0.86)))
    top = ys[0] + 1.0
    for col, x in xpos.items():
        tx.text(x, top - 0.3, headers[col], fontsize=FONT, fontweight="bold", va="center")
    x_pooled = xpos.get("shrunken", xpos.get("observed", 0.0))
    ticks, tick_labels, bold = [], [], []
    block_rows = {}  # id(block) -> rows of its studies and pooled rows
    fitted = blocks[0].get("fitted")  # meta-regression: the mean effect x_i' beta at each study's moderators
    current = None
    marks = []  # (row, study) drawn together after the loop
    for (kind, item, _), row in zip(entries, ys):
        if kind == "heading":
            current = id(item)
            ticks.append(row)
            tick_labels.append(item["heading"])
            bold.append(True)
            previous = None
            for text, colour in item.get("heading_note", []):  # one after the other on the heading row
                if previous is None:
                    previous = tx.text(0.0, row, text, fontsize=FONT - 1, va="center", color=colour)
                else:
                    previous = tx.annotate(text, xy=(1, 0.5), xycoords=previous, xytext=(9, 0),
                                           textcoords="offset points", fontsize=FONT - 1, va="center", color=colour)
            continue
        if kind == "gap":
            current = None
            continue
        if kind == "study":
            i = item
            lo, hi = data.y[i] - z * data.se[i], data.y[i] + z * data.se[i]
            marks.append((row, i))
            s = shrink.iloc[i]
            if fitted is not None:
                ax.plot(fitted[i], row - 0.15, "|", color=GREEN, ms=9, mew=2)
            cells = {"observed": (interval_text(data.y[i], lo, hi), "black"),
                     "shrunken": (interval_text(s["median"], s["lower"], s["upper"]), BLUE),
                     "weight": (f"{weights[i]:.1f}%", "black")}
            for col, x in xpos.items():
                tx.text(x, row, cells[col][0], fontsize=FONT, va="center", color=cells[col][1])
            label = short_label(data.study[i])
        else:
            shape, label, r, colour = item
            mean, lo, hi = float(r["median"]), float(r["lower"]), float(r["upper"])
            if not np.all(np.isfinite([mean, lo, hi])):
                tx.text(x_pooled, row, "not estimable", fontsize=FONT, va="center", color=GREY)
            elif shape == "diamond":
                _diamond(ax, lo, mean, hi, row, colour)
            else:
                ax.plot([lo, hi], [row] * 2, color=colour, lw=5, alpha=0.45, solid_capstyle="butt")
            if np.all(np.isfinite([mean, lo, hi])):
                tx.text(x_pooled, row, interval_text(mean, lo, hi), fontsize=FONT, va="center", fontweight="bold",
                        color="black" if colour == BLUE else colour)
        ticks.append(row)
        tick_labels.append(label)
        bold.append(False)
        block_rows.setdefault(current if current is not None else id(blocks[0]), []).append(row)
    for b in blocks:
        rows = block_rows.get(id(b))
        if b.get("vline") is not None and rows:
            ax.plot([b["vline"]] * 2, [max(rows) + 0.45, min(rows) - 0.45], color=BLUE, lw=0.8, ls=":")
    ax.set_xlim(*limits)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ticks, tick_labels, fontsize=FONT)
    ax.tick_params(axis="x", labelsize=FONT)
    for lab, is_bold in zip(ax.get_yticklabels(), bold):
        if is_bold:
            lab.set_fontweight("bold")
    ax.set_ylim(min(ys) - 0.8, top)
    if marks:
        study_marks(ax, [r for r, _ in marks], data, [i for _, i in marks], z, weights, shrink, limits)
    for row, (kind, *_) in zip(ys, entries):
        if kind == "gap":
            ax.axhline(row - 0.3, color=GREY, lw=0.5)
    ax.set_xlabel(direction_label(data), fontsize=FONT)
    for a in (ax, tx):
        for spine in ("top", "right", "left"):
            a.spines[spine].set_visible(False)
        a.tick_params(axis="y", length=0)
    tx.set_xticks([])
    tx.spines["bottom"].set_visible(False)
    fig.suptitle(short_label(title, 140), fontsize=FONT + 1, x=0.02, ha="left", va="top", y=1 - 0.1 / height)
    # Notes under the axis (the test for subgroup differences, the Bayesian differences, tau), then the legend.
    legend_in = 0.22 * legend_rows + 0.1
    for j, (text, colour) in enumerate(notes):
        fig.text(0.02, (legend_in + _NOTE_IN * (len(notes) - j - 0.5)) / height, text, fontsize=FONT, va="center",
                 color=colour)
    styles = {"observed": dict(marker="s", color=GREY, ls="none", label=f"observed ({ci:.0%} CI)"),
              "shrunken": dict(marker="o", color=BLUE, label=f"shrunken: posterior median ({ci:.0%} CrI)"),
              "shrunken given moderators": dict(
                  marker="o", color=BLUE, label=f"shrunken given the moderators: posterior median ({ci:.0%} CrI)"),
              "bayes": dict(marker="D", color=BLUE, ls="none", label=f"Bayesian pooled effect, median ({ci:.0%} CrI)"),
              "predictive": dict(color=BLUE, lw=5, alpha=0.45, label=f"{ci:.0%} predictive interval"),
              "freq": dict(marker="D", color=ORANGE, ls="none", label="frequentist subgroup estimate (CI)"),
              "freq pooled": dict(marker="D", color=ORANGE, ls="none", label="frequentist pooled estimate (CI)"),
              "fitted": dict(marker="|", color=GREEN, ls="none", ms=9, mew=2,
                             label="mean effect at the study's moderator values (x'beta)")}
    handles = [Line2D([], [], **styles[name]) for name, _ in legend]
    fig.legend(handles=handles, loc="lower left", ncol=3, fontsize=FONT, frameon=False, bbox_to_anchor=(0.02, 0.0))
    fig.subplots_adjust(bottom=bottom_in / height, top=1 - top_in / height)
    return fig
