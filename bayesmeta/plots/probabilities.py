"""Probability-of-benefit curves and the pooled probabilities across analyses."""

from __future__ import annotations

import numpy as np

from ..effects import STANDARDISED, benefit_operator, benefit_sign
from .common import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    RED,
    _group_colour,
    _plain,
    _plt,
    short_label,
)


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
    layout = fit.family.display
    if layout == "regression":
        raise ValueError("benefit curves are drawn for pooled effects (normal-normal and subgroup models); a "
                         "meta-regression has no single pooled effect: draw plots.bubble(fit, moderator) instead")
    if layout == "subgroups":
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
    fig, ax = plt.subplots(figsize=(6.4 if layout != "subgroups" else 9.2, 4))
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
    if layout == "subgroups":
        ax.set_title(f"Probability of benefit of at least c, by {short_label(fit.family.column, 40)}", fontsize=10,
                     loc="left", pad=16)
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.set_title("Probability of benefit of at least c", fontsize=10, loc="left", pad=16)
        ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


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
