"""tau^2 estimators, Q statistics, Q-profile intervals and I^2, for intercept-only models and meta-regression.

Notation: y_i effects, v_i sampling variances, X the k x p design (a column of ones without moderators),
w_i = 1/(v_i + tau^2), P = W - W X (X'WX)^-1 X'W, Q_E(tau^2) = y'Py = sum w_i (y_i - x_i b)^2 (the generalised
Q; Cochran's Q at tau^2 = 0 without moderators).

Estimators (Veroniki et al. 2016, Res Synth Methods 7:55; metafor's `rma.uni`, whose formulas with X these are):
  FE    tau^2 = 0 (common effect, inverse variance)
  DL    DerSimonian-Laird: (Q_E(0) - (k-p)) / tr(P), P at w = 1/v
  HE    Hedges: (RSS_OLS - tr(P_OLS V)) / (k-p), P_OLS = I - X (X'X)^-1 X'
  HS    Hunter-Schmidt: (Q_E(0) - k) / sum(1/v)
  SJ    Sidik-Jonkman: tau0^2 Q_E(tau0^2) / (k-p), tau0^2 = sum (y - ybar)^2 / k
  PM    Paule-Mandel: root of Q_E(tau^2) = k - p (0 when Q_E(0) < k - p), Brent's method as R's uniroot
  EB    empirical Bayes (Morris): Fisher-type iteration to Q_E(tau^2) k/(k-p) = k (the PM root)
  ML    maximum likelihood, REML restricted maximum likelihood: Fisher scoring from the HE value
All are truncated at 0. Iterations use metafor's defaults (threshold 1e-5 on the change in tau^2, uniroot
tol = eps^0.25, tau2_max = max(100, 10 mad(y)^2), widened where the root lies beyond it instead of stopping), so
numbers equal metafor's to ~1e-10; pass e.g. `control={"threshold": 1e-12, "tol": 1e-14}` to solve tighter.
These controls are in the units of tau^2.

I^2 = 100 tau^2 / (tau^2 + s^2) with the typical within-study variance s^2 = (k-p) / tr(P) at w = 1/v
(Higgins & Thompson 2002 without moderators: (k-1) sum w / ((sum w)^2 - sum w^2)); H^2 = (tau^2 + s^2) / s^2.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from ..errors import PACKAGE_DIR, EstimationWarning
from .wls import EstimationError, WeightedFit, zeroin

METHODS = ("FE", "DL", "REML", "ML", "PM", "SJ", "HS", "HE", "EB")
DEFAULT_CONTROL = dict(threshold=1e-5, tol=np.finfo(float).eps ** 0.25, maxiter=100, tau2_max=100.0)


def _design(y, X):
    return np.ones((len(y), 1)) if X is None else np.asarray(X, dtype=float)


def q_statistic(tau2, y, v, X=None) -> float:
    """Generalised Q(tau^2) = y'Py = sum w (y - X b)^2 with w = 1/(v + tau^2)."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    return WeightedFit(_design(y, X), 1 / (v + tau2), y).rss


def typical_variance(v, X=None) -> float:
    """Typical within-study variance s^2 = (k-p) / tr(P) at w = 1/v; without moderators Higgins and Thompson's
    (k-1) sum w / ((sum w)^2 - sum w^2), computed without cancellation (one SE of 1e-12 among SEs of 0.1 is fine).
    NaN for a single study."""
    v = np.asarray(v, float)
    X = _design(v, X)
    k, p = X.shape
    if k <= p:
        return float("nan")
    return (k - p) / WeightedFit(X, 1 / v).tr_p


def i_squared(tau2, v, X=None):
    """I^2 in percent and H^2 from tau^2 (metafor's random-effects definition; residual I^2 with moderators)."""
    s2 = typical_variance(v, X)
    tau2 = np.asarray(tau2, float)
    return 100 * tau2 / (tau2 + s2), (tau2 + s2) / s2


def _mad(y):
    """R's mad(): 1.4826 * median |y - median(y)|."""
    return 1.4826 * np.median(np.abs(y - np.median(y)))


def _fisher_scoring(y, v, X, method, tau2, control):
    """ML / REML / EB by metafor's Fisher scoring with step halving at 0, from the HE start `tau2`.

    Stops when the change in tau^2 is below control["threshold"] (metafor's absolute 1e-5), or below 1e-12 of
    tau^2 + median(v) where that is larger (data in large units, where 1e-5 is below rounding; never the case
    for effects on the usual scales, so results stay metafor's)."""
    k, p = X.shape
    floor = 1e-12 * float(np.median(v))
    change, it = np.inf, 0
    while change > max(control["threshold"], floor + 1e-12 * tau2):
        it += 1
        if it > control["maxiter"]:
            raise EstimationError(f"{method}: Fisher scoring did not converge in {control['maxiter']} iterations; "
                                  "try another method (e.g. PM or DL) or raise control['maxiter']")
        fit = WeightedFit(X, 1 / (v + tau2), y)
        if method == "EB":
            adj = (fit.rss * k / (k - p) - k) / fit.sum_w
        elif method == "ML":
            adj = (fit.ypp - fit.sum_w) / fit.sum_w2
        else:
            adj = (fit.ypp - fit.tr_p) / fit.tr_pp
        if not np.isfinite(adj):
            raise EstimationError(f"{method}: Fisher scoring produced a non-finite step at tau^2 = {tau2:g}")
        while tau2 + adj < 0:
            adj /= 2
        change = abs(adj)
        tau2 += adj
    return tau2


