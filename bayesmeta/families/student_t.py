"""Student-t random effects: y_i ~ N(theta_i, se_i^2), theta_i = mu + tau t_i, t_i ~ t_nu (heavy-tailed study
effects, robust to an outlying trial; Lee & Thompson 2008, Baker & Jackson 2008). nu has the prior
nu = 1 + Exponential(rate 1/29) (mean 30: close to normal unless the data say otherwise; Kruschke 2013) or
1 + the positive prior given as nu_prior. Not Gaussian given tau, so MCMC only: the study effects are
sampled (non-centred) and kept; a new study's effect is mu + tau t_nu.
Quantities: mu, tau (the scale of the effects), nu, theta_new, theta[study]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import HyperFunction, Heterogeneity, PooledEffect

QUANTITIES = ("mu", "tau", "nu", "theta_new")


@dataclass
class StudentTEffects(PooledEffect):
    nu_prior: object = None  # a positive prior on nu - 1 (a TauPrior object), or None for Exponential(1/29)
    name = "t random effects"
    quantities = QUANTITIES

    def __post_init__(self):
        super().__post_init__()
        self._theta = None  # the study effects sampled with the model

    def check_exact(self):
        raise ValueError("t-distributed study effects are not Gaussian given tau, so the exact engine cannot fit "
                         "them: use engine='mcmc'")

    def hyper_quantity(self, base):
        if base in ("tau", "tau2"):
            return Heterogeneity(0, base)
        return HyperFunction("nu", lambda t: t[:, 1], (1.0, np.inf)) if base == "nu" else None

    def cache_key(self):
        return (*super().cache_key(), str(self.nu_prior))

    def hyper_names(self):
        return ["tau", "nu"]

    def arguments(self):
        return dict(model=self.effects, effects="t", nu_prior=None if self.nu_prior is None else str(self.nu_prior))

    def describe(self) -> str:
        nu = ("nu - 1 ~ exponential with mean 29" if self.nu_prior is None
              else f"nu - 1 with a {self.nu_prior.describe()}")
        return (f"Random-effects model with Student-t study effects: y_i ~ N(theta_i, se_i^2), theta_i = mu + "
                f"tau t_i, t_i ~ t_nu, {nu}; with a {self.coef_priors[0].describe()}")

    # ---------------------------------------------------------------- draws
    def draw_study_effects(self, beta, tau, rng):
        return self._theta  # sampled with the model

    def pointwise_log_likelihood(self, beta, tau):
        """log N(y_i | theta_i, se_i^2) given the sampled study effects (their t distribution has no closed-form
        convolution with the normal)."""
        v = self.data.vi
        return -0.5 * (np.log(2 * np.pi * v) + (self.data.y - self._theta) ** 2 / v), "study"

    def new_study_deviation(self, tau, block, rng):
        return tau[:, 0] * rng.standard_t(tau[:, 1])

    def coefficient_variables(self, beta, tau):
        return {"mu": (beta[:, 0], []), "tau": (tau[:, 0], []), "tau2": (tau[:, 0] ** 2, []), "nu": (tau[:, 1], [])}

    def pymc_data(self):
        return dict(y=self.data.y, se=self.data.se)

    def pymc_model(self, spec):
        import pymc as pm

        with pm.Model(coords=self.coords()) as model:
            y = pm.Data("y", self.data.y, dims="study")
            se = pm.Data("se", self.data.se, dims="study")
            mu = self.coef_priors[0].pymc("mu")
            tau = spec.tau_prior.pymc("tau", se=se)
            excess = pm.Exponential("nu_minus_1", 1 / 29) if self.nu_prior is None else self.nu_prior.pymc(
                "nu_minus_1", se=se)
            nu = pm.Deterministic("nu", 1 + excess)
            z = pm.StudentT("z", nu=nu, mu=0, sigma=1, dims="study")
            theta = pm.Deterministic("theta", mu + tau * z, dims="study")
            pm.Normal("y_obs", mu=theta, sigma=se, observed=y, dims="study")
        return model

    def from_posterior(self, post):
        theta = post["theta"].values
        self._theta = theta.reshape(-1, theta.shape[-1])
        return post["mu"].values[..., None], np.stack([post["tau"].values, post["nu"].values], axis=-1)
