"""The three-level model as metafor's `rma.mv(yi, vi, random = ~ 1 | cluster/effect)`, and cluster-robust
inference as metafor's `robust(fit, cluster)`.

y_ij = mu + u_j + e_ij + eps_ij, u_j ~ N(0, tau^2) (between clusters), e_ij ~ N(0, tau_w^2) (within),
eps_ij ~ N(0, v_ij). Each cluster's covariance is D_j + tau^2 11', D_j = diag(v + tau_w^2), so by
Sherman-Morrison, with d = 1/(v + tau_w^2), s_j = sum d, t_j = sum d y, q_j = sum d y^2, c_j = 1 + tau^2 s_j:

    1'S^-1 1 = s_j / c_j,   1'S^-1 y = t_j / c_j,   y'S^-1 y = q_j - tau^2 t_j^2 / c_j,
    log|S_j| = sum log(v + tau_w^2) + log c_j,

mu = sum(t/c) / P with P = sum(s/c), and the (restricted) log likelihood
    ML:   -1/2 [sum_j log|S_j| + sum_j y'S^-1 y - P mu^2],   REML: ML - 1/2 log P
is maximised over (tau^2, tau_w^2) >= 0 (L-BFGS-B from several starts). QE is the Q of the common-effect
model (weights 1/v). Cluster-robust: var(mu) = m/(m - 1) sum_j (1'S_j^-1 e_j)^2 / P^2, e = y - mu, with
t_{m-1} intervals (metafor's default small-sample adjustment). I^2 at each level as Cheung (2014):
tau^2 / (tau^2 + tau_w^2 + s^2) and tau_w^2 / (...), s^2 the Higgins-Thompson typical variance.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..errors import PACKAGE_DIR, DataError, EstimationWarning
from ..numerics import cluster_sums
from .result import PooledOnly
from .tau2 import typical_variance

METHODS = ("REML", "ML")


@dataclass
class ThreeLevelResult(PooledOnly):
    """A three-level (multilevel) frequentist meta-analysis; intervals at `level`."""

    k: int
    clusters: int
    method: str
    mu: float
    se: float
    lower: float
    upper: float
    pvalue: float
    tau2: float
    tau2_within: float
    I2_between: float
    I2_within: float
    QE: float
    QE_pvalue: float
    robust: bool
    level: float
    weights: pd.Series = field(repr=False)  # each effect's share of mu (GLS weights, percent)
    measure: str = "SMD"
    prediction = "z"

    @property
    def ci(self) -> str:
        return "robust" if self.robust else "z"

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def I2(self) -> float:
        return self.I2_between + self.I2_within

    @property
    def tau2_lower(self) -> float:  # no profile interval for the variance components yet
        return float("nan")

    tau2_upper = tau2_lower

    @property
    def pi_lower(self) -> float:
        """Prediction interval of a new effect in a new cluster (z; t(m - 1) when cluster-robust, as metafor)."""
        dist = stats.t(self.clusters - 1) if self.robust else stats.norm()
        return self.mu - dist.ppf(0.5 + self.level / 2) * math.sqrt(self.se**2 + self.tau2 + self.tau2_within)

    @property
    def pi_upper(self) -> float:
        return 2 * self.mu - self.pi_lower

    @property
    def label(self) -> str:
        return f"three-level {self.method}{' (cluster-robust)' if self.robust else ''}"

    def to_dict(self) -> dict:
        """The fields, the keys every frequentist result has (None where this model has none) and the weights."""
        out = {k: v for k, v in asdict(self).items() if k != "weights"}
        out.update(I2=self.I2, tau2_lower=None, tau2_upper=None, pi_lower=self.pi_lower, pi_upper=self.pi_upper)
        return dict(out, weights=self.weights.to_dict())

    def __repr__(self):
        pct = f"{self.level:.0%}"
        test = f"t({self.clusters - 1}), cluster-robust" if self.robust else "Wald z"
        return "\n".join([
            f"Three-level meta-analysis ({self.method}), k = {self.k} effects in {self.clusters} clusters",
            f"  mu    = {self.mu:.4f} (SE {self.se:.4f}), {pct} CI [{self.lower:.4f}, {self.upper:.4f}] ({test}), "
            f"p = {self.pvalue:.4g}",
            f"  tau^2 between clusters = {self.tau2:.4f}, within clusters = {self.tau2_within:.4f}",
            f"  I^2: {self.I2_between:.1f}% between, {self.I2_within:.1f}% within clusters",
            f"  QE = {self.QE:.2f} (df = {self.k - 1}), p = {self.QE_pvalue:.4g}"])


def log_likelihood(tau2, tau2_within, y, v, cluster_index, m, reml=True):
    """The (restricted) log likelihood of the three-level model, without its constant; and mu, P."""
    s, t, q, logdet_d = cluster_sums(y, v, tau2_within, cluster_index, m)
    c = 1 + tau2 * s
    P = np.sum(s / c)
    mu = np.sum(t / c) / P
    rss = np.sum(q - tau2 * t * t / c) - P * mu * mu
    ll = -0.5 * (logdet_d + np.sum(np.log(c)) + rss)
    return (ll - 0.5 * math.log(P) if reml else ll), mu, P


def three_level(data, method="REML", robust=False, level=0.95) -> ThreeLevelResult:
    """rma.mv(yi, vi, random = ~ 1 | cluster/effect, method) on `data` (which needs `cluster`), and with
    robust=True metafor's robust(fit, cluster) for mu."""
    if method not in METHODS:
        raise ValueError(f"the three-level model is fitted by REML or ML, not {method!r}")
    if data.cluster is None:
        raise DataError("a three-level model needs clusters: build the data with cluster='trial' (the column that "
                        "groups the effects of one trial)")
    y, v = np.asarray(data.y, float), np.asarray(data.vi, float)
    names, index = np.unique(data.cluster, return_inverse=True)
    m, k = len(names), len(y)
    if m < 2:
        raise DataError(f"a three-level model needs at least 2 clusters (the data have {m})")
    if m == k:
        warnings.warn(f"every cluster has one effect ({k} effects in {m} clusters): tau^2 and tau^2 within are not "
                      "separately identified; fit the random-effects model instead", EstimationWarning, skip_file_prefixes=PACKAGE_DIR)
    reml = method == "REML"
    scale = float(np.var(y)) + float(np.mean(v))
    centre = float(np.sum(y / v) / np.sum(1 / v))  # y centred: q - tau^2 t^2 / c loses no digits under y + c
    y = y - centre

    def negll(x):
        return -log_likelihood(x[0] * scale, x[1] * scale, y, v, index, m, reml)[0]

    best = None
    for start in ((0.1, 0.1), (0.5, 0.01), (0.01, 0.5), (1.0, 1.0)):
        res = optimize.minimize(negll, start, method="L-BFGS-B", bounds=[(0, None), (0, None)],
                                options=dict(ftol=1e-15, gtol=1e-12, maxiter=5000))
        if best is None or res.fun < best.fun:
            best = res
    tau2, tau2_w = (float(x) * scale for x in best.x)
    _, mu_c, P = log_likelihood(tau2, tau2_w, y, v, index, m, reml)
    s, t, _, _ = cluster_sums(y, v, tau2_w, index, m)
    mu = mu_c + centre
    if robust:
        score = (t - mu_c * s) / (1 + tau2 * s)
        se = math.sqrt(m / (m - 1) * np.sum(score**2)) / P
        if not se > 0:
            raise DataError("cluster-robust SE is 0: every cluster's effects equal the pooled estimate; report the "
                            "model-based result (robust=False)")
        dist = stats.t(m - 1)
    else:
        se = 1 / math.sqrt(P)
        dist = stats.norm()
    crit = dist.ppf(0.5 + level / 2)
    gls = 1 / (v + tau2_w) / (1 + tau2 * s[index])  # Sigma^-1 1 by Sherman-Morrison: each effect's weight
    w = 1 / v
    qe = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    s2 = typical_variance(v)
    total = tau2 + tau2_w + s2
    return ThreeLevelResult(
        k=k, clusters=m, method=method, mu=float(mu), se=float(se), lower=float(mu - crit * se),
        upper=float(mu + crit * se), pvalue=float(2 * dist.sf(abs(mu / se))), tau2=tau2, tau2_within=tau2_w,
        I2_between=100 * tau2 / total, I2_within=100 * tau2_w / total, QE=qe,
        QE_pvalue=float(stats.chi2.sf(qe, k - 1)), robust=robust, level=level, measure=data.measure,
        weights=pd.Series(100 * gls / gls.sum(), index=pd.Index(data.study, name="study"), name="weight_pct"))
