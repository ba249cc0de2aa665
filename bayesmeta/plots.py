"""Figures: Bayesian forest plot, posterior densities with probability regions, prior against posterior,
probability-of-benefit curves, funnel plot, trace and rank plots (ArviZ 1.x arviz-plots, matplotlib).

Every function returns a matplotlib Figure; `save(fig, path)` writes PNG, SVG or PDF by the suffix.
Intervals drawn are 95% (or `ci`) equal-tailed; axis labels say which direction is benefit.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .effects import STANDARDISED, benefit_operator, benefit_sign

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
    dpi = min(dpi, MAX_PIXELS / max(fig.get_size_inches()))
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    _plt().close(fig)
    return path


LABEL_WIDTH = 60


def short_label(text, width: int = LABEL_WIDTH) -> str:
    """User text for a figure: one line, at most `width` characters (cut with an ellipsis); the tables of
    the report keep the full text."""
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "\u2026"


def plain_text(fig):
    """Every text of the figure drawn as it is: no mathtext ($...$) and no TeX, whatever the labels hold."""
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        t.set_parse_math(False)
        t.set_usetex(False)
    return fig


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


# --------------------------------------------------------------------------- forest plot
FOREST_COLUMNS = ("observed", "shrunken", "weight")


@_plain
def forest(fit, freq=None, order: str = "input", ci: float = 0.95, columns=FOREST_COLUMNS, title=None):
    """Bayesian forest plot: observed effects with CIs (squares sized by weight), shrunken posterior
    estimates with credible intervals, pooled mu, the predictive interval for a new study, and on request
    the frequentist pooled result(s). order: "input", "effect" or "weight"; columns: which of "observed",
    "shrunken", "weight" to print on the right, in that order (weights are the first frequentist
    result's, REML if none is given)."""
    unknown = set(columns) - set(FOREST_COLUMNS)
    if unknown:
        raise ValueError(f"unknown forest plot column(s) {sorted(unknown)}; choose from {FOREST_COLUMNS}")
    from .frequentist_methods import as_results, frequentist

    plt = _plt()
    data = fit.data
    z = _z(ci)
    shrink = fit.shrinkage(ci=ci)
    freq_list = as_results(freq)
    weight_source = freq_list[0] if freq_list else frequentist(data, method="REML")
    weights = weight_source.weights.to_numpy()
    idx = np.arange(data.k)
    if order == "effect":
        idx = np.argsort(data.y)
    elif order == "weight":
        idx = np.argsort(-weights)
    elif order != "input":
        raise ValueError("order must be 'input', 'effect' or 'weight'")
    n_pooled = 2 + len(freq_list)
    height = 1.6 + 0.3 * (data.k + n_pooled + 1)
    fig, (ax, tx) = plt.subplots(1, 2, figsize=(11, height), sharey=True,
                                 gridspec_kw=dict(width_ratios=(1.35, 1), wspace=0.02))
    rows = np.arange(data.k)[::-1] + n_pooled + 1
    summ = fit.summary(ci=ci)
    for row, i in zip(rows, idx):
        lo, hi = data.y[i] - z * data.se[i], data.y[i] + z * data.se[i]
        ax.plot([lo, hi], [row + 0.15] * 2, color=GREY, lw=1.2)
        ax.plot(data.y[i], row + 0.15, "s", color=GREY, ms=3 + 9 * math.sqrt(weights[i] / weights.max()))
        s = shrink.iloc[i]
        ax.plot([s["lower"], s["upper"]], [row - 0.15] * 2, color=BLUE, lw=1.6)
        ax.plot(s["mean"], row - 0.15, "o", color=BLUE, ms=4)
    y_mu, y_pred = n_pooled, n_pooled - 1
    _diamond(ax, summ.loc["mu", "lower"], summ.loc["mu", "mean"], summ.loc["mu", "upper"], y_mu, BLUE)
    ax.plot([summ.loc["theta_new", "lower"], summ.loc["theta_new", "upper"]], [y_pred] * 2, color=BLUE, lw=5,
            alpha=0.45, solid_capstyle="butt")
    pooled_rows = [(y_mu, f"Bayesian pooled mu ({ci:.0%} CrI)", summ.loc["mu"]),
                   (y_pred, f"New study ({ci:.0%} predictive interval)", summ.loc["theta_new"])]
    for j, res in enumerate(freq_list):
        y_f = y_pred - 1 - j
        _diamond(ax, res.lower, res.mu, res.upper, y_f, ORANGE)
        pooled_rows.append((y_f, f"{res.label} ({res.level:.0%} CI)", dict(mean=res.mu, lower=res.lower,
                                                                            upper=res.upper)))
    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(summ.loc["mu", "mean"], color=BLUE, lw=0.8, ls=":")
    labels = [short_label(data.study[i]) for i in idx] + [r[1] for r in pooled_rows]
    ticks = list(rows) + [r[0] for r in pooled_rows]
    ax.set_yticks(ticks, labels)
    top = max(ticks) + 1.0
    ax.set_ylim(min(ticks) - 0.8, top)
    ax.axhline(n_pooled + 0.5, color=GREY, lw=0.5)
    ax.set_xlabel(direction_label(data))
    for a in (ax, tx):
        for spine in ("top", "right", "left"):
            a.spines[spine].set_visible(False)
        a.tick_params(axis="y", length=0)
    # Right-hand table: observed [CI], shrunken [CrI], weight (RevMan-style percent).
    tx.set_xlim(0, 1)
    tx.set_xticks([])
    tx.spines["bottom"].set_visible(False)
    headers = {"observed": f"Observed [{ci:.0%} CI]", "shrunken": f"Shrunken [{ci:.0%} CrI]",
               "weight": f"Weight ({weight_source.method})"}
    xpos = dict(zip(columns, (0.0, 0.40, 0.82)))
    for col, x in xpos.items():
        tx.text(x, top - 0.3, headers[col], fontsize=8, fontweight="bold", va="center")
    for row, i in zip(rows, idx):
        s = shrink.iloc[i]
        cells = {"observed": (f"{data.y[i]:.2f} [{data.y[i] - z * data.se[i]:.2f}, {data.y[i] + z * data.se[i]:.2f}]",
                              "black"),
                 "shrunken": (f"{s['mean']:.2f} [{s['lower']:.2f}, {s['upper']:.2f}]", BLUE),
                 "weight": (f"{weights[i]:.1f}%", "black")}
        for col, x in xpos.items():
            tx.text(x, row, cells[col][0], fontsize=8, va="center", color=cells[col][1])
    x_pooled = xpos.get("shrunken", xpos.get("observed", 0.0))
    for y_row, _, r in pooled_rows:
        tx.text(x_pooled, y_row, f"{r['mean']:.2f} [{r['lower']:.2f}, {r['upper']:.2f}]", fontsize=8, va="center",
                fontweight="bold")
    fig.suptitle(short_label(title, 120) if title else f"Bayesian random-effects meta-analysis, k = {data.k}; mu ~ "
                 f"{fit.spec.mu_prior}, tau ~ {fit.spec.tau_prior}", fontsize=10, x=0.02, ha="left")
    ax.plot([], [], "s", color=GREY, label=f"observed ({ci:.0%} CI)")
    ax.plot([], [], "o-", color=BLUE, label=f"shrunken posterior ({ci:.0%} CrI)")
    ax.plot([], [], color=BLUE, lw=5, alpha=0.45, label=f"{ci:.0%} predictive interval")
    fig.legend(loc="lower left", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.02, 0.0))
    fig.subplots_adjust(bottom=0.75 / height + 0.03, top=1 - 0.45 / height)
    return fig


