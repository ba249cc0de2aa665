"""Exact engine for the three-level model: p(tau, tau_w | y) by tensor-product Gauss-Legendre quadrature.

y_ij ~ N(theta_ij, v_ij), theta_ij ~ N(kappa_j, tau_w^2), kappa_j ~ N(mu, tau^2), mu flat or normal. Given
(tau, tau_w) each cluster's covariance is D_j + tau^2 11' (D_j = diag(v + tau_w^2)), so by Sherman-Morrison
(d = 1/(v + tau_w^2), s_j = sum d, t_j = sum d y, q_j = sum d y^2, c_j = 1 + tau^2 s_j) mu is normal with
precision P = sum s/c (+ 1/s0^2) and mean (sum t/c (+ m0/s0^2)) / P, and

    log L = -1/2 [k log 2 pi + sum log(v + tau_w^2) + sum log c + log P + R] + const,
    R = sum (q - tau^2 t^2 / c) - 2 mu sum t/c + mu^2 sum s/c (+ (mu - m0)^2 / s0^2)

(the same convention as the one-level kernel). The integral over (log tau, log tau_w): a coarse scan finds
the box where the integrand is within e^-42 of its maximum and each dimension's marginal mode and Laplace SD;
composite 20-point Gauss-Legendre rules on panels of that box, narrow within 6 SDs of the mode and doubling in
width outwards, (and the prior mass below tau_lo = 1e-3 min(se) in either dimension, where L is constant
to 1e-6) are refined (the narrow panels halved) until the 10- and 20-point rules, or two successive 20-point
rules, agree to 1e-10 in the evidence and the means of mu, tau and tau_w. Each
marginal (of tau, of tau_w) is a one-dimensional posterior handled as TauQuadrature handles it, its density
at any point the exact inner sum over the other dimension's nodes.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import logsumexp

from ..numerics import cluster_sums
from .exact import LOG_2PI, TauQuadrature

_X10, _W10 = leggauss(10)
_X20, _W20 = leggauss(20)
_REL_TOL = 1e-10
_PRUNE = 1e-10  # joint nodes below this share of the largest weight are dropped (together < 1e-8 of the mass)


class ClusterKernel:
    """log L(tau, tau_w) and mu | tau, tau_w for arrays of tau (Nb,) and tau_w (Nw,): grids (Nb, Nw)."""

    def __init__(self, y, v, cluster_index, m, prior_mean=0.0, prior_precision=0.0):
        # rows in one canonical order (cluster, y, v): every sum is then rounded the same way whatever the order
        # of the input rows, so the quadrature's nodes (and the node-resolution quantiles of I2) do not move
        # when rows are permuted
        y, v, cluster_index = (np.asarray(a) for a in (y, v, cluster_index))
        order = np.lexsort((v, y, cluster_index))
        y, self.v, self.index, self.m = y[order].astype(float), v[order].astype(float), cluster_index[order], m
        # centred at the precision-weighted mean: t^2 / c no longer cancels against q (y + 1e8 loses no digits)
        self.centre = float(np.sum(y / self.v) / np.sum(1 / self.v))
        self.y = y - self.centre
        self.m0, self.p0 = float(prior_mean) - self.centre, float(prior_precision)
        self._const = 0.5 * (math.log(self.p0) if self.p0 > 0 else LOG_2PI)

    def grid(self, tau, tau_w):
        """b (Nb, Nw), V (Nb, Nw) of mu and log L (Nb, Nw)."""
        s, t, q, logdet = cluster_sums(self.y, self.v, tau_w**2, self.index, self.m)
        c = 1 + (tau**2)[:, None, None] * s[None]
        P_data, T = np.sum(s / c, axis=-1), np.sum(t / c, axis=-1)
        P = P_data + self.p0
        b = (T + self.p0 * self.m0) / P
        yy = np.sum(q[None] - (tau**2)[:, None, None] * t[None] ** 2 / c, axis=-1)
        R = yy - 2 * b * T + b * b * P_data + self.p0 * (b - self.m0) ** 2
        ll = -0.5 * (len(self.y) * LOG_2PI + logdet[None, :] + np.sum(np.log(c), axis=-1) + np.log(P) + R)
        return b + self.centre, 1 / P, ll + self._const


class _Dimension:
    """The rule in one dimension: nodes tau (the first at 0 holding the prior mass below tau_lo when the
    box reaches down there), log weights (rule weight x prior density x Jacobian tau, or the prior mass)."""

    def __init__(self, prior, edges, x, w, with_tail):
        u_lo = edges[0]
        self.edges = edges
        half = np.diff(self.edges)[:, None] / 2
        u = ((self.edges[:-1] + self.edges[1:])[:, None] / 2 + half * x[None, :]).ravel()
        with np.errstate(divide="ignore"):
            logw = np.log((half * w[None, :]).ravel()) + prior.logpdf(np.exp(u)) + u
        self.with_tail, self.prior = with_tail, prior
        if with_tail:
            u_tail = [-np.inf]
            logw = np.concatenate([[math.log(max(float(prior.cdf(math.exp(u_lo))), 1e-300))], logw])
            u = np.concatenate([u_tail, u])
        self.u, self.logw = u, logw
        self.tau = np.exp(u)


def graded_edges(lo, hi, mode, sd, level):
    """Panel edges on [lo, hi]: panels of width min(1, 2 sd) / 2^level within 6 SDs of the marginal's mode, and
    widths doubling outwards from there (the integrand is smooth and small in the tails)."""
    fine = min(1.0, 2 * sd) / 2**level
    a, b = max(lo, mode - 6 * sd), min(hi, mode + 6 * sd)
    if a >= b:  # the peak lies at an end of the box
        a, b = (lo, min(hi, lo + 12 * sd)) if mode <= lo else (max(lo, hi - 12 * sd), hi)
    core = np.linspace(a, b, max(1, int(math.ceil((b - a) / fine))) + 1)
    left, width, x = [], fine, a
    while x > lo:
        width *= 2
        x = max(lo, x - width)
        left.append(x)
    right, width, x = [], fine, b
    while x < hi:
        width *= 2
        x = min(hi, x + width)
        right.append(x)
    return np.concatenate([left[::-1], core, right])


class TwoLevelQuadrature:
    """The joint posterior of (tau, tau_w) on quadrature nodes, in the interface QuadratureBackend uses:
    `weight`, `b`, `cov` of mu at each node, `tau` the SD of a new effect in a new cluster,
    sqrt(tau^2 + tau_w^2); `hyper` the node values (N, 2); `marginals()` the posteriors of tau and tau_w."""

    def __init__(self, kernel: ClusterKernel, tau_prior, tau_within_prior):
        self.kernel, self.priors = kernel, (tau_prior, tau_within_prior)
        v, y = kernel.v, kernel.y
        # below 1e-3 min(se), L is constant to 1e-6 relative and carries the prior mass there (~1e-4 of it)
        self.tau_lo = [max(1e-3 * math.sqrt(v.min()), p.support[0]) for p in self.priors]
        spread = float(np.sqrt(np.var(y) + v.max())) + math.sqrt(v.max())
        limits = [math.log(p.support[1]) if math.isfinite(p.support[1]) else math.log(spread) + 25
                  for p in self.priors]
        lo = [math.log(t) for t in self.tau_lo]
        box = self._box(lo, limits, math.log(20 * spread))
        previous = None
        for level in range(6):
            edges = [graded_edges(*box[d][:2], *box[d][3:], level) for d in range(2)]
            coarse = self._integrate(box, edges, _X10, _W10)
            fine = self._integrate(box, edges, _X20, _W20)
            stats = [np.array(r[4]) for r in (coarse, fine)]
            if np.all(np.abs(stats[1] - stats[0]) <= _REL_TOL * np.maximum(np.abs(stats[1]), 1e-300)):
                break
            if previous is not None and np.all(np.abs(stats[1] - previous) <= _REL_TOL * np.abs(stats[1])):
                break
            previous = stats[1]
        self._store(*fine[:4])

    def _box(self, lo, limits, hi0):
        """Limits in (log tau, log tau_w) of the region where the integrand is within e^-42 of its maximum."""
        hi = [min(hi0, lim) for lim in limits]
        while True:
            ub, uw = (np.append(np.arange(lo[d], hi[d], 0.5), hi[d]) for d in range(2))
            with np.errstate(divide="ignore"):
                lp = [self.priors[d].logpdf(np.exp(u)) + u for d, u in enumerate((ub, uw))]
            logf = self.kernel.grid(np.exp(ub), np.exp(uw))[2] + lp[0][:, None] + lp[1][None, :]
            top = np.max(logf)
            grow = [d for d in range(2) if hi[d] < limits[d] and np.max(np.take(logf, -1, axis=d)) > top - 42]
            if not grow:
                break
            for d in grow:
                hi[d] = min(hi[d] + 4, limits[d])
        keep = logf > top - 42
        out = []
        for d, u in enumerate((ub, uw)):
            idx = np.flatnonzero(np.any(keep, axis=1 - d))
            profile = logsumexp(logf, axis=1 - d)  # the marginal in this dimension, on the scan's 0.5 steps
            i = int(np.clip(np.argmax(profile), 1, len(u) - 2))
            curvature = (profile[i - 1] - 2 * profile[i] + profile[i + 1]) / 0.25
            sd = 1 / math.sqrt(-curvature) if curvature < 0 else 0.5
            out.append((u[max(idx[0] - 1, 0)], u[min(idx[-1] + 1, len(u) - 1)], idx[0] == 0, u[i], sd))
        return out

    def _integrate(self, box, edges, x, w):
        dims = [_Dimension(self.priors[d], edges[d], x, w, box[d][2]) for d in range(2)]
        b, V, ll = self.kernel.grid(dims[0].tau, dims[1].tau)
        logf = ll + dims[0].logw[:, None] + dims[1].logw[None, :]
        shift = float(np.max(logf))
        f = np.exp(logf - shift)
        Z = f.sum()
        moments = [math.log(Z) + shift, np.sum(f * b) / Z, np.sum(f * dims[0].tau[:, None]) / Z,
                   np.sum(f * dims[1].tau[None, :]) / Z]
        return dims, b, V, logf, moments

    def _store(self, dims, b, V, logf):
        self.dims = dims
        self.log_evidence = float(logsumexp(logf))
        weight = np.exp(logf - self.log_evidence)
        keep = weight > _PRUNE * weight.max()
        tb, tw = np.meshgrid(dims[0].tau, dims[1].tau, indexing="ij")
        self.weight = weight[keep] / weight[keep].sum()
        self.hyper = np.column_stack([tb[keep], tw[keep]])
        self.b, self.cov = b[keep][:, None], V[keep][:, None, None]
        self.tau = np.sqrt(tb[keep] ** 2 + tw[keep] ** 2)
        self._logf = logf
        self._marginals = [_Marginal(self, d) for d in range(2)]

    def marginals(self):
        return self._marginals

    def log_likelihood_tau0(self) -> float:
        """log of the evidence with no heterogeneity between clusters (tau = 0), tau_w integrated out."""
        within = self.dims[1]
        ll = self.kernel.grid(np.zeros(1), within.tau)[2][0]
        return float(logsumexp(ll + within.logw))

    def sample(self, n, rng):
        """i.i.d. draws of (tau, tau_w) (n, 2) from the node distribution, and mu | them (b, cov)."""
        idx = rng.choice(len(self.weight), size=n, p=self.weight)
        return self.hyper[idx], self.b[idx], self.cov[idx]

    def function_cdf(self, fn, x) -> float:
        """P(fn(tau, tau_w) <= x | y) for a function monotone in tau_w at fixed tau (each I^2 of the model): at each
        tau node, the tau_w panels wholly inside the region count whole, the panel where fn crosses x counts up to
        the crossing through the integral of its 20-point interpolant (the rule's own polynomial), so the CDF is
        as smooth as the integrand and not a step function of the nodes."""
        d0, d1 = self.dims
        weight = np.exp(self._logf - self.log_evidence)  # (N0, N1)
        tail = 1 if d1.with_tail else 0
        tb = d0.tau[:, None]
        n0, n_panels = len(d0.tau), len(d1.edges) - 1

        def f(tw):
            tb_, tw_ = np.broadcast_arrays(tb, tw)
            return fn(np.column_stack([tb_.ravel(), tw_.ravel()])).reshape(tb_.shape)

        below_edges = f(np.exp(d1.edges)[None, :]) <= x  # (N0, P + 1)
        body = weight[:, tail:].reshape(n0, n_panels, -1)
        inside = below_edges[:, :-1] & below_edges[:, 1:]
        total = np.sum(body * inside[..., None]) + (np.sum(weight[:, 0] * (f(np.zeros((1, 1)))[:, 0] <= x)) if tail else 0)
        rows, panels = np.nonzero(below_edges[:, :-1] != below_edges[:, 1:])
        if rows.size:
            lo, hi = d1.edges[panels], d1.edges[panels + 1]
            rising = below_edges[rows, panels]  # below x at the panel's left edge: the region is left of the crossing
            for _ in range(60):  # bisection in u = log tau_w for the crossing
                mid = (lo + hi) / 2
                under = fn(np.column_stack([d0.tau[rows], np.exp(mid)])) <= x
                lo, hi = np.where(under == rising, mid, lo), np.where(under == rising, hi, mid)
            z = 2 * ((lo + hi) / 2 - d1.edges[panels]) / (d1.edges[panels + 1] - d1.edges[panels]) - 1
            share = _partial_weights(z)  # (R, 20): share of each node's weight left of z
            share = np.where(rising[:, None], share, 1 - share)
            total += np.sum(body[rows, panels] * share)
        return float(min(max(total, 0.0), 1.0))

    def log_marginal(self, d, u):
        """log of the marginal integrand of dimension d at u = log tau (array): the other dimension summed."""
        tau = np.exp(np.asarray(u, float))
        other = self.dims[1 - d]
        pair = (tau, other.tau) if d == 0 else (other.tau, tau)
        ll = self.kernel.grid(*pair)[2]
        ll = ll + (other.logw[None, :] if d == 0 else other.logw[:, None])
        with np.errstate(divide="ignore"):
            lp = self.priors[d].logpdf(tau) + u
        return logsumexp(ll, axis=1 - d) + lp


def _partial_weights(z):
    """For the 20-point Gauss-Legendre rule (x_j, w_j): int_-1^z l_j(x) dx / w_j at each z (array), l_j the
    Lagrange basis polynomial of node j; l_j = w_j sum_n (2n + 1)/2 P_n(x_j) P_n and int_-1^z P_n =
    (P_n+1(z) - P_n-1(z)) / (2n + 1) (n >= 1)."""
    from numpy.polynomial import legendre

    z = np.atleast_1d(np.asarray(z, float))
    P_nodes = np.stack([legendre.legval(_X20, np.eye(21)[n]) for n in range(20)])  # (20 degrees, 20 nodes)
    P_z = np.stack([legendre.legval(z, np.eye(22)[n]) for n in range(21)])  # degrees 0..20 at z
    out = np.broadcast_to((z + 1) / 2, (20, len(z))).T.copy()
    for n in range(1, 20):
        out += np.outer((P_z[n + 1] - P_z[n - 1]) / 2, P_nodes[n])
    return out


class _Marginal(TauQuadrature):
    """The posterior of one of the two SDs as a one-dimensional TauQuadrature (CDF, quantiles, density,
    draws), its integrand the exact sum over the other dimension's nodes."""

    def __init__(self, joint: TwoLevelQuadrature, d: int):  # noqa: super().__init__ integrates; not wanted here
        dim = joint.dims[d]
        self.joint, self.d, self.tau_prior = joint, d, joint.priors[d]
        self.tau_lo = joint.tau_lo[d]
        self.log_evidence = joint.log_evidence
        self.panels = np.column_stack([dim.edges[:-1], dim.edges[1:]])
        mass = np.exp(logsumexp(joint._logf, axis=1 - d) - joint.log_evidence)
        tail = mass[0] if dim.with_tail else 0.0
        body = mass[1:] if dim.with_tail else mass
        self._tail = float(tail)
        self._panel_mass = np.concatenate([[0.0], np.cumsum(body.reshape(len(self.panels), -1).sum(1))]) + self._tail
        self.tau = np.concatenate([[0.0], dim.tau[1:] if dim.with_tail else dim.tau])
        self.weight = np.concatenate([[tail], body])

    def _log_f(self, u):
        return self.joint.log_marginal(self.d, u), None, None


def two_level_quadrature(family, spec) -> TwoLevelQuadrature:
    """The quadrature of a three-level family (bayesmeta.families.three_level)."""
    prior = family.coef_priors[0]
    normal = prior.kind == "normal"
    kernel = ClusterKernel(family.data.y, family.data.vi, family.cluster_index, family.clusters,
                           prior.m if normal else 0.0, 1 / prior.s**2 if normal else 0.0)
    return TwoLevelQuadrature(kernel, spec.tau_prior, spec.tau_within_prior)
