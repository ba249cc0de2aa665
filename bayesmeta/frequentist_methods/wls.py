"""Numerical building blocks: weighted least squares that stays accurate when the weights span many orders
of magnitude, and R's root finder.

`WeightedFit(X, w, y)` gives what metafor's estimators compute from P = W - W X (X'WX)^-1 X'W: the residual
sum of squares y'Py, y'PPy, tr(P), tr(PP), log|X'WX| and the coefficients with (X'WX)^-1, without forming the
k x k matrix P (so k = 10,000 costs O(k p^2)).

Why not the textbook formulas: with one study of SE 1e-12 among SEs of 0.1, its weight is 1e22 times the
others', and sum(w)^2 - sum(w^2), sum(w) - sum(w^2)/sum(w) and 1 - h_ii (its leverage) cancel to rounding
noise. Here weights are scaled by their maximum, the QR factorisation runs on rows sorted by weight (row-wise
stable, Cox & Higham 1998), and for each study whose leverage exceeds 1/2 the quantities that cancel are
computed from the fit without that study (leave-one-out identities, no subtraction of nearly equal numbers):
1 - h_ii = 1 / (1 + w_i x_i'A_(i)^-1 x_i), r_i = (1 - h_ii) (y_i - x_i b_(i)), and its row of the hat matrix
by Sherman-Morrison, where A_(i) and b_(i) come from the other studies.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
from scipy.linalg.lapack import dtrtrs


class EstimationError(RuntimeError):
    """An estimator is undefined for these data or did not converge (metafor stops with an error here)."""


def solve_triangular(R, b, trans="N"):
    """R^-1 b (or R^-T b with trans="T") for upper-triangular R, by LAPACK directly (scipy's wrapper costs
    more than the solve at these sizes)."""
    x, info = dtrtrs(R, b, lower=0, trans=1 if trans == "T" else 0)
    if info != 0:
        raise EstimationError("the weighted design matrix is singular")
    return x


def _rank(X) -> int:
    """Rank with every column scaled to unit length first (a column of 1e-16s is a column, not a zero)."""
    norms = np.linalg.norm(X, axis=0)
    return int(np.linalg.matrix_rank(X[:, norms > 0] / norms[norms > 0])) if np.any(norms > 0) else 0


def _qr(X, ws):
    """QR of sqrt(ws) X with rows sorted by decreasing weight; Q returned in the original row order."""
    order = np.argsort(-ws, kind="stable")
    Q, R = np.linalg.qr(np.sqrt(ws)[order, None] * X[order])
    d = np.abs(np.diag(R))
    if not (np.all(np.isfinite(R)) and np.all(d > 0)):
        raise EstimationError("the weighted design matrix is singular: some coefficient is informed only by "
                              "studies with (numerically) zero weight")
    out = np.empty_like(Q)
    out[order] = Q
    return out, R


class WeightedFit:
    """Weighted least squares of y on X (k x p, full column rank) with weights w >= 0."""

    def __init__(self, X, w, y=None):
        X = np.asarray(X, dtype=float)
        w = np.asarray(w, dtype=float)
        self.scale = float(w.max())  # w = scale * ws with max(ws) = 1: no overflow in sums of w^2
        if not (math.isfinite(self.scale) and (w >= 0).all()):
            raise EstimationError("the weights 1/(v + tau^2) are not finite (a sampling variance of 0?)")
        if not self.scale > 0:
            raise EstimationError("all weights are 0")
        self.X, self.k, self.p = X, X.shape[0], X.shape[1]
        self.y = None if y is None else np.asarray(y, dtype=float)
        self.ws = ws = w / self.scale
        self._u = {}  # dominant study -> A_(i)^-1 x_i (None when it alone informs a coefficient)
        mean_only = self.p == 1 and bool((X == 1.0).all())
        if mean_only:  # the weighted mean: the same quantities in closed form, no factorisation
            self._total = total = float(ws.sum())
            h = ws / total
        else:
            self.Q, self.R = _qr(X, ws)
            h = np.einsum("ij,ij->i", self.Q, self.Q)
        self.m = 1.0 - h  # diagonal of I - H, H the hat matrix of sqrt(W) X
        self.dominant = np.flatnonzero(h > 0.5)
        if self.y is not None:
            if mean_only:
                mean = float(ws @ self.y) / total
                mean += float(ws @ (self.y - mean)) / total  # one refinement step
                self.b = np.array([mean])
                self.resid = self.y - mean
            else:
                sw = np.sqrt(ws)
                self.b = solve_triangular(self.R, self.Q.T @ (sw * self.y))
                self.b += solve_triangular(self.R, self.Q.T @ (sw * (self.y - X @ self.b)))  # refinement
                self.resid = self.y - X @ self.b
        for i in self.dominant:
            self._leave_out(i, mean_only)

    def _leave_out(self, i, mean_only=False):
        """Recompute 1 - h_ii and r_i of a dominant study i from the fit to the other studies."""
        others = np.arange(self.k) != i
        Xo = self.X[others]
        if self.k == 1 or (not mean_only and _rank(Xo) < self.p):
            self.m[i], self._u[i] = 0.0, None  # study i alone informs a coefficient: h_ii = 1, r_i = 0
            if self.y is not None:
                self.resid[i] = 0.0
            return
        if mean_only:
            rest = float(np.sum(self.ws[others]))
            self._u[i] = np.array([1.0 / rest])
            self.m[i] = rest / (rest + self.ws[i])
            if self.y is not None:
                mean_i = float(np.sum(self.ws[others] * self.y[others])) / rest
                self.resid[i] = self.m[i] * (self.y[i] - mean_i)
            return
        Qo, Ro = _qr(Xo, self.ws[others])
        z = solve_triangular(Ro, self.X[i], trans="T")
        self._u[i] = solve_triangular(Ro, z)
        self.m[i] = 1.0 / (1.0 + self.ws[i] * float(z @ z))
        if self.y is not None:
            b_i = solve_triangular(Ro, Qo.T @ (np.sqrt(self.ws[others]) * self.y[others]))
            self.resid[i] = self.m[i] * (self.y[i] - self.X[i] @ b_i)

    @cached_property
    def Q(self) -> np.ndarray:
        """Q of the thin QR factorisation of sqrt(ws) X (original row order); closed form for the mean."""
        return np.sqrt(self.ws / self._total)[:, None]

    @cached_property
    def R(self) -> np.ndarray:
        return np.array([[math.sqrt(self._total)]])

    # ------------------------------------------------------------------ sums (in the weights' own units)
    @property
    def sum_w(self) -> float:
        return self.scale * float(self.ws.sum())

    @property
    def sum_w2(self) -> float:
        return self.scale**2 * float(self.ws @ self.ws)

    @property
    def rss(self) -> float:
        """y'Py = sum w (y - X b)^2: the generalised Q statistic (Q_E for a meta-regression)."""
        return self.scale * float(self.ws @ self.resid**2)

    @property
    def rss_rounding(self) -> float:
        """The size of rss that rounding alone produces: effects and fitted values at 1 ulp, times the condition
        number of the weighted design with unit columns (how much the solve can magnify them)."""
        eps = np.finfo(float).eps
        R = self.R / np.linalg.norm(self.R, axis=0)
        kappa = float(np.linalg.cond(R)) if self.p > 1 else 1.0
        size = np.abs(self.y) + np.abs(self.X) @ np.abs(self.b)
        return self.scale * float(np.sum(self.ws * (eps * kappa * size) ** 2))

    @property
    def ypp(self) -> float:
        """y'PPy = sum (w r)^2."""
        return self.scale**2 * float(np.sum((self.ws * self.resid) ** 2))

    @property
    def tr_p(self) -> float:
        """tr(P) = sum w_i (1 - h_ii)."""
        return self.scale * float(self.ws @ self.m)

    @property
    def tr_pp(self) -> float:
        """tr(PP) = sum_ij w_i w_j (I - H)_ij^2. Pairs of ordinary studies come from the QR factor (Gram matrix
        less its diagonal); pairs with a dominant study from its leave-one-out row of H (for two dominant
        studies, the row of the heavier). Only the step length of REML's Fisher scoring depends on it."""
        ws, m = self.ws, self.m
        rest = np.ones(self.k, dtype=bool)
        rest[self.dominant] = False
        Qr = self.Q[rest]
        G = Qr.T @ (ws[rest, None] * Qr)
        total = float(np.sum((ws * m) ** 2))
        total += max(0.0, float(np.sum(G**2) - np.sum((ws[rest] * (1.0 - m[rest])) ** 2)))
        rows = {i: (np.zeros(self.k) if u is None else np.sqrt(ws[i] * ws) * m[i] * (self.X @ u))
                for i, u in self._u.items()}
        for i, row in rows.items():
            total += 2 * ws[i] * float(np.sum(ws[rest] * row[rest] ** 2))
            for j in rows:
                if j != i:
                    heavier, lighter = (i, j) if ws[i] >= ws[j] else (j, i)
                    total += ws[i] * ws[j] * rows[heavier][lighter] ** 2
        return self.scale**2 * total

    def wald(self, m: int) -> float:
        """Wald statistic of the last m coefficients with covariance (X'WX)^-1: scale * ||z_last||^2, z = Q' sqrt(ws) y
        (no inverse of a nearly singular covariance block, so nearly collinear designs keep their digits)."""
        z = self.Q.T @ (np.sqrt(self.ws) * self.y)
        return self.scale * float(np.sum(z[self.p - m:] ** 2))

    @property
    def logdet(self) -> float:
        """log det(X'WX)."""
        return 2 * float(np.sum(np.log(np.abs(np.diag(self.R))))) + self.p * math.log(self.scale)

    @property
    def vcov(self) -> np.ndarray:
        """(X'WX)^-1."""
        Rinv = solve_triangular(self.R, np.eye(self.p))
        return Rinv @ Rinv.T / self.scale


def zeroin(f, a, b, tol, maxiter=1000):
    """Root of f on [a, b] by Brent's method (Brent 1973, ch. 4) in the netlib `zeroin` form that R's
    `uniroot` uses, step for step, so that results at metafor's tolerance equal metafor's.

    Stops when the bracket half-width is below 2 eps |b| + tol / 2.
    """
    eps = np.finfo(float).eps
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    if fb == 0:
        return b
    if fa * fb > 0:
        raise EstimationError("root finder: the function has the same sign at both ends of the interval")
    c, fc = a, fa
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # secant step
                t1 = fb / fa
                p, q = cb * t1, 1.0 - t1
            else:  # inverse quadratic interpolation
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise EstimationError(f"root finder did not converge in {maxiter} iterations")
