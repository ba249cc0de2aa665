"""Influence diagnostics, cumulative meta-analysis and Baujat plot data, as metafor's `influence()`, `cumul()`
and `baujat()` for the random-effects model without moderators (Viechtbauer & Cheung 2010).

With mu, var(mu) = 1 / sum w, tau^2 and w_i = 1/(v_i + tau^2) from the full fit, and mu_(i), var_(i), tau^2_(i),
Q_(i) from the fit without study i (same method):
  rstudent_i = (y_i - mu_(i)) / sqrt(v_i + tau^2_(i) + var_(i))
  dffits_i   = (mu - mu_(i)) / sqrt(h_i (tau^2_(i) + v_i)),      h_i = w_i / sum w (the hat value)
  cook_d_i   = (mu - mu_(i))^2 / var(mu),                         cov_r_i = var_(i) / var(mu)
  dfbetas_i  = (mu - mu_(i)) / sqrt(1 / sum_j 1/(v_j + tau^2_(i)))  (all k studies, tau^2 of the deletion fit)
  weight_i   = 100 h_i (percent)
A study is influential (metafor's rule) if |dffits| > 3 sqrt(1/(k-1)), or P(chi^2_1 <= cook_d) > 0.5, or
h_i > 3/k, or |dfbetas| > 1.
Baujat (Baujat et al. 2002): x_i = (y_i - mu)^2 / (v_i + tau^2) (the contribution to Q for the common-effect
model, the squared Pearson residual otherwise), y_i = (mu_(i) - mu)^2 / var_(i) (influence on the pooled result).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..effects import EffectData
from ..errors import DataError, EstimationWarning
from .rma import _fit, _inputs, frequentist


def _one_fit(y, se, labels, method, control):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return _fit(y, se, np.ones((len(y), 1)), labels, method, "z", 0.95, control)


def deletion_fits(data: EffectData, method: str = "REML", control: dict | None = None):
    """The full fit and, per study, the fit without it: (full, DataFrame mu_del, var_del, tau2_del, QE_del)."""
    y, se = _inputs(data)
    k = len(y)
    if k < 3:
        raise DataError(f"influence diagnostics need at least 3 studies (k = {k}): each deletion fit needs two")
    full = _one_fit(y, se, data.study, method, control)
    rows = []
    for i in range(k):
        keep = np.arange(k) != i
        fit = _one_fit(y[keep], se[keep], data.study[keep], method, control)
        rows.append(dict(mu_del=float(fit.b[0]), var_del=float(fit.vb[0, 0]), tau2_del=fit.tau2,
                         QE_del=float(fit.QE)))
    return full, pd.DataFrame(rows, index=pd.Index(data.study, name="study"))


def influence(data: EffectData, method: str = "REML", control: dict | None = None) -> pd.DataFrame:
    """metafor `influence(rma(yi, vi, method=method))`: per study rstudent, dffits, cook_d, cov_r, tau2_del,
    QE_del, hat, weight, dfbetas, influential (module docstring)."""
    y, se = _inputs(data)
    v, k = se**2, len(y)
    full, dels = deletion_fits(data, method, control)
    mu, var_mu = float(full.b[0]), float(full.vb[0, 0])
    w = 1 / (v + full.tau2)
    hat = w / w.sum()
    mu_del, var_del, tau2_del = (dels[c].to_numpy() for c in ("mu_del", "var_del", "tau2_del"))
    resid = y - mu_del
    resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
    diff = mu - mu_del
    vb_del = 1 / np.sum(1 / (v[None, :] + tau2_del[:, None]), axis=1)
    out = pd.DataFrame(dict(
        rstudent=resid / np.sqrt(v + var_del + tau2_del), dffits=diff / np.sqrt(hat * (tau2_del + v)),
        cook_d=diff**2 / var_mu, cov_r=var_del / var_mu, tau2_del=tau2_del, QE_del=dels["QE_del"].to_numpy(),
        hat=hat, weight=100 * hat, dfbetas=diff / np.sqrt(vb_del)), index=dels.index)
    out["influential"] = ((np.abs(out["dffits"]) > 3 * np.sqrt(1 / (k - 1))) | (stats.chi2.cdf(out["cook_d"], 1) > 0.5)
                          | (out["hat"] > 3 / k) | (np.abs(out["dfbetas"]) > 1))
    return out


def baujat(data: EffectData, method: str = "REML", control: dict | None = None) -> pd.DataFrame:
    """metafor `baujat()` data: per study x (contribution to heterogeneity) and y (influence on the pooled
    result); the figure plots y against x with the study labels."""
    y, se = _inputs(data)
    full, dels = deletion_fits(data, method, control)
    mu = float(full.b[0])
    x = (y - mu) ** 2 / (full.tau2 + se**2)
    infl = (dels["mu_del"].to_numpy() - mu) ** 2 / dels["var_del"].to_numpy()
    return pd.DataFrame(dict(x=x, y=infl), index=dels.index)


def _order(data: EffectData, order) -> np.ndarray:
    """Positions in the order of cumulation: input order, or sorted (stably) by a covariate's name or values."""
    if order is None:
        return np.arange(data.k)
    if isinstance(order, str):
        if order not in data.moderators.columns:
            raise DataError(f"cumulative: order {order!r} is not a column of the data "
                            f"(covariates: {list(data.moderators.columns)})")
        values = data.moderators[order].to_numpy()
    else:
        values = np.asarray(order)
        if values.ndim != 1 or len(values) != data.k:
            raise DataError(f"cumulative: order must give one value per study ({data.k}), not {values.shape}")
    if pd.isna(values).any():
        i = int(np.flatnonzero(pd.isna(values))[0])
        raise DataError(f"row {i + 1} ({data.study[i]!r}): the order value is missing")
    return np.argsort(values, kind="stable")


def cumulative(data: EffectData, order=None, method: str = "REML", ci: str = "z", level: float = 0.95,
               control: dict | None = None) -> pd.DataFrame:
    """metafor `cumul()`: the meta-analysis of the first 1, 2, ..., k studies (in input order, or sorted by
    `order`: a covariate name or one value per study, e.g. the year). One row per step, indexed by the study
    added: k, mu, se, statistic, pvalue, lower, upper, Q, Q_pvalue, tau2, I2, H2."""
    idx = _order(data, order)
    rows = []
    for i in range(1, len(idx) + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EstimationWarning)
            res = frequentist(data.take(idx[:i]), method=method, ci=ci if i > 1 else "z", level=level,
                              control=control, prediction=None)
        stat = res.mu / res.se
        rows.append(dict(k=i, mu=res.mu, se=res.se, statistic=stat, pvalue=res.pvalue, lower=res.lower,
                         upper=res.upper, Q=res.Q if i > 1 else 0.0, Q_pvalue=res.Q_pvalue if i > 1 else 1.0,
                         tau2=res.tau2, I2=res.I2 if i > 1 else 0.0, H2=res.H2 if i > 1 else 1.0))
    return pd.DataFrame(rows, index=pd.Index(data.study[idx], name="study"))
