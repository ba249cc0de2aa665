"""Numerical building blocks shared by the engines and the posterior: a vectorised safeguarded Newton
solver and finite normal mixtures (weights w_n, means m_n, SDs s_n):

    F(x) = sum_n w_n Phi((x - m_n) / s_n),   E X = sum w m,   Var X = sum w (s^2 + m^2) - (E X)^2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

_SQRT_2PI = math.sqrt(2 * math.pi)


def safeguarded_newton(residual, x, lo, hi, ftol, xtol):
    """Solve residual(x, rows) = 0 for many rows at once: Newton steps kept inside a shrinking bracket
    [lo, hi] (bisection when a step leaves it). `residual(x, rows)` returns (F - target, dF/dx) for the
    given row indices, or (F - target, dF/dx, d2F/dx2) for Halley's steps (cubic convergence; Newton's where
    Halley's correction is far from 1); a row stops when |F - target| < ftol or its step is below
    xtol (1 + |x|)."""
    x, lo, hi = x.copy(), lo.copy(), hi.copy()
    active = np.arange(len(x))
    for _ in range(200):
        xa = x[active]
        err, dens, *second = residual(xa, active)
        lo[active] = np.where(err < 0, xa, lo[active])
        hi[active] = np.where(err > 0, xa, hi[active])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = err / dens
            if second:
                factor = 1 - newton * second[0] / (2 * dens)
                newton = np.where(np.isfinite(factor) & (factor > 0.5) & (factor < 2), newton / factor, newton)
            step = xa - newton
        ok = (step >= lo[active]) & (step <= hi[active]) & np.isfinite(step)
        converged = np.abs(err) < ftol
        new_x = np.where(converged, xa, np.where(ok, step, (lo[active] + hi[active]) / 2))
        x[active] = new_x
        active = active[~(converged | (np.abs(new_x - xa) < xtol * (1 + np.abs(xa))))]
        if active.size == 0:
            break
    return x


def mixture_moments(weight, means, sds):
    """Mean and SD of normal mixtures; means/sds (..., N) against weight (N,)."""
    mean = np.sum(weight * means, axis=-1)
    second = np.sum(weight * (sds**2 + (means - mean[..., None]) ** 2), axis=-1)
    return mean, np.sqrt(np.maximum(second, 0))


def mixture_cdf(x, weight, means, sds):
    """P(X <= x); x broadcasts against the leading axes of means/sds."""
    x = np.asarray(x, float)
    return np.sum(weight * special.ndtr((x[..., None] - means) / sds), axis=-1)


def mixture_pdf(x, weight, means, sds):
    """Density of the mixture at x (broadcast as `mixture_cdf`)."""
    z = (np.asarray(x, float)[..., None] - means) / sds
    return np.sum(weight * np.exp(-0.5 * z**2) / (sds * _SQRT_2PI), axis=-1)


def mixture_ppf(q, weight, means, sds):
    """Quantiles of several mixtures at once: means/sds (Q, N), q (Q,), weight (N,) shared or (Q, N) one row
    per mixture (zero weights allowed: padding). Safeguarded Halley steps (the density's slope is one more sum
    over the same terms: about 3 evaluations per quantile instead of 5), stopped when |F - q| < 1e-14 or the step is below 1e-13
    relative; each row's iterations depend on that row alone."""
    means, sds, q = np.atleast_2d(means), np.atleast_2d(sds), np.atleast_1d(np.asarray(q, float))
    weight = np.asarray(weight, float)
    mean, sd = mixture_moments(weight, means, sds)
    lo, hi = np.min(means - 40 * sds, axis=1), np.max(means + 40 * sds, axis=1)

    def residual(x, rows):
        w = weight if weight.ndim == 1 else weight[rows]
        s = sds[rows]
        z = (x[:, None] - means[rows]) / s
        dens = w * np.exp(-0.5 * z**2) / (s * _SQRT_2PI)
        return (np.sum(w * special.ndtr(z), axis=1) - q[rows], np.sum(dens, axis=1),
                -np.sum(dens * z / s, axis=1))

    start = np.clip(mean + sd * special.ndtri(np.clip(q, 1e-300, 1 - 1e-16)), lo, hi)
    return safeguarded_newton(residual, start, lo, hi, ftol=1e-14, xtol=1e-13)



def cluster_sums(y, v, tau2_within, cluster_index, m):
    """The Sherman-Morrison sums of the three-level model: with d = 1 / (v + tau_w^2), per cluster
    s = sum d, t = sum d y, q = sum d y^2 (shape (..., m) for tau2_within of shape (...)), and
    sum log(v + tau_w^2) (shape (...))."""
    s2 = v + np.asarray(tau2_within, float)[..., None]
    d = 1 / s2
    C = np.zeros((len(y), m))
    C[np.arange(len(y)), cluster_index] = 1.0
    return d @ C, (d * y) @ C, (d * y**2) @ C, np.log(s2).sum(-1)
