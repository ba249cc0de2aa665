"""The model specification (data + likelihood + priors) and `fit`, which hands it to an engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import priors as _priors
from .effects import EffectData

ENGINES = ("exact", "mcmc")
MODELS = ("random", "common")


@dataclass(frozen=True)
class Model:
    """Normal-normal hierarchical model: y_i ~ N(theta_i, se_i^2), theta_i ~ N(mu, tau^2).

    model="common" fixes tau = 0 (the common-effect model). Priors are prior strings or objects.
    """

    data: EffectData
    tau_prior: _priors.TauPrior
    mu_prior: _priors.MuPrior
    model: str = "random"

    @classmethod
    def build(cls, data, tau_prior=None, mu_prior=None, model="random") -> "Model":
        if not isinstance(data, EffectData):
            raise TypeError("fit() takes an EffectData; build one with bm.EffectData.from_dataframe(...)")
        if model not in MODELS:
            raise ValueError(f"model must be 'random' or 'common', not {model!r}")
        tau = _priors.tau_prior(tau_prior).bind(data)
        if not tau.proper and data.k < 2:
            raise ValueError("an improper prior on tau needs at least 2 studies")
        return cls(data, tau, _priors.mu_prior(mu_prior), model)

    def describe(self) -> str:
        """The model and its priors in words."""
        if self.model == "common":
            return (f"Common-effect model (tau = 0): y_i ~ N(mu, se_i^2), with a {self.mu_prior.describe()}.")
        return ("Normal-normal random-effects model: y_i ~ N(theta_i, se_i^2), theta_i ~ N(mu, tau^2), "
                f"with a {self.mu_prior.describe()} and a {self.tau_prior.describe()}.")


def fit(data: EffectData, tau_prior=None, mu_prior=None, engine: str = "exact", seed: int | None = None,
        model: str = "random", draws: int = 1000, chains: int = 4, tune: int = 1000,
        target_accept: float = 0.9, progressbar: bool = False):
    """Fit the normal-normal model and return a `Fit` (see bayesmeta.posterior).

    tau_prior: prior string or object (default half-normal(0.5), see bayesmeta.priors); mu_prior: "flat"
    (default) or "normal(m, s)" ("student_t(nu, m, s)" with engine="mcmc"). engine: "exact" (quadrature,
    with i.i.d. draws for plots) or "mcmc" (PyMC model sampled by nutpie). seed: same seed, same
    numbers; None draws a seed and records it. draws x chains posterior draws on both engines.
    """
    from .posterior import Fit

    if engine not in ENGINES:
        raise ValueError(f"engine must be 'exact' or 'mcmc', not {engine!r}")
    spec = Model.build(data, tau_prior, mu_prior, model)
    seed = int(np.random.SeedSequence().entropy % 2**31) if seed is None else int(seed)
    if engine == "exact":
        from .exact import ExactPosterior

        exact = ExactPosterior(data.y, data.vi, spec.tau_prior, spec.mu_prior,
                               fixed_tau=0.0 if model == "common" else None)
        return Fit.from_exact(spec, exact, seed=seed, draws=draws, chains=chains)
    from .mcmc import sample

    tree, settings = sample(spec, seed=seed, draws=draws, chains=chains, tune=tune, target_accept=target_accept,
                            progressbar=progressbar)
    return Fit.from_mcmc(spec, tree, seed=seed, settings=settings)
