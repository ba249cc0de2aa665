"""Funnel plot with Egger's regression line."""

from __future__ import annotations

import numpy as np

from .common import BLUE, GREY, _plain, _plt, direction_label


# --------------------------------------------------------------------------- funnel, trace, rank
@_plain
def funnel(data, result=None, level: float = 0.95, contours: bool = False, filled=None):
    """Funnel plot: effects against standard errors with the pooled estimate and pseudo-CI lines.

    contours=True shades the contour-enhanced significance regions around 0 (two-sided p 0.10 to 0.05, 0.05 to
    0.01, below 0.01; Peters et al. 2008); `filled`: a `trimfill()` result, whose imputed studies are drawn hollow
    (and its filled estimate as the pooled line)."""
    from ..formatting import format_pvalue
    from ..frequentist_methods import funnel_data, regtest

    plt = _plt()
    f = funnel_data(data, result, level)
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    if contours:
        xs = np.concatenate([f["y"], f["lower"], f["upper"], [] if filled is None else filled.filled["y"]])
        span = max(float(np.max(np.abs(xs))), 2.7 * float(np.max(f["se_grid"]))) * 1.05
        _significance_contours(ax, f["se_grid"], span)
        ax.set_xlim(min(-span, float(xs.min())), max(span, float(xs.max())))
    ax.fill_betweenx(f["se_grid"], f["lower"], f["upper"], color="#eeeeee", alpha=0.5 if contours else 1.0)
    ax.plot(f["lower"], f["se_grid"], color=GREY, lw=0.8, ls="--")
    ax.plot(f["upper"], f["se_grid"], color=GREY, lw=0.8, ls="--")
    ax.axvline(f["mu"], color=BLUE, lw=1)
    ax.plot(f["y"], f["se"], "o", color=BLUE, ms=5, alpha=0.8)
    if filled is not None and filled.k0:
        ax.plot(filled.filled["y"], filled.filled["se"], "o", mfc="white", mec=BLUE, ms=5,
                label=f"{filled.k0} filled (trim and fill)")
        ax.axvline(filled.mu, color=BLUE, lw=1, ls=":")
    if contours or (filled is not None and filled.k0):
        ax.legend(fontsize=7, loc="upper left", framealpha=0.9)
    ax.invert_yaxis()
    ax.set_ylabel("standard error")
    ax.set_xlabel(direction_label(data))
    note = ""
    if data.k >= 3 and not np.allclose(data.se, data.se[0]):
        note = f"\nEgger's regression test (REML): {format_pvalue(regtest(data).pvalue)}"
    ax.set_title(f"Funnel plot: {level:.0%} pseudo-CI around the common-effect estimate{note}", fontsize=9,
                 loc="left")
    fig.tight_layout()
    return fig


def _significance_contours(ax, se_grid, edge):
    """Shaded regions where a study's two-sided p-value (z = y / se) is 0.10-0.05, 0.05-0.01 and < 0.01 (out to
    +-edge)."""
    from statistics import NormalDist

    z = [NormalDist().inv_cdf(1 - a / 2) for a in (0.10, 0.05, 0.01)]
    for (lo, hi), shade, label in zip(((z[0], z[1]), (z[1], z[2]), (z[2], None)), ("#d9d9d9", "#a6a6a6", "#737373"),
                                      ("0.10 > p > 0.05", "0.05 > p > 0.01", "p < 0.01")):
        for sign in (-1, 1):
            inner = sign * lo * se_grid
            outer = sign * (hi * se_grid if hi is not None else np.maximum(np.full_like(se_grid, edge), lo * se_grid))
            ax.fill_betweenx(se_grid, inner, outer, color=shade, alpha=0.6, lw=0,
                             label=label if sign > 0 else None)
