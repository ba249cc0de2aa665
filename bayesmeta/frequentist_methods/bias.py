"""Sensitivity and small-study checks: leave-one-out, Egger's regression test, funnel-plot data."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..effects import EffectData
from ..errors import DataError
from .result import FrequentistResult
from .rma import frequentist


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
