"""Vectorised frequentist kernels for many analyses at once (NumPy over a batch axis): tau2 by DL, REML, PM and the other estimators, z and Knapp-Hartung intervals, Q-profile CI for tau2; `rma_many` gives the same numbers as `bm.frequentist` for each analysis."""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------- the frequentist twin
FREQ_FIELDS = ("mu", "se", "lower", "upper", "pvalue", "tau2", "tau2_lower", "tau2_upper", "I2", "I2_lower",
               "I2_upper", "H2", "Q", "Q_pvalue", "pi_lower", "pi_upper")


# --------------------------------------------------------------------------- rma() for many groups at once
def _padded(ys, ses, width=None):
    k = np.array([len(y) for y in ys])
    K = int(k.max()) if width is None else int(width)
    mask = np.arange(K)[None, :] < k[:, None]
    y, se = np.zeros((len(k), K)), np.ones((len(k), K))
    y[mask], se[mask] = np.concatenate(ys), np.concatenate(ses)
    return y, se, mask, k


class _Mean:
    """WeightedFit(ones, w, y) of frequentist_methods.wls for many rows (padding: weight 0), with its
    operations: the weighted mean with one refinement step, rss = y'Py, y'PPy, tr(P), tr(PP), log|X'WX|. A
    study with more than half of the weight (at most one per row) gets 1 - h, its residual and its row of H
    from the other studies (leave-one-out, no cancellation); with k = 1 it alone informs the mean (h = 1)."""

    def __init__(self, w, y, mask):
        w = np.where(mask, w, 0.0)
        self.scale = w.max(axis=1)
        ws = w / self.scale[:, None]
        total = ws.sum(axis=1)
        h = ws / total[:, None]
        m = np.where(mask, 1.0 - h, 0.0)
        mean = np.sum(ws * y, axis=1) / total
        mean = mean + np.sum(ws * (y - mean[:, None]), axis=1) / total
        resid = np.where(mask, y - mean[:, None], 0.0)
        rows = np.arange(len(w))
        d = np.argmax(h, axis=1)
        dom = h[rows, d] > 0.5
        others = mask & (np.arange(w.shape[1])[None, :] != d[:, None]) & dom[:, None]
        rest = np.sum(np.where(others, ws, 0.0), axis=1)
        m_d = np.where(dom, rest / (rest + ws[rows, d]), m[rows, d])
        mean_d = np.sum(np.where(others, ws * y, 0.0), axis=1) / np.where(rest > 0, rest, 1.0)
        r_d = np.where(rest > 0, m_d * (y[rows, d] - mean_d), 0.0)
        m[rows, d] = m_d
        resid[rows, d] = np.where(dom, r_d, resid[rows, d])
        self.ws, self.total, self.m, self.b, self.resid = ws, total, m, mean, resid
        self._dom, self._d, self._others, self._rest = dom, d, others, rest

    @property
    def rss(self):
        return self.scale * np.sum(self.ws * self.resid**2, axis=1)

    @property
    def ypp(self):
        return self.scale**2 * np.sum((self.ws * self.resid) ** 2, axis=1)

    @property
    def tr_p(self):
        return self.scale * np.sum(self.ws * self.m, axis=1)

    @property
    def tr_pp(self):
        ws, m, dom, rows = self.ws, self.m, self._dom, np.arange(len(self.ws))
        ordinary = np.where(dom[:, None], self._others, ws > 0)
        g = np.sum(np.where(ordinary, ws**2, 0.0), axis=1) / self.total
        out = np.sum((ws * m) ** 2, axis=1) + np.maximum(0.0, g**2 - np.sum(np.where(ordinary, (ws * (1.0 - m)) ** 2,
                                                                                     0.0), axis=1))
        wd = ws[rows, self._d]
        with np.errstate(divide="ignore", invalid="ignore"):
            row2 = wd[:, None] * ws * (m[rows, self._d] / self._rest)[:, None] ** 2  # (its row of H)^2
            extra = 2 * wd * np.sum(np.where(self._others, ws * row2, 0.0), axis=1)
        return self.scale**2 * (out + np.where(dom & (self._rest > 0), extra, 0.0))

    @property
    def logdet(self):
        return 2 * np.log(np.sqrt(self.total)) + np.log(self.scale)


