"""Model checking: leave-one-out predictive accuracy (PSIS-LOO and exact), LOO-PIT, outlying studies,
power-scaling sensitivity, and model comparison, for any `Fit` (taken as an argument, duck-typed).

* `loo(fit)`: PSIS-LOO (Vehtari, Gelman & Gabry 2017) by arviz-stats on the DataTree's pointwise
  log-likelihood (per study, or per cluster where effects are dependent), with Pareto k; for models the batch
  kernel serves, also the exact leave-one-out predictive densities log p(y_i | y_-i) from exact refits
  (bayesmeta.robustness.leave_one_out).
* `outliers(fit)`: per study the posterior probability that its effect lies outside the 95% predictive
  interval of a new study's effect given the other studies, and its LOO-PIT P(y_i^rep <= y_i | y_-i).
* `power_scaling(fit)`: priorsense's diagnostic (Kallioinen et al. 2024): the cumulative Jensen-Shannon
  distance between the posterior and the posterior with the prior (or the likelihood) raised to a power
  alpha = 0.99, 1.01, as a derivative in log2 alpha; above 0.05 the posterior is sensitive to it. Exact for
  the exact engine's one-block models (the quadrature reweighted: p(tau)^a L_b(tau) at each node, beta | tau
  from the power-scaled Gaussian conditional), by arviz-stats `psense` on the draws otherwise.
* `compare_models({"normal": f1, "t": f2})`: arviz-stats `compare` (ELPD-LOO differences, stacking weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engines.exact import LinearKernel, prior_logpdf
from .families.base import Shrunken
from .numerics import mixture_cdf
from .robustness import CI, leave_one_out

THRESHOLD = 0.05
ALPHAS = (0.99, 1.01)


# --------------------------------------------------------------------------- LOO
@dataclass
class LOO:
    """Leave-one-out predictive accuracy: elpd (sum of log p(y_i | y_-i)), its se, p_loo (PSIS), the method
    ('exact' or 'PSIS'), `pointwise` (DataFrame per study or cluster: elpd_psis, pareto_k and, where exact,
    elpd_exact) and `psis` (the arviz-stats ELPDData, for compare)."""

    elpd: float
    se: float
    p_loo: float
    method: str
    pointwise: pd.DataFrame
    psis: object

    @property
    def pareto_k(self) -> np.ndarray:
        return self.pointwise["pareto_k"].to_numpy()

    @property
    def elpd_i(self) -> np.ndarray:
        """The pointwise elpd the total is the sum of (exact where `method` is 'exact')."""
        return self.pointwise["elpd_exact" if self.method == "exact" else "elpd_psis"].to_numpy()

    def __repr__(self):
        bad = int((self.pointwise["pareto_k"] > 0.7).sum())
        return (f"LOO ({self.method}): elpd {self.elpd:.3f} (se {self.se:.3f}), p_loo {self.p_loo:.2f}; "
                f"{bad} of {len(self.pointwise)} Pareto k above 0.7")


def psis_loo(fit):
    """arviz-stats PSIS-LOO on the fit's DataTree (pointwise)."""
    from arviz_stats import loo as az_loo

    return az_loo(fit.idata, pointwise=True, var_name="y")


def loo(fit) -> LOO:
    """PSIS-LOO with Pareto k, and for models the batch kernel serves the exact leave-one-out predictive
    densities (then `method` is 'exact' and elpd is their sum)."""
    psis = psis_loo(fit)
    dim = psis.elpd_i.dims[0]
    table = pd.DataFrame({"elpd_psis": psis.elpd_i.values, "pareto_k": psis.pareto_k.values},
                         index=pd.Index([str(c) for c in psis.elpd_i[dim].values], name=dim))
    elpd, se, method = float(psis.elpd), float(psis.se), "PSIS"
    if fit.family.batchable():
        exact = leave_one_out(fit)["loo_lpd"].to_numpy()
        table.insert(0, "elpd_exact", exact)
        elpd, se, method = float(exact.sum()), float(math.sqrt(len(exact) * np.var(exact))), "exact"
    return LOO(elpd, se, float(psis.p), method, table, psis)


def compare_models(fits: dict, **kwargs) -> pd.DataFrame:
    """arviz-stats `compare` of fits to the same studies, by name: rank, elpd, p, elpd_diff, weight, se, dse,
    warning (ArviZ's format); keyword arguments go to `arviz_stats.compare`."""
    from arviz_stats import compare

    if not isinstance(fits, dict) or len(fits) < 2:
        raise ValueError("compare_models takes a dict of at least two fits by name, e.g. {'normal': f1, 't': f2}")
    for name, f in fits.items():
        if not hasattr(f, "idata") or not hasattr(f, "data"):
            raise ValueError(f"compare_models: {name!r} is not a fit (bm.fit(...)) but {type(f).__name__}")
    dims = {name: psis_loo(f) for name, f in fits.items()}
    shapes = {name: int(d.n_data_points) for name, d in dims.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"compare_models needs the same observations in every model; pointwise log-likelihoods "
                         f"have {shapes} points (a three-level fit is scored per cluster)")
    return compare(dims, **kwargs)


