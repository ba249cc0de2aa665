"""PyMC engine: the normal-normal model in marginal form, sampled with nutpie (or PyMC's NUTS).

y_i ~ N(mu, sqrt(se_i^2 + tau^2)) with the study effects integrated out: no funnel, so NUTS samples
(mu, tau) without divergences even where the centred model fails (eight schools, half-Cauchy(5)).
The study effects theta_i and theta_new are drawn afterwards from their exact conditionals
(theta_i | mu, tau, y_i ~ N(B mu + (1-B) y_i, se_i^2 (1-B)), B = se_i^2 / (se_i^2 + tau^2)), so nothing
centred is ever sampled. y and se are `pm.Data`: a refit with other data of the same shape and the
same priors reuses the compiled model (nutpie `with_data`).
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import ConvergenceWarning

_COMPILED: dict = {}  # (priors, k, model) -> compiled nutpie model or PyMC model
RETRY_TARGET_ACCEPT = (0.95, 0.99)


def build_pymc_model(spec):
    """The PyMC model of `spec` (a bayesmeta.model.Model), with y and se as pm.Data."""
    import pymc as pm
    import pytensor.tensor as pt

    data = spec.data
    with pm.Model(coords={"study": [str(s) for s in data.study]}) as model:
        y = pm.Data("y", data.y, dims="study")
        se = pm.Data("se", data.se, dims="study")
        mu = spec.mu_prior.pymc("mu")
        if spec.model == "common":
            pm.Normal("y_obs", mu=mu, sigma=se, observed=y, dims="study")
        else:
            tau = spec.tau_prior.pymc("tau", se=se)
            pm.Normal("y_obs", mu=mu, sigma=pt.sqrt(se**2 + tau**2), observed=y, dims="study")
    return model


def _nutpie():
    try:
        import nutpie
    except ImportError:
        return None
    return nutpie


def _key(spec):
    return (str(spec.tau_prior), str(spec.mu_prior), spec.data.k, spec.model)


def _run(spec, seed, draws, chains, tune, target_accept, progressbar):
    """One sampling run; returns the posterior (mu, tau) as (chains, draws) arrays and sample stats."""
    nutpie = _nutpie()
    key = _key(spec)
    if nutpie is not None:
        if key not in _COMPILED:
            _COMPILED[key] = nutpie.compile_pymc_model(build_pymc_model(spec))
        compiled = _COMPILED[key].with_data(y=spec.data.y, se=spec.data.se)
        tree = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed, progress_bar=progressbar,
                             target_accept=target_accept, save_warmup=False)
        post, stats = tree["posterior"].to_dataset(), tree["sample_stats"].to_dataset()
        diverging = stats["diverging"].values
        tree_depth = stats["depth"].values if "depth" in stats else None
    else:  # PyMC's own NUTS where nutpie is not installed
        import pymc as pm

        if key not in _COMPILED:
            _COMPILED[key] = build_pymc_model(spec)
        model = _COMPILED[key]
        with model:
            pm.set_data({"y": spec.data.y, "se": spec.data.se})
            tree = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progressbar,
                             target_accept=target_accept, compute_convergence_checks=False)
        post, stats = tree["posterior"].to_dataset(), tree["sample_stats"].to_dataset()
        diverging = stats["diverging"].values
        tree_depth = stats["tree_depth"].values if "tree_depth" in stats else None
    mu = post["mu"].values
    tau = post["tau"].values if spec.model == "random" else np.zeros_like(mu)
    return mu, tau, dict(diverging=diverging, tree_depth=tree_depth)


def sample(spec, seed, draws=1000, chains=4, tune=1000, target_accept=0.9, progressbar=False):
    """Sample (mu, tau); retry with a higher target_accept while there are divergences.

    Returns ({"mu": ..., "tau": ...}, settings) where settings records the sampler, target_accept used
    and the number of divergences.
    """
    sampler = "nutpie" if _nutpie() is not None else "pymc"
    for attempt, accept in enumerate((target_accept, *[t for t in RETRY_TARGET_ACCEPT if t > target_accept])):
        mu, tau, stats = _run(spec, seed + attempt, draws, chains, tune, accept, progressbar)
        n_div = int(np.sum(stats["diverging"]))
        if n_div == 0:
            break
    if n_div:
        warnings.warn(f"{n_div} divergent transitions remain at target_accept = {accept}: the posterior may be "
                      "biased. Try engine='exact' (for this model it is exact), a more informative tau prior, "
                      "or more tuning steps (tune=...)", ConvergenceWarning, stacklevel=3)
    return ({"mu": mu, "tau": tau, "diverging": stats["diverging"], "tree_depth": stats["tree_depth"]},
            dict(sampler=sampler, target_accept=accept, divergences=n_div, draws=draws, chains=chains, tune=tune,
                 seed=seed + attempt))
