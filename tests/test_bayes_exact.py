"""Exact engine against R bayesmeta 3.4 (tight accuracy), brute-force quadrature and published results."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import bayesmeta as bm
from bayesmeta import priors
from bayesmeta.engines.exact import LinearKernel

from .conftest import DATA, reference_data

TAU_PRIORS = {"halfnormal(0.5)": "halfnormal(0.5)", "halfcauchy(0.5)": "halfcauchy(0.5)",
              "rhodes_general": "rhodes()"}
COLUMNS = {  # reference column -> (quantity, how)
    "mu_mean": ("mu", "mean"), "mu_sd": ("mu", "sd"), "mu_q025": ("mu", 0.025), "mu_median": ("mu", 0.5),
    "mu_q975": ("mu", 0.975), "tau_mean": ("tau", "mean"), "tau_q025": ("tau", 0.025),
    "tau_median": ("tau", 0.5), "tau_q975": ("tau", 0.975), "pred_mean": ("theta_new", "mean"),
    "pred_q025": ("theta_new", 0.025), "pred_median": ("theta_new", 0.5), "pred_q975": ("theta_new", 0.975),
    "p_mu_lt0": "mu < 0", "p_mu_lt_m02": "mu < -0.2", "p_mu_lt_02": "mu < 0.2", "p_pred_lt0": "theta_new < 0",
}


def conditional_mu(tau, y, v, mu_prior):
    """m(tau), V(tau) and log L(tau) of the normal-normal model (the engine's kernel with X = 1)."""
    normal = mu_prior.kind == "normal"
    kernel = LinearKernel(y, v, np.ones((len(y), 1)), [mu_prior.m if normal else 0.0],
                          [1 / mu_prior.s**2 if normal else 0.0])
    b, cov, ll = kernel.conditional(tau)
    return b[:, 0], cov[:, 0, 0], ll


def rows():
    ref = pd.read_csv(DATA / "bayesmeta_reference.csv")
    return [pytest.param(r, id=f"{r.dataset}-{r.tau_prior}-{r.mu_prior}") for _, r in ref.iterrows()]


def value(fit, how):
    if isinstance(how, str):
        return fit.prob(how)
    quantity, stat = how
    if stat == "mean":
        return fit.moments(quantity)[0]
    if stat == "sd":
        return fit.moments(quantity)[1]
    return float(fit.ppf(quantity, [stat])[0])


def brute_integral(g, data, tau_prior, mu_prior="flat", upper=None):
    """Independent check of integral g(tau) p(tau) L(tau) dtau: QUADPACK (scipy quad, epsrel 1e-12) in
    u = log tau on unit pieces of [log 1e-10, log upper], plus the prior mass below 1e-10 times g L at 0.
    (QUADPACK on [0, inf) in tau itself loses ~1e-5 in far tails, hence the pieces.)"""
    tp = priors.tau_prior(tau_prior).bind(data)
    mp = priors.mu_prior(mu_prior)
    upper = upper or 30 * math.sqrt(np.var(data.y) + data.vi.max())

    def integrand(u):
        t = math.exp(u)
        return g(t) * math.exp(tp.logpdf(t) + conditional_mu(np.array([t]), data.y, data.vi, mp)[2][0] + u)

    edges = np.arange(math.log(1e-10), math.log(upper) + 1, 1.0)
    edges[-1] = math.log(upper)
    total = sum(integrate.quad(integrand, a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
                for a, b in zip(edges[:-1], edges[1:]))
    l0 = math.exp(conditional_mu(np.array([0.0]), data.y, data.vi, mp)[2][0])
    return total + float(tp.cdf(1e-10)) * g(0.0) * l0


def brute_cdf(data, tau_prior, mu_prior, quantity, x):
    """P(X <= x | y) for mu or theta_new as integral of p(tau | y) P(X <= x | tau, y), by `brute_integral`."""
    mp = priors.mu_prior(mu_prior)

    def prob(t):
        m, var, _ = conditional_mu(np.array([t]), data.y, data.vi, mp)
        return stats.norm.cdf(x, m[0], math.sqrt(var[0] + (t * t if quantity == "theta_new" else 0.0)))

    return brute_integral(prob, data, tau_prior, mu_prior) / brute_integral(lambda t: 1.0, data, tau_prior, mu_prior)


@pytest.mark.parametrize("row", rows())
def test_exact_engine_reproduces_r_bayesmeta(row):
    """Tolerance 1e-4 absolute on the SMD data sets (R bayesmeta run at tight accuracy: an independent
    quadrature agrees with it to ~1e-5 on mu and tau, ~2e-4 on predictive quantiles), 2e-3 on eight
    schools (SAT points). On eight schools R's predictive 2.5%/97.5% quantiles are off by up to 0.010
    (its grid is coarsest in the predictive tails): there we check our quantiles against a brute-force
    integral instead (|CDF - p| < 1e-8) and that R's values lie within 2e-4 of p in probability."""
    data = reference_data(row.dataset)
    fit = bm.fit(data, tau_prior=TAU_PRIORS[row.tau_prior], mu_prior=row.mu_prior.replace(",", ", "), seed=1)
    tol = 2e-3 if row.dataset == "eightschools" else 1e-4
    for column, how in COLUMNS.items():
        got = value(fit, how)
        if row.dataset == "eightschools" and column in ("pred_q025", "pred_q975"):
            p = how[1]
            args = (data, TAU_PRIORS[row.tau_prior], row.mu_prior.replace(",", ", "), "theta_new")
            assert brute_cdf(*args, got) == pytest.approx(p, abs=1e-8)
            assert brute_cdf(*args, row[column]) == pytest.approx(p, abs=2e-4)
            continue
        assert got == pytest.approx(row[column], abs=tol), column


@pytest.mark.parametrize("tau_prior,mu_prior", [("halfnormal(0.5)", "flat"), ("rhodes()", "normal(0, 1)"),
                                                ("halfcauchy(0.5)", "normal(0, 1)")])
def test_exact_engine_against_brute_force_quadrature(tau_prior, mu_prior):
    """Second, independent computation (scipy quad): CDFs of mu and theta_new at the fitted quantiles."""
    data = reference_data("normand1999")
    fit = bm.fit(data, tau_prior=tau_prior, mu_prior=mu_prior, seed=1)
    for quantity in ("mu", "theta_new"):
        for p in (0.025, 0.5, 0.975):
            x = float(fit.ppf(quantity, [p])[0])
            assert brute_cdf(data, tau_prior, mu_prior, quantity, x) == pytest.approx(p, abs=1e-7)


def test_tau_cdf_against_brute_force():
    data = bm.datasets.effect_data("thirdwave")
    fit = bm.fit(data, tau_prior="halfcauchy(0.5)", seed=1)
    z = brute_integral(lambda t: 1.0, data, "halfcauchy(0.5)")
    for t in (0.05, 0.2, 0.3, 0.8):
        assert fit.cdf("tau", t) == pytest.approx(brute_integral(lambda s: float(s <= t), data, "halfcauchy(0.5)",
                                                                 upper=t) / z, abs=1e-9)


def test_harrer_brms_result_on_thirdwave():
    # Harrer et al. (2021) ch. 13 (brms, mu ~ N(0, 1), tau ~ half-Cauchy(0, 0.5)): mu 0.57 [0.39, 0.76],
    # tau 0.29 [0.11, 0.51], P(mu < 0.3) = 0.002 (two decimals; the MCMC error of the book is ~0.005).
    fit = bm.fit(bm.datasets.effect_data("thirdwave"), tau_prior="halfcauchy(0.5)", mu_prior="normal(0, 1)")
    s = fit.summary()
    assert [round(s.loc["mu", c], 2) for c in ("mean", "lower", "upper")] == [0.57, 0.40, 0.76] or \
        abs(s.loc["mu", "lower"] - 0.39) < 0.01
    assert abs(s.loc["mu", "mean"] - 0.57) < 0.005 and abs(s.loc["mu", "upper"] - 0.76) < 0.005
    assert abs(s.loc["tau", "mean"] - 0.29) < 0.005 and abs(s.loc["tau", "lower"] - 0.11) < 0.01
    assert abs(s.loc["tau", "upper"] - 0.51) < 0.005
    assert round(fit.prob("mu < 0.3"), 3) == 0.002


def test_summary_shape_and_interval_kinds():
    fit = bm.fit(bm.datasets.effect_data("thirdwave"), seed=3)
    s = fit.summary()
    assert list(s.index) == ["mu", "tau", "tau2", "I2", "theta_new"]
    assert list(s.columns) == ["mean", "sd", "median", "lower", "upper"]
    assert "95% equal-tailed" in s.attrs["interval"]
    h = fit.summary(ci=0.9, kind="hdi")
    assert "90% highest-density" in h.attrs["interval"]
    # HDI is the narrowest interval with the stated mass.
    for q in ("mu", "theta_new", "tau"):
        lo, hi = h.loc[q, ["lower", "upper"]]
        assert fit.cdf(q, hi) - fit.cdf(q, lo) == pytest.approx(0.9, abs=1e-6)
        e_lo, e_hi = fit.interval(q, 0.9, "eti")
        assert hi - lo <= e_hi - e_lo + 1e-9
    # tau2, I2 are transforms of tau.
    assert s.loc["tau2", "median"] == pytest.approx(s.loc["tau", "median"] ** 2)


def test_probabilities_and_shrinkage():
    fit = bm.fit(bm.datasets.effect_data("fibromyalgia_pain"), seed=1)
    p = fit.prob("mu < 0")
    assert fit.prob("mu >= 0") == pytest.approx(1 - p)
    assert fit.prob("-0.5 < mu < 0") == pytest.approx(fit.cdf("mu", 0) - fit.cdf("mu", -0.5))
    assert 0 < fit.prob("I2 > 50") < 1 and 0 < fit.prob("tau2 > 0.01") < 1
    sh = fit.shrinkage()
    assert list(sh.columns) == ["y", "se", "mean", "sd", "median", "lower", "upper"] and len(sh) == 22
    # Shrinkage pulls every estimate towards mu and narrows it.
    mu = fit.moments("mu")[0]
    assert np.all(np.abs(sh["mean"] - mu) <= np.abs(sh["y"] - mu) + 1e-12) and np.all(sh["sd"] < sh["se"])
    assert fit.prob("theta[1] < 0") == fit.prob(f"theta[{fit.data.study[0]}] < 0")
    with pytest.raises(ValueError, match="cannot read"):
        fit.prob("mu is small")


def test_draws_agree_with_exact_summaries_and_seeds():
    data = bm.datasets.effect_data("thirdwave")
    a, b, c = (bm.fit(data, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.draws("mu"), b.draws("mu")) and not np.array_equal(a.draws("mu"), c.draws("mu"))
    assert a.summary().equals(c.summary())  # exact summaries do not depend on the seed
    # 4000 i.i.d. draws: means within 4 Monte Carlo standard errors of the exact values.
    for q in ("mu", "tau", "theta_new"):
        mean, sd = a.moments(q)
        assert abs(a.draws(q).mean() - mean) < 4 * sd / math.sqrt(4000)
    assert set(a.idata.children) >= {"posterior", "prior", "posterior_predictive", "observed_data", "constant_data"}
    assert a.idata["posterior"]["theta"].dims == ("chain", "draw", "study")


def test_bayes_factors_against_direct_marginal_likelihoods():
    """BF(tau = 0) = L(0) / integral p(tau) L(tau); BF(mu = 0) by Savage-Dickey, checked against the ratio
    of the marginal likelihoods of the mu = 0 and the full model computed by brute-force integration."""
    data = bm.datasets.effect_data("fibromyalgia_pain")
    fit = bm.fit(data, tau_prior="halfnormal(0.5)", mu_prior="normal(0, 1)", seed=1)
    bf = fit.bayes_factors()
    mp = priors.mu_prior("normal(0, 1)")
    y, v = data.y, data.vi
    full = brute_integral(lambda t: 1.0, data, "halfnormal(0.5)", "normal(0, 1)")
    # mu = 0 model: likelihood prod N(y_i | 0, v_i + tau^2), as g(tau) relative to L(tau) of the full model.
    ratio = lambda t: math.exp(np.sum(stats.norm.logpdf(y, 0, np.sqrt(v + t * t)))  # noqa: E731
                               - conditional_mu(np.array([t]), y, v, mp)[2][0])
    mu0 = brute_integral(ratio, data, "halfnormal(0.5)", "normal(0, 1)")
    common = math.exp(conditional_mu(np.array([0.0]), y, v, mp)[2][0])
    assert bf.loc["tau = 0", "BF01"] == pytest.approx(common / full, rel=1e-8)
    assert bf.loc["mu = 0", "BF01"] == pytest.approx(mu0 / full, rel=1e-7)
    with pytest.raises(ValueError, match="proper priors"):
        bm.fit(data, tau_prior="jeffreys").bayes_factors()


def test_common_effect_model_is_the_inverse_variance_result():
    data = bm.datasets.effect_data("thirdwave")
    fit = bm.fit(data, model="common", seed=1)
    fe = bm.frequentist(data, method="FE")
    s = fit.summary()
    assert s.loc["mu", "mean"] == pytest.approx(fe.mu, rel=1e-12) and s.loc["mu", "sd"] == pytest.approx(fe.se)
    assert s.loc["mu", "lower"] == pytest.approx(fe.lower, rel=1e-9) and s.loc["tau", "mean"] == 0


@pytest.mark.parametrize("spec", ["halfnormal(0.5)", "halfcauchy(1)", "halft(3, 0.5)", "exponential(2)",
                                  "uniform(0, 2)", "lognormal_tau2(-2.56, 1.74)", "logt_tau2(-3.44, 2.59, 5)",
                                  "invgamma_tau(1.71, 0.4)", "jeffreys", "turner()", "bartos()"])
def test_every_tau_prior_fits_and_matches_brute_force(spec):
    data = bm.datasets.effect_data("thirdwave")
    fit = bm.fit(data, tau_prior=spec, seed=1)
    upper = 2.0 if spec.startswith("uniform") else None
    z = brute_integral(lambda t: 1.0, data, spec, upper=upper)
    med = float(fit.ppf("tau", [0.5])[0])
    assert brute_integral(lambda t: 1.0, data, spec, upper=med) / z == pytest.approx(0.5, abs=1e-8)


def test_empirical_priors_match_their_tables():
    table = pd.read_csv(__import__("importlib.resources").resources.files("bayesmeta.prior_tables")
                        .joinpath("rhodes2015_smd_logtau2_t5.csv"))
    general = priors.rhodes()
    assert general.ppf(0.5) == pytest.approx(table.loc[0, "tau_median"], rel=1e-9)
    assert general.ppf(0.025) == pytest.approx(table.loc[0, "tau_q025"], rel=1e-9)
    with pytest.warns(UserWarning, match="suspect"):
        priors.rhodes("mental health", "non-pharmacological", "other")
    with pytest.raises(ValueError, match="ambiguous|unknown"):
        priors.rhodes("no such outcome")
    assert priors.turner().ppf(0.5) == pytest.approx(0.278037300453194, rel=1e-9)
    assert str(priors.bartos("Pain")) == "invgamma_tau(1.69, 0.42)"
    assert priors.mu_prior("bartos()").kind == "student_t"


def test_bad_prior_strings():
    for bad in ("halfnormal(-1)", "halfnormal()", "gamma(2, 1)", "uniform(2, 1)"):
        with pytest.raises(ValueError):
            priors.tau_prior(bad)
    with pytest.raises(ValueError, match="unknown mu prior"):
        priors.mu_prior("cauchy(0, 1)")
    with pytest.raises(ValueError, match="exact engine takes a flat or normal"):
        bm.fit(bm.datasets.effect_data("thirdwave"), mu_prior="student_t(3, 0, 1)")


@pytest.mark.parametrize("name,tau_prior", [("eightschools", "halfcauchy(5)"), ("thirdwave", "rhodes()"),
                                            ("fibromyalgia_pain", "halfnormal(0.5)")])
def test_refining_the_grid_moves_no_reported_quantile(name, tau_prior, monkeypatch):
    """The adaptive grid is converged: with twice the Gauss-Legendre order on every panel (other nodes,
    a 1000 times tighter panel tolerance) every reported summary changes by less than 1e-6."""
    from numpy.polynomial.legendre import leggauss

    import bayesmeta.engines.exact as exact

    data = reference_data(name) if name == "eightschools" else bm.datasets.effect_data(name)
    base = bm.fit(data, tau_prior=tau_prior, seed=1)
    monkeypatch.setattr(exact, "_REL_TOL", exact._REL_TOL / 1000)
    for attr, n in (("_X10", 20), ("_X20", 40)):
        x, w = leggauss(n)
        monkeypatch.setattr(exact, attr, x)
        monkeypatch.setattr(exact, attr.replace("X", "W"), w)
    fine = bm.fit(data, tau_prior=tau_prior, seed=1)
    assert fine.settings["nodes"] > base.settings["nodes"]
    diff = (fine.summary() - base.summary()).abs().to_numpy().max()
    assert diff < 1e-6
    assert (fine.shrinkage() - base.shrinkage()).abs().to_numpy().max() < 1e-6


def test_wide_bounded_prior_with_few_studies_is_not_truncated():
    """uniform(0, 50) with k = 3: the posterior of tau reaches far beyond the data's spread."""
    data = bm.datasets.effect_data("thirdwave").take([0, 1, 2])
    fit = bm.fit(data, tau_prior="uniform(0, 50)", seed=1)
    z = brute_integral(lambda t: 1.0, data, "uniform(0, 50)", upper=50.0)
    q90 = float(fit.ppf("tau", [0.9])[0])
    assert q90 > 5  # with the grid cut at 20 x the data spread (~19) this quantile was wrong
    assert brute_integral(lambda t: 1.0, data, "uniform(0, 50)", upper=q90) / z == pytest.approx(0.9, abs=1e-8)
