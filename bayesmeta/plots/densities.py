"""Posterior densities with the probability regions beyond each threshold shaded (exact mixture densities for the exact engine, KDE of draws for MCMC)."""

from __future__ import annotations

import numpy as np

from ..effects import benefit_operator
from ..formatting import aligned_numbers, event_words, prob_text3, quantity_words
from .common import (
    BLUE,
    GREY,
    _plain,
    _plt,
    direction_label,
    short_label,
    split_base,
    wrapped,
)

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
    from ..formatting import benefit_thresholds, default_thresholds, probability_events
    from ..posterior import check_ci

    ci = check_ci(ci)
    plt = _plt()
    fam, data = fit.family, fit.data
    op = benefit_operator(data.benefit)
    if isinstance(quantities, str):
        quantities = [quantities]
    quantities = list(quantities)
    shading = "the regions below each threshold" if data.benefit is None else "the probability of benefit"
    if fam.display == "subgroups":
        bad = [q for q in quantities if q not in ("mu", "theta_new")]
        if bad or not quantities:
            raise ValueError(f"for a subgroup fit, density() draws 'mu' and/or 'theta_new' of each subgroup, not {bad}")
        cs = benefit_thresholds(default_thresholds(data) if thresholds is None else thresholds, data.benefit)
        what = {"mu": "mean effect (mu)", "theta_new": "a new study (theta_new)"}
        panels = [[(f"{q}[{g}]", f"{short_label(g, 30)}: {what[q]}",
                    probability_events(data, cs, quantities=(f"{q}[{g}]",))) for q in quantities] for g in fam.groups]
        suptitle = f"Posterior densities by subgroup ({short_label(fam.column, 40)}); shaded: {shading}"
        share = True
    elif fam.display == "regression":
        names = (fam.coefficient_rows() if quantities == ["mu", "theta_new"] else quantities)
        for q in names:
            fit.quantity(q)  # a clear error for a name the model does not have
        cs = [0.0]
        flat = [(q, short_label(q, 45), [f"{q} {op} 0"]) for q in names]
        ncols = min(2, len(flat))  # two columns: readable on a phone as well
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
                texts.append(f"P({_predicate(expr, q, data)}) {prob_text3(fit.prob(expr))}")
                if x[0] <= cut <= x[-1]:
                    ax.axvline(cut, color=GREY, lw=0.8, ls="--")
            q_lo, q_med, q_hi = fit.ppf(q, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
            ax.plot([q_lo, q_hi], [0, 0], color="black", lw=3, solid_capstyle="butt", clip_on=False)
            ax.plot(q_med, 0, "o", color="white", mec="black", ms=5, clip_on=False)
            med, lo_t, hi_t = aligned_numbers(q_med, q_lo, q_hi)
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


def _predicate(event: str, quantity: str, data) -> str:
    """An event in words without its subject (the panel's title names it): 'at least 0.2 SD in favour'."""
    words = event_words(event, data.measure, data.benefit)
    subject = quantity_words(quantity)
    return words.removeprefix(subject).strip().removeprefix("is ") if words.startswith(subject) else words
