"""Baujat plot (Baujat et al. 2002; metafor `baujat()`): each study's contribution to the heterogeneity against
its influence on the pooled result, from `bayesmeta.frequentist_methods.baujat`."""

from __future__ import annotations

import numpy as np

from .common import BLUE, ORANGE, _plain, _plt, short_label


@_plain
def baujat(data, method: str = "REML", label: int = 10):
    """Scatter of x = (y_i - mu)^2 / (v_i + tau^2) (contribution to Q; the squared Pearson residual for random
    effects) against y = (mu_(i) - mu)^2 / var(mu_(i)) (influence on the pooled result: the squared change when
    the study is left out, in SEs of the estimate without it). The `label` studies furthest out are named."""
    from ..frequentist_methods import baujat as baujat_data

    plt = _plt()
    b = baujat_data(data, method=method)
    x, y = b["x"].to_numpy(), b["y"].to_numpy()
    far = np.argsort(-(x / max(x.max(), 1e-300) + y / max(y.max(), 1e-300)))[:label]
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    colours = np.where(np.isin(np.arange(len(x)), far), ORANGE, BLUE)
    ax.scatter(x, y, s=28, c=colours, alpha=0.85, edgecolors="white", linewidths=0.5)
    for i in far:
        ax.annotate(short_label(b.index[i], 24), (x[i], y[i]), xytext=(4, 3), textcoords="offset points", fontsize=7)
    ax.set_xlabel("contribution to overall heterogeneity" if method == "FE" else "squared Pearson residual "
                  "(contribution to heterogeneity)")
    ax.set_ylabel("influence on the pooled result")
    ax.grid(color="#e6e6e6", lw=0.6)
    ax.set_axisbelow(True)
    ax.set_title(f"Baujat plot ({method}, k = {data.k}); top right: studies that add heterogeneity and move the "
                 "result", fontsize=8.5, loc="left")
    fig.tight_layout()
    return fig
