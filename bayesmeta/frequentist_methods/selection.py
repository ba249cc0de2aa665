"""Selection models for publication bias, as metafor's `selmodel()` (Vevea & Hedges 1995; Citkowicz & Vevea
2017; Preston et al. 2004), for the random-effects model without moderators, fitted by maximum likelihood.

Each study's one-sided p-value p_i = 1 - Phi(y_i / se_i) (alternative "greater"; "less": Phi(y_i / se_i)),
clipped to [p_min, 1 - p_min], decides how likely it was to be published, by a weight function w(p; delta):
  beta      p^(d1 - 1) (1 - p)^(d2 - 1)                      (p_min = 1e-5; no selection at d1 = d2 = 1)
  halfnorm  exp(-d p^2)      negexp    exp(-d p)              (no selection at d = 0)
  logistic  2 exp(-d p) / (1 + exp(-d p))                     power  (1 - p)^d  (p_min = 1e-5)
  stepfun   d_j for s_{j-1} < p <= s_j (steps s_1 < ... < s_J = 1), d_1 = 1 fixed (no selection at all d_j = 1)
With one step s for halfnorm ... power, w = 1 for p <= s and w(p) / w(s) above. The log-likelihood is
  sum_i log w(p_i) + log N(y_i; mu, v_i + tau^2) - log A_i,   A_i = E[w(p(Y))], Y ~ N(mu, v_i + tau^2),
A_i in closed form for steps, else by Gauss-Legendre quadrature on the standardised scale, split where the
weight has kinks. The maximum (mu, tau^2 >= 0, delta within metafor's bounds [delta.min, delta.max]) is found
by L-BFGS-B from the ML random-effects fit; standard errors from the inverse of the numerical Hessian of
-log L on the natural scale (as metafor's default, `htransf=FALSE`); Wald z tests and intervals. The
likelihood-ratio test compares with the ML random-effects model (df = number of free deltas); LRT_tau2 with
the selection model at tau^2 = 0. method "REML" is refitted by ML, as metafor does; "FE" fixes tau^2 = 0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from ..effects import EffectData
from ..errors import DataError, EstimationWarning
from .rma import _check_options, _fit, _inputs
from .small_study import check_choice
from .tau2 import METHODS

TYPES = ("beta", "halfnorm", "negexp", "logistic", "power", "stepfun")
ALTERNATIVES = ("greater", "less")
# type: (number of deltas, delta at no selection, start, delta.min, delta.max, p_min)
_SPEC = {"beta": (2, 1.0, 1.0, 1e-5, 100.0, 1e-5), "halfnorm": (1, 0.0, 1.0, 0.0, 100.0, 0.0),
         "negexp": (1, 0.0, 1.0, 0.0, 100.0, 0.0), "logistic": (1, 0.0, 1.0, 0.0, 100.0, 0.0),
         "power": (1, 0.0, 1.0, 0.0, 100.0, 1e-5), "stepfun": (None, 1.0, 1.0, 0.0, 100.0, 0.0)}
_GL_X, _GL_W = np.polynomial.legendre.leggauss(12)
_ZMAX = 10.0  # the normal mass beyond 10 SDs (1e-23) is below any weight's effect


def _weight_core(kind, p, d):
    """Unnormalised weight of the continuous types at p-values p (any shape), parameters d."""
    if kind == "beta":
        return p ** (d[0] - 1) * (1 - p) ** (d[1] - 1)
    if kind == "halfnorm":
        return np.exp(-d[0] * p**2)
    if kind == "negexp":
        return np.exp(-d[0] * p)
    if kind == "logistic":
        return 2 * np.exp(-d[0] * p) / (1 + np.exp(-d[0] * p))
    return (1 - p) ** d[0]  # power


@dataclass
class _Problem:
    y: np.ndarray
    v: np.ndarray
    kind: str
    steps: np.ndarray | None
    p_min: float
    pvals: np.ndarray = field(init=False)

    def __post_init__(self):
        self.pvals = self._clip(special.ndtr(-self.y / np.sqrt(self.v)))
        if self.kind == "stepfun":
            self.group = np.searchsorted(self.steps, self.pvals, side="left")
            self.cuts = np.sqrt(self.v)[:, None] * -special.ndtri(self.steps[:-1])[None, :]  # y at each step
        else:  # kinks of w(p(y)) on the y scale: the clipping ends and the single step
            ends = [self.p_min, 1 - self.p_min] if self.p_min > 0 else []
            ends += [self.steps[0]] if self.steps is not None and 0 < self.steps[0] < 1 else []
            self.kinks = np.sqrt(self.v)[:, None] * -special.ndtri(np.array(ends))[None, :] if ends else None

    def _clip(self, p):
        return np.clip(p, self.p_min, 1 - self.p_min)

    def weight(self, p, d):
        if self.kind == "stepfun":
            return d[np.searchsorted(self.steps, p, side="left")]
        w = _weight_core(self.kind, p, d)
        if self.steps is None:
            return w
        s = self.steps[0]
        return np.where(p <= s, 1.0, w / _weight_core(self.kind, np.asarray(s), d))

    def norm_const(self, mu, tau2, d):
        """A_i = E[w(p(Y_i))], Y_i ~ N(mu, v_i + tau^2)."""
        s = np.sqrt(self.v + tau2)
        if self.kind == "stepfun":
            upper = special.ndtr((mu - self.cuts) / s[:, None])  # P(p <= s_j) for j < J
            probs = np.diff(np.column_stack([np.zeros(len(s)), upper, np.ones(len(s))]), axis=1)
            return probs @ d
        grid = np.linspace(-_ZMAX, _ZMAX, 21)[None, :].repeat(len(s), 0)
        if self.kinks is not None:
            grid = np.sort(np.column_stack([grid, np.clip((self.kinks - mu) / s[:, None], -_ZMAX, _ZMAX)]), axis=1)
        a, b = grid[:, :-1, None], grid[:, 1:, None]
        z = (a + b) / 2 + (b - a) / 2 * _GL_X  # (k, segments, nodes)
        yv = mu + s[:, None, None] * z
        p = self._clip(special.ndtr(-yv / np.sqrt(self.v)[:, None, None]))
        f = self.weight(p, d) * np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)
        return np.sum(f * (b - a) / 2 * _GL_W, axis=(1, 2))

    @np.errstate(all="ignore")  # overflow and log(0) at extreme trial points give -inf or NaN: rejected
    def loglik(self, mu, tau2, d):
        tau2 = 0.0 if tau2 < 10 * np.finfo(float).eps else tau2
        var = self.v + tau2
        dens = -0.5 * (np.log(2 * np.pi * var) + (self.y - mu) ** 2 / var)
        if self.kind == "stepfun":
            logw = np.log(d[self.group])
        else:
            logw = np.log(self.weight(self.pvals, d))
        return float(np.sum(logw + dens - np.log(self.norm_const(mu, tau2, d))))


@dataclass
class SelmodelResult:
    """Selection-model fit (metafor `selmodel`): mu with Wald SE/CI/p, tau^2 with SE, delta (all, fixed ones
    included) with SEs and tests against no selection, the LRT against the random-effects model."""

    type: str
    k: int
    mu: float
    se: float
    lower: float
    upper: float
    statistic: float
    pvalue: float
    tau2: float
    tau2_se: float
    delta: np.ndarray
    delta_se: np.ndarray
    delta_pvalue: np.ndarray
    steps: np.ndarray | None
    LRT: float
    LRT_df: int
    LRT_pvalue: float
    LRT_tau2: float
    LRT_tau2_pvalue: float
    loglik: float
    loglik_re: float
    alternative: str = "greater"
    notes: list = field(default_factory=list)
    level: float = 0.95

    def __repr__(self):
        mu = (f"  mu = {self.mu:.4f} (SE {self.se:.4f}), {100 * self.level:g}% CI [{self.lower:.4f}, {self.upper:.4f}], "
              f"z = {self.statistic:.4f}, p = {self.pvalue:.4g}" if np.isfinite(self.se) else
              f"  mu = {self.mu:.4f} (no SE, CI or test: see the note)")
        tau2_se = f" (SE {self.tau2_se:.4f})" if np.isfinite(self.tau2_se) else ""
        lines = [f"Selection model ({self.type}{'' if self.steps is None else f', steps {[float(x) for x in self.steps]}'}; "
                 f"one-sided p-values, alternative {self.alternative!r}), k = {self.k}, ML", mu,
                 f"  tau^2 = {self.tau2:.4f}{tau2_se}"]
        if np.isfinite(self.LRT_tau2):
            lines.append(f"  test for heterogeneity: LRT(df = 1) = {self.LRT_tau2:.4f}, p = {self.LRT_tau2_pvalue:.4g}")
        lines.append(f"  test for selection: LRT(df = {self.LRT_df}) = {self.LRT:.4f}, p = {self.LRT_pvalue:.4g}")
        for j, (d, s) in enumerate(zip(self.delta, self.delta_se)):
            fixed = self.type == "stepfun" and j == 0
            lines.append(f"  delta[{j + 1}] = {d:.4f}" + (" (fixed)" if fixed else f" (SE {s:.4f})" if np.isfinite(s)
                                                            else ""))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _check_steps(kind, steps, pvals):
    """metafor's steps: sorted, unique, 1 appended; one step for halfnorm ... power; intervals with studies."""
    if kind == "beta":
        if steps is not None:
            warnings.warn("selmodel(type='beta'): argument 'steps' ignored (not applicable to this type of selection "
                          "model), as metafor", EstimationWarning, stacklevel=3)
        return None
    if steps is None:
        if kind == "stepfun":
            raise DataError("selmodel(type='stepfun') needs steps, e.g. steps=(0.025, 1)")
        return None
    steps = np.unique(np.asarray(steps, float).ravel())
    if len(steps) == 0 or not np.all(np.isfinite(steps)) or steps.min() <= 0 or steps.max() > 1:
        raise DataError(f"steps must be p-values in (0, 1], not {[float(s) for s in steps]}")
    if steps[-1] != 1:
        steps = np.append(steps, 1.0)
    if kind != "stepfun" and len(steps) != 2:
        raise DataError(f"selmodel(type={kind!r}) takes a single step (p-values up to it get weight 1)")
    counts = np.bincount(np.searchsorted(steps, pvals, side="left"), minlength=len(steps))
    for j, n in enumerate(counts):
        if n == 0 and (kind != "stepfun" or j > 0):  # stepfun's first weight is fixed at 1
            lo = 0 if j == 0 else steps[j - 1]
            raise DataError(f"selmodel(type={kind!r}): no study has a one-sided p-value in ({lo:g}, {steps[j]:g}], "
                            "so its selection weight cannot be estimated (metafor: 'One or more intervals do not "
                            "contain any observed p-values'); choose other steps")
    return steps


