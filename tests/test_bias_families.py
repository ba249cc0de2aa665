"""bm.fit(bias="PET" | "PEESE" | "selection(...)"): the PET/PEESE family against weighted least squares (with
tau = 0 and flat priors the posterior of the coefficients is N(WLS estimate, (X'WX)^-1) exactly: tolerance 1e-9,
rounding), its quantities and errors; the selection family's data (p-value intervals) against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmeta as bm
from bayesmeta.families.bias import WeightFunction

Y = np.array([0.62, 0.45, 0.18, 0.35, 0.05, 0.71, 0.30])
SE = np.array([0.30, 0.22, 0.10, 0.18, 0.08, 0.35, 0.15])


def _data():
    return bm.EffectData.from_dataframe(pd.DataFrame(dict(y=Y, se=SE)), y="y", se="se")


@pytest.mark.parametrize("kind, x", [("PET", SE), ("PEESE", SE**2)])
def test_common_effect_pet_peese_is_weighted_least_squares(kind, x):
    fit = bm.fit(_data(), bias=kind, model="common")
    X = np.column_stack([np.ones_like(x), x])
    W = np.diag(1 / SE**2)
    cov = np.linalg.inv(X.T @ W @ X)
    beta = cov @ X.T @ W @ Y
    s = fit.summary()
    assert s.loc["mu", "mean"] == pytest.approx(beta[0], abs=1e-9)
    assert s.loc[kind, "mean"] == pytest.approx(beta[1], abs=1e-9)
    assert s.loc["mu", "sd"] == pytest.approx(np.sqrt(cov[0, 0]), abs=1e-9)
    assert fit.prob("mu < 0") == pytest.approx(stats.norm.cdf(0, beta[0], np.sqrt(cov[0, 0])), abs=1e-9)
    assert fit.prob(f"{kind} > 0") == pytest.approx(stats.norm.sf(0, beta[1], np.sqrt(cov[1, 1])), abs=1e-9)


def test_random_effects_pet_summary_rows_and_coefficients():
    fit = bm.fit(_data(), bias="PET", tau_prior="halfnormal(0.5)")
    assert list(fit.summary().index) == ["mu", "PET", "tau", "tau2", "I2", "theta_new"]
    assert list(fit.coefficients().index) == ["intercept", "se"]
    assert fit.coefficients().loc["intercept", "mean"] == pytest.approx(fit.summary().loc["mu", "mean"])
    assert fit.family.describe().startswith("PET bias model")


def test_bias_models_refuse_what_they_do_not_support():
    with pytest.raises(ValueError, match="bias models are built for the plain"):
        bm.fit(_data(), bias="PET", effects="t")
    with pytest.raises(ValueError, match="engine='mcmc'"):
        bm.fit(_data(), bias="selection(0.025, 0.05)")
    with pytest.raises(ValueError, match="bias must be"):
        bm.fit(_data(), bias="funnel")


def test_selection_intervals_match_p_values():
    wf = WeightFunction((0.025, 0.05, 0.5))
    p = stats.norm.sf(Y / SE)
    assert np.array_equal(wf.interval_index(Y, SE, 1), np.searchsorted([0.025, 0.05, 0.5], p, side="right"))
    p_low = stats.norm.cdf(Y / SE)  # benefit = "lower": small p for negative effects
    assert np.array_equal(wf.interval_index(Y, SE, -1), np.searchsorted([0.025, 0.05, 0.5], p_low, side="right"))
    two = WeightFunction((0.05, 0.1), two_sided=True)
    assert np.array_equal(two.interval_index(Y, SE, 1), np.searchsorted([0.05, 0.1], 2 * stats.norm.sf(np.abs(Y) / SE),
                                                                          side="right"))
    probs = wf.interval_probs(np.full(7, 0.2), np.sqrt(SE**2 + 0.01), wf.edges(SE))
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-14)
    s = np.sqrt(SE**2 + 0.01)
    assert probs[:, 0] == pytest.approx(stats.norm.sf(SE * stats.norm.isf(0.025), 0.2, s), abs=1e-14)


@pytest.mark.slow
def test_pet_on_mcmc_matches_the_exact_engine():
    """The same PET model through the family's blocks on PyMC: posterior means within 4 Monte Carlo SEs."""
    kwargs = dict(bias="PET", mu_prior="normal(0, 1)", beta_prior="normal(0, 5)", tau_prior="halfnormal(0.5)", seed=2)
    exact, mcmc = bm.fit(_data(), **kwargs), bm.fit(_data(), engine="mcmc", **kwargs)
    mcse = mcmc.diagnostics()["mcse_mean"]
    for name, row in (("mu", "beta[intercept]"), ("PET", "beta[se]")):
        assert mcmc.moments(name)[0] == pytest.approx(exact.moments(name)[0], abs=4 * float(mcse[row]))
    assert mcmc.moments("tau")[0] == pytest.approx(exact.moments("tau")[0], abs=4 * float(mcse["tau"]))
