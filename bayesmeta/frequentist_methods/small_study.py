"""Small-study effects: metafor's `regtest()` and `ranktest()`, and PET, PEESE and PET-PEESE.

regtest (Egger et al. 1997; Sterne & Egger 2005; metafor `regtest`): the meta-regression y_i = b0 + b1 x_i with
the predictor x_i one of sei (standard error), vi (variance), ni (total sample size), ninv (1/ni), sqrtni,
sqrtninv. model="rma": a mixed-effects meta-regression (tau^2 by `method`, Wald z or Knapp-Hartung t);
model="lm": weighted least squares with weights 1/v_i and a multiplicative residual variance (Egger's original
test, t with k - 2 df). The test of b1 = 0 is the test for funnel-plot asymmetry; b0, the predicted effect at
x = 0, is the "limit estimate" (for sei, vi, ninv and sqrtninv only, as metafor).

ranktest (Begg & Mazumdar 1994): Kendall's tau between the standardised deviates (y_i - mu_FE) / sqrt(v_i - v_mu)
and v_i; the p-value as R's `cor.test(method="kendall")`: exact when there are no ties, else the
normal approximation with the tie-corrected variance (metafor asks cor.test for exact=TRUE, so the exact
p-value is used whenever there are no ties, for any k).

PET and PEESE (Stanley & Doucouliagos 2014, Res Synth Methods 5:60): the weighted least-squares meta-regression
(weights 1/se^2, multiplicative error) on se (PET; regtest(model="lm", predictor="sei")) or on se^2 (PEESE;
predictor="vi"); the corrected effect is the intercept. PET-PEESE: PEESE's intercept if PET's intercept differs
from 0 (two-sided p < alpha), PET's otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..effects import EffectData
from ..errors import DataError
from .rma import _check_options, _fit, _inputs
from .wls import WeightedFit

PREDICTORS = {"sei": "standard error", "vi": "sampling variance", "ni": "sample size",
              "ninv": "inverse of the sample size", "sqrtni": "square root sample size",
              "sqrtninv": "inverse of the square root sample size"}
REGTEST_MODELS = ("rma", "lm")
_LIMIT = ("sei", "vi", "ninv", "sqrtninv")
EXACT_MAX_K = 500  # the exact Kendall distribution costs O(k^3) (18 s at k = 2000); beyond, the normal approximation  # predictors that vanish for an infinitely large study


def check_choice(name, value, allowed):
    """DataError unless value is one of allowed (the one line names the argument and the choices)."""
    if value not in allowed:
        raise DataError(f"{name} must be one of {', '.join(map(repr, allowed))}, not {value!r}")


def predictor_values(data: EffectData, predictor: str) -> np.ndarray:
    """The predictor column of `regtest` (see the module docstring); sample sizes come from `data.n`."""
    check_choice("predictor", predictor, tuple(PREDICTORS))
    if predictor in ("sei", "vi"):
        se = np.asarray(data.se, float)
        return se if predictor == "sei" else se**2
    if data.n is None:
        raise DataError(f"regtest(predictor={predictor!r}) needs each study's total sample size (EffectData.n): "
                        "build the data with from_summary or from_counts, or from_dataframe(..., n='ni')")
    n = np.asarray(data.n, float)
    return {"ni": n, "ninv": 1 / n, "sqrtni": np.sqrt(n), "sqrtninv": 1 / np.sqrt(n)}[predictor]


@dataclass
class RegtestResult:
    """metafor `regtest()`: the test of b1 (statistic z or t, df None for z) and the limit estimate b0 with its CI
    (NaN for predictors ni and sqrtni). `coefficients`: b0 and b1 with their SEs."""

    model: str
    predictor: str
    method: str | None
    k: int
    statistic: float
    df: int | None
    pvalue: float
    limit_estimate: float
    limit_lower: float
    limit_upper: float
    intercept_se: float
    slope: float
    slope_se: float
    intercept_pvalue: float
    tau2: float
    level: float = 0.95

    def __repr__(self):
        kind = ("mixed-effects meta-regression model" if self.model == "rma" and self.method != "FE" else
                "meta-regression model" if self.model == "rma" else "weighted regression with multiplicative "
                                                                     "dispersion")
        stat = "z" if self.df is None else f"t (df = {self.df})"
        lines = ["Regression test for funnel plot asymmetry",
                 f"  model: {kind}{f' ({self.method})' if self.model == 'rma' else ''}; predictor: "
                 f"{PREDICTORS[self.predictor]}",
                 f"  test for funnel plot asymmetry: {stat} = {self.statistic:.4f}, p = {self.pvalue:.4g}"]
        if np.isfinite(self.limit_estimate):
            lines.append(f"  limit estimate (as {self.predictor} -> 0): b = {self.limit_estimate:.4f} "
                         f"({int(round(100 * self.level))}% CI {self.limit_lower:.4f} to {self.limit_upper:.4f})")
        return "\n".join(lines)


def regtest(data: EffectData, model: str = "rma", predictor: str = "sei", method: str = "REML", ci: str = "z",
            level: float = 0.95, control: dict | None = None) -> RegtestResult:
    """Regression test for funnel-plot asymmetry as metafor `regtest(rma(yi, vi, method=method), model=...,
    predictor=...)`; ci="hksj" is metafor's test="knha" (model="rma" only)."""
    check_choice("model", model, REGTEST_MODELS)
    _check_options(method, ci, level, "common")
    if model == "lm" and ci != "z":
        raise DataError(f"regtest: ci={ci!r} applies to model='rma' only (model='lm' always uses t with k - 2 df)")
    x = predictor_values(data, predictor)
    y, se = _inputs(data)
    k = len(y)
    if k < 3:
        raise DataError(f"regtest needs at least 3 studies (k = {k}): the regression on the {PREDICTORS[predictor]} "
                        "has two coefficients")
    if np.ptp(x) == 0:
        raise DataError(f"regtest: every study has the same {PREDICTORS[predictor]} (predictor {predictor!r}), so "
                        "the regression on it is undefined")
    X = np.column_stack([np.ones(k), x])
    crit_t = None
    if model == "rma":
        fit = _fit(y, se, X, data.study, method, ci, level, control)
        b, bse, stat, p, tau2 = fit.b, fit.se, fit.stat, fit.pvalue, fit.tau2
        lo, hi = fit.lower[0], fit.upper[0]
        df = k - 2 if ci == "hksj" else None
    else:
        b, bse, df = _lm(y, se**2, X)
        stat = b / bse
        p = 2 * stats.t.sf(np.abs(stat), df)
        crit_t = stats.t.ppf(0.5 + level / 2, df)
        lo, hi, tau2, method = b[0] - crit_t * bse[0], b[0] + crit_t * bse[0], float("nan"), None
    limit = predictor in _LIMIT
    nan = float("nan")
    return RegtestResult(model=model, predictor=predictor, method=method, k=k, statistic=float(stat[1]), df=df,
                         pvalue=float(p[1]), limit_estimate=float(b[0]) if limit else nan,
                         limit_lower=float(lo) if limit else nan, limit_upper=float(hi) if limit else nan,
                         intercept_se=float(bse[0]), slope=float(b[1]), slope_se=float(bse[1]),
                         intercept_pvalue=float(p[0]), tau2=float(tau2), level=level)