def _zeroin(f, a, b, tol, maxiter=1000):
    """wls.zeroin (Brent's method in netlib's form, as R's uniroot) for many rows at once, step for step;
    f(rows, x) -> values. NaN where it does not converge or the ends have the same sign."""
    eps = np.finfo(float).eps
    a, b = np.array(a, float), np.array(b, float)
    rows = np.arange(len(a))
    fa, fb = f(rows, a), f(rows, b)
    out = np.full(len(a), np.nan)
    out = np.where(fb == 0, b, out)
    out = np.where(fa == 0, a, out)
    active = np.flatnonzero((fa != 0) & (fb != 0) & ~(fa * fb > 0))
    c, fc = a.copy(), fa.copy()
    for _ in range(maxiter + 1):
        if active.size == 0:
            break
        A, B, C, FA, FB, FC = a[active], b[active], c[active], fa[active], fb[active], fc[active]
        prev = B - A
        swap = np.abs(FC) < np.abs(FB)
        A, B, C = np.where(swap, B, A), np.where(swap, C, B), np.where(swap, B, C)
        FA, FB, FC = np.where(swap, FB, FA), np.where(swap, FC, FB), np.where(swap, FB, FC)
        tol_act = 2 * eps * np.abs(B) + tol[active] / 2
        new = (C - B) / 2
        finished = (np.abs(new) <= tol_act) | (FB == 0)
        out[active[finished]] = B[finished]
        interp = ~finished & (np.abs(prev) >= tol_act) & (np.abs(FA) > np.abs(FB))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            cb = C - B
            secant = A == C
            t1s = FB / FA
            q0, t1, t2 = FA / FC, FB / FC, FB / FA
            p = np.where(secant, cb * t1s, t2 * (cb * q0 * (q0 - t1) - (B - A) * (t1 - 1.0)))
            q = np.where(secant, 1.0 - t1s, (q0 - 1.0) * (t1 - 1.0) * (t2 - 1.0))
            q = np.where(p > 0, -q, q)
            p = np.abs(p)
            accept = interp & (p < 0.75 * cb * q - np.abs(tol_act * q) / 2) & (p < np.abs(prev * q / 2))
            new = np.where(accept, p / q, new)
        new = np.where(np.abs(new) < tol_act, np.where(new > 0, tol_act, -tol_act), new)
        go = ~finished
        ids = active[go]
        A, FA = B[go], FB[go]
        B = B[go] + new[go]
        FB = f(ids, B)
        flip = ((FB > 0) & (FC[go] > 0)) | ((FB < 0) & (FC[go] < 0))
        a[ids], fa[ids], b[ids], fb[ids] = A, FA, B, FB
        c[ids], fc[ids] = np.where(flip, A, C[go]), np.where(flip, FA, FC[go])
        active = ids
    return out


def rma_many(ys, ses, method="REML", ci="z", level=0.95, prediction="default", control=None):
    """See `_rma_many`; groups are bucketed by their number of studies (padded as the exact batch engine
    pads them), so that a group's numbers do not depend on the other groups of its chunk."""
    from ..engines.batch import k_bucket

    G = len(ys)
    values, notes, done = np.full((G, len(FREQ_FIELDS)), np.nan), np.full(G, "", dtype=object), np.zeros(G, bool)
    padded = np.array([k_bucket(len(y)) for y in ys])
    for K in np.unique(padded):
        rows = np.flatnonzero(padded == K)
        with np.errstate(all="ignore"):  # rows with k = 1 or beyond the range are computed, then left out
            v, n, d = _rma_many([ys[i] for i in rows], [ses[i] for i in rows], method, ci, level, prediction,
                                control, K)
        values[rows], notes[rows], done[rows] = v, n, d
    return values, notes, done


