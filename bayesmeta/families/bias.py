"""Bias models: PET and PEESE (meta-regression on the standard error or the variance) and step-function
selection models on p-values (Stanley & Doucouliagos 2014; Vevea & Hedges 1995; RoBMA, Bartoš et al. 2023).

PET / PEESE: y_i ~ N(mu + b x_i, se_i^2 + tau^2), x_i = se_i (PET) or se_i^2 (PEESE): Gaussian given tau, so
the exact engine's quadrature over tau applies (flat or normal prior on b, `beta_prior`). mu is the effect of a
study with se = 0 (the bias-corrected effect), b the small-study coefficient. Quantities: mu, PET or PEESE (b),
theta_new (a new study at se = 0), tau, tau2, I2, theta[study].

Step-function selection: a study is published with relative probability omega_j when its p-value lies in
interval j of the cut points c_1 < ... < c_{J-1}; omega_1 = 1 for the most significant interval. p is
one-sided in the direction of benefit (`benefit="lower"`: small p for negative effects; else positive), or
two-sided. The likelihood of a study is

    N(y_i; mu, s_i^2) omega_{j(i)} / sum_j omega_j P(p_i in interval j | mu, s_i),   s_i^2 = se_i^2 + tau^2.

The weights' prior is RoBMA's cumulative Dirichlet: eta ~ Dirichlet(alpha) (default all 1) and
omega_J = eta_1, omega_{J-1} = eta_1 + eta_2, ..., omega_1 = 1 (non-increasing in p). Selection acts on
the observed y only, so theta_i | y_i, mu, tau is the usual normal. Fitted by MCMC (PyMC); its marginal
likelihood by quadrature in bayesmeta.averaging. Quantities: mu, tau, tau2, I2, theta_new, omega[j] (j = 1..J).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ..errors import DataError
from .base import HyperFunction, Linear, LinearFamily, PooledEffect

SLOPE = {"PET": ("se", "the standard error"), "PEESE": ("se2", "the sampling variance")}


def benefit_direction(data) -> int:
    """+1 where positive effects are favourable (or no direction is given, as RoBMA), -1 for benefit='lower'."""
    return -1 if data.benefit == "lower" else 1


def check_slope_identified(data, kind):
    """DataError unless the standard errors vary: with one SE for all studies (or k = 1) the PET / PEESE slope
    cannot be told apart from the effect mu."""
    if data.k < 2:
        raise DataError(f"bias={kind!r} needs at least 2 studies with different standard errors (k = {data.k})")
    if np.ptp(np.asarray(data.se, float)) == 0:
        raise DataError(f"bias={kind!r}: every study has the same standard error ({data.se[0]:g}, k = {data.k}), "
                        f"so the {kind} slope on {SLOPE[kind][1]} cannot be told apart from the effect mu")


@dataclass
class PETPEESE(LinearFamily):
    """PET (`kind="PET"`) or PEESE (`kind="PEESE"`): see the module docstring."""

    kind: str = "PET"
    coef_name = "beta"
    coef_dim = "term"

    def __post_init__(self):
        if self.kind not in SLOPE:
            raise ValueError(f"bias must be 'PET', 'PEESE' or 'selection(...)', not {self.kind!r}")
        check_slope_identified(self.data, self.kind)
        se = self.data.se
        x = se if self.kind == "PET" else se**2
        self.terms = ("intercept", SLOPE[self.kind][0])
        self.coef_priors = [self.mu_prior, self.beta_prior]
        self.blocks = [self._block(np.arange(self.data.k), np.column_stack([np.ones_like(x), x]), slice(0, 2))]

    @property
    def name(self):
        return self.kind

    def _quantity(self, base, arg, name):
        if arg is None:
            if base == "mu":
                return Linear(self.unit(0))
            if base in (self.kind, "bias"):
                return Linear(self.unit(1))
            if base == "theta_new":
                return Linear(self.unit(0), ((0, 0, 1.0),))
            if base in ("tau", "tau2", "I2"):
                return self.heterogeneity(base)
        if base == "beta" and arg is not None and arg.strip() in self.terms:
            return Linear(self.unit(self.terms.index(arg.strip())))
        raise self.unknown(name, ["mu", self.kind, "theta_new", "tau", "tau2", "I2", "theta[study]"])

    def summary_rows(self):
        return ["mu", self.kind, "tau", "tau2", "I2", "theta_new"]

    def arguments(self):
        return dict(model=self.effects, bias=self.kind)

    def pooled(self):
        return [("at se = 0 (bias-corrected)", "mu", "theta_new")]

    def comparisons(self):
        return [(self.kind, f"each unit more of {SLOPE[self.kind][1]} (less precise studies)")]

    def derived_draws(self):
        return []

    def describe(self) -> str:
        x = "se_i" if self.kind == "PET" else "se_i^2"
        tau = "" if self.effects == "common" else " + tau^2"
        return (f"{self.kind} bias model: y_i ~ N(mu + b {x}, se_i^2{tau}), mu the effect at se = 0, with a "
                f"{self.coef_priors[0].describe()} and on b a {self.coef_priors[1].describe()}")


# ---------------------------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class WeightFunction:
    """Step weights on p-values with cut points `cuts` (increasing, in (0, 1)); `two_sided` p-values or
    one-sided ones; `alpha` the cumulative Dirichlet parameters (J = len(cuts) + 1 of them, default 1s)."""

    cuts: tuple
    two_sided: bool = False
    alpha: tuple = ()

    def __post_init__(self):
        cuts = tuple(float(c) for c in self.cuts)
        if not cuts or any(not 0 < c < 1 for c in cuts) or any(b <= a for a, b in zip(cuts, cuts[1:])):
            raise ValueError(f"selection cut points must increase strictly inside (0, 1), not {self.cuts!r}")
        object.__setattr__(self, "cuts", cuts)
        alpha = tuple(float(a) for a in self.alpha) or (1.0,) * (len(cuts) + 1)
        if len(alpha) != len(cuts) + 1 or any(a <= 0 for a in alpha):
            raise ValueError(f"alpha needs {len(cuts) + 1} positive values for {len(cuts)} cut points")
        object.__setattr__(self, "alpha", alpha)

    @property
    def J(self) -> int:
        return len(self.cuts) + 1

    @property
    def label(self) -> str:
        side = "two-sided" if self.two_sided else "one-sided"
        return f"{side} ({', '.join(f'{c:g}' for c in self.cuts)})"

    def interval_names(self) -> list[str]:
        edges = [0.0, *self.cuts, 1.0]
        return [f"{a:g} < p < {b:g}" if a else f"p < {b:g}" for a, b in zip(edges[:-1], edges[1:])]

    def edges(self, se) -> np.ndarray:
        """(k, J + 1) bounds on y (one-sided, in the direction of benefit) or on |y| (two-sided), from the
        most significant interval down: +inf, thresholds, then -inf (one-sided) or 0 (two-sided)."""
        se = np.asarray(se, float)[:, None]
        cuts = np.array(self.cuts)
        z = -special.ndtri(cuts / 2 if self.two_sided else cuts)  # not ndtri(1 - c): 1 - 1e-20 rounds to 1 (z = inf)
        low = 0.0 if self.two_sided else -np.inf
        return np.column_stack([np.full(len(se), np.inf), se * z, np.full(len(se), low)])

    def interval_index(self, y, se, sign) -> np.ndarray:
        """The interval of each study's p-value (0 = most significant)."""
        yy = np.abs(y) if self.two_sided else sign * np.asarray(y, float)
        e = self.edges(se)
        return np.sum(yy[:, None] <= e[:, 1:-1], axis=1)

    def interval_probs(self, mu, s, edges, cdf=special.ndtr):
        """P(p in each interval | mu, s): (..., k, J) from mu, s broadcastable to (..., k) and edges (k, J + 1);
        mu is in the direction of benefit for one-sided p. `cdf` is the standard normal CDF (numpy or pytensor)."""
        mu, s = mu[..., None], s[..., None]
        below = cdf((edges - mu) / s)
        if self.two_sided:
            below = below - cdf((-edges - mu) / s)
        return below[..., :-1] - below[..., 1:]

    # the weights as points of the unit cube (quadrature): omega_{j+1} = u_1 ... u_j, Jacobian prod u^(J-1-j)
    def omega_from_cube(self, u) -> tuple[np.ndarray, np.ndarray]:
        """omega (n, J) and log(prior density x Jacobian) (n,) at points u (n, J - 1) of the unit cube."""
        u = np.atleast_2d(u)
        omega = np.column_stack([np.ones(len(u)), np.cumprod(u, axis=1)])
        with np.errstate(divide="ignore"):
            log_jac = np.sum((self.J - 2 - np.arange(self.J - 1)) * np.log(u), axis=1)
        return omega, log_jac + self.log_prior(omega)

    def log_prior(self, omega) -> np.ndarray:
        """log density of the cumulative Dirichlet at omega (n, J): Dirichlet(alpha) at eta_1 = omega_J,
        eta_m = omega_{J-m+1} - omega_{J-m+2}, eta_J = 1 - omega_2 (a linear map with unit Jacobian)."""
        alpha = np.array(self.alpha)
        out = np.full(len(omega), special.gammaln(alpha.sum()) - special.gammaln(alpha).sum())
        eta = -np.diff(np.column_stack([omega, np.zeros(len(omega))]), axis=1)[:, ::-1]
        for m in np.flatnonzero(alpha != 1):
            with np.errstate(divide="ignore"):
                out = out + (alpha[m] - 1) * np.log(eta[:, m])
        return out


