"""Bayesian model average (bm.average): inclusion probabilities, prior against posterior, and the model-averaged
posterior of mu, its continuous part as a density and the point mass at mu = 0 of the models without an effect
as a spike (its height the probability, on the right axis)."""

from __future__ import annotations

import numpy as np

from .common import BLUE, GREY, ORANGE, _plain, _plt, direction_label


@_plain
def model_average(avg, ci: float = 0.95):
    """Two panels: prior and posterior probability of each component (effect, heterogeneity, bias) with its
    inclusion Bayes factor; the model-averaged (solid) and conditional (dashed) posterior densities of mu."""
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.8), gridspec_kw={"width_ratios": [1, 1.5]})
    inc = avg.inclusion
    pos = np.arange(len(inc))
    left.barh(pos + 0.2, inc["prior_prob"], height=0.38, color=GREY, label="prior")
    left.barh(pos - 0.2, inc["post_prob"], height=0.38, color=BLUE, label="posterior")
    for p, (_, r) in zip(pos, inc.iterrows()):
        left.text(1.02, p, f"BF {r['BF']:.3g}", va="center", fontsize=8)
    left.set_yticks(pos, list(inc.index))
    left.invert_yaxis()
    left.set_xlim(0, 1.25)
    left.set_xticks([0, 0.25, 0.5, 0.75, 1])
    left.set_xlabel("probability that the models include it")
    left.legend(fontsize=8, loc="lower right", frameon=False)
    _mu_panel(right, avg, ci)
    fig.tight_layout()
    return fig


def _mu_panel(ax, avg, ci):
    """Densities of mu (averaged and conditional) by differences of the exact mixture CDF; the spike at 0."""
    s = avg.conditional(ci)
    lo, hi = s.loc["mu", "lower"], s.loc["mu", "upper"]
    pad = 0.6 * (hi - lo) + 1e-3
    x = np.linspace(min(lo, 0) - pad, max(hi, 0) + pad, 400)
    edges = np.concatenate([[x[0] - (x[1] - x[0]) / 2], (x[1:] + x[:-1]) / 2, [x[-1] + (x[1] - x[0]) / 2]])
    spike = float(avg.models["post_prob"][[not c.effect for c in avg.components.values()]].sum())
    for conditional, style, label in ((False, "-", "averaged over all models"),
                                      (True, "--", "among models with an effect")):
        mix = avg._mixture("mu", conditional)
        cdf = mix.cdf(edges, strict=True)
        dens = np.diff(cdf) / np.diff(edges)
        if not conditional:  # the spike's mass is not a density
            at0 = (edges[:-1] <= 0) & (edges[1:] > 0)
            dens[at0] = np.interp(x[at0], x[~at0], dens[~at0])
        ax.plot(x, dens, style, color=BLUE, lw=1.4, label=label)
    twin = ax.twinx()
    twin.vlines(0, 0, spike, color=ORANGE, lw=3, label=f"P(mu = 0) = {spike:.3f}")
    twin.set_ylim(0, 1)
    twin.set_ylabel("probability of mu = 0", color=ORANGE, fontsize=8)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("posterior density")
    ax.set_xlabel(direction_label(avg.data, "mu"))
    lines = ax.get_legend_handles_labels()
    spikes = twin.get_legend_handles_labels()
    ax.legend(lines[0] + spikes[0], lines[1] + spikes[1], fontsize=8, frameon=False, loc="upper right")
    ax.set_title(f"Model-averaged effect ({len(avg.results)} models)", fontsize=9, loc="left")
