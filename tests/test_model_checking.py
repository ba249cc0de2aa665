"""Model checking (bayesmeta.model_checking): pointwise log-likelihood in the DataTree, exact and PSIS
leave-one-out, LOO-PIT and outlier probabilities, power-scaling sensitivity against arviz-stats, comparison."""

import logging

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmeta as bm

logging.getLogger("arviz_stats").setLevel(logging.ERROR)  # psense_summary logs a warning on flagged rows


def test_log_likelihood_group_is_the_marginal_density_of_each_study(clbp_fit, clbp):
    tree = clbp_fit.idata
    ll = tree["log_likelihood"]["y"].values.reshape(-1, clbp.k)
    mu = tree.posterior["mu"].values.ravel()
    tau = tree.posterior["tau"].values.ravel()
    want = stats.norm.logpdf(clbp.y, mu[:, None], np.sqrt(clbp.se**2 + tau[:, None] ** 2))
    assert np.allclose(ll, want, rtol=1e-12, atol=1e-12)
    lp = tree["log_prior"]["tau"].values.ravel()
    assert np.allclose(lp, stats.halfnorm.logpdf(tau, scale=0.5), rtol=1e-12)


def test_three_level_log_likelihood_is_per_cluster_and_joint():
    df = pd.DataFrame({"y": [0.1, 0.3, -0.2, 0.4, 0.0, 0.25], "se": [0.2, 0.25, 0.3, 0.2, 0.15, 0.3],
                       "trial": ["a", "a", "b", "b", "b", "c"], "es": list("uvwxyz")})
    d = bm.EffectData.from_dataframe(df, y="y", se="se", study="es", cluster="trial")
    f = bm.fit(d, model="three-level", tau_prior="halfnormal(0.5)", seed=1, draws=20, chains=1)
    tree = f.idata
    ll = tree["log_likelihood"]["y"]
    assert ll.dims[-1] == "cluster" and list(ll["cluster"].values) == ["a", "b", "c"]
    mu, tau = tree.posterior["mu"].values.ravel(), tree.posterior["tau"].values.ravel()
    tw = tree.posterior["tau_within"].values.ravel()
    s = 7
    rows = np.flatnonzero(df["trial"] == "b")
    cov = np.diag(d.se[rows] ** 2 + tw[s] ** 2) + tau[s] ** 2
    want = stats.multivariate_normal.logpdf(d.y[rows], np.full(len(rows), mu[s]), cov)
    assert ll.values.reshape(-1, 3)[s, 1] == pytest.approx(want, rel=1e-12)


def test_exact_loo_densities_are_ratios_of_marginal_likelihoods(clbp_fit, clbp):
    """log p(y_i | y_-i) = log m(y) - log m(y_-i): the exact engine's evidences of separate fits (a proper tau
    prior, and the flat prior on mu is the same constant density in both) against the predictive mixture."""
    result = clbp_fit.loo()
    assert result.method == "exact"
    for i in (0, 4, 7):
        rest = bm.fit(clbp.subset(np.arange(clbp.k) != i), tau_prior="halfnormal(0.5)")
        want = clbp_fit.backend.log_evidence - rest.backend.log_evidence
        assert result.pointwise["elpd_exact"].iloc[i] == pytest.approx(want, abs=1e-8)
    assert result.elpd == pytest.approx(result.pointwise["elpd_exact"].sum())
    # PSIS-LOO on 4000 draws approximates the exact values (all Pareto k < 0.7 here): within 0.05 per study
    assert (result.pointwise["pareto_k"] < 0.7).all()
    assert np.allclose(result.pointwise["elpd_psis"], result.pointwise["elpd_exact"], atol=0.05)


def test_loo_pit_and_outlier_probabilities_against_monte_carlo(clbp_fit, clbp):
    """LOO-PIT = P(y_rep <= y_i | y_-i) and P(theta_i outside the others' 95% predictive interval | y), from
    200,000 i.i.d. draws of separate fits: Monte Carlo SE below 0.0012, tolerance 0.005."""
    table = clbp_fit.outliers()
    big = bm.fit(clbp, tau_prior="halfnormal(0.5)", seed=9, draws=50_000)
    rng = np.random.default_rng(4)
    for i in (4, 7):
        rest = bm.fit(clbp.subset(np.arange(clbp.k) != i), tau_prior="halfnormal(0.5)", seed=5, draws=50_000)
        y_rep = rest.draws("theta_new") + rng.normal(0, clbp.se[i], 200_000)
        assert table["loo_pit"].iloc[i] == pytest.approx(np.mean(y_rep <= clbp.y[i]), abs=0.005)
        lo, hi = np.quantile(rest.draws("theta_new"), [0.025, 0.975])
        assert table["pred_lower"].iloc[i] == pytest.approx(lo, abs=0.01)
        theta = big.draws(f"theta[{i + 1}]")
        assert table["p_outlier"].iloc[i] == pytest.approx(np.mean((theta < lo) | (theta > hi)), abs=0.005)


