"""Exact engine: quadrature over tau for every family whose location parameters are Gaussian given tau.

Block model (one block for the normal-normal model and meta-regression, one per subgroup when each has
its own tau): y ~ N(X beta, diag(v) + tau^2 I), beta ~ flat or N(m0, diag(1/p0)) per coefficient.
Given tau, with W = diag(w), w_i = 1/(v_i + tau^2), P = X'WX + diag(p0):

    beta | tau, y ~ N(b, P^-1),   b = P^-1 (X'Wy + p0 m0),
    log L(tau) = -1/2 [sum log(2 pi (v + tau^2)) + log|P| - sum_proper log p0 - n_flat log(2 pi) + R],
    R = (y - Xb)'W(y - Xb) + sum p0 (b - m0)^2

(R bayesmeta's `bayesmeta()` and `bmr()`, Röver 2020, J Stat Softw 93(6); Röver & Friede 2022). So
p(tau | y) ∝ p(tau) L(tau) is one-dimensional and every linear function of beta, with or without a
new study's deviation, is a normal mixture over it.

The integral over u = log tau: a coarse scan finds the peak, Brent's method and its curvature place
fine panels on it (a narrow peak, e.g. one effect in other units, cannot fall between scan points),
then Gauss-Legendre panels are bisected where a 10-point and a 20-point rule disagree (relative 1e-11
of the total). The prior mass below tau_lo = 1e-6 min(se) is added in closed form (L is constant
there to 1e-12).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from ..numerics import safeguarded_newton

LOG_2PI = math.log(2 * math.pi)
_X10, _W10 = leggauss(10)
_X20, _W20 = leggauss(20)
_REL_TOL = 1e-11
_MAX_ROUNDS = 40
_CHUNK = 2_000_000  # elements of a (nodes x studies) block
_LOG_HALF_NORMAL = math.log(2) - 0.5 * LOG_2PI


def _log_t(z, nu):
    return math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi) - (nu + 1) / 2 * np.log1p(
        z**2 / nu)


# log densities of the common tau priors in closed form, for tau >= 0 (for a few thousand calls on small arrays a
# frozen scipy distribution spends most of its time checking arguments); equal to scipy's to rounding
_CLOSED_FORMS = {
    "HalfNormal": lambda p, t: _LOG_HALF_NORMAL - math.log(p.scale) - 0.5 * (t / p.scale) ** 2,
    "HalfCauchy": lambda p, t: math.log(2 / math.pi / p.scale) - np.log1p((t / p.scale) ** 2),
    "Exponential": lambda p, t: math.log(p.rate) - p.rate * t,
    "LogNormalTau2": lambda p, t: (-np.log(t) - math.log(p.s / 2) - 0.5 * LOG_2PI
                                   - 0.5 * ((np.log(t) - p.m / 2) / (p.s / 2)) ** 2),
    "LogTTau2": lambda p, t: _log_t((np.log(t) - p.m / 2) / (p.s / 2), p.nu) - math.log(p.s / 2) - np.log(t),
    "InvGammaTau": lambda p, t: (p.shape * math.log(p.scale) - math.lgamma(p.shape) - (p.shape + 1) * np.log(t)
                                 - p.scale / t),
}


def prior_logpdf(prior, tau):
    """log p(tau) of a tau prior at tau (array): the closed forms above where the prior is one of those classes
    (-inf below 0, and at 0 where the density vanishes there), else prior.logpdf; NaN becomes -inf."""
    tau = np.asarray(tau, float)
    form = _CLOSED_FORMS.get(type(prior).__name__)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if form is None:
            lp = prior.logpdf(tau)
        else:
            lp = np.where(tau > 0, form(prior, np.where(tau > 0, tau, 1.0)), -np.inf)
            if type(prior).__name__ in ("HalfNormal", "HalfCauchy", "Exponential"):
                lp = np.where(tau == 0, form(prior, 0.0), lp)
    return np.where(np.isnan(lp), -np.inf, lp)


def maximise(log_f, a, b, u0, h=1e-4, steps=12):
    """Maxima of many one-dimensional functions on brackets [a, b] (arrays) from starts u0: safeguarded Newton
    on central differences at u +- h (bisection toward the uphill side where a step leaves the bracket or the
    curvature is not negative), until the Newton step is below 1e-8 (1 + |u|) or the bracket below 1e-10: the
    value is then the maximum to rounding (it is flat there). log_f(rows, u (R, 3)) -> values (R, 3). Returns
    the best point seen and its value (the single engine's peak of p(tau | y) in its scan's best bracket, and
    the batch engine's)."""
    a, b = np.array(a, float), np.array(b, float)
    u = np.clip(np.nan_to_num(np.asarray(u0, float)), a, b)
    best_u, best_f = u.copy(), np.full(len(u), -np.inf)
    active = np.arange(len(u))
    for _ in range(steps):
        ua = u[active]
        f = log_f(active, np.column_stack([ua - h, ua, ua + h]))
        better = f[:, 1] > best_f[active]
        best_u[active] = np.where(better, ua, best_u[active])
        best_f[active] = np.where(better, f[:, 1], best_f[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            d1 = (f[:, 2] - f[:, 0]) / (2 * h)
            d2 = (f[:, 2] - 2 * f[:, 1] + f[:, 0]) / h**2
            step = ua - d1 / d2
        a[active] = np.where(d1 > 0, ua, a[active])  # the maximum lies uphill
        b[active] = np.where(d1 < 0, ua, b[active])
        ok = (d2 < 0) & np.isfinite(step) & (step >= a[active]) & (step <= b[active])
        u[active] = np.where(ok, step, (a[active] + b[active]) / 2)
        done = (ok & (np.abs(step - ua) < 1e-8 * (1 + np.abs(ua)))) | (b[active] - a[active] < 1e-10)
        active = active[~done & np.isfinite(f[:, 1])]
        if active.size == 0:
            break
    return best_u, best_f

class LinearKernel:
    """The Gaussian conditional of beta given tau for one block (see the module docstring).

    y, v (k,); X (k, p); prior_mean, prior_precision (p,), precision 0 for a flat prior. `power` raises the
    likelihood to that power (power-scaling sensitivity): N(y | Xb, S)^power is N(y | Xb, S / power) up to a
    factor in tau, so the weights become power / (v + tau^2) and log L gains the factor's log.
    """

    def __init__(self, y, v, X, prior_mean, prior_precision, power=1.0):
        self.power = float(power)
        self.y, self.v = np.asarray(y, float), np.asarray(v, float)
        self.X = np.asarray(X, float)
        self.m0, self.p0 = np.asarray(prior_mean, float), np.asarray(prior_precision, float)
        proper = self.p0 > 0
        self._const = 0.5 * (np.sum(np.log(self.p0[proper])) + (len(self.p0) - proper.sum()) * LOG_2PI)
        self._intercept_only = self.X.shape[1] == 1 and np.all(self.X == 1)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    def conditional(self, tau):
        """b (N, p), C = P^-1 (N, p, p) and log L(tau) (N,) for an array of tau (N,)."""
        tau = np.atleast_1d(np.asarray(tau, float))
        n, p = tau.size, self.p
        b, cov, ll = np.empty((n, p)), np.empty((n, p, p)), np.empty(n)
        rows = max(1, _CHUNK // max(len(self.y), 1))
        for start in range(0, n, rows):
            part = slice(start, start + rows)
            b[part], cov[part], ll[part] = self._block(tau[part])
        return b, cov, ll

    def _block(self, tau):
        y, X, m0, p0 = self.y, self.X, self.m0, self.p0
        s2 = self.v[None, :] + (tau**2)[:, None]
        w = self.power / s2
        if self._intercept_only:  # the normal-normal model: scalars, no linear algebra
            prec = w.sum(1) + p0[0]
            b = ((w @ y) + p0[0] * m0[0]) / prec
            logdet = np.log(prec)
            b, cov = b[:, None], (1 / prec)[:, None, None]
        else:
            prec = np.einsum("nk,ki,kj->nij", w, X, X) + np.diag(p0)
            chol = np.linalg.cholesky(prec)
            cov = np.linalg.inv(prec)
            b = np.einsum("nij,nj->ni", cov, (w * y) @ X + p0 * m0)
            logdet = 2 * np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)
        resid = y[None, :] - b @ X.T
        quad = np.sum(w * resid**2, axis=1) + np.sum(p0 * (b - m0) ** 2, axis=1)
        ll = -0.5 * (self.power * (len(y) * LOG_2PI + np.sum(np.log(s2), axis=1)) + logdet + quad) + self._const
        return b, cov, ll


class TauQuadrature:
    """p(tau | y) of one block on an adaptive quadrature grid.

    Attributes: `tau` (nodes; the first holds the prior mass below tau_lo, placed at 0), `weight`
    (posterior probability of each node, summing to 1), `b`, `cov` (beta | tau at each node),
    `log_evidence` (log of integral p(tau) L(tau) dtau; with a flat prior on beta or an improper tau
    prior only up to a constant). `fixed_tau` gives a single node (tau = 0: the common-effect model).
    """

    def __init__(self, kernel: LinearKernel, tau_prior=None, fixed_tau: float | None = None):
        self.kernel, self.tau_prior = kernel, tau_prior
        if fixed_tau is not None:
            self.tau = np.array([float(fixed_tau)])
            self.weight = np.ones(1)
            self.b, self.cov, ll = kernel.conditional(self.tau)
            self.log_evidence = float(ll[0])
            self.panels = np.empty((0, 2))
            self._tail = 1.0
            return
        self._build()

    # ---------------------------------------------------------------- quadrature
    def _log_f(self, u):
        """log of the integrand over u = log tau: log p(tau) + log tau + log L(tau), and b, cov."""
        tau = np.exp(u)
        b, cov, ll = self.kernel.conditional(tau)
        return prior_logpdf(self.tau_prior, tau) + u + ll, b, cov

    @staticmethod
    def _panel_rule(a, b, x, w):
        """Nodes (u) and weights of the rule (x, w) on each panel [a_j, b_j]."""
        half = (b - a)[:, None] / 2
        return ((a + b)[:, None] / 2 + half * x[None, :]), half * w[None, :]

    def _scan(self):
        """Coarse scan of log f in u; returns the grid, its values and the limits of the support in u."""
        v, y = self.kernel.v, self.kernel.y
        lo_s, hi_s = self.tau_prior.support
        self.tau_lo = max(1e-6 * math.sqrt(v.min()), lo_s)
        spread = float(np.sqrt(np.var(y) + v.max())) + math.sqrt(v.max())
        u_lo = math.log(self.tau_lo)
        u_limit = math.log(hi_s) if math.isfinite(hi_s) else max(80.0, math.log(spread) + 40)
        u_hi = max(min(math.log(20 * spread), u_limit), u_lo + 1e-9)
        grid = np.append(np.arange(u_lo, u_hi, 0.25), u_hi)
        logf = self._log_f(grid)[0]
        # Scan outwards until the integrand has fallen below 1e-18 of its maximum, or the support ends.
        while grid[-1] < u_limit and (logf[-1] > np.max(logf) - 42 or logf[-1] >= logf[-2]):
            top = min(grid[-1] + 4, u_limit)
            ext = np.append(np.arange(grid[-1] + 0.25, top, 0.25), top)
            grid, logf = np.concatenate([grid, ext]), np.concatenate([logf, self._log_f(ext)[0]])
        if not np.isfinite(np.max(logf)):
            raise FloatingPointError("the posterior of tau is zero everywhere on its support (check the data's "
                                     "scale against the prior on tau)")
        return grid, logf

    def _peak_edges(self, grid, logf):
        """Panel edges around the mode of log f and the log f there: Brent's method on the scan's best
        bracket, then panels two Laplace SDs wide (from the curvature) over +-12 SDs; none where the peak is
        wide compared with the scan's step."""
        i = int(np.argmax(logf))
        il, ir = max(i - 1, 0), min(i + 1, len(grid) - 1)
        second = logf[il] - 2 * logf[i] + logf[ir]
        vertex = il < i < ir and np.isfinite(second) and second < 0  # of the parabola through the three
        start = grid[i] + 0.125 * (logf[il] - logf[ir]) / second if vertex else grid[i]
        mode, peak = maximise(lambda _, u: self._log_f(u.ravel())[0].reshape(u.shape), [grid[il]], [grid[ir]],
                              [start])
        mode, peak = float(mode[0]), float(peak[0])
        h = 1e-4
        around = self._log_f(np.array([mode - h, mode, mode + h]))[0]
        curv = -(around[0] - 2 * around[1] + around[2]) / h**2  # -(f'') of log f
        sd = 1 / math.sqrt(curv) if curv > 0 and math.isfinite(curv) else math.inf
        if not sd < 0.1:  # the scan (steps of 0.25) resolves the peak; the adaptive panels do the rest
            return np.empty(0), max(peak, float(np.max(logf)))
        return mode + sd * np.arange(-12.0, 12.5, 2.0), max(peak, float(np.max(logf)))

    def _build(self):
        grid, logf = self._scan()
        peak_edges, self._shift = self._peak_edges(grid, logf)
        peak_edges = np.clip(peak_edges, grid[0], grid[-1])
        keep = np.flatnonzero(logf > self._shift - 42)
        u_lo = grid[0]
        u_top = grid[min(keep[-1] + 1, len(grid) - 1)] if keep.size else u_lo
        u_top = max(u_top, peak_edges[-1]) if peak_edges.size else u_top
        coarse = np.linspace(u_lo, u_top, max(8, int(math.ceil((u_top - u_lo) / 1.0))) + 1)
        edges = np.unique(np.concatenate([coarse, peak_edges]))
        a, b = edges[:-1], edges[1:]
        done = []  # accepted panels: (a, b, integral, 20-point nodes' log f, b, cov) -- kept, not recomputed
        for round_ in range(_MAX_ROUNDS):
            coarse_u, coarse_w = self._panel_rule(a, b, _X10, _W10)
            fine_u, fine_w = self._panel_rule(a, b, _X20, _W20)
            n_c = coarse_u.size  # both rules in one evaluation of log f
            lf, bf, cf = self._log_f(np.concatenate([coarse_u.ravel(), fine_u.ravel()]))
            fc = np.exp(lf[:n_c] - self._shift).reshape(coarse_u.shape)
            lf, bf, cf = lf[n_c:].reshape(fine_u.shape), bf[n_c:], cf[n_c:]
            bf, cf = bf.reshape(*fine_u.shape, -1), cf.reshape(*fine_u.shape, *cf.shape[1:])
            ic, i_f = np.sum(fc * coarse_w, 1), np.sum(np.exp(lf - self._shift) * fine_w, 1)
            total = sum(d[2] for d in done) + i_f.sum()
            bad = np.abs(i_f - ic) > _REL_TOL * total
            last_round = round_ == _MAX_ROUNDS - 1
            done += [(a[j], b[j], i_f[j], lf[j], bf[j], cf[j]) for j in np.flatnonzero(~bad | last_round)]
            if not bad.any() or last_round:
                break
            mid = (a[bad] + b[bad]) / 2
            a, b = np.concatenate([a[bad], mid]), np.concatenate([mid, b[bad]])
        done.sort(key=lambda d: d[0])
        self.panels = np.array([(d[0], d[1]) for d in done])
        u, w = self._panel_rule(self.panels[:, 0], self.panels[:, 1], _X20, _W20)
        logf = np.concatenate([d[3] for d in done])
        b_nodes, cov_nodes = np.concatenate([d[4] for d in done]), np.concatenate([d[5] for d in done])
        # Mass below tau_lo: prior CDF times the (there constant) likelihood.
        b0, cov0, ll0 = self.kernel.conditional(np.array([0.0]))
        lo_s = self.tau_prior.support[0]
        tail = float(self.tau_prior.cdf(self.tau_lo)) * math.exp(ll0[0] - self._shift) if lo_s == 0 else 0.0
        mass = np.exp(logf - self._shift) * w.ravel()
        total = tail + mass.sum()
        self.log_evidence = self._shift + math.log(total)
        self.tau = np.concatenate([[0.0], np.exp(u.ravel())])
        self.weight = np.concatenate([[tail], mass]) / total
        self.b, self.cov = np.concatenate([b0, b_nodes]), np.concatenate([cov0, cov_nodes])
        self._tail = tail / total
        self._panel_mass = np.concatenate([[0.0], np.cumsum(mass.reshape(u.shape).sum(1))]) / total + self._tail

    # ---------------------------------------------------------------- tau
    def _cdf_in_panel(self, j, u, density=False):
        """P(log tau <= u | y) for u inside panel j (arrays): panel sums plus a 20-point rule on [a_j, u]; with
        density=True also the density of log tau at u (from the same evaluation of log f)."""
        nodes, w = self._panel_rule(self.panels[j, 0], u, _X20, _W20)
        points = np.column_stack([nodes, u]) if density else nodes
        dens = np.exp(self._log_f(points.ravel())[0].reshape(points.shape) - self.log_evidence)
        n = nodes.shape[1]
        cdf = self._panel_mass[j] + np.sum(dens[:, :n] * w, axis=1)
        return (cdf, dens[:, n]) if density else cdf

    def _start(self, j, q):
        """Starting points in log tau for the quantiles q in panels j: the node CDF (each node's mass centred
        on it) interpolated linearly, where the nodes are laid out panel by panel; else linear in the panel."""
        lo, hi = self.panels[j, 0], self.panels[j, 1]
        m_lo, m_hi = self._panel_mass[j], self._panel_mass[j + 1]
        linear = lo + (hi - lo) * np.clip((q - m_lo) / np.maximum(m_hi - m_lo, 1e-300), 0, 1)
        n = len(self.tau) - 1
        if n % len(self.panels) or not np.all(self.tau[1:] > 0):
            return linear
        per = n // len(self.panels)
        u = np.log(self.tau[1:]).reshape(len(self.panels), per)[j]
        mass = self.weight[1:].reshape(len(self.panels), per)[j]
        cum = m_lo[:, None] + np.cumsum(mass, axis=1) - mass / 2
        xs = np.column_stack([lo, u, hi])
        ps = np.column_stack([m_lo, cum, m_hi])
        start = np.array([np.interp(qi, pi, xi) for qi, pi, xi in zip(q, ps, xs)])
        return np.where(np.all(np.diff(xs, axis=1) >= 0, axis=1), np.clip(start, lo, hi), linear)

    def tau_cdf(self, t) -> float:
        """P(tau <= t | y), exact to quadrature accuracy."""
        t = float(t)
        if len(self.panels) == 0:
            return float(t >= self.tau[0])
        if t < self.tau_prior.support[0] or t <= 0:
            return 0.0
        if t < self.tau_lo:  # inside the prior-dominated tail near 0 (none where the prior has no mass there)
            return self._tail * float(self.tau_prior.cdf(t) / self.tau_prior.cdf(self.tau_lo)) if self._tail > 0 else 0.0
        u = math.log(t)
        if u >= self.panels[-1, 1]:
            return 1.0
        j = int(np.searchsorted(self.panels[:, 0], u, side="right") - 1)
        return float(min(self._cdf_in_panel(np.array([j]), np.array([u]))[0], 1.0))

    def tau_ppf(self, q):
        """Quantiles of tau | y at probabilities q (array): safeguarded Newton in log tau, vectorised,
        to 1e-13 in probability."""
        q = np.atleast_1d(np.asarray(q, float))
        if len(self.panels) == 0:
            return np.full(q.shape, self.tau[0])
        out = np.empty(q.shape)
        tail = (q <= self._tail) & (self._tail > 0)
        if tail.any():
            share = q[tail] / self._tail
            out[tail] = (self.tau_prior.ppf(share * self.tau_prior.cdf(self.tau_lo)) if self.tau_prior.proper
                         else self.tau_lo * share)  # an improper prior: linear below tau_lo, as sample_tau
        qq = q[~tail]
        j = np.clip(np.searchsorted(self._panel_mass, qq) - 1, 0, len(self.panels) - 1)
        lo, hi = self.panels[j, 0], self.panels[j, 1]
        start = self._start(j, qq)

        def residual(u, rows):
            cdf, dens = self._cdf_in_panel(j[rows], u, density=True)
            return cdf - qq[rows], dens

        out[~tail] = np.exp(safeguarded_newton(residual, start, lo, hi, ftol=1e-13, xtol=1e-12))
        return out

    def tau_pdf(self, t):
        """Posterior density of tau at t (array, t > 0)."""
        t = np.atleast_1d(np.asarray(t, float))
        out = np.zeros(t.shape)
        ok = t > 0
        if len(self.panels) and ok.any():
            out[ok] = np.exp(self._log_f(np.log(t[ok]))[0] - self.log_evidence) / t[ok]
        return out

    def sample_tau(self, n, rng):
        """i.i.d. draws of tau | y by inverting the node CDF (each node's mass centred on it, linear in log tau
        between nodes)."""
        u = rng.uniform(size=n)
        if len(self.panels) == 0:
            return np.full(n, self.tau[0])
        cum = np.cumsum(self.weight) - self.weight / 2
        logtau = np.log(self.tau[1:])
        out = np.exp(np.interp(u, cum[1:], logtau, left=logtau[0], right=logtau[-1]))
        in_tail = u < self._tail
        if in_tail.any():
            out[in_tail] = self.tau_prior.ppf(u[in_tail] / self._tail * self.tau_prior.cdf(self.tau_lo)) \
                if self.tau_prior.proper else self.tau_lo * u[in_tail] / self._tail
        return out

    @property
    def hyper(self) -> np.ndarray:
        """The nodes' heterogeneity parameters (N, 1)."""
        return self.tau[:, None]

    def marginals(self) -> list:
        """The one-dimensional posteriors of the heterogeneity parameters: this one."""
        return [self]

    def sample(self, n, rng):
        """i.i.d. draws of tau (n, 1) and beta | tau (b, cov)."""
        tau = self.sample_tau(n, rng)
        b, cov, _ = self.kernel.conditional(tau)
        return tau[:, None], b, cov

    def log_likelihood_tau0(self) -> float:
        """log L(tau = 0): the evidence of the common-effect model with the same prior on beta."""
        return float(self.kernel.conditional(np.array([0.0]))[2][0])


def quadrature_of(block, tau_prior) -> TauQuadrature:
    """The quadrature of one block of a family (see bayesmeta.families.base.Block)."""
    kernel = LinearKernel(block.y, block.v, block.X, block.prior_mean, block.prior_precision)
    return TauQuadrature(kernel, fixed_tau=0.0) if block.common else TauQuadrature(kernel, tau_prior)
