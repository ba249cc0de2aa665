"""MCMC diagnostics: trace and rank plots (arviz-plots)."""

from __future__ import annotations

from .common import _plain


@_plain
def trace(fit):
    """Trace plot of mu and tau (arviz-plots)."""
    import arviz_plots as azp

    pc = azp.plot_trace(fit.idata, var_names=_sampled(fit), backend="matplotlib")
    return _titled(_figure_of(pc, _sampled(fit)[0]), "MCMC trace: each colour one chain; the chains should overlap, "
                   "with no trend or stuck stretch")


@_plain
def rank(fit):
    """Rank (ECDF difference) plot of mu and tau for checking mixing across chains (arviz-plots)."""
    import arviz_plots as azp

    pc = azp.plot_rank(fit.idata, var_names=_sampled(fit), backend="matplotlib")
    return _titled(_figure_of(pc, _sampled(fit)[0]), "MCMC rank plot: each colour one chain, its ranks' ECDF minus "
                   "the uniform; well-mixed chains stay near 0 (p: test of uniform ranks)")


def _titled(fig, text):
    fig.suptitle(text, fontsize=9, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def _sampled(fit):
    coef = getattr(fit.family, "coef_name", "mu")  # mu, mu[group] or beta[term]
    return [coef, "tau"] if fit.spec.model == "random" else [coef]


def _figure_of(pc, var):
    target = pc.viz["plot"][var]
    ax = target.values.ravel()[0]
    return ax.figure