def _rma_many(ys, ses, method, ci, level, prediction, control, width=None):
    """frequentist_methods.rma's intercept-only result (DL or REML) for many groups at once, with the same
    operations: scaling by a power of two, metafor's controls, Fisher scoring from the Hedges start, the REML
    local-maximum check, Wald or Knapp-Hartung inference, Q-profile CI (Brent's method step for step) and the
    prediction interval; k = 1 and a study with most of the weight as wls computes them. Returns values (G,
    FREQ_FIELDS), notes and `done`: False for the groups left to bm.frequentist (other methods, k = 1 with
    Knapp-Hartung or a t interval, Fisher scoring that does not converge, the local-maximum warning, a
    Knapp-Hartung fit with Q_E at rounding level, data beyond the scaling's range)."""
    from scipy import stats

    from ..frequentist_methods.rma import MAX_RANGE, PRESETS, _prediction_kind
    from ..frequentist_methods.tau2 import DEFAULT_CONTROL

    G = len(ys)
    values = np.full((G, len(FREQ_FIELDS)), np.nan)
    notes = np.full(G, "", dtype=object)
    if method in PRESETS:
        spec = PRESETS[method]
        method, ci, prediction = spec["method"], spec["ci"], spec["prediction"]
    if method not in ("DL", "REML"):
        return values, notes, np.zeros(G, bool)
    y0, se0, mask, k = _padded(ys, ses, width)
    pred = _prediction_kind(prediction, ci, method)
    single = k == 1  # tau^2 = 0 with a note; no Q, I^2 or Q-profile CI; Knapp-Hartung and t intervals refused
    ok = ~single | ((ci == "z") & (pred in (None, "z")))
    # scaling (rma._scale_factor) and the controls in scaled units (rma._scaled_control)
    lo = np.where(mask, se0, np.inf).min(axis=1)
    med = np.array([np.median(y) for y in ys])
    spread = np.where(mask, np.abs(y0 - med[:, None]), 0.0).max(axis=1)
    hi = np.maximum(np.where(mask, se0, 0.0).max(axis=1), spread)
    ok &= hi / lo <= MAX_RANGE
    with np.errstate(divide="ignore", invalid="ignore"):
        c = 2.0 ** np.round(0.5 * (np.log2(lo) + np.log2(hi)))
    c = np.where(ok, c, 1.0)
    w0 = np.where(mask, 1 / se0**2, 0.0)
    centre = np.sum(w0 * y0, axis=1) / np.sum(w0, axis=1)  # centred as rma._fit centres: y + 1e8 keeps its digits
    y, v = np.where(mask, y0 - centre[:, None], 0.0) / c[:, None], np.where(mask, (se0 / c[:, None]) ** 2, 1.0)
    ctrl = {**DEFAULT_CONTROL, **(control or {})}
    threshold = np.minimum(ctrl["threshold"] / c**2, 1e-3)
    tol = np.minimum(ctrl["tol"] / c**2, 1e-2)
    tau2_max = np.minimum(np.maximum(ctrl["tau2_max"] / c**2, 1.0), 1e4)
    df = k - 1
    fe = _Mean(1 / v, y, mask)
    # tau^2
    if method == "DL":
        tau2 = (fe.rss - df) / fe.tr_p
    else:
        ols = _Mean(np.ones_like(v), y, mask)
        he = (ols.rss - np.sum(np.where(mask, v * ols.m, 0.0), axis=1)) / np.maximum(df, 1)
        tau2 = np.maximum(0.0, he)
        floor = 1e-12 * np.array([np.median(v[i, :k[i]]) for i in range(G)])
        change = np.full(G, np.inf)
        active = np.flatnonzero(ok & ~single)
        for it in range(1, ctrl["maxiter"] + 2):
            active = active[change[active] > np.maximum(threshold[active], floor[active] + 1e-12 * tau2[active])]
            if active.size == 0:
                break
            if it > ctrl["maxiter"]:
                ok[active] = False  # does not converge: bm.frequentist says so
                break
            fit = _Mean(1 / (v[active] + tau2[active, None]), y[active], mask[active])
            with np.errstate(divide="ignore", invalid="ignore"):
                adj = (fit.ypp - fit.tr_p) / fit.tr_pp
            bad = ~np.isfinite(adj)
            ok[active[bad]] = False
            adj = np.where(bad, 0.0, adj)
            # step halving at 0 (tau2.py: while tau2 + adj < 0: adj /= 2); from tau2 = 0 it halves a negative step
            # until it underflows to -0.0, i.e. no step
            adj = np.where((tau2[active] == 0) & (adj < 0), -0.0, adj)
            while np.any(tau2[active] + adj < 0):
                adj = np.where(tau2[active] + adj < 0, adj / 2, adj)
            change[active] = np.where(bad, 0.0, np.abs(adj))
            tau2[active] += adj
        above = ok & ~single & (tau2 > threshold)
        if above.any():  # the local-maximum check: where it fires, bm.frequentist warns and sets 0
            i = np.flatnonzero(above)
            def loglik(t):
                f = _Mean(1 / (v[i] + t[:, None]), y[i], mask[i])
                ll = -0.5 * np.sum(np.where(mask[i], np.log(v[i] + t[:, None]), 0.0), axis=1) - 0.5 * f.rss
                return ll - 0.5 * f.logdet
            ok[i[loglik(np.zeros(len(i))) - loglik(tau2[i]) > tol[i]]] = False
    tau2 = np.maximum(0.0, np.where(ok & ~single, tau2, 0.0))
    fit = _Mean(1 / (v + tau2[:, None]), y, mask)
    vb = (1 / np.sqrt(fit.total)) ** 2 / fit.scale
    if ci == "hksj":
        eps = np.finfo(float).eps
        size = np.abs(y) + np.abs(fit.b)[:, None]
        rounding = fit.scale * np.sum(np.where(mask, fit.ws * (eps * size) ** 2, 0.0), axis=1)
        ok &= fit.rss > 100 * rounding
        vb = vb * fit.rss / np.maximum(df, 1)
        crit = stats.t.ppf(0.5 + level / 2, np.maximum(df, 1))
        sf = lambda x: stats.t.sf(x, np.maximum(df, 1))  # noqa: E731
    else:
        crit, sf = stats.norm.ppf(0.5 + level / 2), stats.norm.sf
    se_b = np.sqrt(vb)
    stat = (fit.b + centre / c) / se_b
    qe = np.maximum(0.0, fe.rss)
    s2 = df / fe.tr_p
    lo_t, hi_t = _q_profile(y, v, mask, k, tau2, level, tol, tau2_max, ok & ~single)
    ok &= (np.isfinite(lo_t) & np.isfinite(hi_t)) | single
    bounds = np.column_stack([tau2, lo_t, hi_t])
    I2 = 100 * bounds / (bounds + s2[:, None])
    H2 = bounds / s2[:, None] + 1
    mu, se_mu = fit.b * c + centre, se_b * c
    pi_lo = pi_hi = np.full(G, np.nan)
    if pred:
        pdf = {"z": None, "t": df, "hts": k - 2}[pred]
        if pdf is not None:
            ok &= pdf >= 1
        pcrit = stats.norm.ppf(0.5 + level / 2) if pdf is None else stats.t.ppf(0.5 + level / 2, np.maximum(pdf, 1))
        half = pcrit * np.sqrt(se_mu**2 + tau2 * c**2)
        pi_lo, pi_hi = mu - half, mu + half
    out = np.column_stack([mu, se_mu, mu - crit * se_mu, mu + crit * se_mu, 2 * sf(np.abs(stat)),
                           tau2 * c**2, lo_t * c**2, hi_t * c**2, I2[:, 0], I2[:, 1], I2[:, 2], H2[:, 0], qe,
                           stats.chi2.sf(qe, np.maximum(df, 1)), pi_lo, pi_hi])
    out[single, 6:14] = np.nan  # tau2 CI, I2 (and CI), H2, Q, Q_pvalue: rma leaves them out for k = 1
    values[ok] = out[ok]
    boundary = ok & (tau2 == 0) & ~single
    notes[boundary] = (f"{method}: tau^2 estimated at the boundary (0); the random-effects result equals the "
                       "common-effect one")
    notes[ok & single] = "k = 1: heterogeneity cannot be estimated; tau^2 set to 0"
    return values, notes, ok