def _lm(y, v, X):
    """R's lm(y ~ X - 1, weights = 1/v): coefficients, their SEs (residual variance estimated), df."""
    fit = WeightedFit(X, 1 / v, y)
    df = len(y) - X.shape[1]
    if fit.rss <= 1e-20 * np.sum(y**2 / v):
        raise DataError("regtest(model='lm'): the effects lie exactly on a line in the predictor (e.g. identical "
                        "effects), so the residual variance is 0 and the test is undefined")
    sigma2 = fit.rss / df
    return fit.b, np.sqrt(np.diag(fit.vcov) * sigma2), df


@dataclass
class RanktestResult:
    """Begg and Mazumdar's rank correlation test: Kendall's tau, its p-value (exact or normal approximation)."""

    tau: float
    pvalue: float
    exact: bool
    k: int

    def __repr__(self):
        how = "exact" if self.exact else "normal approximation"
        return (f"Rank correlation test for funnel plot asymmetry (Begg and Mazumdar)\n"
                f"  Kendall's tau = {self.tau:.4f}, p = {self.pvalue:.4g} ({how})")


def ranktest(data: EffectData, exact: bool = True) -> RanktestResult:
    """metafor `ranktest()`: Kendall's tau of the standardised deviates against the variances (module docstring).
    As metafor (which calls cor.test with exact=TRUE), the p-value is exact whenever there are no ties (up to
    k = 500, where R's own exact computation runs out of memory long before); exact=False asks for the normal
    approximation."""
    if not isinstance(exact, (bool, np.bool_)):
        raise DataError(f"ranktest: exact must be True or False, not {exact!r}")
    y, se = _inputs(data)
    k = len(y)
    if k < 3:
        raise DataError(f"ranktest needs at least 3 studies (k = {k})")
    for values, what in ((y, "effect"), (se, "standard error")):
        if np.ptp(values) == 0:
            raise DataError(f"ranktest: every study has the same {what}, so Kendall's tau is undefined")
    v = se**2
    w = 1 / v
    mu = float(np.sum(w * y) / np.sum(w))
    z = (y - mu) / np.sqrt(v - 1 / np.sum(w))
    exact = bool(exact) and k <= EXACT_MAX_K and len(np.unique(z)) == k and len(np.unique(v)) == k
    res = stats.kendalltau(z, v, method="exact" if exact else "asymptotic")
    return RanktestResult(tau=float(res.statistic), pvalue=float(res.pvalue), exact=exact, k=k)


