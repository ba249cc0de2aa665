"""Prior against posterior, per parameter."""

from __future__ import annotations

import math

import numpy as np

from .common import BLUE, GREY, _plain, _plt, short_label, split_base
from .densities import _grid, bounded, posterior_curve


@_plain
def prior_posterior(fit, quantities=("tau", "mu")):
    """The prior density (the prior's own density function) against the posterior density (`posterior_curve`:
    exact for the exact engine) of tau, from 0 (each tau[g] when every subgroup has its own) and, where their priors
    are proper, of mu, of each subgroup mean mu[g] or of each coefficient beta[term] ("mu" or "beta" in `quantities`
    asks for these). A ValueError when no prior asked for is proper."""
    plt = _plt()
    fam, tau_prior = fit.family, fit.spec.tau_prior
    panels = []  # (quantity, prior density, title, prior's name)
    if "tau" in quantities and fam.random and tau_prior.proper:
        taus = ["tau"] if fam.tau_dim is None else [f"tau[{g}]" for g in fam.groups]
        for q in taus:
            panels.append((q, lambda x: np.exp(tau_prior.logpdf(x)), f"{short_label(q, 40)}: prior {tau_prior}",
                           tau_prior))
        within = getattr(fit.spec, "tau_within_prior", None)  # the second level of a multilevel model
        if within is not None and within.proper:
            panels.append(("tau_within", lambda x: np.exp(within.logpdf(x)), f"tau_within: prior {within}", within))
    if "mu" in quantities or "beta" in quantities:
        for name, prior in zip(fam.coefficient_rows(), fam.coef_priors):
            if prior.proper:
                panels.append((name, lambda x, p=prior: np.exp(p.logpdf(x)), f"{short_label(name, 40)}: prior {prior}",
                               prior))
    if not panels:
        raise ValueError("no proper prior to draw against the posterior (flat or improper priors)")
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.2 * nrows + 0.4), squeeze=False)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for j, (ax, (q, prior_pdf, title, prior)) in enumerate(zip(axes.ravel(), panels)):
        lo, hi = _grid(fit, q)
        if bounded(q):  # from 0 (just above: the prior's and posterior's limits at the boundary)
            hi = max(hi * 1.2, min(float(prior.ppf(0.9)), 3 * hi))  # show the prior's bulk, not its heavy tail
            lo = hi * 1e-9
            what = "within-trial SD" if split_base(q) == "tau_within" else "between-study SD"
            xlabel = f"{split_base(q)} ({what}, {fit.data.measure} units)"
        else:
            width = hi - lo
            lo, hi = lo - width, hi + width
            xlabel = f"{short_label(q, 50)} ({fit.data.measure})"
        x = np.linspace(lo, hi, 600)
        ax.plot(x, np.nan_to_num(prior_pdf(x)), color=GREY, lw=1.5, ls="--", label=f"prior density ({prior})")
        ax.plot(x, posterior_curve(fit, q, x), color=BLUE, lw=1.8, label="posterior density")
        ax.set_xlim(0.0 if bounded(q) else lo, hi)
        ax.set_ylim(bottom=0)
        ax.set_yticks([])
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
        ax.set_title(short_label(title, 70), fontsize=9, loc="left")
        ax.set_xlabel(xlabel, fontsize=8)
        if j % ncols == 0:
            ax.set_ylabel("density", fontsize=8)
        ax.legend(frameon=False, fontsize=8)
    engine = "exact posterior density" if fit.backend.exact else "posterior: kernel density estimate of the draws"
    fig.suptitle(f"Prior (dashed) against posterior (solid); {engine}", fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    return fig
