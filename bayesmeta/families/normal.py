"""The normal-normal model: y_i ~ N(theta_i, v_i), theta_i ~ N(mu, tau^2) (random effects), or tau = 0
(common effect). Quantities: mu, theta_new (a new study's effect), tau, tau2, I2, theta[study]."""

from __future__ import annotations

from dataclasses import dataclass

from .base import PooledEffect

QUANTITIES = ("mu", "tau", "tau2", "I2", "theta_new")


@dataclass
class NormalNormal(PooledEffect):
    name = "normal-normal"
    revman_forest = True
    quantities = QUANTITIES

    def hyper_quantity(self, base):
        return self.heterogeneity(base) if base in ("tau", "tau2", "I2") else None

    def batchable(self) -> bool:
        return self.random

    def cache_key(self):
        return self.shape_free_key()

    def describe(self) -> str:
        mu = self.coef_priors[0].describe()
        if self.effects == "common":
            return f"Common-effect model (tau = 0): y_i ~ N(mu, se_i^2), with a {mu}"
        return f"Normal-normal random-effects model: y_i ~ N(theta_i, se_i^2), theta_i ~ N(mu, tau^2), with a {mu}"