_SELECTION = re.compile(r"^\s*(selection|one-sided|two-sided)\s*\((.*)\)\s*$", re.I)


def parse_bias(spec):
    """'PET', 'PEESE', a WeightFunction, or 'selection(0.025, 0.05)' (one-sided), 'selection(0.05, 0.1,
    two-sided)', 'two-sided(0.05)', 'one-sided(0.025, 0.05)' -> 'PET' | 'PEESE' | WeightFunction."""
    if isinstance(spec, WeightFunction):
        return spec
    if not isinstance(spec, str):
        raise ValueError(f"bias must be a string such as 'PET', 'PEESE' or 'selection(0.025, 0.05)', not {spec!r}")
    if spec.strip().upper() in SLOPE:
        return spec.strip().upper()
    m = _SELECTION.match(spec)
    if not m:
        raise ValueError(f"bias must be 'PET', 'PEESE' or 'selection(0.025, 0.05)', not {spec!r}")
    parts = [p.strip() for p in m.group(2).split(",") if p.strip()]
    two = m.group(1).lower() == "two-sided"
    if parts and parts[-1].lower() in ("two-sided", "one-sided"):
        two = parts.pop().lower() == "two-sided"
    try:
        cuts = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"cannot read the cut points of {spec!r}: write e.g. 'selection(0.025, 0.05)'") from None
    return WeightFunction(cuts, two_sided=two)


