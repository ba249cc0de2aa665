"""Many normal-normal meta-analyses at once: the exact engine's quadrature over tau with a leading batch axis.

Analyses are bucketed by their number of studies (exactly for small k, padded with zero-weight studies
above, as ArviZ's array layer pads ragged dimensions), so that a NumPy pass over a (analyses, nodes,
studies) array serves a whole bucket. For each analysis, as in `bayesmeta.engines.exact.TauQuadrature`:

1. the single engine's scan of log f(u) = log p(tau) + u + log L(tau), u = log tau (the same points:
   steps of 0.25 from tau_lo = 1e-6 min(se), extended until f has fallen below 1e-18 of its maximum), its
   peak search (`exact.maximise`) and so the same range of integration [log tau_lo, u_top];
2. a panel layout of fixed shape per analysis: coarse panels over the range (3, or more so that none is
   wider than 5 in u) plus edges at -7 ... 7 Laplace SDs around the mode;
3. a 21-point Gauss-Kronrod rule on each panel, with the 10-point Gauss rule on the same nodes as the
   check: an analysis passes when the two agree to 1e-10 of its total in sum over panels. Analyses that
   fail are recomputed with every panel halved (twice at most); those that still fail are handed back to
   the caller, which fits them with the adaptive single-analysis engine (`bm.fit`);
4. summaries as the single engine makes them: mu and theta_new are normal mixtures over the nodes
   (moments, quantiles by safeguarded Newton on the mixture CDF); tau quantiles by Newton on the CDF
   within a panel (a 20-point Gauss-Legendre rule from the panel's start, fresh evaluations of f), tau2
   and I2 as monotone transforms of tau, the mass below tau_lo from the prior's CDF.

Every step is row-wise: an analysis gets bit-for-bit the same numbers whichever other analyses share its
batch (so a chunked or distributed run equals an in-process one). Only the normal-normal random-effects
model with a flat or normal prior on mu is vectorised here.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from ..numerics import mixture_cdf, mixture_moments, mixture_ppf, safeguarded_newton
from .exact import maximise, prior_logpdf

LOG_2PI = math.log(2 * math.pi)
# Gauss-Kronrod 21 on [-1, 1] (QUADPACK qk21); the 10-point Gauss nodes are the odd positions.
_XK = np.array([0.995657163025808080735527280689003, 0.973906528517171720077964012084452,
                0.930157491355708226001207180059508, 0.865063366688984510732096688423493,
                0.780817726586416897063717578345042, 0.679409568299024406234327365114874,
                0.562757134668604683339000099272694, 0.433395394129247190799265943165784,
                0.294392862701460198131126603103866, 0.148874338981631210884826001129720, 0.0])
_XK = np.concatenate([-_XK, _XK[-2::-1]])  # ascending: nodes run up each panel, panels up the range
_WK = np.array([0.011694638867371874278064396062192, 0.032558162307964727478818972459390,
                0.054755896574351996031381300244580, 0.075039674810919952767043140916190,
                0.093125454583697605535065465083366, 0.109387158802297641899210590325805,
                0.123491976262065851077958109831074, 0.134709217311473325928054001771707,
                0.142775938577060080797094273138717, 0.147739104901338491374841515972068,
                0.149445554002916905664936468389821])
_WK = np.concatenate([_WK, _WK[-2::-1]])
_WG10 = np.array([0.066671344308688137593568809893332, 0.149451349150580593145776339657697,
                  0.219086362515982043995534934228163, 0.269266719309996355091226921569469,
                  0.295524224714752870173892994651338])
_WG = np.zeros(21)
_WG[1:10:2], _WG[11:20:2] = _WG10, _WG10[::-1]
_X20, _W20 = leggauss(20)

REL_TOL = 1e-10  # sum over panels of |Kronrod - Gauss| against the total
REFINEMENTS = 2  # times every panel of a failing analysis is halved before it goes to the single engine
N_COARSE = 3  # coarse panels over the scanned range, at least
PANEL_WIDTH = 5.0  # at most, in u: the 21-point rule then integrates tau^4 p(tau | y) (e^4u) to 1e-12
PEAK = np.array([-7.0, -4.0, -2.0, -0.7, 0.7, 2.0, 4.0, 7.0])  # peak edges in Laplace SDs
STEP = 0.25  # of the scan in u = log tau, as the single engine
_ELEMENTS = 1_500_000  # of a (rows, nodes, studies) block


def k_bucket(k: int) -> int:
    """The padded number of studies of an analysis with k studies: k itself up to 16, then the next of
    20, 24, 32, 40, 48, 64, ... (a quarter apart), so that padding costs at most a quarter."""
    if k <= 16:
        return k
    top = 16
    while top < k:
        top = top + max(4, 2 ** (int(math.log2(top)) - 2))
    return top


# --------------------------------------------------------------------------- priors per row
class RowPriors:
    """The tau prior of each analysis of a bucket: `priors` (one object per row, shared objects are
    evaluated together), or the Jeffreys prior computed from each row's variances."""

    def __init__(self, priors, v, mask):
        self.priors = list(priors)
        self.v, self.mask = v, mask
        self.jeffreys = np.array([type(p).__name__ == "Jeffreys" for p in self.priors])
        groups = {}
        for i, p in enumerate(self.priors):
            groups.setdefault(id(p) if not self.jeffreys[i] else "jeffreys", []).append(i)
        self.groups = [(np.array(rows), self.priors[rows[0]]) for rows in groups.values()]
        supp = np.array([p.support for p in self.priors], float).reshape(-1, 2)
        self.lo, self.hi = supp[:, 0], supp[:, 1]
        self.proper = np.array([p.proper for p in self.priors])

    def _apply(self, rows, values, method):
        """method(prior, values of its rows, rows) for every prior among `rows` (values: one row per entry);
        the prior is None for the Jeffreys prior."""
        if len(self.groups) == 1:
            prior = self.groups[0][1]
            return method(None if self.jeffreys[0] else prior, values, rows)
        out = np.empty(values.shape)
        which = np.empty(len(self.priors), int)
        for i, (members, _) in enumerate(self.groups):
            which[members] = i
        sel = which[rows]
        for i, (_, prior) in enumerate(self.groups):
            take = np.flatnonzero(sel == i)
            if take.size:
                jeff = self.jeffreys[self.groups[i][0][0]]
                out[take] = method(None if jeff else prior, values[take], rows[take])
        return out

    def logpdf(self, rows, tau):
        def f(prior, t, r):
            if prior is None:  # Jeffreys: 1/2 log sum (tau / (v + tau^2))^2 over each row's studies
                v = self.v[r][:, None, :]
                terms = (t[..., None] / (v + t[..., None] ** 2)) ** 2
                if self.mask is not None:
                    terms = terms * self.mask[r][:, None, :]
                with np.errstate(divide="ignore"):
                    return 0.5 * np.log(np.sum(terms, axis=-1))
            return prior_logpdf(prior, t)

        return self._apply(rows, tau, f)

    def cdf(self, rows, tau):
        def f(prior, t, r):
            if prior is None:  # unnormalised, as priors.Jeffreys.cdf: only used below tau_lo
                inv2 = np.where(self.mask[r], 1 / self.v[r] ** 2, 0) if self.mask is not None else 1 / self.v[r] ** 2
                return 0.5 * t**2 * np.sqrt(np.sum(inv2, axis=-1))
            return prior.cdf(t)

        return self._apply(rows, tau, f)