def outliers(fit, ci: float = CI, loo_table=None) -> pd.DataFrame:
    """Per study: y, se, pred_lower and pred_upper (the `ci` predictive interval of a new study's effect from the
    other studies), p_outlier = P(theta_i outside it | all studies) (from the fit's shrunken effect), loo_pit
    and loo_lpd (from `loo_table`, default `robustness.leave_one_out(fit, ci)`)."""
    loo_table = leave_one_out(fit, ci=ci) if loo_table is None else loo_table
    lo, hi = loo_table["theta_new_lower"].to_numpy(), loo_table["theta_new_upper"].to_numpy()
    p = [fit.backend.cdf(Shrunken(i), lo[i]) + 1 - fit.backend.cdf(Shrunken(i), hi[i]) for i in range(fit.data.k)]
    out = pd.DataFrame({"y": fit.data.y, "se": fit.data.se, "pred_lower": lo, "pred_upper": hi,
                        "p_outlier": np.clip(p, 0, 1), "loo_pit": loo_table["loo_pit"].to_numpy(),
                        "loo_lpd": loo_table["loo_lpd"].to_numpy()}, index=loo_table.index.rename("study"))
    out.attrs["interval"] = f"{ci:.0%} predictive interval of a new study's effect, from the other studies"
    return out


# --------------------------------------------------------------------------- power-scaling
def cjs_distance(P, Q, x) -> float:
    """Cumulative Jensen-Shannon distance of two CDFs P, Q tabulated on the grid x (Nguyen & Vreeken 2015, as
    arviz-stats `_cjs_dist` computes it from ECDFs), by the trapezoidal rule."""
    def integral(f):
        return float(np.sum((f[1:] + f[:-1]) / 2 * np.diff(x)))

    with np.errstate(divide="ignore", invalid="ignore"):
        mid = np.log2((P + Q) / 2)
        pq = integral(np.where(P > 0, P * (np.log2(P) - mid), 0.0)) + 0.5 / math.log(2) * (integral(Q) - integral(P))
        qp = integral(np.where(Q > 0, Q * (np.log2(Q) - mid), 0.0)) + 0.5 / math.log(2) * (integral(P) - integral(Q))
    return math.sqrt((max(pq, 0.0) + max(qp, 0.0)) / (integral(P) + integral(Q)))


def sensitivity_value(P, scaled, x, alphas=ALPHAS) -> float:
    """priorsense's diagnostic from the CDF P and the power-scaled CDFs {alpha: Q} on grid x: the mean of
    CJS(alpha) / |log2 alpha| over the two alphas, each CJS the larger of the distances of x and -x."""
    grads = []
    for alpha in alphas:
        Q = scaled[alpha]
        d = max(cjs_distance(P, Q, x), cjs_distance(1 - P[::-1], 1 - Q[::-1], -x[::-1]))
        grads.append(d / abs(math.log2(alpha)))
    return float(np.mean(grads))


class _Scaled:
    """The exact posterior of a one-block model with the prior raised to `a` and the likelihood to `b`, on the
    nodes of the base quadrature `fac`: node weights and beta | tau (b, cov), and tau's density ratio."""

    def __init__(self, fac, a, b):
        kern = fac.kernel
        self.fac, self.a = fac, a
        self.kernel = LinearKernel(kern.y, kern.v, kern.X, kern.m0, a * kern.p0, power=b)
        self.b, self.cov, ll = self.kernel.conditional(fac.tau)
        log_r = self._log_ratio(fac.tau, ll)
        w = fac.weight * np.exp(log_r - np.max(log_r[fac.weight > 0]))
        self.norm = float(np.sum(w)) * math.exp(np.max(log_r[fac.weight > 0]))
        self.weight = w / np.sum(w)

    def _log_ratio(self, tau, ll_scaled):
        """log of p(tau)^(a - 1) L_ab(tau) / L(tau) (up to a constant)."""
        fac = self.fac
        t = np.maximum(tau, getattr(fac, "tau_lo", 0.0))
        base = fac.kernel.conditional(tau)[2]
        prior = (self.a - 1) * prior_logpdf(fac.tau_prior, t) if self.a != 1 and fac.tau_prior else 0.0
        return prior + ll_scaled - base

    def tau_density_ratio(self, tau):
        """p_ab(tau | y) / p(tau | y) at tau (array)."""
        return np.exp(self._log_ratio(tau, self.kernel.conditional(tau)[2])) / self.norm


