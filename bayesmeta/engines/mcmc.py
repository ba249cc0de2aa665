"""MCMC engine: the family's PyMC model (`family.pymc_model(spec)`), sampled by nutpie (or PyMC's own NUTS).

Families build their models in marginal form where they can (study effects integrated out: no funnel, so
NUTS samples without divergences even where the centred model fails, e.g. eight schools with
half-Cauchy(5)); study effects and new-study effects are drawn afterwards from their exact conditionals
(DrawsBackend). The data are `pm.Data` (`family.pymc_data()`): a refit with other data of the same family
and priors (of any size where `family.cache_key()` leaves the size out) reuses the compiled model (nutpie
`with_data`, or PyMC's model via `pm.set_data`).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import PACKAGE_DIR, ConvergenceWarning

_COMPILED: dict = {}  # (sampler, family layout, priors) -> compiled nutpie model or PyMC model
RETRY_TARGET_ACCEPT = (0.95, 0.99)


def _say(message, progressbar):
    """One line on stderr where someone watches (a terminal, or progress asked for): what the wait is for."""
    import sys

    if progressbar or sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def _nutpie():
    try:
        import nutpie
    except ImportError:
        return None
    return nutpie


class NutpieSampler:
    """nutpie: the model prepared once per (family layout, priors) in a process (`nutpie_model.PreparedModel`:
    quick to prepare, compiled harder when refitted often), refitted with new data."""

    name = "nutpie"

    def __init__(self, nutpie):
        self.nutpie = nutpie

    def sample(self, spec, key, seed, draws, tune, chains, target_accept, progressbar):
        from . import nutpie_model

        def say(message):
            _say(message, progressbar)

        if key not in _COMPILED:
            say("preparing the model (compiled once per machine and cached)...")
            _COMPILED[key] = nutpie_model.PreparedModel(spec.family.pymc_model(spec))
        compiled, cores = _COMPILED[key].with_data(say, **spec.family.pymc_data())
        tree = self.nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed, cores=cores,
                                  progress_bar=progressbar, target_accept=target_accept, save_warmup=False)
        stats = tree["sample_stats"].to_dataset()
        return tree["posterior"].to_dataset(), stats["diverging"].values, stats.get("depth")


class PyMCSampler:
    """PyMC's own NUTS, where nutpie is not installed: the model is kept and its data swapped."""

    name = "pymc"

    def sample(self, spec, key, seed, draws, tune, chains, target_accept, progressbar):
        import pymc as pm

        if key not in _COMPILED:
            _COMPILED[key] = spec.family.pymc_model(spec)
        with _COMPILED[key]:
            pm.set_data(spec.family.pymc_data(), coords=spec.family.coords())  # data of another size
            tree = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progressbar,
                             target_accept=target_accept, compute_convergence_checks=False)
        stats = tree["sample_stats"].to_dataset()
        return tree["posterior"].to_dataset(), stats["diverging"].values, stats.get("tree_depth")


def sampler():
    nutpie = _nutpie()
    return NutpieSampler(nutpie) if nutpie is not None else PyMCSampler()


def _diagnostics(backend, tree):
    """R-hat, bulk and tail ESS, MCSE of mean and SD, and divergences (ArviZ) of coefficients and tau."""
    import arviz_stats as azs

    fam = backend.family
    names = [fam.coef_name] + fam.hyper_names()
    table = azs.summary(tree, var_names=names, kind="diagnostics")
    table["divergences"] = int(np.sum(backend.sample_stats["diverging"]))
    return table


def _warn_on_poor_mixing(beta, tau):
    """A ConvergenceWarning that says what to do when R-hat > 1.01 or bulk ESS < 400 for any coefficient or
    tau (Vehtari et al. 2021), or when there are too few draws to tell."""
    import arviz_stats as azs

    arrays = [beta[..., j] for j in range(beta.shape[-1])] + ([] if tau is None else
                                                             [tau[..., j] for j in range(tau.shape[-1])])
    varying = [a for a in arrays if np.ptp(a) > 0]
    worst_ess = min((float(azs.ess(a, method="bulk")) for a in varying), default=np.inf)
    single = beta.shape[0] < 2
    worst_rhat = 1.0 if single else max((float(azs.rhat(a)) for a in varying), default=1.0)
    if single or not (worst_rhat <= 1.01 and worst_ess >= 400):
        rhat = "R-hat needs at least 2 chains" if single else f"largest R-hat {worst_rhat:.3f}"
        warnings.warn(f"the chains may not have converged ({rhat}, smallest bulk ESS {worst_ess:.0f}; want R-hat "
                      "< 1.01 and ESS > 400): run more chains or draws (chains=4, draws=1000 or more), or use "
                      "engine='exact' where the model allows it", ConvergenceWarning, skip_file_prefixes=PACKAGE_DIR)


class MCMCEngine:
    """Sample (beta, tau); retry with a higher target_accept while there are divergences."""

    name = "mcmc"
    # For many analyses at once (bayesmeta.many): every group through this engine; a seed is needed, and the
    # chains run in parallel themselves (one thread per process), in small chunks.
    batch, sampled, group_label, chunk = False, True, "mcmc", 20

    @staticmethod
    def check_mu_prior(mu_prior):
        """Every prior on mu is sampled."""

    def __init__(self, draws=1000, chains=4, tune=1000, target_accept=0.9, progressbar=False):
        self.draws, self.chains, self.tune = draws, chains, tune
        self.target_accept, self.progressbar = target_accept, progressbar

    @staticmethod
    def restore(spec, tree, settings, seed):
        """A saved fit's posterior: its draws of the coefficients and heterogeneity, and sample stats."""
        from ..backends import DrawsBackend

        beta, tau = spec.family.from_posterior(tree["posterior"])
        stats = ({k: tree["sample_stats"][k].values for k in tree["sample_stats"].data_vars}
                 if "sample_stats" in tree else None)
        return DrawsBackend(spec.family, beta, tau, settings["seed"], sample_stats=stats, diagnostics=_diagnostics)

    def run(self, spec, seed):
        from ..backends import DrawsBackend

        family = spec.family
        smp = sampler()
        key = (smp.name, family.cache_key(), spec.prior_key())
        accepts = (self.target_accept, *[t for t in RETRY_TARGET_ACCEPT if t > self.target_accept])
        for attempt, accept in enumerate(accepts):
            post, diverging, depth = smp.sample(spec, key, seed + attempt, self.draws, self.tune, self.chains,
                                                accept, self.progressbar)
            n_div = int(np.sum(diverging))
            if n_div == 0:
                break
        if n_div:
            warnings.warn(f"{n_div} divergent transitions remain at target_accept = {accept}: the posterior may be "
                          "biased. Try engine='exact' (where the family allows it), a more informative tau prior, "
                          "or more tuning steps (tune=...)", ConvergenceWarning, skip_file_prefixes=PACKAGE_DIR)
        beta, tau = family.from_posterior(post)
        stats_ = {"diverging": diverging}
        if depth is not None:
            stats_["tree_depth"] = depth.values
        backend = DrawsBackend(family, beta, tau, seed + attempt, sample_stats=stats_, diagnostics=_diagnostics)
        _warn_on_poor_mixing(beta, tau if family.hyper_names() else None)
        settings = dict(sampler=smp.name, target_accept=accept, divergences=n_div, draws=self.draws,
                        chains=self.chains, tune=self.tune, seed=seed + attempt)
        return backend, settings