@pytest.mark.parametrize("tau_prior, mu_prior", [("halfnormal(0.5)", "flat"), ("halfnormal(0.1)", "normal(0, 0.2)")])
def test_exact_power_scaling_agrees_with_arviz_psense(clbp, tau_prior, mu_prior):
    """The exact sensitivities against arviz-stats `psense` on 20,000 i.i.d. draws of the same posterior (with
    the DataTree's log_prior and log_likelihood). Over 6 seeds the psense values scatter with SD <= 0.006
    around the exact ones; tolerance 0.025 (4 SD)."""
    from arviz_stats import psense_summary

    f = bm.fit(clbp, tau_prior=tau_prior, mu_prior=mu_prior, seed=1, draws=5000)
    exact = f.power_scaling()
    assert exact.attrs["method"] == "exact"
    draws = psense_summary(f.idata, var_names=["mu", "tau"], round_to=12)
    for component in ("prior", "likelihood"):
        assert np.allclose(exact.loc[["mu", "tau"], component], draws.loc[["mu", "tau"], component], atol=0.025)


def test_power_scaling_verdict_in_words(clbp):
    strong = bm.fit(clbp, tau_prior="halfnormal(0.1)", mu_prior="normal(0.5, 0.1)", seed=1).power_scaling()
    assert strong.loc["mu", "diagnosis"] == "prior-data conflict"
    assert "prior-data conflict for mu" in strong.attrs["verdict"]
    plain = bm.fit(clbp, tau_prior="halfnormal(0.5)", seed=1).power_scaling()
    assert (plain["diagnosis"] == "-").all() and plain.attrs["verdict"].startswith("Neither")


def test_power_scaling_by_psense_where_the_posterior_is_not_one_quadrature(clbp):
    """Subgroups with their own tau: two quadratures, so arviz-stats psense on the draws."""
    f = bm.fit(clbp, subgroup="device", subgroup_tau="separate", tau_prior="halfnormal(0.5)", seed=1)
    table = f.power_scaling()
    assert table.attrs["method"] == "psense" and {"prior", "likelihood", "diagnosis"} <= set(table.columns)


def test_compare_models_in_arviz_format(clbp_fit, clbp):
    common = bm.fit(clbp, model="common", seed=2)
    table = bm.compare_models({"random": clbp_fit, "common": common})
    assert set(table.index) == {"random", "common"}
    assert {"rank", "elpd", "elpd_diff", "weight", "se", "dse"} <= set(table.columns)
    with pytest.raises(ValueError, match="at least two fits"):
        bm.compare_models({"random": clbp_fit})


@pytest.mark.slow
def test_mcmc_power_scaling_loo_and_comparison_with_t_effects(clbp):
    """On MCMC draws power-scaling goes through arviz-stats psense (log_prior and log_likelihood groups of the
    sampler's DataTree) and agrees with the exact values within Monte Carlo error (4,000 NUTS draws: about
    twice the i.i.d. scatter, tolerance 0.05); PSIS-LOO and compare work on the Student-t model too."""
    exact = bm.fit(clbp, tau_prior="halfnormal(0.5)", seed=1).power_scaling()
    normal = bm.fit(clbp, tau_prior="halfnormal(0.5)", engine="mcmc", seed=1)
    table = normal.power_scaling()
    assert table.attrs["method"] == "psense"
    for component in ("prior", "likelihood"):
        assert np.allclose(table.loc[["mu", "tau"], component], exact.loc[["mu", "tau"], component], atol=0.05)
    t = bm.fit(clbp, tau_prior="halfnormal(0.5)", effects="t", engine="mcmc", seed=1)
    assert t.loo().method == "PSIS"
    assert set(t.power_scaling().index) >= {"mu", "tau", "nu"}
    assert set(bm.compare_models({"normal": normal, "t": t}).index) == {"normal", "t"}
