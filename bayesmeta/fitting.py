"""`fit(data, ...)`: build the Model (family + priors), run the engine, return the Fit. It sits above the
posterior and the engines (it imports both), so that the model layer stays below them."""

from __future__ import annotations

import numbers

import numpy as np

from .effects import EffectData
from .engines import get_engine
from .errors import plain
from .model import Model
from .posterior import Fit


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, not {plain(value)!r}")
    return int(value)


def check_seed(seed) -> int:
    """A seed for every engine: None draws one (recorded in the fit); else a whole number in [0, 2^32)."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % 2**31)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be a whole number from 0 to 2^32 - 1, not {seed!r}")
    return int(seed)


def fit(data: EffectData, tau_prior=None, mu_prior=None, engine: str = "exact", seed: int | None = None,
        model: str = "random", moderators: str | None = None, subgroup: str | None = None,
        subgroup_tau: str = "common", beta_prior=None, drop_missing: bool = False, tau_within_prior=None,
        effects: str = "normal", nu_prior=None, bias=None, draws: int = 1000,
        chains: int = 4, tune: int = 1000, target_accept: float = 0.9, progressbar: bool = False):
    """Fit a Bayesian meta-analysis and return a `Fit` (see bayesmeta.posterior).

    tau_prior: prior string or object (default by measure: half-normal(0.5) for SMDs, scaled to the data's
    unit-information SD otherwise; see `priors.default_tau_prior`); mu_prior: "flat" (default)
    or "normal(m, s)" ("student_t(nu, m, s)" with engine="mcmc"), the prior of mu, of the intercept of a
    meta-regression and of each subgroup mean. model: "random", "common" (tau = 0) or "three-level" (several
    effects per cluster, data built with cluster=...; tau between clusters, tau_within_prior within them,
    by default the prior of tau). effects="t": Student-t study effects (MCMC only), nu - 1 with the positive
    prior nu_prior (default exponential with mean 29).
    moderators: a formula such as "~ weeks + C(setting)" (meta-regression; `beta_prior`, default flat, is
    the prior of the other coefficients; drop_missing=True drops rows with a missing moderator and lists
    them). subgroup: a column (subgroup analysis), with subgroup_tau "common" (one tau) or "separate".
    engine: "exact" (quadrature, with i.i.d. draws for figures) or "mcmc" (PyMC sampled by nutpie).
    bias: "PET" or "PEESE" (meta-regression on se or se^2, exact; mu is the effect at se = 0, beta_prior the
    slope's prior) or "selection(0.025, 0.05)" (step-function selection on one-sided p-values, engine="mcmc");
    see bayesmeta.families.bias.
    seed: same seed, same numbers; None draws a seed and records it. draws x chains posterior draws.
    """
    engine_cls = get_engine(engine)
    seed = check_seed(seed)
    draws, chains, tune = _count(draws, "draws", 1), _count(chains, "chains", 1), _count(tune, "tune", 0)
    if not (isinstance(target_accept, numbers.Real) and 0 < target_accept < 1):
        raise ValueError(f"target_accept must be between 0 and 1, not {target_accept!r}")
    spec = Model.build(data, tau_prior, mu_prior, model, moderators, subgroup, subgroup_tau, beta_prior,
                       drop_missing, tau_within_prior, effects, nu_prior, bias)
    runner = engine_cls(draws=draws, chains=chains, tune=tune, target_accept=target_accept, progressbar=progressbar)
    backend, settings = runner.run(spec, seed)
    return Fit(spec, backend, engine, seed, settings)
