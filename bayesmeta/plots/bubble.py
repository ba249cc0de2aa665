"""Bubble plot of a meta-regression: the effect against one moderator, the studies as bubbles by weight."""

from __future__ import annotations

import re

import numpy as np

from .common import BLUE, GREY, _plain, _plt, direction_label, short_label, wrapped


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

    from ..posterior import check_ci

    ci = check_ci(ci)
    fam = fit.family
    if fam.display != "regression":
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
