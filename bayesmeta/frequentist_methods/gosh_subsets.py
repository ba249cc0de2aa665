"""GOSH (graphical display of study heterogeneity; Olkin, Dahabreh & Trikalinos 2012), as metafor's `gosh()`:
the model fitted to every subset of the studies (all 2^k - 1 when there are at most `max_subsets`, otherwise a
random sample drawn as metafor draws it: a size m with probability proportional to Binomial(k, 1/2) at m >= 1,
then m distinct studies), vectorised over subsets with numpy.

Per subset S (weights w_i = 1/v_i, sums over i in S, k_S studies): Q = sum w (y - mu_FE)^2;
  FE   tau^2 = 0, I^2 = max(0, (Q - (k_S - 1)) / Q), H^2 = Q / (k_S - 1)
  DL   tau^2 = max(0, (Q - (k_S - 1)) / (sum w - sum w^2 / sum w));  HE, HS, SJ: their closed forms (tau2.py)
  ML, REML, EB: metafor's Fisher scoring from the HE value with step halving at 0, stopping when the change is
  below 1e-5 (metafor's threshold), all subsets at once; subsets where it does not converge in `maxiter`
  steps get NaN (metafor's fit fails there and gosh() records NA)
and for random-effects methods mu = sum w* y / sum w*, w* = 1/(v + tau^2), I^2 = tau^2 / (tau^2 + s^2),
H^2 = (tau^2 + s^2) / s^2 with s^2 = (k_S - 1) sum w / ((sum w)^2 - sum w^2), except that for DL, as metafor's
gosh() (its fast path), H^2 = Q / (k_S - 1) also where tau^2 = 0 (below 1 there; rma() would give 1). Subsets of one study: tau^2 = 0,
Q = 0, I^2 = 0, H^2 = 1 (as metafor). Random subsets are drawn in random order; all subsets are listed by size
(metafor's order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..effects import EffectData
from ..errors import DataError
from .rma import _inputs
from .small_study import check_choice

GOSH_METHODS = ("FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB")
_CHUNK = 65536  # subsets per batch (memory: CHUNK x k floats per array)


@dataclass
class GoshResult:
    """`results`: one row per subset (k, mu, tau2, I2, H2, Q; also g["mu"]); `incl`: boolean membership, one
    column per study (same row order)."""

    results: pd.DataFrame
    incl: pd.DataFrame
    method: str
    exact: bool

    def __getitem__(self, column):  # g["mu"] is g.results["mu"]
        return self.results[column]

    def __len__(self):
        return len(self.results)

    def __repr__(self):
        how = "all" if self.exact else "a random sample of"
        return (f"GOSH ({self.method}): {how} {len(self.results)} subsets of {self.incl.shape[1]} studies\n"
                f"{self.results.describe().loc[['mean', 'min', 'max']].to_string()}")


MAX_CELLS = 10**8  # subsets x studies a GOSH may hold at once (metafor's default 1e6 subsets of up to 100 studies)


def subset_count(k: int, max_subsets, seed=None, minimum: int = 2) -> int:
    """How many subsets a GOSH of k studies fits: all 2^k - 1, or max_subsets random ones. DataError naming the
    argument for a max_subsets that is not a whole number >= minimum, for more subsets than fit in memory
    (MAX_CELLS subset-study cells), or for a seed that is not a whole number."""
    if isinstance(max_subsets, bool) or not isinstance(max_subsets, (int, np.integer)) or max_subsets < minimum:
        raise DataError(f"max_subsets must be a whole number >= {minimum}, not {max_subsets!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise DataError(f"seed must be a whole number >= 0 or None, not {seed!r}")
    n = min(2**k - 1, int(max_subsets))
    if n * k > MAX_CELLS:
        raise DataError(f"max_subsets={max_subsets}: {n} subsets of {k} studies would not fit in memory; give at "
                        f"most max_subsets={MAX_CELLS // k} (metafor's default is 1e6, a random sample)")
    return n


def all_subsets(k: int) -> np.ndarray:
    """Every non-empty subset in metafor's order: by size, and within a size as expand.grid lists them (the
    first study varies fastest)."""
    codes = np.arange(1, 2**k, dtype=np.int64)
    incl = ((codes[:, None] >> np.arange(k)) & 1).astype(bool)
    return incl[np.argsort(incl.sum(1), kind="stable")]


def random_subsets(k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n random subsets as metafor draws them (size m >= 1 with probability ~ Binomial(k, 1/2), then m studies)."""
    from scipy import stats

    sizes = np.arange(1, k + 1)
    prob = stats.binom.pmf(sizes, k, 0.5)
    m = rng.choice(sizes, size=n, p=prob / prob.sum())
    keys = rng.random((n, k))
    ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
    return ranks < m[:, None]