def selmodel(data: EffectData, type: str = "stepfun", steps=None, method: str = "ML",
             alternative: str = "greater", level: float = 0.95) -> SelmodelResult:
    """metafor `selmodel(rma(yi, vi, method=method), type=, steps=, alternative=)` (module docstring)."""
    check_choice("type", type, TYPES)
    check_choice("alternative", alternative, ALTERNATIVES)
    check_choice("method", method, METHODS)  # every random-effects method is refitted by ML, as metafor does
    _check_options("ML", "z", level, "common")
    y, se = _inputs(data)
    sign = 1.0 if alternative == "greater" else -1.0  # "less" is "greater" for -y
    n_delta, h0, start, dmin, dmax, p_min = _SPEC[type]
    fixed_tau = method == "FE"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        ml = _fit(sign * y, se, np.ones((len(y), 1)), data.study, "FE" if fixed_tau else "ML", "z", level, None)
    pvals = np.clip(special.ndtr(-sign * y / se), p_min, 1 - p_min)
    steps = _check_steps(type, steps, pvals)
    prob = _Problem(sign * y, se**2, type, steps, p_min)
    n_delta = len(steps) if type == "stepfun" else n_delta
    free = np.arange(1 if type == "stepfun" else 0, n_delta)
    n_par = 1 + (not fixed_tau) + len(free)
    if len(y) < n_par:
        raise DataError(f"selmodel: k = {len(y)} studies are too few for the {n_par} parameters of this selection "
                        f"model (metafor: 'Number of studies (k={len(y)}) is too small to fit the selection model')")

    def unpack(theta):
        mu, rest = theta[0], theta[1:]
        tau2 = 0.0 if fixed_tau else rest[0]
        d = np.full(n_delta, 1.0)
        d[free] = rest[0 if fixed_tau else 1:]
        return mu, tau2, d

    bounds = [(None, None)] + ([] if fixed_tau else [(0.0, None)]) + [(dmin, dmax)] * len(free)
    x0 = np.r_[ml.b[0], [] if fixed_tau else [ml.tau2 + 0.001], np.full(len(free), start)]
    theta, ll = _maximise(lambda t: prob.loglik(*unpack(t)), x0, bounds)
    mu, tau2, d = unpack(theta)
    cov = _inverse_hessian(lambda t: prob.loglik(*unpack(t)), theta)
    notes = []
    if np.any(d[free] <= dmin + np.finfo(float).eps ** 0.25) or np.any(d[free] >= dmax - 100 * np.finfo(float).eps ** 0.25):
        notes.append("one or more delta estimates are (almost) at their bound; treat the results with caution")
        warnings.warn("selmodel: one or more 'delta' estimates are (almost) equal to their lower or upper bound; "
                      "treat the results with caution", EstimationWarning, stacklevel=2)
    if cov is None:
        notes.append("the Hessian could not be inverted: no standard errors")
        warnings.warn("selmodel: the Hessian could not be inverted, so there are no standard errors, CIs or Wald "
                      "tests (the likelihood is flat or the maximum is at a bound)", EstimationWarning, stacklevel=2)
        cov = np.full((len(theta), len(theta)), np.nan)
    sd = np.sqrt(np.diag(cov))
    crit = stats.norm.ppf(0.5 + level / 2)
    d_se = np.full(n_delta, np.nan)
    d_se[free] = sd[len(theta) - len(free):]
    ll0 = float(np.sum(-0.5 * (np.log(2 * np.pi * (se**2 + ml.tau2)) + (sign * y - ml.b[0]) ** 2 / (se**2 + ml.tau2))))
    lrt = max(0.0, -2 * (ll0 - ll))
    lrt_tau = lrt_tau_p = np.nan
    if not fixed_tau:
        _, ll_fe = _maximise(lambda t: prob.loglik(*unpack(np.r_[t[0], 0.0, t[1:]])),
                             np.r_[theta[0], theta[2:]], [bounds[0]] + bounds[2:])
        lrt_tau = max(0.0, -2 * (ll_fe - ll))
        lrt_tau_p = float(stats.chi2.sf(lrt_tau, 1))
    z = mu / sd[0]
    return SelmodelResult(
        type=type, k=len(y), mu=sign * mu, se=sd[0], lower=sign * mu - crit * sd[0], upper=sign * mu + crit * sd[0], statistic=sign * z, pvalue=float(2 * stats.norm.sf(abs(z))),
        tau2=tau2, tau2_se=np.nan if fixed_tau else sd[1], delta=d, delta_se=d_se,
        delta_pvalue=2 * stats.norm.sf(np.abs(d - h0) / d_se), steps=steps, LRT=lrt, LRT_df=len(free),
        LRT_pvalue=float(stats.chi2.sf(lrt, len(free))), LRT_tau2=lrt_tau, LRT_tau2_pvalue=lrt_tau_p, loglik=ll,
        loglik_re=ll0, alternative=alternative, notes=notes, level=level)


