"""The model specification (a family with its data, and the priors) and `fit`, which hands it to an engine."""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

import numpy as np

from . import priors as _priors
from .effects import EffectData
from .errors import EstimationWarning
from .families import LinearFamily, NormalNormal, build_family


@dataclass(frozen=True)
class Model:
    """A family (which holds the data and the coefficient priors) and the prior on tau."""

    family: LinearFamily
    tau_prior: _priors.TauPrior
    mu_prior: _priors.MuPrior
    beta_prior: _priors.MuPrior
    tau_prior_note: str | None = None
    tau_within_prior: _priors.TauPrior | None = None  # the second level of multilevel families

    def prior_key(self) -> tuple:
        """What a compiled PyMC model depends on among the priors."""
        return (str(self.tau_prior), str(self.tau_within_prior), tuple(str(p) for p in self.family.coef_priors))

    @property
    def data(self) -> EffectData:
        """The data the model is fitted to (rows with missing moderators dropped where asked)."""
        return self.family.data

    @property
    def model(self) -> str:
        return self.family.effects

    @classmethod
    def build(cls, data, tau_prior=None, mu_prior=None, model="random", moderators=None, subgroup=None,
              subgroup_tau="common", beta_prior=None, drop_missing=False, tau_within_prior=None, effects="normal",
              nu_prior=None, bias=None) -> "Model":
        if not isinstance(data, EffectData):
            raise TypeError("fit() takes an EffectData; build one with bm.EffectData.from_dataframe(...)")
        if data.cluster is not None and model != "three-level" and len(set(data.cluster)) < data.k:
            warnings.warn(f"the data group {data.k} effects into {len(set(data.cluster))} clusters, but the "
                          f"{model} model treats them as independent; model='three-level' accounts for the "
                          "dependence", EstimationWarning, stacklevel=3)
        mu, beta = _priors.mu_prior(mu_prior), _priors.mu_prior(beta_prior)
        nu = None if nu_prior is None else _priors.tau_prior(nu_prior)
        family = build_family(data, model, moderators, subgroup, subgroup_tau, drop_missing, mu, beta, effects, nu,
                              bias)
        note = None
        if tau_prior is None and family.random:
            tau, note = _priors.default_tau_prior(family.data)
        else:
            tau = _priors.tau_prior(tau_prior)
        if isinstance(tau, _priors.Jeffreys) and not isinstance(family, NormalNormal):
            raise ValueError("the Jeffreys prior on tau is defined here for the normal-normal model only; choose a "
                             "proper prior for meta-regression and subgroups")
        tau = tau.bind(family.data)
        if family.random and not tau.proper and family.data.k < 2:
            raise ValueError("an improper prior on tau needs at least 2 studies")
        within = None
        if "tau_within" in family.hyper_names():
            within = tau if tau_within_prior is None else _priors.tau_prior(tau_within_prior).bind(family.data)
            if not (tau.proper and within.proper):
                raise ValueError("the three-level model needs proper priors on tau and tau_within")
        elif tau_within_prior is not None:
            raise ValueError(f"tau_within_prior is for the three-level model, not the {family.name} model")
        return cls(family, tau, mu, beta, note, within)

    def describe(self) -> str:
        """The model and its priors in words."""
        text = self.family.describe()
        if self.tau_within_prior is not None:
            text += (f"; between clusters a {self.tau_prior.describe()}, within clusters a "
                     f"{self.tau_within_prior.describe()}")
        elif self.family.random:
            text += f", and a {self.tau_prior.describe()}"
        return text + "."

    def prior_draws(self, shape, rng) -> dict:
        """Draws from the priors of tau and, where they are proper, of the coefficients (and of a new
        study's effect in the normal-normal model), for the DataTree's prior group."""
        fam, n = self.family, int(np.prod(shape))
        out = {}
        if fam.random and self.tau_prior.proper and len(fam.blocks) == 1:
            out["tau"] = np.asarray(self.tau_prior.rvs(n, rng)).reshape(shape)
        if self.tau_within_prior is not None:
            out["tau_within"] = np.asarray(self.tau_within_prior.rvs(n, rng)).reshape(shape)
        if "nu" in fam.hyper_names():  # Student-t effects: nu = 1 + its prior on nu - 1
            excess = fam.nu_prior.rvs(n, rng) if fam.nu_prior is not None else rng.exponential(29, n)
            out["nu"] = 1 + np.asarray(excess).reshape(shape)
        if all(p.proper for p in fam.coef_priors):
            coef = np.stack([p.rvs(n, rng) for p in fam.coef_priors], axis=-1)
            out[fam.coef_name] = coef.reshape(shape) if fam.coef_dim is None else coef.reshape(*shape, -1)
            if fam.derived_draws() == ["theta_new"]:  # the family's own new-study deviation (t for t effects)
                hyper = [out.get(name, np.zeros(shape)) for name in fam.hyper_names()] or [np.zeros(shape)]
                tau = np.stack([h.ravel() for h in hyper], axis=-1)
                out["theta_new"] = out["mu"] + fam.new_study_deviation(tau, 0, rng).reshape(shape)
        return out


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, not {value!r}")
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
    from .engines import get_engine
    from .posterior import Fit

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
