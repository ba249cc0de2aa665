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
    dpi = min(dpi, MAX_PIXELS / max(fig.get_size_inches()))
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


@_plain
def forest(fit, freq=None, order: str = "input", ci: float = 0.95, columns=FOREST_COLUMNS, title=None):
    """Bayesian forest plot: observed effects with CIs (squares sized by weight), shrunken posterior
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

    Meta-regression fits (`moderators=...`): observed and shrunken study effects (given each study's moderator
    values) and no pooled diamond (there is no single mu); a note gives the formula, the residual tau and, for a
    frequentist meta-regression result, its tau², QM test and R²."""
    unknown = set(columns) - set(FOREST_COLUMNS)
    if unknown:
        raise ValueError(f"unknown forest plot column(s) {sorted(unknown)}; choose from {FOREST_COLUMNS}")
    if order not in ("input", "effect", "weight"):
        raise ValueError("order must be 'input', 'effect' or 'weight'")
    family = getattr(fit.family, "name", "normal-normal")
    if family == "subgroups":
        return _forest_subgroups(fit, freq, order, ci, columns, title)
    if family == "meta-regression":
        return _forest_regression(fit, freq, order, ci, columns, title)
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
                 f"{fit.spec.mu_prior}, tau ~ {fit.spec.tau_prior}", fontsize=10, x=0.02, ha="left")
    ax.plot([], [], "s", color=GREY, label=f"observed ({ci:.0%} CI)")
    ax.plot([], [], "o-", color=BLUE, label=f"shrunken posterior ({ci:.0%} CrI)")
    ax.plot([], [], color=BLUE, lw=5, alpha=0.45, label=f"{ci:.0%} predictive interval")
    fig.legend(loc="lower left", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.02, 0.0))
    fig.subplots_adjust(bottom=0.75 / height + 0.03, top=1 - 0.45 / height)
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
              "fitted": dict(marker="|", color=GREEN, ls="none", ms=9, mew=2,
                             label="mean effect at the study's moderator values (x'beta)")}
    handles = [Line2D([], [], **styles[name]) for name, _ in legend]
    fig.legend(handles=handles, loc="lower left", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.02, 0.0))
    fig.subplots_adjust(bottom=bottom_in / height, top=1 - top_in / height)
    return fig


# --------------------------------------------------------------------------- densities
@_plain
def density(fit, quantities=("mu", "theta_new"), thresholds=None, ci: float = 0.95):
    """Posterior densities (arviz-plots `plot_dist`) with the regions beyond each threshold, in the benefit
    direction, shaded and their posterior probabilities written on the plot (the events of the report and of
    probabilities.csv; default thresholds: 0, and 0.2 in the benefit direction for SMDs).

    Subgroup fits: one row of panels per subgroup, one panel per quantity ("mu" and/or "theta_new", i.e. mu[g]
    and theta_new[g]) on a common x axis, with the same shaded events. Meta-regression fits: the densities of the
    coefficients (or of the quantities named, e.g. ["beta[weeks]"]) with P(coefficient beyond 0 in the benefit
    direction) shaded: the probability that the effect is more favourable as the moderator rises (or than at the
    reference level). These curves are `fit.density` on a grid from `fit.ppf`: exact for the exact engine, a
    kernel density estimate for MCMC; the bar under each curve is the `ci` credible interval, the dot the median."""
    family = getattr(fit.family, "name", "normal-normal")
    if family in ("subgroups", "meta-regression"):
        return _density_moderators(fit, quantities, thresholds, ci)
    import arviz_plots as azp

    pc = azp.plot_dist(fit.idata, var_names=list(quantities), kind="kde", ci_prob=ci, backend="matplotlib",
                       point_estimate="median")
    from matplotlib import colormaps

    from .report import probability_events

    for q in quantities:
        ax = pc.viz["plot"][q].item()
        line = pc.viz["dist"][q].item() if "dist" in pc.viz.children else None
        x, y = (line.get_xdata(), line.get_ydata()) if line is not None else _kde_xy(fit.draws(q))
        events = probability_events(fit.data, thresholds, quantities=(q,))  # least demanding first
        shades = colormaps["Greens"](np.linspace(0.25, 0.8, len(events)))
        texts = []
        for colour, expr in zip(shades, events):
            _, op, value = expr.split(" ")
            c = float(value)
            ax.fill_between(x, 0, y, where=x <= c if op.startswith("<") else x >= c, color=colour, alpha=0.9, lw=0)
            texts.append(f"P({expr}) = {fit.prob(expr):.3f}")
            ax.axvline(c, color=GREY, lw=0.8, ls="--")
        ax.text(0.02, 0.95, "\n".join(texts), transform=ax.transAxes, va="top", fontsize=9,
                bbox=dict(boxstyle="round", fc="white", ec=GREY, alpha=0.9))
        ax.set_xlabel(direction_label(fit.data))
        ax.set_title({"mu": "Pooled effect mu", "theta_new": "Effect in a new study"}.get(q, q))
    fig = ax.figure
    fig.set_size_inches(5.2 * len(quantities), 3.6)
    if fit.data.benefit is None:
        fig.suptitle("Shaded: regions below each threshold", fontsize=9)
    fig.tight_layout()
    return fig