@dataclass
class PetPeeseResult:
    """Stanley and Doucouliagos' conditional estimator: PET's and PEESE's fits and the chosen limit estimate."""

    pet: RegtestResult
    peese: RegtestResult
    chosen: str
    alpha: float

    @property
    def estimate(self) -> float:
        return (self.pet if self.chosen == "PET" else self.peese).limit_estimate

    @property
    def lower(self) -> float:
        return (self.pet if self.chosen == "PET" else self.peese).limit_lower

    @property
    def upper(self) -> float:
        return (self.pet if self.chosen == "PET" else self.peese).limit_upper

    def __repr__(self):
        why = ("PET's intercept differs from 0" if self.chosen == "PEESE" else "PET's intercept does not differ from 0")
        return (f"PET-PEESE (Stanley & Doucouliagos 2014): {self.chosen} chosen ({why}, p = "
                f"{self.pet.intercept_pvalue:.4g}, alpha = {self.alpha})\n"
                f"  corrected effect {self.estimate:.4f} (CI {self.lower:.4f} to {self.upper:.4f})\n"
                f"  PET   {self.pet.limit_estimate:.4f}; PEESE {self.peese.limit_estimate:.4f}")


def pet(data: EffectData, level: float = 0.95) -> RegtestResult:
    """PET: WLS regression of y on se (weights 1/se^2); `limit_estimate` is the corrected effect."""
    return regtest(data, model="lm", predictor="sei", level=level)


def peese(data: EffectData, level: float = 0.95) -> RegtestResult:
    """PEESE: WLS regression of y on se^2 (weights 1/se^2); `limit_estimate` is the corrected effect."""
    return regtest(data, model="lm", predictor="vi", level=level)


def pet_peese(data: EffectData, alpha: float = 0.05, level: float = 0.95) -> PetPeeseResult:
    """PEESE's estimate if PET's intercept is significant (two-sided p < alpha), else PET's."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise DataError(f"alpha must be between 0 and 1, not {alpha!r}")
    first, second = pet(data, level), peese(data, level)
    return PetPeeseResult(first, second, "PEESE" if first.intercept_pvalue < alpha else "PET", alpha)