def _diamond(ax, lo, mid, hi, y, color):
    ax.fill([lo, mid, hi, mid], [y, y + 0.3, y, y - 0.3], color=color, alpha=0.85)


def _z(ci):
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + ci / 2)


# --------------------------------------------------------------------------- densities
@_plain
def density(fit, quantities=("mu", "theta_new"), thresholds=None, ci: float = 0.95):
    """Posterior densities (arviz-plots `plot_dist`) with the regions beyond each threshold, in the benefit
    direction, shaded and their posterior probabilities written on the plot (the events of the report and of
    probabilities.csv; default thresholds: 0, and 0.2 in the benefit direction for SMDs)."""
    import arviz_plots as azp

    pc = azp.plot_dist(fit.idata, var_names=list(quantities), kind="kde", ci_prob=ci, backend="matplotlib",
                       point_estimate="median")
    from matplotlib import colormaps

    from .report import probability_events

    for q in quantities:
        ax = pc.viz["plot"][q].item()
        line = pc.viz["dist"][q].item() if "dist" in pc.viz.children else None
        x, y = (line.get_xdata(), line.get_ydata()) if line is not None else _kde_xy(fit.draws(q))
        events = probability_events(fit.data, thresholds, quantities=(q,))  # least demanding first
        shades = colormaps["Greens"](np.linspace(0.25, 0.8, len(events)))
        texts = []
        for colour, expr in zip(shades, events):
            _, op, value = expr.split(" ")
            c = float(value)
            ax.fill_between(x, 0, y, where=x <= c if op.startswith("<") else x >= c, color=colour, alpha=0.9, lw=0)
            texts.append(f"P({expr}) = {fit.prob(expr):.3f}")
            ax.axvline(c, color=GREY, lw=0.8, ls="--")
        ax.text(0.02, 0.95, "\n".join(texts), transform=ax.transAxes, va="top", fontsize=9,
                bbox=dict(boxstyle="round", fc="white", ec=GREY, alpha=0.9))
        ax.set_xlabel(direction_label(fit.data))
        ax.set_title({"mu": "Pooled effect mu", "theta_new": "Effect in a new study"}.get(q, q))
    fig = ax.figure
    fig.set_size_inches(5.2 * len(quantities), 3.6)
    if fit.data.benefit is None:
        fig.suptitle("Shaded: regions below each threshold", fontsize=9)
    fig.tight_layout()
    return fig