def _tau_cdfs(fac, scaled, x):
    """CDF of tau (base, and each power-scaled posterior) on the grid x (increasing, > 0): the mass below the
    quadrature's lower limit tau_lo (node 0) plus the density integrated by the trapezoidal rule in log tau from
    there (x below tau_lo get the mass below it)."""
    lo = fac.tau_lo
    u = np.log(np.unique(np.concatenate([np.geomspace(lo, max(x[0], lo * 1.01), 400), x[x > lo]])))
    t = np.exp(u)
    dens = fac.tau_pdf(t) * t
    out = []
    for s in [None, *scaled]:
        f = dens if s is None else dens * s.tau_density_ratio(t)
        tail = (fac if s is None else s).weight[0]
        cdf = tail + np.concatenate([[0.0], np.cumsum((f[1:] + f[:-1]) / 2 * np.diff(u))])
        out.append(np.clip(np.interp(np.log(x), u, cdf, left=tail), 0, 1))
    return out


def _exact_power_scaling(fit, n_grid=4000) -> pd.DataFrame:
    """Exact sensitivities of the coefficients and tau (rows) to the prior and the likelihood (columns)."""
    fac = fit.backend.factors[0]
    fam = fit.family
    S = int(np.prod(fit.backend.shape))  # the grid spans the range of as many draws, as priorsense's ECDFs
    rows = {}
    for component in ("prior", "likelihood"):
        scaled = [_Scaled(fac, *((a, 1.0) if component == "prior" else (1.0, a))) for a in ALPHAS]
        for j, name in enumerate(fam.coefficient_rows()):
            lo, hi = fit.ppf(name, [1 / S, 1 - 1 / S])
            x = np.linspace(lo, hi, n_grid)
            P = mixture_cdf(x, fac.weight, fac.b[:, j], np.sqrt(fac.cov[:, j, j]))
            Qs = {a: mixture_cdf(x, s.weight, s.b[:, j], np.sqrt(s.cov[:, j, j])) for a, s in zip(ALPHAS, scaled)}
            rows.setdefault(name, {})[component] = sensitivity_value(P, Qs, x)
        if fam.random:
            lo, hi = fit.ppf("tau", [1 / S, 1 - 1 / S])
            x = np.geomspace(max(lo, 1e-12), hi, n_grid)
            P, *Qs = _tau_cdfs(fac, scaled, x)
            rows.setdefault("tau", {})[component] = sensitivity_value(P, dict(zip(ALPHAS, Qs)), x)
    return pd.DataFrame.from_dict(rows, orient="index")


def _diagnosis(prior, likelihood, threshold=THRESHOLD) -> str:
    """priorsense's reading of one parameter's two sensitivities."""
    if prior >= threshold and likelihood >= threshold:
        return "prior-data conflict"
    if prior > threshold > likelihood:
        return "strong prior / weak likelihood"
    return "-"


def power_scaling(fit, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Prior and likelihood power-scaling sensitivity per parameter (rows: the coefficients, tau and any other
    heterogeneity parameter), columns prior, likelihood, diagnosis; attrs['method'] ('exact' or 'psense') and
    attrs['verdict'] (one sentence). Exact for the exact engine's one-block models, else arviz-stats on the
    posterior draws (the log_prior and log_likelihood groups of the DataTree)."""
    factors = getattr(fit.backend, "factors", [])
    if len(factors) == 1 and isinstance(getattr(factors[0], "kernel", None), LinearKernel):  # one tau, Gaussian
        table, method = _exact_power_scaling(fit), "exact"
    else:
        from arviz_stats import psense_summary

        names = [fit.family.coef_name, *[h for h in fit.family.hyper_names() if h in fit.idata.posterior]]
        table = psense_summary(fit.idata, var_names=names, threshold=threshold, round_to=12)
        table = table[["prior", "likelihood"]].astype(float)
        method = "psense"
    table["diagnosis"] = [_diagnosis(p, lik, threshold) for p, lik in zip(table["prior"], table["likelihood"])]
    table.index.name = "parameter"
    table.attrs.update(method=method, verdict=verdict(table, threshold))
    return table


def verdict(table, threshold=THRESHOLD) -> str:
    """The power-scaling result in words (priorsense's reading, per parameter)."""
    conflict = [p for p, d in table["diagnosis"].items() if d == "prior-data conflict"]
    weak = [p for p, d in table["diagnosis"].items() if d == "strong prior / weak likelihood"]
    parts = []
    if conflict:
        parts.append(f"Possible prior-data conflict for {', '.join(conflict)}: the posterior moves when either the "
                     f"prior or the likelihood is power-scaled (sensitivity >= {threshold:g}); check the prior "
                     "against the data.")
    if weak:
        parts.append(f"The prior dominates for {', '.join(weak)}: the posterior is sensitive to the prior (> "
                     f"{threshold:g}) but hardly to the likelihood, so the data say little about it (a weak "
                     "likelihood).")
    return " ".join(parts) or (f"Neither prior-data conflict nor a dominating prior: power-scaling the prior moves "
                               f"no parameter's posterior by more than {threshold:g}.")


__all__ = ["LOO", "compare_models", "loo", "outliers", "power_scaling"]
