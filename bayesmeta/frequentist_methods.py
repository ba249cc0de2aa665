"""The frequentist twin: inverse-variance random-effects meta-analysis as metafor's `rma()` and RevMan do.

Notation: y_i effects, v_i sampling variances, w_i = 1/(v_i + tau^2), mu_hat = sum(w y)/sum(w),
Q(tau^2) = sum w_i (y_i - mu_hat)^2 (generalised Q; Cochran's Q at tau^2 = 0).

tau^2 estimators (Veroniki et al. 2016, Res Synth Methods 7:55; metafor's `rma.uni`):
  FE    tau^2 = 0 (common effect, inverse variance)
  DL    DerSimonian-Laird: (Q - (k-1)) / (sum w - sum w^2 / sum w), w = 1/v, truncated at 0
  HE    Hedges: sum (y - ybar)^2 / (k-1) - mean(v), truncated at 0
  HS    Hunter-Schmidt: (Q - k) / sum(1/v), truncated at 0
  SJ    Sidik-Jonkman: tau0^2 Q_{tau0} / (k-1), tau0^2 = sum (y - ybar)^2 / k
  PM    Paule-Mandel: root of Q(tau^2) = k - 1 (0 when Q(0) < k - 1), Brent's method as R's uniroot
  EB    empirical Bayes (Morris): Fisher-type iteration to Q(tau^2) k/(k-1) = k (the PM root)
  ML    maximum likelihood, REML restricted maximum likelihood: Fisher scoring from the HE value
Iterations use metafor's defaults (threshold 1e-5 on the change in tau^2, uniroot tol = eps^0.25), so
numbers equal metafor's to ~1e-10; pass e.g. `control={"threshold": 1e-12, "tol": 1e-14}` to solve tighter.

Knapp-Hartung (Hartung-Knapp-Sidik-Jonkman, ci="hksj"): se^2 = Q(tau^2_hat) / ((k-1) sum w), t_{k-1}
quantiles, no truncation (metafor `test="knha"`). Prediction interval: mu_hat +/- c sqrt(se^2 + tau^2) with c
the normal quantile, or t_{k-1} under Knapp-Hartung (metafor `predict()`), or t_{k-2} with
`prediction="hts"` (Higgins, Thompson, Spiegelhalter 2009). Q-profile CI for tau^2 (Viechtbauer 2007):
Q(tau^2) = chi^2_{k-1} quantiles. I^2 = tau^2 / (tau^2 + s^2), s^2 = (k-1) sum(1/v) / ((sum 1/v)^2 -
sum 1/v^2) (Higgins & Thompson 2002), H^2 = (tau^2 + s^2) / s^2; for FE, I^2 = (Q - (k-1))/Q, H^2 = Q/(k-1).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .effects import EffectData
from .errors import DataError, EstimationWarning

METHODS = ("FE", "DL", "REML", "ML", "PM", "SJ", "HS", "HE", "EB")
CI_TYPES = ("z", "hksj")

# Named presets: what RevMan 5 does, and what RevMan Web offers for Cochrane reviews now.
PRESETS = {
    "revman5": dict(method="DL", ci="z", prediction=None, measure="SMD_RevMan",
                    describe="RevMan 5: DerSimonian-Laird random effects, Wald (z) CI, no prediction interval; "
                             "SMD by RevMan's approximate Hedges' correction"),
    "cochrane": dict(method="REML", ci="hksj", prediction="t",
                     describe="Cochrane / RevMan Web: REML, Hartung-Knapp-Sidik-Jonkman CI, "
                              "prediction interval with t(k-1)"),
}

DEFAULT_CONTROL = dict(threshold=1e-5, tol=np.finfo(float).eps ** 0.25, maxiter=100, tau2_max=100.0)


class EstimationError(RuntimeError):
    """An estimator is undefined for these data or did not converge (metafor stops with an error here)."""


@dataclass
class FrequentistResult:
    """One frequentist meta-analysis. Intervals are 95% (or `level`); `ci` says z or Knapp-Hartung."""

    k: int
    method: str
    ci: str
    mu: float
    se: float
    lower: float
    upper: float
    pvalue: float
    tau2: float
    tau2_lower: float
    tau2_upper: float
    I2: float
    I2_lower: float
    I2_upper: float
    H2: float
    H2_lower: float
    H2_upper: float
    Q: float
    Q_pvalue: float
    pi_lower: float
    pi_upper: float
    prediction: str | None
    level: float
    weights: pd.Series = field(repr=False)
    measure: str = "SMD"
    preset: str | None = None
    notes: list = field(default_factory=list)

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def tau_lower(self) -> float:
        return math.sqrt(self.tau2_lower) if np.isfinite(self.tau2_lower) else float("nan")

    @property
    def tau_upper(self) -> float:
        return math.sqrt(self.tau2_upper) if np.isfinite(self.tau2_upper) else float("nan")

    @property
    def label(self) -> str:
        """Short name, e.g. 'REML + HKSJ' or 'RevMan 5 (DL, z)'."""
        base = f"{self.method}{' + HKSJ' if self.ci == 'hksj' else ''}"
        return {"revman5": f"RevMan 5 ({base})", "cochrane": f"Cochrane ({base})"}.get(self.preset, base)

    def to_dict(self) -> dict:
        """The JSON keys of the command line (plus tau, CIs of I2/H2, weights in percent, notes)."""
        out = {k: v for k, v in asdict(self).items() if k != "weights"}
        out.update(tau=self.tau, weights=self.weights.to_dict())
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.items()}

    def __repr__(self) -> str:
        pct = int(round(self.level * 100))
        ci = "Knapp-Hartung t" if self.ci == "hksj" else "Wald z"
        lines = [
            f"Frequentist meta-analysis: {self.label}, k = {self.k}",
            f"  mu    = {self.mu:.4f} (SE {self.se:.4f}), {pct}% CI [{self.lower:.4f}, {self.upper:.4f}] "
            f"({ci}), p = {self.pvalue:.4g}",
        ]
        if self.method != "FE":
            lines.append(f"  tau^2 = {self.tau2:.4f}, {pct}% CI [{self.tau2_lower:.4f}, {self.tau2_upper:.4f}] "
                         f"(Q-profile); tau = {self.tau:.4f}")
        lines.append(f"  I^2   = {self.I2:.1f}%, H^2 = {self.H2:.2f}; Q = {self.Q:.2f} (df = {self.k - 1}), "
                     f"p = {self.Q_pvalue:.4g}")
        if self.prediction:
            lines.append(f"  {pct}% prediction interval [{self.pi_lower:.4f}, {self.pi_upper:.4f}] "
                         f"({ {'z': 'normal', 't': 't(k-1)', 'hts': 't(k-2)'}[self.prediction] })")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------- building blocks
def _weighted_mean(y, w):
    return np.sum(w * y) / np.sum(w)


def q_statistic(tau2, y, v) -> float:
    """Generalised Q(tau^2) = sum w (y - mu_hat)^2 with w = 1/(v + tau^2)."""
    w = 1 / (v + tau2)
    return float(np.sum(w * (y - _weighted_mean(y, w)) ** 2))


def typical_variance(v) -> float:
    """Higgins-Thompson typical within-study variance s^2 = (k-1) sum w / ((sum w)^2 - sum w^2), w = 1/v."""
    w = 1 / v
    return (len(v) - 1) * w.sum() / (w.sum() ** 2 - np.sum(w**2))


def i_squared(tau2, v):
    """I^2 in percent and H^2 from tau^2 (metafor's random-effects definition)."""
    s2 = typical_variance(v)
    tau2 = np.asarray(tau2, float)
    return 100 * tau2 / (tau2 + s2), (tau2 + s2) / s2


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


def _fisher_scoring(y, v, method, tau2, control):
    """ML / REML / EB by metafor's Fisher scoring with step halving at 0, from the HE start `tau2`."""
    k = len(y)
    change, it = np.inf, 0
    while change > control["threshold"]:
        it += 1
        if it > control["maxiter"]:
            raise EstimationError(f"{method}: Fisher scoring did not converge in {control['maxiter']} iterations; "
                                  "try another method (e.g. PM or DL) or raise control['maxiter']")
        w = 1 / (v + tau2)
        sw = w.sum()
        r = y - np.sum(w * y) / sw
        if method == "EB":
            adj = (np.sum(w * r**2) * k / (k - 1) - k) / sw
        else:
            ypp = np.sum((w * r) ** 2)  # y' P P y with P = W - w w' / sum(w)
            if method == "ML":
                adj = (ypp - sw) / np.sum(w**2)
            else:
                tr_p = sw - np.sum(w**2) / sw
                tr_pp = np.sum(w**2) - 2 * np.sum(w**3) / sw + np.sum(w**2) ** 2 / sw**2
                adj = (ypp - tr_p) / tr_pp
        while tau2 + adj < 0:
            adj /= 2
        change = abs(adj)
        tau2 += adj
    return tau2


def _log_lik(tau2, y, v, reml):
    w = 1 / (v + tau2)
    r = y - _weighted_mean(y, w)
    ll = -0.5 * np.sum(np.log(v + tau2)) - 0.5 * np.sum(w * r**2)
    return ll - 0.5 * np.log(w.sum()) if reml else ll


def estimate_tau2(y, v, method, control=None) -> tuple[float, list[str]]:
    """tau^2 by `method` (see the module docstring) and notes on boundary estimates."""
    control = {**DEFAULT_CONTROL, **(control or {})}
    k, notes = len(y), []
    if method == "FE":
        return 0.0, notes
    if k == 1:
        return 0.0, ["k = 1: heterogeneity cannot be estimated; tau^2 set to 0"]
    he = max(0.0, np.sum((y - y.mean()) ** 2) / (k - 1) - v.mean())
    q0 = q_statistic(0.0, y, v)
    if method == "DL":
        w = 1 / v
        tau2 = (q0 - (k - 1)) / (w.sum() - np.sum(w**2) / w.sum())
    elif method == "HE":
        tau2 = np.sum((y - y.mean()) ** 2) / (k - 1) - v.mean()
    elif method == "HS":
        tau2 = (q0 - k) / np.sum(1 / v)
    elif method == "SJ":
        tau0 = np.sum((y - y.mean()) ** 2) / k
        if tau0 == 0:
            raise EstimationError("SJ: all effects are equal, so the Sidik-Jonkman start value is 0")
        tau2 = tau0 * q_statistic(tau0, y, v) / (k - 1)
    elif method == "PM":
        tau2_max = max(control["tau2_max"], 10 * _mad(y) ** 2)
        if q0 < k - 1:
            tau2 = 0.0
        elif q_statistic(tau2_max, y, v) > k - 1:
            raise EstimationError(f"PM: the root lies above tau2_max = {tau2_max:g}; raise control['tau2_max']")
        else:
            tau2 = zeroin(lambda t: q_statistic(t, y, v) - (k - 1), 0.0, tau2_max, control["tol"],
                          control["maxiter"])
    elif method in ("ML", "REML", "EB"):
        tau2 = _fisher_scoring(y, v, method, he, control)
        if method != "EB" and tau2 > control["threshold"]:
            reml = method == "REML"
            if _log_lik(0.0, y, v, reml) - _log_lik(tau2, y, v, reml) > control["tol"]:
                warnings.warn(f"{method}: Fisher scoring may have stopped at a local maximum; tau^2 set to 0 "
                              "(check the profile likelihood)", EstimationWarning, stacklevel=3)
                tau2 = 0.0
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    tau2 = max(0.0, float(tau2))
    if tau2 == 0.0:
        notes.append(f"{method}: tau^2 estimated at the boundary (0); the random-effects result equals the "
                     "common-effect one")
    return tau2, notes


def _mad(y):
    """R's mad(): 1.4826 * median |y - median(y)|."""
    return 1.4826 * np.median(np.abs(y - np.median(y)))


def q_profile_ci(y, v, tau2_hat=0.0, level=0.95, control=None) -> tuple[float, float]:
    """Q-profile CI for tau^2 (Viechtbauer 2007): Q(tau^2) equal to the chi^2_{k-1} quantiles, truncated at 0.

    Searched on metafor's interval [0, max(100, 10 tau2_hat)] with R's uniroot (see `zeroin`) at
    `control["tol"]`, so the bounds equal metafor's `confint()`. Where metafor stops at the end of that
    interval (it prints "> 100"), the interval is widened until the bound is found.
    """
    control = {**DEFAULT_CONTROL, **(control or {})}
    k = len(y)
    if k < 2:
        return float("nan"), float("nan")
    alpha = 1 - level
    crit_hi, crit_lo = stats.chi2.isf(alpha / 2, k - 1), stats.chi2.ppf(alpha / 2, k - 1)
    q0 = q_statistic(0.0, y, v)
    hi = max(100.0, 10 * tau2_hat)

    def bound(crit):
        nonlocal hi
        if q0 < crit:
            return 0.0
        while q_statistic(hi, y, v) > crit:
            hi *= 10
        return zeroin(lambda t: q_statistic(t, y, v) - crit, 0.0, hi, control["tol"], 1000)

    return bound(crit_hi), bound(crit_lo)


# --------------------------------------------------------------------------- the main entry point
def frequentist(data: EffectData, method: str = "REML", ci: str = "z", level: float = 0.95,
                prediction: str | None = "default", control: dict | None = None) -> FrequentistResult:
    """Random-effects (or common-effect, method="FE") meta-analysis of `data`, as metafor's `rma()`.

    method: FE DL REML ML PM SJ HS HE EB, or a preset "revman5" / "cochrane" (see PRESETS).
    ci: "z" (Wald) or "hksj" (Knapp-Hartung with t_{k-1}). prediction: "default" (normal under z, t_{k-1}
    under hksj, as metafor `predict()`), "z", "t", "hts" (t_{k-2}) or None.
    """
    preset = None
    if method in PRESETS:
        preset, spec = method, PRESETS[method]
        method, ci, prediction = spec["method"], spec["ci"], spec["prediction"]
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)} or a preset "
                         f"({', '.join(PRESETS)})")
    if ci not in CI_TYPES:
        raise ValueError(f"ci must be 'z' or 'hksj', not {ci!r}")
    y, v = np.asarray(data.y, float), np.asarray(data.vi, float)
    k = len(y)
    if k == 1 and ci == "hksj":
        raise DataError("Knapp-Hartung needs at least 2 studies (it has k - 1 = 0 degrees of freedom)")
    tau2, notes = estimate_tau2(y, v, method, control)
    if k == 1:
        warnings.warn(notes[0], EstimationWarning, stacklevel=2)
    w = 1 / (v + tau2)
    mu = _weighted_mean(y, w)
    q_fe = q_statistic(0.0, y, v) if k > 1 else float("nan")
    if ci == "hksj":
        se = math.sqrt(q_statistic(tau2, y, v) / ((k - 1) * w.sum()))
        dist = stats.t(k - 1)
    else:
        se = math.sqrt(1 / w.sum())
        dist = stats.norm()
    crit = dist.ppf(0.5 + level / 2)
    stat = mu / se
    pvalue = 2 * dist.sf(abs(stat))
    if method == "FE":
        tau2_lo = tau2_hi = float("nan")
        I2 = max(0.0, 100 * (q_fe - (k - 1)) / q_fe) if k > 1 else float("nan")
        H2 = q_fe / (k - 1) if k > 1 else float("nan")
        I2_lo = I2_hi = H2_lo = H2_hi = float("nan")
    else:
        tau2_lo, tau2_hi = q_profile_ci(y, v, tau2, level, control)
        I2, H2 = (float(x) for x in i_squared(tau2, v)) if k > 1 else (float("nan"),) * 2
        (I2_lo, I2_hi), (H2_lo, H2_hi) = i_squared(np.array([tau2_lo, tau2_hi]), v) if k > 1 else ((np.nan,) * 2,) * 2
    pred = _prediction_kind(prediction, ci, method)
    if pred:
        df = {"z": None, "t": k - 1, "hts": k - 2}[pred]
        if df is not None and df < 1:
            raise DataError(f"a {pred} prediction interval needs more studies (k = {k})")
        c = stats.norm.ppf(0.5 + level / 2) if df is None else stats.t.ppf(0.5 + level / 2, df)
        half = c * math.sqrt(se**2 + tau2)
        pi_lo, pi_hi = mu - half, mu + half
    else:
        pi_lo = pi_hi = float("nan")
    return FrequentistResult(
        k=k, method=method, ci=ci, mu=float(mu), se=float(se), lower=float(mu - crit * se),
        upper=float(mu + crit * se), pvalue=float(pvalue), tau2=tau2, tau2_lower=float(tau2_lo),
        tau2_upper=float(tau2_hi), I2=float(I2), I2_lower=float(I2_lo), I2_upper=float(I2_hi), H2=float(H2),
        H2_lower=float(H2_lo), H2_upper=float(H2_hi), Q=float(q_fe),
        Q_pvalue=float(stats.chi2.sf(q_fe, k - 1)) if k > 1 else float("nan"), pi_lower=float(pi_lo),
        pi_upper=float(pi_hi), prediction=pred, level=level,
        weights=pd.Series(100 * w / w.sum(), index=pd.Index(data.study, name="study"), name="weight_pct"),
        measure=data.measure, preset=preset, notes=notes)


