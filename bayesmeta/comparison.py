"""The Bayesian fit beside its frequentist twins, and a Bayesian reading of a published pooled estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import pandas as pd

from .effects import benefit_sign
from .frequentist_methods import as_results
from .priors import MuPrior, mu_prior

INTERVALS = {"hksj": "Knapp-Hartung t", "robust": "cluster-robust t"}  # by a frequentist result's `ci`
COLUMNS = ["estimate", "lower", "upper", "interval", "tau", "tau2", "tau2_lower", "tau2_upper", "I2", "pi_lower",
           "pi_upper"]


def compare(fit, freq, ci: float = 0.95) -> pd.DataFrame:
    """One row per analysis (the Bayesian fit, then each frequentist result): pooled estimate with its
    interval (credible or confidence, named in `interval`), tau, tau^2 with its interval, I^2 and the
    prediction (Bayesian: predictive) interval. Bayesian point estimates are posterior medians of mu,
    tau and tau^2 (posterior means for I^2 are in fit.summary())."""
    results = as_results(freq)
    if fit.family.coefficient_rows() != ["mu"]:
        return compare_coefficients(fit, results, ci)
    s = fit.summary(ci=ci).reindex(["mu", "tau", "tau2", "I2", "theta_new"])  # NaN (shown NA) where a model has none
    tau = f"tau ~ {fit.spec.tau_prior}" if fit.family.random else "common effect, tau = 0"
    rows = {f"Bayesian ({fit.engine}; {tau}, mu ~ {fit.spec.mu_prior})": dict(
        estimate=s.loc["mu", "median"], lower=s.loc["mu", "lower"], upper=s.loc["mu", "upper"],
        interval=f"{ci:.0%} credible (equal-tailed)", tau=s.loc["tau", "median"], tau2=s.loc["tau2", "median"],
        tau2_lower=s.loc["tau2", "lower"], tau2_upper=s.loc["tau2", "upper"], I2=s.loc["I2", "median"],
        pi_lower=s.loc["theta_new", "lower"], pi_upper=s.loc["theta_new", "upper"])}
    for r in results:
        kind = INTERVALS.get(r.ci, "Wald z")
        rows[r.label] = dict(estimate=r.mu, lower=r.lower, upper=r.upper, interval=f"{r.level:.0%} confidence ({kind})",
                             **{c: getattr(r, c, math.nan) for c in COLUMNS[4:]})  # NA where a model has none
    return pd.DataFrame.from_dict(rows, orient="index")[COLUMNS].rename_axis("analysis")


def compare_coefficients(fit, freq, ci: float = 0.95) -> pd.DataFrame:
    """Subgroup means or meta-regression coefficients side by side: one row per parameter and analysis with
    the estimate (Bayesian: posterior median) and its interval; frequentist subgroup results give their
    per-subgroup pooled estimates, meta-regressions their coefficients."""
    coef = fit.coefficients(ci=ci)
    name = f"Bayesian ({fit.engine}; {'tau ~ ' + str(fit.spec.tau_prior) if fit.family.random else 'tau = 0'})"
    rows = [dict(parameter=t, analysis=name, estimate=r["median"], lower=r["lower"], upper=r["upper"],
                 interval=f"{ci:.0%} credible (equal-tailed)") for t, r in coef.iterrows()]
    for res in as_results(freq):
        table = (res.subgroups.rename(columns={"mu": "estimate"}) if res.subgroups is not None
                 else res.coefficients)
        kind = INTERVALS.get(res.ci, "Wald z")
        for term in coef.index:
            if table is not None and term in table.index:
                r = table.loc[term]
                rows.append(dict(parameter=term, analysis=res.label, estimate=r["estimate"], lower=r["lower"],
                                 upper=r["upper"], interval=f"{res.level:.0%} confidence ({kind})"))
    return pd.DataFrame(rows).set_index(["parameter", "analysis"])


@dataclass(frozen=True)
class PooledEstimate:
    """Posterior of mu from a published pooled estimate: likelihood N(estimate, se^2), prior on mu normal
    (or flat), so the posterior is normal: precision 1/se^2 + 1/s0^2, mean weighted accordingly."""

    estimate: float
    se: float
    prior: MuPrior
    post_mean: float
    post_sd: float

    def prob(self, expression: str) -> float:
        """P(mu < c), P(mu <= c), P(mu > c) or P(mu >= c)."""
        import re

        m = re.fullmatch(r"\s*mu\s*(<=|>=|<|>)\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*", expression)
        if not m:
            raise ValueError(f"cannot read {expression!r}: write e.g. 'mu < 0' or 'mu <= -0.2'")
        below = NormalDist(self.post_mean, self.post_sd).cdf(float(m.group(2)))
        return below if m.group(1) in ("<", "<=") else 1 - below

    def interval(self, ci: float = 0.95) -> tuple[float, float]:
        z = NormalDist().inv_cdf(0.5 + ci / 2)
        return self.post_mean - z * self.post_sd, self.post_mean + z * self.post_sd


def from_estimate(estimate: float, lower: float, upper: float, level: float = 0.95, prior="flat") -> PooledEstimate:
    """A Bayesian reading of a pooled estimate published with its CI: se = (upper - lower) / (2 z),
    posterior of mu under `prior` ("flat", "normal(m, s)" or a MuPrior); see `reference_priors`."""
    if not lower < estimate < upper:
        raise ValueError(f"the interval [{lower}, {upper}] does not contain the estimate {estimate}")
    se = (upper - lower) / (2 * NormalDist().inv_cdf(0.5 + level / 2))
    p = mu_prior(prior)
    if p.kind == "flat":
        return PooledEstimate(estimate, se, p, estimate, se)
    if p.kind != "normal":
        raise ValueError("from_estimate takes a flat or normal prior on mu")
    precision = 1 / se**2 + 1 / p.s**2
    mean = (estimate / se**2 + p.m / p.s**2) / precision
    return PooledEstimate(estimate, se, p, mean, math.sqrt(1 / precision))


def reference_priors(important: float, benefit: str = "lower") -> dict[str, MuPrior]:
    """Spiegelhalter's reference priors for a clinically important effect `important` (> 0, on the
    benefit side): sceptical N(0, s) with P(benefit beyond the important effect) = 5%; enthusiastic
    N(delta, s) with P(harm) = 5%; s = important / 1.645 (Spiegelhalter, Abrams, Myles 2004, sec. 5.5);
    neutral = flat."""
    if not important > 0:
        raise ValueError("give the clinically important effect as a positive size, e.g. 0.2")
    delta = benefit_sign(benefit) * important
    s = important / NormalDist().inv_cdf(0.95)
    return {"sceptical": MuPrior("normal", 0.0, s), "neutral": MuPrior("flat"),
            "enthusiastic": MuPrior("normal", delta, s)}
