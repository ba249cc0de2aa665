"""Frequentist GOSH plot (Olkin, Dahabreh & Trikalinos 2012; metafor `plot(gosh(...))`): the pooled effect against
I^2 over subsets of the studies, with the marginal distributions, from `bayesmeta.frequentist_methods.gosh`. (The
Bayesian GOSH plot of a fit is `robustness.gosh_plot`.)"""

from __future__ import annotations

import numpy as np

from .common import BLUE, GREY, ORANGE, _plain, _plt, direction_label, short_label


@_plain
def gosh_frequentist(data, result=None, out: str | None = None, max_subsets: int = 10**6, method: str = "REML", seed=1):
    """Scatter of the pooled effect (x) against I^2 (y) of every subset (or a random sample; see `bm.gosh`), with
    histograms in the margins. `out`: a study label; the subsets that contain it are drawn in orange (metafor's
    `out=`), so that a study that drives heterogeneity shows as a separate cloud. `result`: a GoshResult already
    computed (else it is computed here)."""
    from ..frequentist_methods import gosh as gosh_fits

    plt = _plt()
    g = result if result is not None else gosh_fits(data, max_subsets=max_subsets, method=method, seed=seed)
    res = g.results
    keep = (res["k"] > 1).to_numpy() & np.isfinite(res["mu"].to_numpy())
    mu, i2 = res["mu"].to_numpy()[keep], res["I2"].to_numpy()[keep]
    colour = np.full(len(mu), BLUE, dtype=object)
    if out is not None:
        if out not in g.incl.columns:
            from ..errors import DataError

            raise DataError(f"gosh plot: out={out!r} is not a study label ({list(g.incl.columns)[:5]} ...)")
        colour[g.incl[out].to_numpy()[keep]] = ORANGE
    fig = plt.figure(figsize=(5.8, 5.0))
    grid = fig.add_gridspec(2, 2, width_ratios=(4, 1), height_ratios=(1, 4), hspace=0.05, wspace=0.05)
    ax = fig.add_subplot(grid[1, 0])
    top, side = fig.add_subplot(grid[0, 0], sharex=ax), fig.add_subplot(grid[1, 1], sharey=ax)
    size = 4 if len(mu) > 5000 else 9
    ax.scatter(mu, i2, s=size, c=list(colour), alpha=0.35 if len(mu) > 5000 else 0.6, linewidths=0)
    top.hist(mu, bins=60, color=GREY)
    side.hist(i2, bins=60, color=GREY, orientation="horizontal")
    if out is not None:
        inside = colour == ORANGE
        top.hist(mu[inside], bins=60, color=ORANGE, alpha=0.8)
        side.hist(i2[inside], bins=60, color=ORANGE, alpha=0.8, orientation="horizontal")
    top.axis("off")
    side.axis("off")
    ax.set_xlabel(direction_label(data, "pooled effect"))
    ax.set_ylabel("I² (%)")
    how = "all" if g.exact else "random"
    label = f"; orange: subsets with {short_label(out, 30)}" if out is not None else ""
    top.set_title(f"GOSH plot ({g.method}): {len(mu):,} {how} subsets of {data.k} studies{label}", fontsize=8.5,
                  loc="left")
    return fig
