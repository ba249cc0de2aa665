"""The normal-normal model: y_i ~ N(theta_i, v_i), theta_i ~ N(mu, tau^2) (random effects), or tau = 0
(common effect). Quantities: mu, theta_new (a new study's effect), tau, tau2, I2, theta[study]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Linear, LinearFamily

QUANTITIES = ("mu", "tau", "tau2", "I2", "theta_new")


@dataclass
class NormalNormal(LinearFamily):
    name = "normal-normal"
    coef_name = "mu"

    def __post_init__(self):
        k = self.data.k
        self.terms, self.coef_priors = ("mu",), [self.mu_prior]
        self.blocks = [self._block(np.arange(k), np.ones((k, 1)), slice(0, 1))]

    def _quantity(self, base, arg, name):
        if arg is None:
            if base == "mu":
                return Linear(self.unit(0))
            if base == "theta_new":
                return Linear(self.unit(0), ((0, 0, 1.0),))
            if base in ("tau", "tau2", "I2"):
                return self.heterogeneity(base)
        raise self.unknown(name, [*QUANTITIES, "theta[study]"])

    def summary_rows(self):
        return list(QUANTITIES)

    def derived_draws(self) -> list[str]:
        return ["theta_new"]

    def pooled(self):
        return [("", "mu", "theta_new")]

    def describe(self) -> str:
        mu = self.coef_priors[0].describe()
        if self.effects == "common":
            return f"Common-effect model (tau = 0): y_i ~ N(mu, se_i^2), with a {mu}."
        return f"Normal-normal random-effects model: y_i ~ N(theta_i, se_i^2), theta_i ~ N(mu, tau^2), with a {mu}"

