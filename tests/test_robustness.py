"""Bayesian robustness analyses (bayesmeta.robustness): every refit checked against a separate `bm.fit` of the
same studies and priors. Tolerance 1e-8: the batch kernel and the single engine integrate the same posterior
with different quadrature rules, each accurate to about 1e-10 (the batch module's own check is 1e-7; in
practice 1e-10)."""

import numpy as np
import pandas as pd
import pytest

import bayesmeta as bm
from bayesmeta import robustness
from bayesmeta.errors import DataError

TOL = 1e-8


def summary(f, op="<"):
    """The columns the robustness tables hold, from a separate fit."""
    return {"mu_median": f.ppf("mu", 0.5)[0], "mu_lower": f.interval("mu")[0], "mu_upper": f.interval("mu")[1],
            "tau_median": f.ppf("tau", 0.5)[0], "p_benefit": f.prob(f"mu {op} 0"),
            "theta_new_lower": f.interval("theta_new")[0], "theta_new_upper": f.interval("theta_new")[1]}


def assert_row(row, f, op="<"):
    for key, want in summary(f, op).items():
        assert row[key] == pytest.approx(want, abs=TOL), key


def test_leave_one_out_equals_a_separate_fit_without_the_study(clbp_fit, clbp):
    table = clbp_fit.leave_one_out()
    assert list(table.index) == [str(s) for s in clbp.study]
    for i in range(clbp.k):
        assert_row(table.iloc[i], bm.fit(clbp.subset(np.arange(clbp.k) != i), tau_prior="halfnormal(0.5)"))
    full = summary(clbp_fit)
    assert np.allclose(table["mu_change"], table["mu_median"] - full["mu_median"], atol=TOL)
    assert np.allclose(table["p_benefit_change"], table["p_benefit"] - full["p_benefit"], atol=TOL)


def test_leave_one_out_of_a_family_without_the_batch_kernel_refits_one_by_one(clbp):
    f = bm.fit(clbp, model="common", seed=1)
    table = f.leave_one_out()
    g = bm.fit(clbp.subset(np.arange(clbp.k) != 4), model="common")
    assert_row(table.iloc[4], g)
    assert np.all(table["tau_median"] == 0)


def test_cumulative_steps_and_bayes_factors(clbp_fit, clbp):
    table = clbp_fit.cumulative(order=list(clbp.study[::-1]))
    assert list(table["k"]) == list(range(1, clbp.k + 1))
    assert table["study"].iloc[0] == str(clbp.study[-1])
    for j in (1, 5, clbp.k - 1):
        studies = np.arange(clbp.k)[::-1][: j + 1]
        assert_row(table.iloc[j], bm.fit(clbp.take(studies), tau_prior="halfnormal(0.5)"))
        # BF10 for mu = 0 under the normal(0, 1) prior: the exact engine's Savage-Dickey ratio of a separate fit
        g = bm.fit(clbp.take(studies), tau_prior="halfnormal(0.5)", mu_prior="normal(0, 1)")
        assert table["BF10"].iloc[j] == pytest.approx(g.bayes_factors().loc["mu = 0", "BF10"], rel=TOL)
    assert table.attrs["bf_prior"] == "normal(0, 1)"


def test_cumulative_bayes_factor_is_the_ratio_of_marginal_likelihoods(clbp):
    """BF10 = m(y | H1) / m(y | mu = 0), both by brute-force Simpson integration over (mu, tau) on a grid."""
    from scipy import integrate, stats

    y, se = clbp.y[:4], clbp.se[:4]
    f = bm.fit(clbp.take(np.arange(4)), tau_prior="halfnormal(0.5)", mu_prior="normal(0, 1)", seed=1)
    bf = f.cumulative()["BF10"].iloc[-1]
    mu, tau = np.linspace(-6, 6, 801), np.linspace(0, 4, 801)

    def lik(m):  # L(m, tau) p(tau) on the tau grid, m (M,) -> (M, T)
        s = np.sqrt(se[None, None, :] ** 2 + tau[None, :, None] ** 2)
        return np.prod(stats.norm.pdf(y, m[:, None, None], s), axis=-1) * stats.halfnorm.pdf(tau, scale=0.5)

    m1 = integrate.simpson(integrate.simpson(lik(mu) * stats.norm.pdf(mu, 0, 1)[:, None], x=tau), x=mu)
    m0 = integrate.simpson(lik(np.zeros(1))[0], x=tau)
    assert bf == pytest.approx(m1 / m0, rel=1e-6)  # Simpson's rule on the grid: about 1e-8