def _prediction_kind(prediction, ci, method):
    if prediction is None or method == "FE":
        return None
    if prediction == "default":
        return "t" if ci == "hksj" else "z"
    if prediction not in ("z", "t", "hts"):
        raise ValueError(f"prediction must be 'default', 'z', 't', 'hts' or None, not {prediction!r}")
    return prediction


def as_results(freq) -> list:
    """None, one FrequentistResult or several, as a list."""
    if freq is None:
        return []
    return list(freq) if isinstance(freq, (list, tuple)) else [freq]


# --------------------------------------------------------------------------- sensitivity and small-study checks
def leave_one_out(data: EffectData, **kwargs) -> pd.DataFrame:
    """The meta-analysis repeated with each study left out (keywords as `frequentist`)."""
    rows = []
    for i, label in enumerate(data.study):
        res = frequentist(data.subset(np.arange(data.k) != i), **kwargs)
        rows.append(dict(omitted=label, mu=res.mu, se=res.se, lower=res.lower, upper=res.upper,
                         pvalue=res.pvalue, tau2=res.tau2, I2=res.I2, Q=res.Q, pi_lower=res.pi_lower,
                         pi_upper=res.pi_upper))
    return pd.DataFrame(rows).set_index("omitted")


@dataclass
class EggerResult:
    """Egger's regression test: y_i / se_i = b0 + b1 / se_i + e_i; b0 (the asymmetry) tested with t_{k-2}."""

    intercept: float
    se: float
    t: float
    df: int
    pvalue: float
    limit_estimate: float

    def __repr__(self):
        return (f"Egger's test: intercept {self.intercept:.4f} (SE {self.se:.4f}), t = {self.t:.3f}, "
                f"df = {self.df}, p = {self.pvalue:.4g}; limit estimate {self.limit_estimate:.4f}")


