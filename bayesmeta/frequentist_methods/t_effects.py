"""Random effects with a Student-t distribution, by maximum likelihood (the approach of R's metaplus,
Beath 2014, Res Synth Methods 5:312): y_i = mu + tau t_i + e_i, t_i ~ t_nu, e_i ~ N(0, v_i).

The t distribution is a scale mixture of normals, t_i | lambda ~ N(0, 1/lambda), lambda ~ Gamma(nu/2, rate
nu/2), so each study's marginal density is a one-dimensional integral over u = log lambda,

    f(y_i) = int N(y_i | mu, v_i + tau^2 e^-u) Gamma(e^u; nu/2, nu/2) e^u du,

smooth in u: 10-point Gauss-Legendre panels one unit wide over [-80, 8] (the Gamma factor decays like
e^(nu u / 2) below and doubly exponentially above), and 40 more panels over +-12 SDs (sqrt(2/nu)) of its mode
u = 0, where large nu make it narrow. nu is kept in [1, 1000] (1000 is the normal model in all but name).
The log likelihood is maximised over (mu, log tau, log(nu - 1)) from the normal model's ML estimates;
the SE of mu comes from the observed information (the numerical Hessian in all three parameters, or mu's
own curvature where tau or nu is at a boundary). As nu grows the
model becomes the normal random-effects model; the likelihood-ratio statistic against it is reported.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize, special, stats

from ..errors import DataError
from .result import PooledOnly

_X, _W = np.polynomial.legendre.leggauss(10)
NU_MAX = 1000.0


@dataclass
class TEffectsResult(PooledOnly):
    """Maximum likelihood with Student-t random effects; intervals at `level` (Wald z)."""

    k: int
    mu: float
    se: float
    lower: float
    upper: float
    pvalue: float
    tau: float
    nu: float
    loglik: float
    loglik_normal: float
    lr_statistic: float
    level: float
    measure: str = "SMD"
    method: str = "ML"
    prediction = None
    ci = "z"

    @property
    def label(self) -> str:
        return "ML with t random effects"

    @property
    def tau2(self) -> float:
        return self.tau**2

    def to_dict(self) -> dict:
        return asdict(self)

    def __repr__(self):
        return "\n".join([
            f"Random effects with a Student-t distribution (ML, as metaplus), k = {self.k}",
            f"  mu  = {self.mu:.4f} (SE {self.se:.4f}), {self.level:.0%} CI [{self.lower:.4f}, {self.upper:.4f}] "
            f"(Wald z), p = {self.pvalue:.4g}",
            f"  tau = {self.tau:.4f} (scale of the t), nu = {self.nu:.3g}",
            f"  log likelihood {self.loglik:.3f}; normal random effects {self.loglik_normal:.3f}; "
            f"LR statistic {self.lr_statistic:.3f}"])


def _u_rule(nu):
    """Nodes and log weights (with the Gamma(nu/2, nu/2) density of lambda = e^u and the Jacobian) in u."""
    sd = math.sqrt(2 / nu)
    edges = np.unique(np.concatenate([np.arange(-80.0, 8.5, 1.0), np.linspace(-12 * sd, 12 * sd, 41)]))
    half = np.diff(edges)[:, None] / 2
    u = ((edges[:-1] + edges[1:])[:, None] / 2 + half * _X[None, :]).ravel()
    a = nu / 2
    log_gamma = a * math.log(a) - special.gammaln(a) + a * u - a * np.exp(u)  # log density of lambda, times lambda
    return u, np.log((half * _W[None, :]).ravel()) + log_gamma


def log_likelihood(mu, tau, nu, y, v) -> float:
    """sum_i log f(y_i) of the t random-effects model (see the module docstring)."""
    u, logw = _u_rule(nu)
    var = v[:, None] + tau**2 * np.exp(-u)[None, :]
    logn = -0.5 * (np.log(2 * math.pi * var) + (y[:, None] - mu) ** 2 / var)
    return float(np.sum(special.logsumexp(logn + logw[None, :], axis=1)))


def _normal_loglik(mu, tau, y, v):
    return float(np.sum(stats.norm.logpdf(y, mu, np.sqrt(v + tau**2))))


def t_effects(data, level=0.95) -> TEffectsResult:
    """Maximum-likelihood fit of the t random-effects model to `data` (needs at least 3 studies)."""
    y, v = np.asarray(data.y, float), np.asarray(data.vi, float)
    k = len(y)
    if k < 3:
        raise DataError(f"t random effects need at least 3 studies to estimate mu, tau and nu (k = {k})")
    # in standard units (y - centre) / scale: the optimisers' tolerances are then the same whatever the units
    # and location of the data (y + 1e8 or y / 1e3 give the same fit)
    scale = float(np.std(y)) + float(np.sqrt(np.mean(v)))
    centre = float(np.sum(y / v) / np.sum(1 / v))
    y, v = (y - centre) / scale, v / scale**2
    result = _fit_standard(y, v)
    z = stats.norm.ppf(0.5 + level / 2)
    mu, se, shift = centre + scale * result["mu"], scale * result["se"], k * math.log(scale)
    return TEffectsResult(k=k, mu=mu, se=se, lower=mu - z * se, upper=mu + z * se,
                          pvalue=float(2 * stats.norm.sf(abs(mu / se))), tau=scale * result["tau"], nu=result["nu"],
                          loglik=result["loglik"] - shift, loglik_normal=result["loglik_normal"] - shift,
                          lr_statistic=result["lr_statistic"], level=level, measure=data.measure)


def _fit_standard(y, v):
    """The maximum-likelihood fit on data in standard units: mu, se, tau, nu and the log likelihoods."""
    normal = optimize.minimize(lambda p: -_normal_loglik(p[0], math.exp(p[1]), y, v),
                               [float(np.mean(y)), math.log(0.5)], method="Nelder-Mead",
                               options=dict(xatol=1e-10, fatol=1e-12, maxiter=20000))

    def negll(p):
        mu, tau, nu = p[0], math.exp(p[1]), 1 + min(math.exp(p[2]), NU_MAX - 1)
        return -log_likelihood(mu, tau, nu, y, v)

    best = None
    for log_excess in (math.log(2.0), math.log(10.0), math.log(60.0)):
        res = optimize.minimize(negll, [normal.x[0], normal.x[1], log_excess], method="Nelder-Mead",
                                options=dict(xatol=1e-9, fatol=1e-12, maxiter=40000))
        if best is None or res.fun < best.fun:
            best = res
    mu, tau, nu = best.x[0], math.exp(best.x[1]), 1 + min(math.exp(best.x[2]), NU_MAX - 1)
    # the observed information of mu from the full Hessian (mu is correlated with tau and nu); where tau or nu
    # sits at a boundary (tau -> 0, nu -> NU_MAX) the Hessian is singular there, and mu's own curvature serves
    hess = _hessian(negll, best.x, np.array([1e-4 * (abs(mu) + 1), 1e-3, 1e-3]))
    try:
        var = np.linalg.inv(hess)[0, 0]
    except np.linalg.LinAlgError:
        var = math.nan
    if not var > 0:
        var = 1 / hess[0, 0] if hess[0, 0] > 0 else math.nan
    se = math.sqrt(var) if var > 0 else math.nan
    if not math.isfinite(se):
        raise DataError("t random effects: the likelihood is flat in mu at its maximum; the model cannot be "
                        "estimated from these data")
    ll_normal = -normal.fun
    return dict(mu=float(mu), se=float(se), tau=float(tau), nu=float(nu), loglik=float(-best.fun),
                loglik_normal=float(ll_normal), lr_statistic=float(max(0.0, 2 * (-best.fun - ll_normal))))


def _hessian(f, x, h):
    """Central-difference Hessian of f at x with steps h."""
    n = len(x)
    out = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h[i], np.eye(n)[j] * h[j]
            out[i, j] = out[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return out
