"""The three-level model for several effects per trial (cluster): y_ij ~ N(theta_ij, v_ij),
theta_ij ~ N(kappa_j, tau_w^2), kappa_j ~ N(mu, tau^2) (Konstantopoulos 2011; Cheung 2014).

Quantities: mu, theta_new (a new effect in a new cluster, SD sqrt(tau^2 + tau_w^2)), tau and tau2 (between
clusters), tau_within and tau2_within, I2 (both levels) and I2_between and I2_within (Cheung's split of the total variance,
tau^2 / (tau^2 + tau_w^2 + s^2) with s^2 the typical within-study variance), theta[effect]. The exact engine
integrates (tau, tau_w) in two dimensions (engines/multilevel.py); MCMC samples the cluster effects
non-centred with the effects within clusters integrated out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, EstimationWarning, user_stacklevel
from ..numerics import cluster_sums
from .base import HyperFunction, Heterogeneity, PooledEffect, typical_variance

QUANTITIES = ("mu", "tau", "tau_within", "tau2", "tau2_within", "I2", "I2_between", "I2_within", "theta_new")


@dataclass
class ThreeLevel(PooledEffect):
    name = "three-level"
    display = "clusters"
    quantities = QUANTITIES
    exact_integrator = "two-level"

    def __post_init__(self):
        if self.data.cluster is None:
            raise DataError("a three-level model needs clusters: build the data with cluster='trial' (the column "
                            "that groups the effects of one trial)")
        names, index = np.unique(self.data.cluster, return_inverse=True)
        if len(names) < 2:
            raise DataError(f"a three-level model needs at least 2 clusters (the data have {len(names)})")
        self.cluster_names, self.cluster_index, self.clusters = names, index, len(names)
        if self.clusters == self.data.k:
            warnings.warn(f"every cluster has one effect ({self.data.k} effects): tau and tau_within are not "
                          "separately identified (their split is the priors'); fit the random-effects model instead",
                          EstimationWarning, stacklevel=user_stacklevel())
        super().__post_init__()
        self.s2 = typical_variance(self.data.vi)

    def _share(self, levels):
        s2 = self.s2
        return lambda t: 100 * np.sum(t[:, levels] ** 2, axis=1) / (t[:, 0] ** 2 + t[:, 1] ** 2 + s2)

    def hyper_quantity(self, base):
        if base in ("tau", "tau2"):
            return Heterogeneity(0, base)
        if base in ("tau_within", "tau2_within"):
            return Heterogeneity(1, base.replace("_within", ""))
        if base in ("I2", "I2_between", "I2_within"):
            return HyperFunction(base, self._share({"I2": [0, 1], "I2_between": [0], "I2_within": [1]}[base]),
                                 (0.0, 100.0))
        return None

    def arguments(self):
        return dict(model="three-level")

    def hyper_names(self):
        return ["tau", "tau_within"]

    def describe(self) -> str:
        return (f"Three-level model: y_ij ~ N(theta_ij, se_ij^2), theta_ij ~ N(kappa_j, tau_within^2) for the "
                f"{self.data.k} effects of {self.clusters} clusters, kappa_j ~ N(mu, tau^2); "
                f"with a {self.coef_priors[0].describe()}")

    def cache_key(self):
        return (self.name, self.data.k, self.clusters)

    def coords(self):
        return {**super().coords(), "cluster": [str(c) for c in self.cluster_names]}

    # ---------------------------------------------------------------- study effects
    def _cluster_terms(self, tau, tau_w):
        """For each effect: B = v / (v + tau_w^2), and kappa_j | mu, y ~ N(a + g mu, var_k) as arrays
        broadcast against the leading axes of tau, tau_w (..., k)."""
        y, v, idx = self.data.y, self.data.vi, self.cluster_index
        s, t, _, _ = cluster_sums(y, v, tau_w**2, idx, self.clusters)
        var_k = tau[..., None] ** 2 / (1 + tau[..., None] ** 2 * s)
        a, g = (var_k * t)[..., idx], (1 - var_k * s)[..., idx]
        shrink = v / (v + tau_w[..., None] ** 2)
        return shrink, a, g, var_k[..., idx]

    def shrunken_components(self, fac, j, pos):
        """theta_ij = (1 - B) y + B kappa_j + noise: at each node linear in mu ~ N(b, V)."""
        tau, tau_w = fac.hyper[:, 0], fac.hyper[:, 1]
        shrink, a, g, var_k = self._cluster_terms(tau, tau_w)
        y, v = self.data.y[pos], self.data.vi[pos]
        B, a, g, var_k = shrink[:, pos].T, a[:, pos].T, g[:, pos].T, var_k[:, pos].T
        mean = (1 - B) * y[:, None] + B * (a + g * fac.b[:, 0])
        var = (B * g) ** 2 * fac.cov[:, 0, 0] + B**2 * var_k + v[:, None] * (1 - B)
        return fac.weight, mean, np.sqrt(var)

    def draw_study_effects(self, beta, tau, rng):
        shrink, a, g, var_k = self._cluster_terms(tau[:, 0], tau[:, 1])
        kappa_mean = a + g * beta[:, :1]
        y, v = self.data.y, self.data.vi
        # one kappa per cluster and draw: draw at the cluster level, then spread to its effects
        first = np.unique(self.cluster_index, return_index=True)[1]
        kappa_c = rng.normal(kappa_mean[:, first], np.sqrt(var_k[:, first]))
        kappa = kappa_c[:, self.cluster_index]
        return rng.normal(shrink * kappa + (1 - shrink) * y, np.sqrt(v * (1 - shrink)))

    def pointwise_log_likelihood(self, beta, tau):
        """log p(y_j | mu, tau, tau_w) of each cluster's effects jointly (they are dependent), N(mu 1, D + tau^2
        11'), D = diag(v + tau_w^2), by Sherman-Morrison: (S, clusters) over the dimension "cluster"."""
        y, v, idx, m = self.data.y, self.data.vi, self.cluster_index, self.clusters
        s, t, q, _ = cluster_sums(y, v, tau[:, 1] ** 2, idx, m)
        C = np.zeros((len(y), m))
        C[np.arange(len(y)), idx] = 1.0
        logdet = np.log(v + tau[:, 1:2] ** 2) @ C + np.log1p(tau[:, :1] ** 2 * s)
        mu = beta[:, :1]
        rss = q - 2 * mu * t + mu**2 * s
        quad = rss - tau[:, :1] ** 2 * (t - mu * s) ** 2 / (1 + tau[:, :1] ** 2 * s)
        return -0.5 * (C.sum(0) * np.log(2 * np.pi) + logdet + quad), "cluster"

    def new_study_sd(self, tau, block):
        return np.sqrt(tau[:, 0] ** 2 + tau[:, 1] ** 2)

    def coefficient_variables(self, beta, tau):
        s2 = self.s2
        total = tau[:, 0] ** 2 + tau[:, 1] ** 2 + s2
        return {"mu": (beta[:, 0], []), "tau": (tau[:, 0], []), "tau_within": (tau[:, 1], []),
                "tau2": (tau[:, 0] ** 2, []), "tau2_within": (tau[:, 1] ** 2, []),
                "I2": (100 * (tau[:, 0] ** 2 + tau[:, 1] ** 2) / total, []),
                "I2_between": (100 * tau[:, 0] ** 2 / total, []), "I2_within": (100 * tau[:, 1] ** 2 / total, [])}

    # ---------------------------------------------------------------- PyMC
    def pymc_data(self):
        return dict(y=self.data.y, se=self.data.se, cluster_index=self.cluster_index)

    def pymc_model(self, spec):
        """Cluster effects kappa_j = mu + tau z_j (non-centred), effects within clusters integrated out:
        y_ij ~ N(kappa_j, se_ij^2 + tau_w^2)."""
        import pymc as pm
        import pytensor.tensor as pt

        coords = {"study": [str(s) for s in self.data.study], "cluster": [str(c) for c in self.cluster_names]}
        with pm.Model(coords=coords) as model:
            y = pm.Data("y", self.data.y, dims="study")
            se = pm.Data("se", self.data.se, dims="study")
            cluster = pm.Data("cluster_index", self.cluster_index, dims="study")
            mu = self.coef_priors[0].pymc("mu")
            tau = spec.tau_prior.pymc("tau", se=se)
            tau_w = spec.tau_within_prior.pymc("tau_within", se=se)
            z = pm.Normal("z", 0, 1, dims="cluster")
            kappa = mu + tau * z
            pm.Normal("y_obs", mu=kappa[cluster], sigma=pt.sqrt(se**2 + tau_w**2), observed=y, dims="study")
        return model

    def from_posterior(self, post):
        beta = post["mu"].values[..., None]
        return beta, np.stack([post["tau"].values, post["tau_within"].values], axis=-1)