def _tau2(y, v, M, method, threshold, maxiter):
    """tau^2 per subset (rows of the 0/1 matrix M), vectorised (module docstring)."""
    w = M / v
    kS = M.sum(1)
    sw, sw2 = w.sum(1), (w**2).sum(1)
    mu_fe = (w @ y) / sw
    Q = np.einsum("ij,ij->i", w, (y[None, :] - mu_fe[:, None]) ** 2)
    if method == "FE":
        return np.zeros(len(M)), Q
    df = np.maximum(kS - 1, 1)
    ybar = (M @ y) / kS
    rss = np.einsum("ij,ij->i", M, (y[None, :] - ybar[:, None]) ** 2)
    if method == "DL":
        tau2 = (Q - (kS - 1)) / np.where(kS > 1, sw - sw2 / sw, 1.0)
    elif method == "HS":
        tau2 = (Q - kS) / sw
    elif method == "SJ":
        tau0 = rss / kS
        wt = M / (v + tau0[:, None])
        mt = (wt @ y) / wt.sum(1)
        tau2 = tau0 * np.einsum("ij,ij->i", wt, (y[None, :] - mt[:, None]) ** 2) / df
    else:
        tau2 = (rss - (M @ v) * (1 - 1 / kS)) / df  # HE
        if method in ("ML", "REML", "EB"):
            tau2 = _fisher(y, v, M, method, np.maximum(tau2, 0.0), threshold, maxiter)
    return np.where(kS > 1, np.where(np.isnan(tau2), np.nan, np.maximum(tau2, 0.0)), 0.0), Q


def _fisher(y, v, M, method, tau2, threshold, maxiter):
    """metafor's Fisher scoring for ML, REML (and the EB iteration) on all subsets at once."""
    kS = M.sum(1)
    active = kS > 1
    for _ in range(maxiter):
        if not active.any():
            return tau2
        Ma, t = M[active], tau2[active]
        w = Ma / (v[None, :] + t[:, None])
        sw, sw2 = w.sum(1), (w**2).sum(1)
        r = y[None, :] - ((w @ y) / sw)[:, None]
        if method == "ML":
            adj = (np.sum((w * r) ** 2, 1) - sw) / sw2
        elif method == "REML":
            tr_p = sw - sw2 / sw
            tr_pp = sw2 - 2 * (w**3).sum(1) / sw + sw2**2 / sw**2
            adj = (np.sum((w * r) ** 2, 1) - tr_p) / tr_pp
        else:  # EB
            k = kS[active]
            adj = (np.einsum("ij,ij->i", w, r**2) * k / (k - 1) - k) / sw
        for _ in range(200):  # step halving at 0
            neg = t + adj < 0
            if not neg.any():
                break
            adj = np.where(neg, adj / 2, adj)
        tau2[active] = t + adj
        idx = np.flatnonzero(active)
        active[idx[np.abs(adj) <= threshold]] = False
    tau2[active] = np.nan  # not converged: no fit for these subsets (metafor leaves them NA too)
    return tau2


def _summaries(y, v, M, method, threshold, maxiter):
    tau2, Q = _tau2(y, v, M, method, threshold, maxiter)
    kS = M.sum(1)
    w = M / v
    sw, sw2 = w.sum(1), (w**2).sum(1)
    ws = M / (v[None, :] + tau2[:, None])
    mu = (ws @ y) / ws.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method in ("FE", "DL"):  # metafor's fast path for both; equal to the tau^2 form for DL when tau^2 > 0
            I2 = np.where(Q > 0, np.maximum(0.0, 100 * (Q - (kS - 1)) / Q), 0.0)
            H2 = Q / (kS - 1)
        else:
            s2 = (kS - 1) * sw / (sw**2 - sw2)
            I2, H2 = 100 * tau2 / (tau2 + s2), (tau2 + s2) / s2
    single, failed = kS == 1, np.isnan(tau2)
    I2, H2, Q = np.where(single, 0.0, I2), np.where(single, 1.0, H2), np.where(single, 0.0, Q)
    Q = np.where(failed, np.nan, Q)
    return dict(k=kS, mu=mu, tau2=tau2, I2=I2, H2=H2, Q=Q)


def gosh(data: EffectData, max_subsets: int = 10**6, method: str = "REML", seed=None, threshold: float = 1e-5,
         maxiter: int = 100) -> GoshResult:
    """metafor `gosh(rma(yi, vi, method=method), subsets=max_subsets)`: every subset when 2^k - 1 <=
    max_subsets, else max_subsets random ones (seeded by `seed`); see the module docstring."""
    check_choice("gosh: method", method, GOSH_METHODS)
    y, se = _inputs(data)
    k, v = len(y), se**2
    if k < 2:
        raise DataError(f"gosh needs at least 2 studies (k = {k})")
    subset_count(k, max_subsets, seed)
    exact = k < 63 and 2**k - 1 <= max_subsets
    incl = all_subsets(k) if exact else random_subsets(k, int(max_subsets), np.random.default_rng(seed))
    parts = [_summaries(y, v, incl[i:i + _CHUNK].astype(float), method, threshold, maxiter)
             for i in range(0, len(incl), _CHUNK)]
    results = pd.DataFrame({c: np.concatenate([p[c] for p in parts]) for c in parts[0]})
    results["k"] = results["k"].astype(int)
    return GoshResult(results=results, incl=pd.DataFrame(incl, columns=list(data.study)), method=method,
                      exact=exact)
