"""Exact engine: the normal-normal model by quadrature over tau (as R's bayesmeta, vectorised).

Model: y_i ~ N(mu, v_i + tau^2) (study effects integrated out), mu ~ flat or N(m0, s0^2), tau ~ p(tau).
Given tau, mu | tau, y ~ N(m(tau), V(tau)) with precision P = sum w_i (+ 1/s0^2), w_i = 1/(v_i + tau^2),
m = (sum w y (+ m0/s0^2)) / P, V = 1/P; the marginal likelihood (mu integrated out) is
    log L(tau) = -1/2 [sum log(2 pi (v + tau^2)) + log(P) - log(2 pi) + R]            (flat prior on mu)
    log L(tau) = -1/2 [sum log(2 pi (v + tau^2)) + log(s0^2 P) + R]                   (normal prior on mu)
with R = sum w (y - m)^2 (+ (m - m0)^2 / s0^2). So p(tau | y) ∝ p(tau) L(tau) is one-dimensional, and
mu, theta_new ~ N(m, V + tau^2) and the shrunken theta_i ~ N(y_i - B_i (y_i - m), v_i (1 - B_i) + B_i^2 V),
B_i = v_i / (v_i + tau^2), are normal mixtures over it (Röver 2020, J Stat Softw 93(6)).

The integral over u = log tau is done by Gauss-Legendre panels, bisected where a 10-point and a
20-point rule disagree (relative 1e-11 of the total), so the grid is refined where p(tau | y) is
curved and sparse where it is flat. The prior mass below tau_lo = 1e-6 min(se) is added in closed
form (L is constant there to 1e-12). Quantiles are found by safeguarded Newton iteration on the
mixture CDFs to 1e-12 in probability.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import special

LOG_2PI = math.log(2 * math.pi)
_X10, _W10 = leggauss(10)
_X20, _W20 = leggauss(20)
_REL_TOL = 1e-11
_MAX_ROUNDS = 40
_CHUNK = 2_000_000  # elements of a (nodes x studies) block


def conditional_mu(tau, y, v, mu_prior):
    """m(tau), V(tau) and log L(tau) for an array of tau (see the module docstring)."""
    tau = np.atleast_1d(np.asarray(tau, float))
    out_m, out_var, out_ll = (np.empty(tau.shape) for _ in range(3))
    rows = max(1, _CHUNK // max(len(y), 1))
    for start in range(0, tau.size, rows):
        t = tau[start:start + rows]
        s2 = v[None, :] + (t**2)[:, None]
        w = 1 / s2
        prec = w.sum(1)
        num = w @ y
        if mu_prior.kind == "normal":
            prec = prec + 1 / mu_prior.s**2
            num = num + mu_prior.m / mu_prior.s**2
        m = num / prec
        resid = np.sum(w * (y[None, :] - m[:, None]) ** 2, axis=1)
        ll = -0.5 * (len(y) * LOG_2PI + np.sum(np.log(s2), axis=1) + np.log(prec) + resid)
        if mu_prior.kind == "normal":
            ll += -0.5 * (np.log(mu_prior.s**2) + (m - mu_prior.m) ** 2 / mu_prior.s**2)
        else:
            ll += 0.5 * LOG_2PI
        out_m[start:start + rows], out_var[start:start + rows], out_ll[start:start + rows] = m, 1 / prec, ll
    return out_m, out_var, out_ll


def safeguarded_newton(residual, x, lo, hi, ftol, xtol):
    """Solve residual(x, rows) = 0 for many rows at once: Newton steps kept inside a shrinking bracket
    [lo, hi] (bisection when a step leaves it). `residual(x, rows)` returns (F - target, dF/dx) for the
    given row indices; a row stops when |F - target| < ftol or its step is below xtol (1 + |x|)."""
    x, lo, hi = x.copy(), lo.copy(), hi.copy()
    active = np.arange(len(x))
    for _ in range(200):
        xa = x[active]
        err, dens = residual(xa, active)
        lo[active] = np.where(err < 0, xa, lo[active])
        hi[active] = np.where(err > 0, xa, hi[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = xa - err / dens
        ok = (step >= lo[active]) & (step <= hi[active]) & np.isfinite(step)
        converged = np.abs(err) < ftol
        new_x = np.where(converged, xa, np.where(ok, step, (lo[active] + hi[active]) / 2))
        x[active] = new_x
        active = active[~(converged | (np.abs(new_x - xa) < xtol * (1 + np.abs(xa))))]
        if active.size == 0:
            break
    return x


class ExactPosterior:
    """p(tau | y) on an adaptive quadrature grid, and every summary as a mixture over it.

    Attributes: `tau` (nodes, the first is the mass below tau_lo placed at 0), `weight` (posterior
    probability of each node, summing to 1), `m`, `var` (mu | tau), `log_evidence` (log of
    integral p(tau) L(tau) dtau; with a flat mu prior or Jeffreys prior only up to a constant).
    """

    def __init__(self, y, v, tau_prior, mu_prior, fixed_tau: float | None = None):
        self.y, self.v = np.asarray(y, float), np.asarray(v, float)
        self.tau_prior, self.mu_prior = tau_prior, mu_prior
        if mu_prior.kind == "student_t":
            raise ValueError("the exact engine takes a flat or normal prior on mu; use engine='mcmc' for a "
                             "Student-t prior")
        if fixed_tau is not None:  # common-effect model (tau = 0) or tau fixed
            self.tau = np.array([float(fixed_tau)])
            self.weight = np.ones(1)
            self.m, self.var, ll = conditional_mu(self.tau, self.y, self.v, mu_prior)
            self.log_evidence = float(ll[0])
            self.panels = np.empty((0, 2))
            self._tail = 1.0
            return
        self._build()

    # ---------------------------------------------------------------- quadrature
    def _log_f(self, u):
        """log of the integrand over u = log tau: log p(tau) + log tau + log L(tau)."""
        tau = np.exp(u)
        m, var, ll = conditional_mu(tau, self.y, self.v, self.mu_prior)
        with np.errstate(divide="ignore", invalid="ignore"):
            lp = self.tau_prior.logpdf(tau)
        return lp + u + ll, m, var

    def _panel_rule(self, a, b, x, w):
        """Nodes (u) and weights of the rule (x, w) on each panel [a_j, b_j]."""
        half = (b - a)[:, None] / 2
        return ((a + b)[:, None] / 2 + half * x[None, :]), half * w[None, :]

    def _build(self):
        y, v = self.y, self.v
        lo_s, hi_s = self.tau_prior.support
        self.tau_lo = max(1e-6 * math.sqrt(v.min()), lo_s)
        spread = float(np.sqrt(np.var(y) + v.max())) + math.sqrt(v.max())
        u_lo = math.log(self.tau_lo)
        u_limit = math.log(hi_s) if math.isfinite(hi_s) else 80.0  # tau = 5e34: nothing left beyond
        u_hi = min(math.log(20 * spread), u_limit)
        # Scan outwards until the integrand has fallen below 1e-18 of its maximum, or the support ends.
        grid = np.append(np.arange(u_lo, u_hi, 0.25), u_hi)
        logf = self._log_f(grid)[0]
        while grid[-1] < u_limit and (logf[-1] > np.nanmax(logf) - 42 or logf[-1] >= logf[-2]):
            ext = np.append(np.arange(grid[-1] + 0.25, min(grid[-1] + 4, u_limit), 0.25), min(grid[-1] + 4, u_limit))
            grid, logf = np.concatenate([grid, ext]), np.concatenate([logf, self._log_f(ext)[0]])
        keep = np.flatnonzero(logf > np.nanmax(logf) - 42)
        u_top = grid[min(keep[-1] + 1, len(grid) - 1)]
        self._shift = float(np.nanmax(logf))
        edges = np.linspace(u_lo, u_top, max(8, int(math.ceil((u_top - u_lo) / 1.0))) + 1)
        a, b = edges[:-1], edges[1:]
        done = []  # accepted panels: (a, b, integral, 20-point nodes' log f, m, var) -- kept, not recomputed
        for _ in range(_MAX_ROUNDS):
            coarse_u, coarse_w = self._panel_rule(a, b, _X10, _W10)
            fine_u, fine_w = self._panel_rule(a, b, _X20, _W20)
            fc = np.exp(self._log_f(coarse_u.ravel())[0] - self._shift).reshape(coarse_u.shape)
            lf, mf, vf = (x.reshape(fine_u.shape) for x in self._log_f(fine_u.ravel()))
            ic, i_f = np.sum(fc * coarse_w, 1), np.sum(np.exp(lf - self._shift) * fine_w, 1)
            total = sum(d[2] for d in done) + i_f.sum()
            bad = np.abs(i_f - ic) > _REL_TOL * total
            last_round = _ == _MAX_ROUNDS - 1
            done += [(a[j], b[j], i_f[j], lf[j], mf[j], vf[j]) for j in np.flatnonzero(~bad | last_round)]
            if not bad.any() or last_round:
                break
            mid = (a[bad] + b[bad]) / 2
            a, b = np.concatenate([a[bad], mid]), np.concatenate([mid, b[bad]])
        done.sort(key=lambda d: d[0])
        self.panels = np.array([(d[0], d[1]) for d in done])
        u, w = self._panel_rule(self.panels[:, 0], self.panels[:, 1], _X20, _W20)
        logf, m, var = (np.concatenate([d[k] for d in done]) for k in (3, 4, 5))
        # Mass below tau_lo: prior CDF times the (there constant) likelihood.
        m0, var0, ll0 = conditional_mu(np.array([0.0]), y, v, self.mu_prior)
        tail = float(self.tau_prior.cdf(self.tau_lo)) * math.exp(ll0[0] - self._shift) if lo_s == 0 else 0.0
        mass = np.exp(logf - self._shift) * w.ravel()
        total = tail + mass.sum()
        self.log_evidence = self._shift + math.log(total)
        self.tau = np.concatenate([[0.0], np.exp(u.ravel())])
        self.weight = np.concatenate([[tail], mass]) / total
        self.m, self.var = np.concatenate([m0, m]), np.concatenate([var0, var])
        self._tail = tail / total
        self._panel_mass = np.concatenate([[0.0], np.cumsum(mass.reshape(u.shape).sum(1))]) / total + self._tail

    # ---------------------------------------------------------------- tau
    def _cdf_in_panel(self, j, u):
        """P(log tau <= u | y) for u inside panel j (arrays): panel sums plus a 20-point rule on [a_j, u]."""
        a = self.panels[j, 0]
        nodes, w = self._panel_rule(a, u, _X20, _W20)
        part = np.sum(np.exp(self._log_f(nodes.ravel())[0].reshape(nodes.shape) - self.log_evidence) * w, axis=1)
        return self._panel_mass[j] + part

    def tau_cdf(self, t):
        """P(tau <= t | y), exact to quadrature accuracy."""
        t = float(t)
        if len(self.panels) == 0:
            return float(t >= self.tau[0])
        if t <= 0:
            return 0.0
        if t < self.tau_lo:  # inside the prior-dominated tail near 0
            return self._tail * float(self.tau_prior.cdf(t) / self.tau_prior.cdf(self.tau_lo))
        u = math.log(t)
        j = int(np.searchsorted(self.panels[:, 0], u, side="right") - 1)
        if u >= self.panels[-1, 1]:
            return 1.0
        return float(self._cdf_in_panel(np.array([j]), np.array([u]))[0])

    def tau_ppf(self, q):
        """Quantiles of tau | y at probabilities q (array): safeguarded Newton in log tau, vectorised,
        to 1e-13 in probability."""
        q = np.atleast_1d(np.asarray(q, float))
        if len(self.panels) == 0:
            return np.full(q.shape, self.tau[0])
        out = np.empty(q.shape)
        tail = q <= self._tail
        if tail.any():
            out[tail] = self.tau_prior.ppf(q[tail] / self._tail * self.tau_prior.cdf(self.tau_lo))
        qq = q[~tail]
        j = np.clip(np.searchsorted(self._panel_mass, qq) - 1, 0, len(self.panels) - 1)
        lo, hi = self.panels[j, 0], self.panels[j, 1]
        m_lo, m_hi = self._panel_mass[j], self._panel_mass[j + 1]
        start = lo + (hi - lo) * np.clip((qq - m_lo) / np.maximum(m_hi - m_lo, 1e-300), 0, 1)

        def residual(u, rows):
            return (self._cdf_in_panel(j[rows], u) - qq[rows],
                    np.exp(self._log_f(u)[0] - self.log_evidence))

        u = safeguarded_newton(residual, start, lo, hi, ftol=1e-13, xtol=1e-12)
        out[~tail] = np.exp(u)
        return out

    # ---------------------------------------------------------------- normal mixtures
    def components(self, quantity: str, index: int | None = None):
        """(means, sds) of the normal components of mu, theta_new or theta[index] given each tau node."""
        if quantity == "mu":
            return self.m, np.sqrt(self.var)
        if quantity == "theta_new":
            return self.m, np.sqrt(self.var + self.tau**2)
        if quantity == "theta":  # index None: all studies, arrays (k, nodes)
            v, yi = (self.v, self.y) if index is None else (self.v[index], self.y[index])
            if index is None:
                v, yi = v[:, None], yi[:, None]
            shrink = v / (v + self.tau**2)
            return yi - shrink * (yi - self.m), np.sqrt(v * (1 - shrink) + shrink**2 * self.var)
        raise ValueError(f"no normal mixture for {quantity!r}")

    def mixture_moments(self, means, sds):
        mean = np.sum(self.weight * means, axis=-1)
        second = np.sum(self.weight * (sds**2 + means**2), axis=-1)
        return mean, np.sqrt(np.maximum(second - mean**2, 0))

    def mixture_cdf(self, x, means, sds):
        """P(X <= x) for the mixture; x broadcasts against the leading axes of means/sds."""
        x = np.asarray(x, float)
        return np.sum(self.weight * special.ndtr((x[..., None] - means) / sds), axis=-1)

    def mixture_ppf(self, q, means, sds):
        """Quantiles of several mixtures at once: means/sds (Q, N), q (Q,). Safeguarded Newton, stopped
        when |F - q| < 1e-14 or the step is below 1e-13 relative."""
        means, sds, q = np.atleast_2d(means), np.atleast_2d(sds), np.atleast_1d(np.asarray(q, float))
        mean, sd = self.mixture_moments(means, sds)
        lo, hi = np.min(means - 40 * sds, axis=1), np.max(means + 40 * sds, axis=1)

        def residual(x, rows):
            z = (x[:, None] - means[rows]) / sds[rows]
            return (np.sum(self.weight * special.ndtr(z), axis=1) - q[rows],
                    np.sum(self.weight * np.exp(-0.5 * z**2) / (sds[rows] * math.sqrt(2 * math.pi)), axis=1))

        return safeguarded_newton(residual, mean + sd * special.ndtri(q), lo, hi, ftol=1e-14, xtol=1e-13)

    # ---------------------------------------------------------------- draws
    def sample_tau(self, n, rng):
        """i.i.d. draws of tau | y by inverting the node CDF (linear in log tau between nodes)."""
        u = rng.uniform(size=n)
        if len(self.panels) == 0:
            return np.full(n, self.tau[0])
        cum = np.cumsum(self.weight)
        logtau = np.log(self.tau[1:])
        out = np.exp(np.interp(u, cum[1:], logtau, left=logtau[0], right=logtau[-1]))
        in_tail = u < self._tail
        if in_tail.any():
            out[in_tail] = self.tau_prior.ppf(u[in_tail] / self._tail * self.tau_prior.cdf(self.tau_lo)) \
                if self.tau_prior.proper else self.tau_lo * u[in_tail] / self._tail
        return out

    # ---------------------------------------------------------------- Bayes factors
    def log_likelihood_tau0(self) -> float:
        """log L(tau = 0): the evidence of the common-effect model with the same prior on mu."""
        return float(conditional_mu(np.array([0.0]), self.y, self.v, self.mu_prior)[2][0])

    def mu_density(self, x) -> float:
        """Posterior density of mu at x."""
        means, sds = self.components("mu")
        return float(np.sum(self.weight * np.exp(-0.5 * ((x - means) / sds) ** 2) / (sds * math.sqrt(2 * math.pi))))
