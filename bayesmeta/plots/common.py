"""Shared figure helpers: matplotlib set up lazily (`_plt`), `save` by suffix, colours, label shortening, the axis label naming the benefit direction."""

from __future__ import annotations

import functools

import numpy as np

from ..effects import benefit_operator
from ..formatting import plain_text

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


FONT = 10  # points: every text of a forest plot (labels, numbers, headers) at the size of the body text


WIDE = 2.5  # a study interval wider than this many times the median width is clipped (with an arrow)


def axis_limits(core, lower, upper, pad: float = 0.05) -> tuple[float, float]:
    """The x range of a forest plot: `core` (pooled and predictive intervals, shrunken intervals, observed point
    estimates), 0, and every observed interval (`lower`, `upper`) except very wide ones (more than WIDE times the
    median width), padded by `pad` of the span. A very wide interval is clipped at the range with an arrow (as
    RevMan and metafor's forest() do), so one small trial does not stretch the axis and shrink the diamonds."""
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    width = upper - lower
    kept = width <= WIDE * np.median(width) if len(width) else np.zeros(0, bool)
    v = np.concatenate([np.asarray(core, float), lower[kept], upper[kept], [0.0]])
    v = v[np.isfinite(v)]
    lo, hi = float(v.min()), float(v.max())
    margin = pad * max(hi - lo, 1e-9)
    return lo - margin, hi + margin


def interval_text(mid, lo, hi) -> str:
    """'-0.24 [-0.41, -0.08]': an estimate and its interval on a figure, two decimals."""
    return f"{mid:.2f} [{lo:.2f}, {hi:.2f}]"


def _diamond(ax, lo, mid, hi, y, color):
    ax.fill([lo, mid, hi, mid], [y, y + 0.3, y, y - 0.3], color=color, alpha=0.85)


def _z(ci):
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + ci / 2)


GROUP_COLOURS = (BLUE, GREEN, RED, "#6a3d9a", "#8c564b", "#17becf", "#7f7f00", "#e377c2")


def _group_colour(j):
    return GROUP_COLOURS[j % len(GROUP_COLOURS)]


def split_base(name: str) -> str:
    """'beta[weeks]' -> 'beta'."""
    return name.split("[", 1)[0].strip()
