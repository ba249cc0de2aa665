"""Funnel plot with Egger's regression line."""

from __future__ import annotations

import numpy as np

from .common import BLUE, GREY, _plain, _plt, direction_label


# --------------------------------------------------------------------------- funnel, trace, rank
@_plain
def funnel(data, result=None, level: float = 0.95):
    """Funnel plot: effects against standard errors with the pooled estimate and pseudo-CI lines."""
    from ..frequentist_methods import egger_test, funnel_data

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