# --------------------------------------------------------------------------- the kernel of one bucket
class Bucket:
    """Analyses with the same padded number of studies and the same prior on mu.

    y, v: (G, K) effects and variances (padding: y = 0, v = 1 with mask False); k (G,); priors: one tau prior
    per row; m0, p0: mean and precision of the normal prior on mu (p0 = 0: flat).
    """

    def __init__(self, y, v, k, priors, m0=0.0, p0=0.0):
        self.y, self.v, self.k = np.asarray(y, float), np.asarray(v, float), np.asarray(k, int)
        G, K = self.y.shape
        self.mask = None if np.all(self.k == K) else (np.arange(K)[None, :] < self.k[:, None])
        self.m0, self.p0 = float(m0), float(p0)
        self.const = 0.5 * (math.log(p0) if p0 > 0 else LOG_2PI)
        self.prior = RowPriors(priors, self.v, self.mask)

    # ------------------------------------------------------------ log f
    def conditional(self, rows, tau):
        """b, c = Var(mu | tau, y) and log L(tau) at tau (R, N) for the analyses `rows` (R,), in blocks."""
        R, N = tau.shape
        b, c, ll = np.empty((R, N)), np.empty((R, N)), np.empty((R, N))
        step = max(1, _ELEMENTS // max(N * self.y.shape[1], 1))
        for s in range(0, R, step):
            part = slice(s, s + step)
            b[part], c[part], ll[part] = self._block(rows[part], tau[part])
        return b, c, ll

    def _block(self, rows, tau):
        y, v = self.y[rows][:, None, :], self.v[rows][:, None, :]
        s2 = v + (tau**2)[..., None]
        w = 1 / s2
        logs2 = np.log(s2)
        if self.mask is not None:
            m = self.mask[rows][:, None, :]
            w = w * m
            logs2 = logs2 * m
        prec = np.sum(w, axis=-1) + self.p0
        b = (np.sum(w * y, axis=-1) + self.p0 * self.m0) / prec
        quad = np.sum(w * (y - b[..., None]) ** 2, axis=-1) + self.p0 * (b - self.m0) ** 2
        k = self.k[rows][:, None]
        ll = -0.5 * (k * LOG_2PI + np.sum(logs2, axis=-1) + np.log(prec) + quad) + self.const
        return b, 1 / prec, ll

    def log_f(self, rows, u):
        """log of the integrand over u = log tau, and b, c there; u (R, N)."""
        tau = np.exp(u)
        b, c, ll = self.conditional(rows, tau)
        return self.prior.logpdf(rows, tau) + u + ll, b, c

    # ------------------------------------------------------------ quadrature
    def _limits(self):
        """tau_lo, u_lo, u_hi and u_limit of each row (as TauQuadrature._scan)."""
        v, y, mask = self.v, self.y, self.mask
        big = np.where(mask, v, -np.inf).max(1) if mask is not None else v.max(1)
        small = np.where(mask, v, np.inf).min(1) if mask is not None else v.min(1)
        mean = np.sum(np.where(mask, y, 0) if mask is not None else y, 1) / self.k
        var = np.sum(np.where(mask, (y - mean[:, None]) ** 2, 0) if mask is not None else (y - mean[:, None]) ** 2,
                     1) / self.k
        tau_lo = np.maximum(1e-6 * np.sqrt(small), self.prior.lo)
        spread = np.sqrt(var + big) + np.sqrt(big)
        u_lo = np.log(tau_lo)
        with np.errstate(divide="ignore"):
            u_limit = np.where(np.isfinite(self.prior.hi), np.log(self.prior.hi),
                               np.maximum(80.0, np.log(spread) + 40))
        u_hi = np.maximum(np.minimum(np.log(20 * spread), u_limit), u_lo + 1e-9)
        return tau_lo, u_lo, u_hi, u_limit

    def _scan(self, rows, u_lo, u_hi, u_limit):
        """The single engine's scan, row by row with the same points: np.append(np.arange(u_lo, u_hi, STEP),
        u_hi), extended by np.append(np.arange(last + STEP, top, STEP), top), top = min(last + 4, u_limit),
        while log f has not fallen 42 below its maximum or still rises. Returns the grid and log f (R, M),
        padded after each row's `count` points (grid with its last point, log f with -inf)."""
        R = len(rows)
        ar = np.arange(R)
        grid, count = _aranges(u_lo, u_hi)
        logf = self.log_f(rows, grid)[0]
        logf[np.arange(grid.shape[1])[None, :] >= count[:, None]] = -np.inf
        while True:
            last = grid[ar, count - 1]
            lf_last, lf_prev = logf[ar, count - 1], logf[ar, np.maximum(count - 2, 0)]
            more = np.flatnonzero((last < u_limit) & ((lf_last > logf.max(1) - 42) | (lf_last >= lf_prev)))
            if more.size == 0:
                return grid, logf, count
            top = np.minimum(last[more] + 4, u_limit[more])
            ext, n_ext = _aranges(last[more] + STEP, top)
            lf_ext = self.log_f(rows[more], ext)[0]
            width = int((count[more] + n_ext).max())
            if width > grid.shape[1]:
                pad = ((0, 0), (0, width - grid.shape[1]))
                grid, logf = np.pad(grid, pad, mode="edge"), np.pad(logf, pad, constant_values=-np.inf)
            j = np.arange(ext.shape[1])[None, :]
            put = j < n_ext[:, None]
            cols = np.where(put, count[more, None] + j, count[more, None] - 1)  # padding rewrites the last point
            grid[more[:, None], cols] = np.where(put, ext, grid[more, count[more] - 1][:, None])
            logf[more[:, None], cols] = np.where(put, lf_ext, logf[more, count[more] - 1][:, None])
            count[more] += n_ext
            tail = np.arange(grid.shape[1])[None, :] >= count[more, None]
            grid[more] = np.where(tail, grid[more, count[more] - 1][:, None], grid[more])

    def _peak(self, rows, grid, logf, count):
        """Mode of log f in the scan's best bracket and the maximum of log f (exact.maximise, as the single
        engine), and the Laplace SD at the mode from the curvature at h = 1e-4."""
        ar = np.arange(len(rows))
        i = np.argmax(logf, axis=1)
        il, ir = np.maximum(i - 1, 0), np.minimum(i + 1, count - 1)
        fl, f0, fr = logf[ar, il], logf[ar, i], logf[ar, ir]
        second = fl - 2 * f0 + fr
        with np.errstate(divide="ignore", invalid="ignore"):
            start = np.where((il < i) & (ir > i) & (second < 0), grid[ar, i] + STEP / 2 * (fl - fr) / second,
                             grid[ar, i])
        mode, best = maximise(lambda sel, u: self.log_f(rows[sel], u)[0], grid[ar, il], grid[ar, ir], start)
        around = self.log_f(rows, np.column_stack([mode - 1e-4, mode, mode + 1e-4]))[0]
        curv = -(around[:, 0] - 2 * around[:, 1] + around[:, 2]) / 1e-8
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.where((curv > 0) & np.isfinite(curv), 1 / np.sqrt(np.where(curv > 0, curv, 1.0)), np.inf)
        return mode, np.maximum(best, f0), sd

    def _range(self, rows, grid, logf, count, u_lo):
        """Where each row's integral ends (where the single engine's does: the scan point after the last with log
        f within 42 of its maximum, or 12 Laplace SDs above a needle-like mode, sd < 0.1), the mode, the Laplace
        SD there and the shift (the maximum of log f)."""
        R, M = grid.shape
        ar = np.arange(R)
        mode, shift, sd = self._peak(rows, grid, logf, count)
        above = logf > shift[:, None] - 42
        last = M - 1 - np.argmax(above[:, ::-1], axis=1)
        u_top = grid[ar, np.minimum(last + 1, count - 1)]
        needle = sd < 0.1
        u_top = np.where(needle, np.maximum(u_top, np.clip(mode + 12 * sd, grid[:, 0], grid[ar, count - 1])), u_top)
        return np.maximum(u_top, u_lo + 1e-9), mode, sd, shift

    @staticmethod
    def _edges(u_lo, u_top, mode, sd, n_coarse):
        """Panel edges (R, n_coarse + len(PEAK)): n_coarse equal panels over [u_lo, u_top] and edges at the PEAK
        Laplace SDs around the mode (clipped to the range)."""
        width = np.clip(np.where(np.isfinite(sd), sd, 1.0), 1e-3, 1.0)
        coarse = u_lo[:, None] + (u_top - u_lo)[:, None] * np.linspace(0, 1, n_coarse + 1)[None, :]
        peak = np.clip(mode[:, None] + width[:, None] * PEAK[None, :], u_lo[:, None], u_top[:, None])
        return np.sort(np.concatenate([coarse, peak], axis=1), axis=1)

    def _integrate(self, rows, edges, shift):
        """log f, b, c at the Kronrod nodes u (R, P, 21) of every panel, the Kronrod integral of
        exp(log f - shift) on each panel (R, P) and the Gauss-Kronrod discrepancy summed over panels (R,)."""
        a, b = edges[:, :-1], edges[:, 1:]
        half = (b - a) / 2
        u = ((a + b) / 2)[..., None] + half[..., None] * _XK
        R, P = a.shape
        lf, bb, cc = (x.reshape(R, P, 21) for x in self.log_f(rows, u.reshape(R, -1)))
        f = np.exp(lf - shift[:, None, None])
        ik, ig = np.sum(f * _WK, axis=-1) * half, np.sum(f * _WG, axis=-1) * half
        return u, lf, bb, cc, ik, np.sum(np.abs(ik - ig), axis=-1)

    def quadrature(self, rows=None):
        """p(tau | y) of the analyses `rows` (default all): a list of `Nodes` (one per layout and refinement
        level, for the analyses that passed there) and the analyses that failed every level (for the single
        engine). The number of coarse panels is each row's own (its range in steps of at most PANEL_WIDTH),
        so that an analysis gets the same nodes whichever others share its bucket."""
        rows = np.arange(len(self.y)) if rows is None else np.asarray(rows)
        tau_lo, u_lo, u_hi, u_limit = (x[rows] for x in self._limits())
        grid, logf, count = self._scan(rows, u_lo, u_hi, u_limit)
        u_top, mode, sd, shift = self._range(rows, grid, logf, count, u_lo)
        b0, c0, ll0 = (x[:, 0] for x in self.conditional(rows, np.zeros((len(rows), 1))))
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            tail = np.where(self.prior.lo[rows] == 0, self.prior.cdf(rows, tau_lo) * np.exp(ll0 - shift), 0.0)
        ok = np.isfinite(shift)
        n_coarse = np.maximum(N_COARSE, np.ceil((u_top - u_lo) / PANEL_WIDTH)).astype(int)
        results, failed = [], [np.flatnonzero(~ok)]
        for n in np.unique(n_coarse[ok]):
            todo = np.flatnonzero(ok & (n_coarse == n))
            edges = self._edges(u_lo[todo], u_top[todo], mode[todo], sd[todo], int(n))
            for level in range(REFINEMENTS + 1):
                if level:  # halve every panel
                    halves = np.empty((len(edges), 2 * edges.shape[1] - 1))
                    halves[:, 0::2], halves[:, 1::2] = edges, (edges[:, :-1] + edges[:, 1:]) / 2
                    edges = halves
                u, lf, bb, cc, ik, err = self._integrate(rows[todo], edges, shift[todo])
                total = tail[todo] + ik.sum(-1)
                good = (err <= REL_TOL * total) & np.isfinite(total) & (total > 0)
                good &= np.all(np.isfinite(bb) & np.isfinite(cc) & ~np.isnan(lf), axis=(1, 2))
                if good.any():
                    t, g = todo[good], np.flatnonzero(good)
                    results.append(Nodes(self, rows[t], edges[g], u[g], lf[g], bb[g], cc[g], ik[g], tail[t],
                                         shift[t], tau_lo[t], b0[t], c0[t]))
                todo, edges = todo[~good], edges[~good]
                if todo.size == 0:
                    break
            failed.append(todo)
        return results, rows[np.concatenate(failed)]

def typical_variances(v, k, mask=None):
    """s^2 of each row (the normal-normal case of families.base.typical_variance, the same operations):
    (k - 1) / tr(P), tr(P) = sum_i w_i A_(-i) / (A_(-i) + w_i), A_(-i) the summed weights of the other
    studies from prefix and suffix sums; the variance itself for k = 1."""
    v, k = np.asarray(v, float), np.asarray(k)
    w = 1 / v if mask is None else np.where(mask, 1 / v, 0.0)
    scale = w.max(axis=1, keepdims=True)
    ws = w / scale
    before = np.concatenate([np.zeros((len(v), 1)), np.cumsum(ws, axis=1)[:, :-1]], axis=1)
    after = np.cumsum(ws[:, ::-1], axis=1)[:, ::-1]
    after = np.concatenate([after[:, 1:], np.zeros((len(v), 1))], axis=1)
    others = before + after
    null = others <= 1e-12 * np.maximum(others, 1e-300)
    with np.errstate(divide="ignore"):
        quad = np.where(null, 0.0, 1 / np.where(null, 1.0, others))
    terms = np.where(null, 0.0, ws / (1 + ws * quad))
    if mask is not None:
        terms = np.where(mask, terms, 0.0)
    trace = scale[:, 0] * np.sum(terms, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(k <= 1, v[:, 0], (k - 1) / trace)


class Nodes:
    """p(tau | y) of some analyses of a bucket on their quadrature nodes: `weight`, `tau`, `b`, `c` (R, N),
    node 0 holding the prior mass below tau_lo (at tau = 0); panel `edges` in u and the cumulative posterior
    mass at each edge, `log_evidence` (R,)."""

    def __init__(self, bucket, rows, edges, u, lf, b, c, ik, tail, shift, tau_lo, b0, c0):
        R, P, _ = u.shape
        self.bucket, self.rows, self.edges, self.tau_lo = bucket, rows, edges, tau_lo
        total = tail + ik.sum(-1)
        half = (edges[:, 1:] - edges[:, :-1]) / 2
        mass = np.exp(lf - shift[:, None, None]) * _WK * half[..., None]
        self.log_evidence = shift + np.log(total)
        self.tail = tail / total
        self.weight = np.concatenate([self.tail[:, None], mass.reshape(R, -1) / total[:, None]], axis=1)
        self.tau = np.concatenate([np.zeros((R, 1)), np.exp(u.reshape(R, -1))], axis=1)
        self.b = np.concatenate([b0[:, None], b.reshape(R, -1)], axis=1)
        self.c = np.concatenate([c0[:, None], c.reshape(R, -1)], axis=1)
        self.panel_mass = self.tail[:, None] + np.concatenate([np.zeros((R, 1)), np.cumsum(ik, axis=1)],
                                                              axis=1) / total[:, None]

    # ------------------------------------------------------------ tau
    def _cdf_in_panel(self, idx, j, u):
        """P(log tau <= u) for entries (row positions idx, panel j, u inside the panel), and the density
        of log tau at u: panel sums plus a 20-point rule on [a_j, u]."""
        a = self.edges[idx, j]
        half = (u - a) / 2
        nodes = ((a + u) / 2)[:, None] + half[:, None] * _X20
        dens = np.exp(self.bucket.log_f(self.rows[idx], np.column_stack([nodes, u]))[0] - self.log_evidence[idx, None])
        return self.panel_mass[idx, j] + np.sum(dens[:, :-1] * _W20, axis=1) * half, dens[:, -1]

    def _prior_tail(self, idx, t):
        """P(tau <= t | y) for t below tau_lo: the tail mass times the prior's share below t."""
        rows = self.rows[idx]
        prior = self.bucket.prior
        return self.tail[idx] * prior.cdf(rows, t) / prior.cdf(rows, self.tau_lo[idx])

    def tau_cdf(self, t):
        """P(tau <= t_r | y) for each row (t (R,)), as TauQuadrature.tau_cdf."""
        t = np.asarray(t, float)
        out = np.zeros(len(t))
        lo = self.bucket.prior.lo[self.rows]
        below = (t >= lo) & (t > 0) & (t < self.tau_lo)
        if below.any():
            i = np.flatnonzero(below)
            out[i] = self._prior_tail(i, t[i])
        with np.errstate(divide="ignore"):
            u = np.log(np.maximum(t, 1e-300))
        out[(t >= self.tau_lo) & (u >= self.edges[:, -1])] = 1.0
        inner = np.flatnonzero((t >= self.tau_lo) & (u < self.edges[:, -1]) & (t > 0) & (t >= lo))
        if inner.size:
            j = np.sum(self.edges[inner, :-1] <= u[inner, None], axis=1) - 1
            out[inner] = np.minimum(self._cdf_in_panel(inner, j, u[inner])[0], 1.0)
        return out

    def tau_ppf(self, q):
        """Quantiles of tau (R, Q) at probabilities q (Q,): safeguarded Newton in log tau within the panel that
        holds each, to 1e-13 in probability (as TauQuadrature.tau_ppf). NaN where q falls in the mass below
        tau_lo of an improper prior (the caller then uses the single engine)."""
        R, Q = len(self.rows), len(q)
        idx = np.repeat(np.arange(R), Q)
        qq = np.tile(np.asarray(q, float), R)
        out = np.empty(R * Q)
        tail = qq <= self.tail[idx]
        for e in np.flatnonzero(tail):  # rare: quantiles inside the prior-dominated mass near tau = 0
            prior = self.bucket.prior.priors[self.rows[idx[e]]]
            try:
                out[e] = prior.ppf(qq[e] / self.tail[idx[e]] * prior.cdf(self.tau_lo[idx[e]]))
            except ValueError:
                out[e] = np.nan
        e = np.flatnonzero(~tail)
        if e.size:
            i, p = idx[e], qq[e]
            P = self.edges.shape[1] - 1
            j = np.clip(np.sum(self.panel_mass[i] < p[:, None], axis=1) - 1, 0, P - 1)
            lo, hi = self.edges[i, j], self.edges[i, j + 1]
            m_lo = self.panel_mass[i, j]
            # start: the node CDF (each node's mass centred on it) of the panel, interpolated linearly
            nodes = 1 + 21 * j[:, None] + np.arange(21)[None, :]
            mass = self.weight[i[:, None], nodes]
            cum = m_lo[:, None] + np.cumsum(mass, axis=1) - mass / 2
            u_nodes = np.log(self.tau[i[:, None], nodes])
            above = np.sum(cum < p[:, None], axis=1)
            left = np.clip(above - 1, 0, 20)
            right = np.clip(above, 0, 20)
            c0, c1 = cum[np.arange(len(i)), left], cum[np.arange(len(i)), right]
            x0, x1 = u_nodes[np.arange(len(i)), left], u_nodes[np.arange(len(i)), right]
            with np.errstate(divide="ignore", invalid="ignore"):
                start = np.where(c1 > c0, x0 + (x1 - x0) * (p - c0) / (c1 - c0), x0)
            start = np.clip(np.nan_to_num(start, nan=(lo + hi) / 2), lo, hi)

            def residual(u, sel):
                cdf, dens = self._cdf_in_panel(i[sel], j[sel], u)
                return cdf - p[sel], dens

            out[e] = np.exp(safeguarded_newton(residual, start, lo, hi, ftol=1e-13, xtol=1e-12))
        return out.reshape(R, Q)

    # ------------------------------------------------------------ summaries
    def summaries(self, ci, events):
        """mean, sd, median, lower, upper of mu, tau, tau2, I2 and theta_new (a dict of (R, 5) arrays) and the
        probability of each event (a list of (quantity, lower, upper) with None for an open end)."""
        probs = np.array([(1 - ci) / 2, (1 + ci) / 2, 0.5])
        R = len(self.rows)
        w, tau = self.weight, self.tau
        s2 = typical_variances(self.bucket.v[self.rows], self.bucket.k[self.rows],
                               None if self.bucket.mask is None else self.bucket.mask[self.rows])
        sd_mu, sd_new = np.sqrt(self.c), np.sqrt(self.c + tau**2)
        out = {}
        for name, sds in (("mu", sd_mu), ("theta_new", sd_new)):
            mean, sd = mixture_moments(w, self.b, sds)
            qs = mixture_ppf(np.tile(probs, R), np.repeat(w, 3, axis=0), np.repeat(self.b, 3, axis=0),
                             np.repeat(sds, 3, axis=0)).reshape(R, 3)
            out[name] = np.column_stack([mean, sd, qs[:, 2], qs[:, 0], qs[:, 1]])
        tq = self.tau_ppf(probs)
        transforms = {"tau": lambda t: t, "tau2": lambda t: t**2,
                      "I2": lambda t: 100 * t**2 / (t**2 + s2[:, None])}
        for name, f in transforms.items():
            x = f(tau)
            mean = np.sum(w * x, axis=1)
            sd = np.sqrt(np.maximum(np.sum(w * (x - mean[:, None]) ** 2, axis=1), 0.0))
            q = f(tq)
            out[name] = np.column_stack([mean, sd, q[:, 2], q[:, 0], q[:, 1]])
        p = np.empty((R, len(events)))
        for e, (name, lo, hi) in enumerate(events):
            p[:, e] = self._probability(name, lo, hi, s2, sd_mu, sd_new)
        return out, p

    def _cdf(self, name, x, s2, sd_mu, sd_new):
        if name in ("mu", "theta_new"):
            return mixture_cdf(np.full(len(self.rows), x), self.weight, self.b, sd_mu if name == "mu" else sd_new)
        if name == "tau":
            t = np.full(len(self.rows), x if x >= 0 else np.nan)
        elif name == "tau2":
            t = np.full(len(self.rows), math.sqrt(x) if x >= 0 else np.nan)
        else:  # I2 in percent
            t = np.sqrt(s2 * x / (100 - x)) if 0 <= x < 100 else np.full(len(self.rows), np.nan if x < 0 else np.inf)
        out = np.where(np.isinf(t), 1.0, 0.0)
        ok = np.isfinite(t)
        if ok.any():
            out[ok] = self._subset(ok).tau_cdf(t[ok])
        return out

    def _probability(self, name, lo, hi, s2, sd_mu, sd_new):
        if lo is None:  # P(q < hi)
            p = self._cdf(name, hi, s2, sd_mu, sd_new)
        elif hi is None:
            p = 1 - self._cdf(name, lo, s2, sd_mu, sd_new)
        else:
            p = self._cdf(name, hi, s2, sd_mu, sd_new) - self._cdf(name, lo, s2, sd_mu, sd_new)
        return np.clip(p, 0.0, 1.0)

    def _subset(self, keep):
        """The same nodes for the rows where `keep` is true."""
        sub = object.__new__(Nodes)
        for key, value in self.__dict__.items():
            sub.__dict__[key] = value[keep] if isinstance(value, np.ndarray) else value
        return sub


def _aranges(start, stop):
    """Row r: np.append(np.arange(start_r, stop_r, STEP), stop_r), with numpy's own values (start, start + STEP,
    then start + i * ((start + STEP) - start)); returns them (R, M) padded with each row's last value, and the
    number of points of each row."""
    n = np.maximum(np.ceil((stop - start) / STEP), 0).astype(int)
    M = int(n.max()) + 1
    i = np.arange(M)[None, :]
    delta = (start + STEP) - start
    vals = start[:, None] + i * delta[:, None]
    if M > 1:
        vals[:, 1] = start + STEP
    vals = np.where(i < n[:, None], vals, stop[:, None])
    return vals, n + 1


# --------------------------------------------------------------------------- many analyses
QUANTITIES = ("mu", "tau", "tau2", "I2", "theta_new")
STATS = ("mean", "sd", "median", "lower", "upper")


def exact_many(y, v, offsets, priors, mu_prior, ci=0.95, events=()):
    """Summaries of the analyses whose effects are y[offsets[g]:offsets[g + 1]] (variances v), each with its
    tau prior priors[g] and the common prior on mu (a MuPrior, flat or normal).

    Returns values (G, 25 + len(events)): for each of QUANTITIES the STATS, then the probability of each
    event ((quantity, lower, upper), None for an open end); and a boolean `done` (G,): False where the
    vectorised quadrature did not pass its check (those rows are NaN: fit them with the single engine)."""
    y, v, offsets = np.asarray(y, float), np.asarray(v, float), np.asarray(offsets, int)
    k = np.diff(offsets)
    G = len(k)
    m0, p0 = (mu_prior.m, 1 / mu_prior.s**2) if mu_prior.kind == "normal" else (0.0, 0.0)
    values = np.full((G, len(QUANTITIES) * len(STATS) + len(events)), np.nan)
    done = np.zeros(G, bool)
    padded = np.array([k_bucket(int(x)) for x in k])
    for K in np.unique(padded):
        members = np.flatnonzero(padded == K)
        pos = offsets[members][:, None] + np.arange(K)[None, :]
        inside = np.arange(K)[None, :] < k[members][:, None]
        pos = np.where(inside, pos, offsets[members][:, None])
        yb, vb = np.where(inside, y[pos], 0.0), np.where(inside, v[pos], 1.0)
        bucket = Bucket(yb, vb, k[members], [priors[g] for g in members], m0, p0)
        results, _failed = bucket.quadrature()
        for nodes in results:
            out, probs = nodes.summaries(ci, events)
            rows = members[nodes.rows]
            block = np.concatenate([out[q] for q in QUANTITIES] + [probs], axis=1)
            good = np.all(np.isfinite(block), axis=1)
            values[rows[good]] = block[good]
            done[rows[good]] = True
    return values, done