def _log_lik(tau2, y, v, X, reml):
    fit = WeightedFit(X, 1 / (v + tau2), y)
    ll = -0.5 * np.sum(np.log(v + tau2)) - 0.5 * fit.rss
    return ll - 0.5 * fit.logdet if reml else ll


def _hedges(y, v, X):
    k, p = X.shape
    ols = WeightedFit(X, np.ones(k), y)
    return (ols.rss - float(np.sum(v * ols.m))) / (k - p)


def _upper_end(hi, target, y, v, X):
    """The first of hi, 10 hi, 100 hi, ... where Q_E falls below `target` (the end of a root search; where metafor
    stops with "Value of 'tau2.max' too low", the interval is widened instead)."""
    while q_statistic(hi, y, v, X) > target:
        hi *= 10
        if not np.isfinite(hi):
            raise EstimationError("no tau^2 below the largest float brings Q_E down to its target")
    return hi


def _paule_mandel(y, v, X, control):
    """Root of Q_E(tau^2) = k - p on [0, max(tau2_max, 10 mad(y)^2)] (widened if needed); 0 if Q_E(0) < k - p."""
    k, p = X.shape
    if q_statistic(0.0, y, v, X) < k - p:
        return 0.0
    hi = _upper_end(max(control["tau2_max"], 10 * _mad(y) ** 2), k - p, y, v, X)
    return zeroin(lambda t: q_statistic(t, y, v, X) - (k - p), 0.0, hi, control["tol"], control["maxiter"])


def estimate_tau2(y, v, method, control=None, X=None) -> tuple[float, list[str]]:
    """tau^2 by `method` (see the module docstring) and notes on boundary estimates."""
    control = {**DEFAULT_CONTROL, **(control or {})}
    y, v = np.asarray(y, float), np.asarray(v, float)
    X = _design(y, X)
    (k, p), notes = X.shape, []
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "FE":
        return 0.0, notes
    if k == 1:
        return 0.0, ["k = 1: heterogeneity cannot be estimated; tau^2 set to 0"]
    if k <= p:
        raise EstimationError(f"{method}: k = {k} studies and {p} coefficients leave no degrees of freedom for tau^2")
    if method == "DL":
        fit = WeightedFit(X, 1 / v, y)
        tau2 = (fit.rss - (k - p)) / fit.tr_p
    elif method == "HE":
        tau2 = _hedges(y, v, X)
    elif method == "HS":
        fit = WeightedFit(X, 1 / v, y)
        tau2 = (fit.rss - k) / fit.sum_w
    elif method == "SJ":
        tau0 = np.sum((y - y.mean()) ** 2) / k
        if tau0 == 0:
            raise EstimationError("SJ: all effects are equal, so the Sidik-Jonkman start value is 0")
        tau2 = tau0 * q_statistic(tau0, y, v, X) / (k - p)
    elif method == "PM":
        tau2 = _paule_mandel(y, v, X, control)
    elif method == "EB":
        try:
            tau2 = _fisher_scoring(y, v, X, method, max(0.0, _hedges(y, v, X)), control)
        except EstimationError:  # slow steps where weights differ widely: solve the same equation by root finding
            tau2 = _paule_mandel(y, v, X, control)
            notes.append(f"EB: the Morris iteration did not converge in {control['maxiter']} steps; its equation "
                         "Q_E(tau^2) = k - p was solved by root finding (as for PM)")
    else:  # ML, REML
        tau2 = _fisher_scoring(y, v, X, method, max(0.0, _hedges(y, v, X)), control)
        if tau2 > control["threshold"]:
            reml = method == "REML"
            if _log_lik(0.0, y, v, X, reml) - _log_lik(tau2, y, v, X, reml) > control["tol"]:
                warnings.warn(f"{method}: Fisher scoring may have stopped at a local maximum; tau^2 set to 0 "
                              "(check the profile likelihood)", EstimationWarning, skip_file_prefixes=PACKAGE_DIR)
                tau2 = 0.0
    tau2 = max(0.0, float(tau2))
    if tau2 == 0.0:
        notes.append(f"{method}: tau^2 estimated at the boundary (0); the random-effects result equals the "
                     "common-effect one")
    return tau2, notes


def q_profile_ci(y, v, tau2_hat=0.0, level=0.95, control=None, X=None) -> tuple[float, float]:
    """Q-profile CI for tau^2 (Viechtbauer 2007): Q_E(tau^2) equal to the chi^2_{k-p} quantiles, truncated at 0.

    Searched on metafor's interval [0, max(tau2_max, 10 tau2_hat)] (tau2_max = 100 by default) with R's uniroot
    (see `zeroin`) at `control["tol"]`, so the bounds equal metafor's `confint()`. Where metafor stops at the end
    of that interval (it prints "> 100"), the interval is widened until the bound is found.
    """
    control = {**DEFAULT_CONTROL, **(control or {})}
    y, v = np.asarray(y, float), np.asarray(v, float)
    X = _design(y, X)
    k, p = X.shape
    if k <= p:
        return float("nan"), float("nan")
    alpha = 1 - level
    crit_hi, crit_lo = stats.chi2.isf(alpha / 2, k - p), stats.chi2.ppf(alpha / 2, k - p)
    q0 = q_statistic(0.0, y, v, X)
    start = max(control["tau2_max"], 10 * tau2_hat)

    def bound(crit):
        if q0 < crit:
            return 0.0
        hi = _upper_end(start, crit, y, v, X)
        return zeroin(lambda t: q_statistic(t, y, v, X) - crit, 0.0, hi, control["tol"], 1000)

    return bound(crit_hi), bound(crit_lo)