GROUP_COLOURS = (BLUE, GREEN, RED, "#6a3d9a", "#8c564b", "#17becf", "#7f7f00", "#e377c2")


def _group_colour(j):
    return GROUP_COLOURS[j % len(GROUP_COLOURS)]


def _density_moderators(fit, quantities, thresholds, ci):
    """density() for subgroup and meta-regression fits (see there)."""
    from .posterior import check_ci
    from .report import benefit_thresholds, default_thresholds, probability_events

    ci = check_ci(ci)
    plt = _plt()
    fam, data = fit.family, fit.data
    op = benefit_operator(data.benefit)
    if isinstance(quantities, str):
        quantities = [quantities]
    quantities = list(quantities)
    if fam.name == "subgroups":
        bad = [q for q in quantities if q not in ("mu", "theta_new")]
        if bad or not quantities:
            raise ValueError(f"for a subgroup fit, density() draws 'mu' and/or 'theta_new' of each subgroup, not {bad}")
        cs = benefit_thresholds(default_thresholds(data) if thresholds is None else thresholds, data.benefit)
        what = {"mu": "mean effect (mu)", "theta_new": "a new study (theta_new)"}
        panels = [[(f"{q}[{g}]", f"{short_label(g, 30)}: {what[q]}",
                    probability_events(data, cs, quantities=(f"{q}[{g}]",))) for q in quantities] for g in fam.groups]
        suptitle = (f"Posterior densities by subgroup ({short_label(fam.column, 40)}); shaded: "
                    + ("the regions below each threshold" if data.benefit is None else "probability of benefit"))
        share = True
    else:
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
    nrows, ncols = len(panels), max(len(row) for row in panels)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 2.7 * nrows + 0.7), squeeze=False)
    lo_p, hi_p = 0.0005, 0.9995
    if share:
        ends = np.array([fit.ppf(q, [lo_p, hi_p]) for row in panels for q, *_ in row])
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
            lo, hi = common if share else fit.ppf(q, [lo_p, hi_p])
            pad = 0.03 * (hi - lo)
            x = np.linspace(lo - pad, hi + pad, 600)
            y = np.nan_to_num(np.asarray(fit.density(q, x), float))
            ax.plot(x, y, color=BLUE, lw=1.6)
            shades = colormaps["Greens"](np.linspace(0.25, 0.8, len(events)))
            texts = []
            for colour, expr in zip(shades, events):
                _, cmp, value = expr.rsplit(" ", 2)
                cut = float(value)
                ax.fill_between(x, 0, y, where=x <= cut if cmp.startswith("<") else x >= cut, color=colour, alpha=0.9,
                                lw=0)
                shown = q if full_names else split_base(q)  # the panel's title names the subgroup or term
                texts.append(f"P({shown} {cmp} {value}) = {fit.prob(expr):.3f}")
                if x[0] <= cut <= x[-1]:
                    ax.axvline(cut, color=GREY, lw=0.8, ls="--")
            q_lo, q_med, q_hi = fit.ppf(q, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
            ax.plot([q_lo, q_hi], [0, 0], color="black", lw=3, solid_capstyle="butt", clip_on=False)
            ax.plot(q_med, 0, "o", color="white", mec="black", ms=5, clip_on=False)
            texts.append(f"median {q_med:.2f}, {ci:.0%} CrI {q_lo:.2f} to {q_hi:.2f}")
            ax.text(0.02, 0.96, "\n".join(texts), transform=ax.transAxes, va="top", fontsize=8,
                    bbox=dict(boxstyle="round", fc="white", ec=GREY, alpha=0.9))
            ax.set_ylim(0, 1.75 * max(float(y.max()), 1e-300))
            ax.set_xlim(x[0], x[-1])
            ax.set_yticks([])
            for spine in ("top", "right", "left"):
                ax.spines[spine].set_visible(False)
            ax.set_title(title, fontsize=9, loc="left")
            ax.set_xlabel(direction_label(data) if share or split_base(q) != "beta" else
                          f"coefficient ({data.measure} per unit or against the reference level)", fontsize=8)
    fig.suptitle(wrapped(suptitle, int(16 * 5.2 * ncols)), fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def split_base(name: str) -> str:
    """'beta[weeks]' -> 'beta'."""
    return name.split("[", 1)[0].strip()


def _kde_xy(draws):
    from scipy import stats

    kde = stats.gaussian_kde(draws)
    x = np.linspace(*np.quantile(draws, [0.001, 0.999]), 400)
    return x, kde(x)


@_plain
def prior_posterior(fit, quantities=("tau", "mu")):
    """Prior against posterior (arviz-plots `plot_prior_posterior`) for tau and, if its prior is proper, mu.

    Subgroup and meta-regression fits: the prior density against the posterior density (`fit.density`: exact
    for the exact engine) of tau (each tau[g] when every subgroup has its own) and, where their priors are proper,
    of each subgroup mean mu[g] or coefficient beta[term] ("mu" or "beta" in `quantities` asks for these)."""
    if getattr(fit.family, "name", "normal-normal") in ("subgroups", "meta-regression"):
        return _prior_posterior_moderators(fit, quantities)
    import arviz_plots as azp

    names = [q for q in quantities if "prior" in fit.idata.children and q in fit.idata["prior"].data_vars]
    if not names:
        raise ValueError("no proper prior to draw against the posterior (flat or improper priors)")
    pc = azp.plot_prior_posterior(fit.idata, var_names=names, backend="matplotlib")
    fig = pc.viz["plot"][names[0]].item().figure
    fig.set_size_inches(5.2 * len(names), 3.6)
    for q in names:
        ax = pc.viz["plot"][q].item()
        ax.set_title({"tau": f"tau: prior {fit.spec.tau_prior}", "mu": f"mu: prior {fit.spec.mu_prior}"}[q])
        if q == "tau":  # the heavy tails of some priors would squash the posterior
            ax.set_xlim(0, max(float(np.quantile(fit.draws("tau"), 0.999)) * 1.5,
                               float(np.quantile(fit.idata["prior"]["tau"].values, 0.95))))
    fig.tight_layout()
    return fig


def _prior_posterior_moderators(fit, quantities):
    plt = _plt()
    fam, tau_prior = fit.family, fit.spec.tau_prior
    panels = []  # (quantity, prior density, title, lower bound of x)
    if "tau" in quantities and fam.random and tau_prior.proper:
        taus = ["tau"] if fam.tau_dim is None else [f"tau[{g}]" for g in fam.groups]
        for q in taus:
            panels.append((q, lambda x: np.exp(tau_prior.logpdf(x)), f"{short_label(q, 40)}: prior {tau_prior}", 0.0))
    if "mu" in quantities or "beta" in quantities:
        for name, prior in zip(fam.coefficient_rows(), fam.coef_priors):
            if prior.proper:
                panels.append((name, lambda x, p=prior: np.exp(p.logpdf(x)), f"{short_label(name, 40)}: prior {prior}",
                               None))
    if not panels:
        raise ValueError("no proper prior to draw against the posterior (flat or improper priors)")
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.2 * nrows + 0.4), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax, (q, prior_pdf, title, floor) in zip(axes.ravel(), panels):
        lo, hi = fit.ppf(q, [0.0005, 0.9995])
        if floor is not None:  # tau: from 0 (just above: the density is 0 at the boundary itself); the heavy
            hi = max(hi * 1.5, float(tau_prior.ppf(0.95)))  # tails of some priors would squash the posterior
            lo = hi * 1e-9
        else:
            width = hi - lo
            lo, hi = lo - width, hi + width
        x = np.linspace(lo, hi, 600)
        ax.plot(x, np.nan_to_num(prior_pdf(x)), color=GREY, lw=1.5, ls="--", label="prior")
        ax.plot(x, np.nan_to_num(np.asarray(fit.density(q, x), float)), color=BLUE, lw=1.8, label="posterior")
        ax.set_xlim(lo, hi)
        ax.set_ylim(bottom=0)
        ax.set_yticks([])
        for spine in ("top", "right", "left"):
            ax.spines[spine].set_visible(False)
        ax.set_title(short_label(title, 70), fontsize=9, loc="left")
        ax.set_xlabel(short_label(q, 50) if floor is not None else f"{short_label(q, 50)} ({fit.data.measure})",
                      fontsize=8)
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle("Prior (dashed) against posterior (solid)", fontsize=9, x=0.01, ha="left")
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
    return _figure_of(pc, _sampled(fit)[0])


@_plain
def rank(fit):
    """Rank (ECDF difference) plot of mu and tau for checking mixing across chains (arviz-plots)."""
    import arviz_plots as azp

    pc = azp.plot_rank(fit.idata, var_names=_sampled(fit), backend="matplotlib")
    return _figure_of(pc, _sampled(fit)[0])


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