def _q_profile(y, v, mask, k, tau2, level, tol, tau2_max, ok):
    """tau2.q_profile_ci for many rows (Q_E(tau^2) = the chi^2_{k-1} quantiles; metafor's interval, widened
    tenfold until the bound is inside, Brent's method at `tol`)."""
    from scipy import stats

    df = np.maximum(k - 1, 1)
    alpha = 1 - level
    crit_hi, crit_lo = stats.chi2.isf(alpha / 2, df), stats.chi2.ppf(alpha / 2, df)
    q0 = _Mean(1 / v, y, mask).rss
    start = np.maximum(tau2_max, 10 * tau2)

    def q_stat(rows, t):
        return _Mean(1 / (v[rows] + t[:, None]), y[rows], mask[rows]).rss

    def bound(crit):
        out = np.where(q0 < crit, 0.0, np.nan)
        i = np.flatnonzero(ok & (q0 >= crit))
        hi = start[i].copy()
        for _ in range(400):  # _upper_end: the first of hi, 10 hi, ... where Q_E falls below crit
            more = q_stat(i, hi) > crit[i]
            if not more.any():
                break
            hi = np.where(more, hi * 10, hi)
        target = crit[i]
        out[i] = _zeroin(lambda rows, t: q_stat(i[rows], t) - target[rows], np.zeros(len(i)), hi, tol[i])
        return out

    return bound(crit_hi), bound(crit_lo)
