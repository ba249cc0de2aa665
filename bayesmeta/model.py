"""The model specification (a family with its data, and the priors) and `fit`, which hands it to an engine."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from . import priors as _priors
from .effects import EffectData
from .errors import PACKAGE_DIR, EstimationWarning
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
                          "dependence", EstimationWarning, skip_file_prefixes=PACKAGE_DIR)
        mu, beta = _priors.mu_prior(mu_prior), _priors.mu_prior(beta_prior, "beta_prior")
        nu = None if nu_prior is None else _priors.tau_prior(nu_prior, "nu_prior (the prior on nu - 1)")
        family = build_family(data, model, moderators, subgroup, subgroup_tau, drop_missing, mu, beta, effects, nu,
                              bias)
        note = None
        if tau_prior is not None and not family.random:
            warnings.warn(f"tau_prior {str(tau_prior)!r} is not used: the common-effect model fixes tau = 0",
                          UserWarning, skip_file_prefixes=PACKAGE_DIR)
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
            within = tau if tau_within_prior is None else _priors.tau_prior(tau_within_prior,
                                                                            "tau_within_prior").bind(family.data)
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

    def log_prior(self, beta, tau) -> dict:
        """log p of the proper priors at posterior draws beta (S, p), tau (S, H), one (S,) array per parameter
        (the DataTree's log_prior group, for power-scaling): the tau prior of each block (and tau_within), the
        normal or Student-t coefficient priors; flat priors are constant and left out."""
        fam, out = self.family, {}
        priors = {"tau": self.tau_prior, "tau_within": self.tau_within_prior}
        columns = ["tau"] * len(fam.blocks) if len(fam.blocks) > 1 else fam.hyper_names()  # separate taus
        for j, name in enumerate(columns if fam.random and self.tau_prior.proper else []):
            if priors.get(name) is not None:
                out[name] = out.get(name, 0.0) + np.asarray(priors[name].logpdf(tau[:, j]), float)
        for j, (name, prior) in enumerate(zip(fam.coefficient_rows(), fam.coef_priors)):
            if prior.proper:
                out[name.replace("[", "_").rstrip("]")] = np.asarray(prior.logpdf(beta[:, j]), float)
        return out

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