def _maximise(loglik, x0, bounds):
    """Maximum of loglik within bounds, as metafor: BFGS on unconstrained scales (log for [0, inf), logit for
    [lo, hi]), central-difference gradients, tight tolerances; restarted until it no longer moves."""
    lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
    hi = np.array([np.inf if b[1] is None else b[1] for b in bounds])
    half, box = np.isfinite(lo) & ~np.isfinite(hi), np.isfinite(lo) & np.isfinite(hi)

    @np.errstate(over="ignore")  # exp(u) overflows to inf at wild BFGS trial steps: rejected in negll
    def to_natural(u):
        x = u.copy()
        x[half] = lo[half] + np.exp(u[half])
        x[box] = lo[box] + (hi[box] - lo[box]) * special.expit(u[box])
        return x

    def negll(u):
        val = loglik(to_natural(u))
        return -val if np.isfinite(val) else 1e300

    def grad(u):
        g = np.empty_like(u)
        for j in range(len(u)):
            h = 1e-6 * max(1.0, abs(u[j]))
            e = np.zeros_like(u)
            e[j] = h
            g[j] = (negll(u + e) - negll(u - e)) / (2 * h)
        return g

    margin = np.where(box, 1e-8 * np.where(box, hi - lo, 0.0), 0.0)
    x = np.clip(np.asarray(x0, float), lo + margin, hi - margin)
    u = x.copy()
    u[half] = np.log(np.maximum(x[half] - lo[half], 1e-12))
    u[box] = special.logit((x[box] - lo[box]) / (hi[box] - lo[box]))
    for _ in range(3):
        res = optimize.minimize(negll, u, jac=grad, method="BFGS", options=dict(gtol=1e-9, maxiter=2000))
        moved = np.max(np.abs(res.x - u))
        u = res.x
        if moved < 1e-8:
            break
    x = to_natural(u)
    x[half & (x - lo < 10 * np.finfo(float).eps)] = 0.0  # tau^2 at the boundary (metafor's rule)
    return x, float(loglik(x))


def _inverse_hessian(loglik, theta):
    """Inverse of the Hessian of -loglik at theta: central differences with one Richardson step; None if it
    is not finite or not positive definite."""
    n = len(theta)

    def hess(scale):
        h = scale * np.maximum(np.abs(theta), 1e-2)
        H = np.empty((n, n))
        for i in range(n):
            for j in range(i, n):
                vals = []
                for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                    t = theta.copy()
                    t[i] += si * h[i]
                    t[j] += sj * h[j]
                    vals.append(-loglik(t))
                H[i, j] = H[j, i] = (vals[0] - vals[1] - vals[2] + vals[3]) / (4 * h[i] * h[j])
        return H

    H = (4 * hess(5e-4) - hess(1e-3)) / 3
    if not np.all(np.isfinite(H)):
        return None
    try:
        np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(H)