def _kde_xy(draws):
    from scipy import stats

    kde = stats.gaussian_kde(draws)
    x = np.linspace(*np.quantile(draws, [0.001, 0.999]), 400)
    return x, kde(x)


@_plain
def prior_posterior(fit, quantities=("tau", "mu")):
    """Prior against posterior (arviz-plots `plot_prior_posterior`) for tau and, if its prior is proper, mu."""
    import arviz_plots as azp

    names = [q for q in quantities if "prior" in fit.idata.children and q in fit.idata["prior"].data_vars]
    if not names:
        raise ValueError("no proper prior to draw against the posterior (flat or improper priors)")
    pc = azp.plot_prior_posterior(fit.idata, var_names=names, backend="matplotlib")
    fig = pc.viz["plot"][names[0]].item().figure
    fig.set_size_inches(5.2 * len(names), 3.6)
    for q in names:
        ax = pc.viz["plot"][q].item()
        ax.set_title({"tau": f"tau: prior {fit.spec.tau_prior}", "mu": f"mu: prior {fit.spec.mu_prior}"}[q])
        if q == "tau":  # the heavy tails of some priors would squash the posterior
            ax.set_xlim(0, max(float(np.quantile(fit.draws("tau"), 0.999)) * 1.5,
                               float(np.quantile(fit.idata["prior"]["tau"].values, 0.95))))
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- benefit curves
@_plain
def benefit_curves(fit, max_effect: float | None = None, n: int = 101):
    """P(mu beyond c) and P(theta_new beyond c) as c runs from 0 to `max_effect` in the benefit direction
    (default 1 for standardised mean differences, with Cohen's benchmarks; otherwise the effect a new study
    exceeds with 1% probability, in the units of the data)."""
    plt = _plt()
    sign = benefit_sign(fit.data.benefit)
    standardised = fit.data.measure in STANDARDISED
    if max_effect is None:
        max_effect = 1.0 if standardised else float(np.max(np.abs(fit.ppf("theta_new", [0.01, 0.99]))))
    if not (np.isfinite(max_effect) and max_effect > 0):
        raise ValueError(f"max_effect must be a positive number, not {max_effect!r}")
    cs = np.linspace(0, max_effect, n)
    op = benefit_operator(fit.data.benefit)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for q, colour, label in (("mu", BLUE, "pooled effect mu"), ("theta_new", ORANGE, "effect in a new study")):
        ax.plot(cs, [fit.prob(f"{q} {op} {sign * c:g}") for c in cs], color=colour, lw=2, label=label)
    for c, name in ((0.2, "small"), (0.5, "medium"), (0.8, "large")):
        if standardised and c <= max_effect:
            ax.axvline(c, color=GREY, lw=0.7, ls=":")
            ax.text(c, 1.02, name, ha="center", fontsize=8, color=GREY, transform=ax.get_xaxis_transform())
    ax.set_ylim(0, 1)
    ax.set_xlim(0, max_effect)
    word = "reduction" if sign < 0 else "improvement"
    ax.set_xlabel(f"size of {word} c (|{fit.data.measure}|" + (", Cohen's benchmarks dotted)" if standardised else ")"))
    ax.set_ylabel(f"P(effect {op} {'-' if sign < 0 else ''}c)")
    ax.set_title("Probability of benefit of at least c", fontsize=10, loc="left", pad=16)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- funnel, trace, rank
@_plain
def funnel(data, result=None, level: float = 0.95):
    """Funnel plot: effects against standard errors with the pooled estimate and pseudo-CI lines."""
    from .frequentist_methods import egger_test, funnel_data

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


@_plain
def trace(fit):
    """Trace plot of mu and tau (arviz-plots)."""
    import arviz_plots as azp

    pc = azp.plot_trace(fit.idata, var_names=_sampled(fit), backend="matplotlib")
    return _figure_of(pc, _sampled(fit)[0])


@_plain
def rank(fit):
    """Rank (ECDF difference) plot of mu and tau for checking mixing across chains (arviz-plots)."""
    import arviz_plots as azp

    pc = azp.plot_rank(fit.idata, var_names=_sampled(fit), backend="matplotlib")
    return _figure_of(pc, _sampled(fit)[0])


def _sampled(fit):
    return ["mu", "tau"] if fit.spec.model == "random" else ["mu"]


def _figure_of(pc, var):
    target = pc.viz["plot"][var]
    ax = target.values.ravel()[0]
    return ax.figure


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
