"""Sensitivity and small-study checks: leave-one-out, Egger's regression test, funnel-plot data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..effects import EffectData
from ..errors import DataError
from .result import FrequentistResult
from .rma import frequentist
from .small_study import regtest


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
    """Egger et al. (1997) regression test for funnel-plot asymmetry, as Egger wrote it: the OLS of y_i / se_i on
    1 / se_i. It is `regtest(data, model="lm")` (metafor's weighted regression of y_i on se_i) with the roles
    swapped: Egger's intercept is that regression's slope on se, and its slope the limit estimate."""
    se = np.asarray(data.se, float)
    if data.k < 3:
        raise DataError(f"Egger's test needs at least 3 studies (k = {data.k})")
    if np.allclose(se, se[0]):
        raise DataError("Egger's test is undefined when all standard errors are equal (column se)")
    r = regtest(data, model="lm", predictor="sei")
    return EggerResult(r.slope, r.slope_se, r.statistic, r.df, r.pvalue, r.limit_estimate)


def funnel_data(data: EffectData, result: FrequentistResult | None = None, level: float = 0.95) -> dict:
    """What a funnel plot needs: effects, standard errors, the pooled estimate and the pseudo-CI lines."""
    result = result or frequentist(data, method="FE")
    se_grid = np.linspace(0, data.se.max() * 1.05, 50)
    z = stats.norm.ppf(0.5 + level / 2)
    return dict(y=data.y, se=data.se, study=data.study, mu=result.mu, se_grid=se_grid,
                lower=result.mu - z * se_grid, upper=result.mu + z * se_grid)
