"""Trim and fill (Duval & Tweedie 2000), step for step as metafor's `trimfill()`.

Side: unless given, the side where studies are missing is "left" if the slope of the meta-regression of y on se
(same tau^2 method) is positive, "right" otherwise. On that side (effects mirrored for "right"), with the
effects sorted, repeat until k0 no longer changes: pool the k - k0 smallest effects (same method) to beta;
rank |y_i - beta| (ties in order of appearance) and sign the ranks by y_i - beta;
  L0: S_r = sum of the positive signed ranks, k0 = (4 S_r - k (k + 1)) / (2k - 1),
      var(S_r) = (k (k+1)(2k+1) + 10 k0^3 + 27 k0^2 + 17 k0 - 18 k k0^2 - 18 k k0 + 6 k^2 k0) / 24,
      se(k0) = 4 sqrt(var(S_r)) / (2k - 1);
  R0: k0 = k - (largest rank among the negative deviations) - 1, se(k0) = sqrt(2 max(0, k0) + 2);
k0 rounded (half to even, as R) and floored at 0. The k0 most extreme studies are then mirrored about beta
(y_fill = 2 beta - y, same variance) and the filled data pooled again. For R0, p_k0 is the probability of k0 or
more under no asymmetry (metafor's p.k0).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..effects import EffectData
from ..errors import DataError, EstimationWarning
from .result import FrequentistResult
from .rma import _fit, _inputs, frequentist
from .small_study import check_choice

ESTIMATORS = ("L0", "R0")
SIDES = ("left", "right")


@dataclass
class TrimfillResult:
    """k0 (studies estimated missing) with its SE, the side, the pooled result after filling (`result`, and its
    mu, se, lower, upper, tau2, pvalue here) and the imputed studies (`filled`: study, y, se)."""

    k0: int
    k0_se: float
    side: str
    estimator: str
    p_k0: float
    filled: pd.DataFrame
    result: FrequentistResult

    def __getattr__(self, name):  # mu, se, lower, upper, tau2, I2, pvalue ... of the filled analysis
        if name in ("mu", "se", "lower", "upper", "tau2", "I2", "pvalue", "Q", "Q_pvalue", "k", "method"):
            return getattr(self.result, name)
        raise AttributeError(name)

    def __repr__(self):
        p = f", p = {self.p_k0:.4g}" if np.isfinite(self.p_k0) else ""
        se = f"SE {self.k0_se:.4f}" if np.isfinite(self.k0_se) else "SE not estimable"
        return (f"Trim and fill ({self.estimator}): {self.k0} studies estimated missing on the {self.side} side "
                f"({se}{p})\n"
                f"  after filling (k = {self.result.k}, {self.result.method}): mu = {self.mu:.4f} (SE {self.se:.4f}), "
                f"95% CI [{self.lower:.4f}, {self.upper:.4f}], tau^2 = {self.tau2:.4f}")


def _pooled(y, se, labels, method, control):
    k = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return float(_fit(y, se, np.ones((k, 1)), labels, method, "z", 0.95, control).b[0])


def _estimate_side(y, se, labels, method, control) -> str:
    if len(y) < 3:
        raise DataError(f"trimfill: choosing the side needs a regression on the SEs, so at least 3 studies (k = "
                        f"{len(y)}); give side='left' or 'right'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        slope = _fit(y, se, np.column_stack([np.ones(len(y)), se]), labels, method, "z", 0.95, control).b[1]
    return "right" if slope < 0 else "left"


def _k0(dev, estimator, k):
    """One step of the estimator from the deviations y - beta (sorted effects): k0 (unrounded) and its SE."""
    ranks = np.empty(k)
    ranks[np.argsort(np.abs(dev), kind="stable")] = np.arange(1, k + 1)
    signed = np.sign(dev) * ranks
    if estimator == "R0":
        neg = -signed[signed < 0]
        k0 = k - (neg.max() if len(neg) else -math.inf) - 1
        return k0, math.sqrt(2 * max(0.0, k0) + 2)
    sr = float(np.sum(signed[signed > 0]))
    k0 = (4 * sr - k * (k + 1)) / (2 * k - 1)
    var = (k * (k + 1) * (2 * k + 1) + 10 * k0**3 + 27 * k0**2 + 17 * k0 - 18 * k * k0**2 - 18 * k * k0
           + 6 * k**2 * k0) / 24
    return k0, 4 * math.sqrt(var) / (2 * k - 1) if var > 0 else float("nan")


def trimfill(data: EffectData, estimator: str = "L0", side: str | None = None, method: str = "REML",
             maxiter: int = 100, control: dict | None = None) -> TrimfillResult:
    """metafor `trimfill(rma(yi, vi, method=method), estimator=, side=)` (module docstring)."""
    check_choice("estimator", estimator, ESTIMATORS)
    check_choice("side", side, (*SIDES, None))
    y0, se0 = _inputs(data)
    k = len(y0)
    if k < 2:
        raise DataError(f"trimfill needs at least 2 studies (k = {k})")
    side = side or _estimate_side(y0, se0, data.study, method, control)
    flip = -1.0 if side == "right" else 1.0
    order = np.argsort(flip * y0, kind="stable")
    y, se, labels = flip * y0[order], se0[order], data.study[order]
    k0, k0_prev, it = 0, -1, 0
    while k0 != k0_prev:
        k0_prev, it = k0, it + 1
        if it > maxiter:
            raise DataError(f"trimfill: the algorithm did not converge in {maxiter} iterations")
        beta = _pooled(y[:k - k0], se[:k - k0], labels[:k - k0], method, control)
        est, k0_se = _k0(y - beta, estimator, k)
        k0 = int(max(0, np.round(est))) if np.isfinite(est) else 0
        k0_se = max(0.0, k0_se) if np.isfinite(k0_se) else float("nan")  # R: max(0, NaN) is NaN
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else float("nan")  # metafor's 1 - sum_{m=-1}^{k0-1} 2^-(m+2)
    filled = pd.DataFrame({"study": [f"Filled {i + 1}" for i in range(k0)],
                           "y": flip * (2 * beta - y[k - k0:]), "se": se[k - k0:]})
    if k0 == 0:
        result = frequentist(data, method=method, control=control)
    else:
        combined = EffectData(y=np.concatenate([y0, filled["y"]]), se=np.concatenate([se0, filled["se"]]),
                              study=np.concatenate([data.study, filled["study"]]), measure=data.measure,
                              benefit=data.benefit)
        result = frequentist(combined, method=method, control=control)
    return TrimfillResult(k0=k0, k0_se=float(k0_se), side=side, estimator=estimator, p_k0=p_k0, filled=filled,
                          result=result)