def egger_test(data: EffectData) -> EggerResult:
    """Egger et al. (1997) regression test for funnel-plot asymmetry (metafor `regtest(model="lm")`)."""
    y, se = np.asarray(data.y, float), np.asarray(data.se, float)
    k = len(y)
    if k < 3:
        raise DataError(f"Egger's test needs at least 3 studies (k = {k})")
    if np.allclose(se, se[0]):
        raise DataError("Egger's test is undefined when all standard errors are equal (column se)")
    X = np.column_stack([np.ones(k), 1 / se])
    z = y / se
    coef, *_ = np.linalg.lstsq(X, z, rcond=None)
    resid = z - X @ coef
    sigma2 = resid @ resid / (k - 2)
    cov = sigma2 * np.linalg.inv(X.T @ X)
    b0, se0 = coef[0], math.sqrt(cov[0, 0])
    t = b0 / se0
    return EggerResult(float(b0), se0, float(t), k - 2, float(2 * stats.t.sf(abs(t), k - 2)), float(coef[1]))


def funnel_data(data: EffectData, result: FrequentistResult | None = None, level: float = 0.95) -> dict:
    """What a funnel plot needs: effects, standard errors, the pooled estimate and the pseudo-CI lines."""
    result = result or frequentist(data, method="FE")
    se_grid = np.linspace(0, data.se.max() * 1.05, 50)
    z = stats.norm.ppf(0.5 + level / 2)
    return dict(y=data.y, se=data.se, study=data.study, mu=result.mu, se_grid=se_grid,
                lower=result.mu - z * se_grid, upper=result.mu + z * se_grid)