def test_cumulative_order_by_column_and_bad_orders(clbp_fit, clbp):
    table = clbp_fit.cumulative(order="time_weeks")
    weeks = clbp.moderators["time_weeks"].to_numpy()
    assert list(table["study"]) == [str(clbp.study[i]) for i in np.argsort(weeks, kind="stable")]
    with pytest.raises(DataError, match="no column 'year'"):
        clbp_fit.cumulative(order="year")
    with pytest.raises(DataError, match="each of the 12 studies once"):
        clbp_fit.cumulative(order=[0, 1])


def test_sensitivity_grid_equals_separate_fits(clbp_fit, clbp):
    table = clbp_fit.sensitivity(mu_priors=["flat", "normal(0, 1)"])
    taus = robustness.default_tau_priors(clbp)
    assert len(table) == 2 * len(taus) == 12
    assert table["own"].sum() == 1
    for i in (0, 4, 11):
        row = table.iloc[i]
        g = bm.fit(clbp, tau_prior=taus[i % 6], mu_prior=row["mu_prior"])
        assert row["tau_prior"] == str(g.spec.tau_prior)
        assert_row(row, g)


def test_default_prior_grid_by_measure(clbp):
    assert robustness.default_tau_priors(clbp) == ["halfnormal(0.25)", "halfnormal(0.5)", "halfnormal(1)",
                                                   "halfcauchy(0.5)", "rhodes", "uniform(0, 2)"]
    lor = bm.EffectData.from_dataframe(pd.DataFrame({"y": [0.1, 0.2], "se": [0.3, 0.4]}), y="y", se="se",
                                       measure="logOR")
    assert "turner" in robustness.default_tau_priors(lor)
    md = bm.EffectData.from_dataframe(pd.DataFrame({"y": [1.0, 2.0], "se": [0.3, 0.4]}), y="y", se="se",
                                      measure="MD")
    with pytest.raises(DataError, match="give tau_priors"):
        robustness.default_tau_priors(md)


def test_gosh_every_subset_equals_a_separate_fit(clbp):
    small = clbp.take(np.arange(5))
    f = bm.fit(small, tau_prior="halfnormal(0.5)", seed=1)
    table = f.gosh()
    assert len(table) == 31 and table["k"].max() == 5
    for i in (0, 6, 30):
        members = np.flatnonzero(table.iloc[i][[str(s) for s in small.study]].to_numpy(bool))
        g = bm.fit(small.take(members), tau_prior="halfnormal(0.5)")
        assert table["mu_median"].iloc[i] == pytest.approx(g.ppf("mu", 0.5)[0], abs=TOL)
        assert table["tau_median"].iloc[i] == pytest.approx(g.ppf("tau", 0.5)[0], abs=TOL)


def test_gosh_samples_distinct_subsets_and_refuses_other_models(clbp_fit, clbp):
    table = clbp_fit.gosh(max_subsets=100, seed=5)
    incl = table[[str(s) for s in clbp.study]].to_numpy()
    assert len(table) == 100 and len({tuple(r) for r in incl}) == 100 and incl.any(axis=1).all()
    with pytest.raises(ValueError, match="normal-normal random-effects model only"):
        bm.fit(clbp, model="common").gosh()
    with pytest.raises(ValueError, match="max_subsets"):
        clbp_fit.gosh(max_subsets=0)


def test_improper_tau_prior_needs_two_studies_per_refit(clbp):
    f = bm.fit(clbp, tau_prior="jeffreys", seed=1)
    table = f.cumulative()
    assert table["k"].iloc[0] == 2 and "first two" in table.attrs["note"]
    assert_row(table.iloc[0], bm.fit(clbp.take([0, 1]), tau_prior="jeffreys"))
    with pytest.raises(ValueError, match="at least 2 studies"):
        bm.fit(clbp.take([0, 1]), tau_prior="jeffreys").leave_one_out()