@dataclass
class StepSelection(PooledEffect):
    """Random-effects model with a step-function selection model (see the module docstring); MCMC only."""

    weights: WeightFunction = field(default_factory=lambda: WeightFunction((0.025,)))
    name = "selection model"
    quantities = ("mu", "tau", "tau2", "I2", "theta_new")

    def __post_init__(self):
        super().__post_init__()
        self.sign = benefit_direction(self.data)

    def check_exact(self):
        raise ValueError("the selection model's likelihood is not Gaussian given tau: use engine='mcmc' (its "
                         "marginal likelihood is computed by quadrature in bm.average)")

    def _quantity(self, base, arg, name):
        if base == "omega" and arg is not None:
            j = int(arg) if arg.strip().isdigit() else 0
            if not 1 <= j <= self.weights.J:
                raise ValueError(f"omega[j] needs j from 1 to {self.weights.J}, not {arg!r}")
            return HyperFunction(f"omega[{j}]", lambda t, j=j: t[:, j])
        return super()._quantity(base, arg, name)

    def hyper_quantity(self, base):
        return self.heterogeneity(base) if base in ("tau", "tau2", "I2") else None

    def summary_rows(self):
        return [*self.quantities, *[f"omega[{j}]" for j in range(2, self.weights.J + 1)]]

    def hyper_names(self):
        return ["tau", "omega"]

    def cache_key(self):
        return (*super().cache_key(), self.weights, self.sign)

    def arguments(self):
        two = ", two-sided" if self.weights.two_sided else ""
        return dict(model=self.effects, bias=f"selection({', '.join(f'{c:g}' for c in self.weights.cuts)}{two})")

    def coords(self):
        return {**super().coords(), "interval": self.weights.interval_names()}

    def describe(self) -> str:
        return (f"Random-effects model with a {self.weights.label} step-function selection model on p-values "
                f"(weights omega_j, omega_1 = 1, cumulative Dirichlet prior): y_i ~ N(mu, se_i^2 + tau^2) x "
                f"omega(p_i) / normalising constant; with a {self.coef_priors[0].describe()}")

    def coefficient_variables(self, beta, tau):
        out = super().coefficient_variables(beta, tau[:, :1])
        out["omega"] = (tau[:, 1:], ["interval"])
        return out

    def draw_study_effects(self, beta, tau, rng):
        return super().draw_study_effects(beta, tau[:, :1], rng)

    def pymc_data(self):
        w = self.weights
        return dict(y=self.data.y, se=self.data.se, edges=np.nan_to_num(w.edges(self.data.se), posinf=1e30,
                    neginf=-1e30), interval_index=w.interval_index(self.data.y, self.data.se, self.sign))

    def pymc_model(self, spec):
        """The likelihood above as a Normal plus a Potential; the weights from a Dirichlet (cumulative sums)."""
        import pymc as pm
        import pytensor.tensor as pt

        w, values = self.weights, self.pymc_data()
        cdf = lambda z: 0.5 * pt.erfc(-z / math.sqrt(2))  # noqa: E731
        with pm.Model(coords=self.coords()) as model:
            y = pm.Data("y", values["y"], dims="study")
            se = pm.Data("se", values["se"], dims="study")
            edges = pm.Data("edges", values["edges"])
            index = pm.Data("interval_index", values["interval_index"], dims="study")
            mu = self.coef_priors[0].pymc("mu")
            tau = spec.tau_prior.pymc("tau", se=se)
            eta = pm.Dirichlet("eta", a=np.array(w.alpha))
            omega = pm.Deterministic("omega", pt.cumsum(eta)[::-1], dims="interval")
            s = pt.sqrt(se**2 + tau**2)
            pm.Normal("y_obs", mu=mu, sigma=s, observed=y, dims="study")
            probs = w.interval_probs(self.sign * mu * pt.ones_like(s), s, edges, cdf=cdf)
            pm.Potential("selection", pt.sum(pt.log(omega[index.astype("int64")]))
                         - pt.sum(pt.log(pt.dot(probs, omega))))
        return model

    def from_posterior(self, post):
        mu = post["mu"].values[..., None]
        return mu, np.concatenate([post["tau"].values[..., None], post["omega"].values], axis=-1)
