"""Is the answer robust? Figures of the exact refits (bayesmeta.robustness) and of the model checks
(bayesmeta.model_checking): leave-one-out, the prior grid, LOO-PIT and the Bayesian GOSH plot. Each takes
the fit and, optionally, the table already computed (`fit.leave_one_out()`, `fit.sensitivity()`,
`fit.outliers()`, `fit.gosh()`)."""

from __future__ import annotations

import numpy as np

from ..formatting import pct, studies
from .common import BLUE, GREY, ORANGE, _plain, _plt, direction_label, short_label


def _interval_figure(table, labels, full, highlight, xlabel, title):
    """One row per label: the pooled effect's median and interval (orange where `highlight`), the full fit's
    median (dashed) and interval (grey band), P(benefit) written at the right."""
    fig, ax = _plt().subplots(figsize=(7.4, 0.3 * len(table) + 1.4))
    y = np.arange(len(labels))[::-1]
    ax.axvspan(full["mu_lower"], full["mu_upper"], color=GREY, alpha=0.15, lw=0)
    ax.axvline(full["mu_median"], color=GREY, lw=1, ls="--")
    ax.axvline(0, color="black", lw=0.6)
    colours = [ORANGE if h else BLUE for h in highlight]
    ax.hlines(y, table["mu_lower"], table["mu_upper"], color=colours, lw=1.6)
    ax.scatter(table["mu_median"], y, color=colours, s=22, zorder=3)
    ax.set_yticks(y, [short_label(s, 52) for s in labels], fontsize=8)
    ax.set_ylim(-0.7, y[0] + 1.1)  # room for the P(benefit) header inside the axes
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    trans = ax.get_yaxis_transform()
    ax.text(1.02, y[0] + 0.55, "P(benefit)", transform=trans, fontsize=8, va="bottom")
    for yi, pi in zip(y, table["p_benefit"]):
        ax.text(1.02, yi, pct(pi), transform=trans, fontsize=8, va="center")
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    return fig


@_plain
def leave_one_out_plot(fit, table=None):
    """The pooled effect (posterior median and 95% interval) without each study; the full fit's median
    (dashed) and interval (band); P(benefit) per row; the study whose omission moves the median most in
    orange."""
    table = fit.leave_one_out() if table is None else table
    most = np.abs(table["mu_change"].to_numpy())
    return _interval_figure(table, list(table.index), table.attrs["full"], most == most.max(),
                            f"pooled effect without the study: {direction_label(fit.data)}",
                            "Leave-one-out: exact refits without each study (grey: all studies)")


@_plain
def sensitivity_plot(fit, table=None):
    """The pooled effect (posterior median and 95% interval) under each pair of priors of the grid, the fit's
    own pair in orange, P(benefit) per row."""
    table = fit.sensitivity() if table is None else table
    own = table[table["own"]]
    full = (own.iloc[0] if len(own) else table.iloc[0])[["mu_median", "mu_lower", "mu_upper"]]
    several_mu = table["mu_prior"].nunique() > 1  # else the tau prior alone names each row
    labels = [f"{t}, {m}" if several_mu else t for t, m in zip(table["tau_label"], table["mu_label"])]
    return _interval_figure(table, labels, full, table["own"].to_numpy(), f"pooled effect: {direction_label(fit.data)}",
                            "Prior sensitivity: refits under other priors (orange: the fit's own)")


@_plain
def loo_pit_plot(fit, table=None):
    """LOO-PIT: the sorted P(y_rep <= y_i | the other studies) against the uniform quantiles i / (k + 1), with
    the pointwise 95% band of uniform order statistics (Beta(i, k + 1 - i)); values outside the band, or
    bunched at 0 and 1, point to studies the model predicts badly."""
    from scipy import stats

    plt = _plt()
    table = fit.outliers() if table is None else table
    pit = table["loo_pit"].to_numpy()
    k = len(pit)
    order = np.argsort(pit)
    i = np.arange(1, k + 1)
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.fill_between(i / (k + 1), stats.beta.ppf(0.025, i, k + 1 - i), stats.beta.ppf(0.975, i, k + 1 - i),
                    color=GREY, alpha=0.2, lw=0, label="95% band (uniform)")
    ax.plot([0, 1], [0, 1], color=GREY, lw=0.8, ls="--")
    ax.scatter(i / (k + 1), pit[order], color=BLUE, s=18, zorder=3, label="studies")
    for rank in (0, k - 1):  # the lowest and the highest
        ax.annotate(short_label(table.index[order[rank]], 24), ((rank + 1) / (k + 1), pit[order[rank]]),
                    fontsize=7, xytext=(4, 0), textcoords="offset points", va="center")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("uniform quantile", fontsize=8)
    ax.set_ylabel("LOO-PIT (sorted)", fontsize=8)
    ax.set_title("LOO-PIT of each study given the others", fontsize=9, loc="left")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


@_plain
def gosh_plot(fit, table=None):
    """Bayesian GOSH plot: the posterior medians of mu and tau on every subset of the studies (a hexagonal
    density where there are many), the full data's medians marked; clusters point to influential studies."""
    plt = _plt()
    table = fit.gosh() if table is None else table
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    mu, tau = table["mu_median"].to_numpy(), table["tau_median"].to_numpy()
    if len(table) > 2000:
        hb = ax.hexbin(mu, tau, gridsize=60, cmap="Blues", mincnt=1)
        fig.colorbar(hb, ax=ax, label="subsets per hexagon")
    else:
        ax.scatter(mu, tau, s=6, color=BLUE, alpha=0.4, lw=0)
    ax.scatter([fit.ppf("mu", 0.5)[0]], [fit.ppf("tau", 0.5)[0]], color=ORANGE, s=40, marker="D",
               label="all studies", zorder=3)
    ax.set_xlabel(f"posterior median of mu: {direction_label(fit.data)}", fontsize=8)
    ax.set_ylabel("posterior median of tau", fontsize=8)
    ax.set_title(f"Bayesian GOSH: {len(table):,} subsets of {studies(fit.data.k)}", fontsize=9, loc="left")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
