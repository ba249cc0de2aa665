"""Meta-regression and subgroup families: exact engine against R bayesmeta's bmr(), an independent brute-force
quadrature, and the identities that tie the families together; MCMC against exact (slow)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import bayesmeta as bm
from bayesmeta.errors import DataError
from bayesmeta.families import typical_variance

from .conftest import DATA

MODS = ["weeks", "setting", "tester"]


def raudenbush():
    df = pd.read_csv(DATA / "raudenbush1985_mods.csv")
    return bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study", moderators=MODS)


def thirdwave():
    df = bm.datasets.load("thirdwave")
    return bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author",
                                        moderators=["RiskOfBias", "ModeOfDelivery", "InterventionType"])


BMR_FORMULAS = {("raudenbush1985", "~ weeks"): "~ weeks", ("raudenbush1985", "~ log(weeks + 1)"): "~ np.log(weeks + 1)",
                ("thirdwave", "~ factor(RiskOfBias)"): "~ C(RiskOfBias)"}


def bmr_rows():
    ref = pd.read_csv(DATA / "bayesmeta_bmr_reference.csv")
    return [pytest.param(g, id=f"{ds}{mods}") for (ds, mods), g in ref.groupby(["dataset", "mods"], sort=False)]


@pytest.mark.parametrize("ref", bmr_rows())
def test_exact_meta_regression_reproduces_r_bmr(ref):
    """R bayesmeta 3.4 bmr() at tight accuracy: every coefficient's mean, SD and 2.5/50/97.5% quantiles and the
    quantiles of tau within 1e-3 posterior SDs (R's own accuracy; an independent quadrature agrees with R to
    1e-4 SDs). Terms are matched in model order (R names them intercept, weeks, logweeks, RiskOfBiaslow)."""
    ds, mods = ref["dataset"].iloc[0], ref["mods"].iloc[0]
    data = raudenbush() if ds == "raudenbush1985" else thirdwave()
    fit = bm.fit(data, moderators=BMR_FORMULAS[(ds, mods)], tau_prior="halfnormal(0.5)", seed=1)
    coef = fit.coefficients()
    assert len(coef) == len(ref)
    for (_, r), (term, c) in zip(ref.iterrows(), coef.iterrows()):
        sd = r["sd"]
        for col, mine in (("mean", "mean"), ("sd", "sd"), ("q025", "lower"), ("median", "median"), ("q975", "upper")):
            assert c[mine] == pytest.approx(r[col], abs=1e-3 * sd), (term, col)
    tau = fit.ppf("tau", [0.025, 0.5, 0.975])
    tau_sd = fit.moments("tau")[1]
    for got, col in zip(tau, ("tau_q025", "tau_median", "tau_q975")):
        assert got == pytest.approx(ref[col].iloc[0], abs=1e-3 * tau_sd), col


def brute_regression_cdf(data, X, tau_prior, a, x):
    """P(a'beta <= x | y) with a flat prior on beta, by QUADPACK over tau, written from scratch with full
    matrices: p(tau | y) ∝ p(tau) |S|^-1/2 |X'S^-1 X|^-1/2 exp(-r'S^-1 r / 2), S = diag(v) + tau^2 I,
    r = y - X b(tau), b = GLS estimate; a'beta | tau ~ N(a'b, a'(X'S^-1 X)^-1 a)."""
    prior = bm.priors.tau_prior(tau_prior)

    def parts(t):
        S = np.diag(data.vi + t * t)
        Si = np.linalg.inv(S)
        A = X.T @ Si @ X
        b = np.linalg.solve(A, X.T @ Si @ data.y)
        r = data.y - X @ b
        logp = (prior.logpdf(t) - 0.5 * np.linalg.slogdet(S)[1] - 0.5 * np.linalg.slogdet(A)[1] - 0.5 * r @ Si @ r)
        return logp, a @ b, a @ np.linalg.solve(A, a)

    shift = parts(0.1)[0]

    def dens(t):
        return math.exp(parts(t)[0] - shift)

    def prob(t):
        logp, m, var = parts(t)
        return math.exp(logp - shift) * stats.norm.cdf(x, m, math.sqrt(var))

    edges = [0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 4.0]
    num = sum(integrate.quad(prob, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0] for lo, hi in zip(edges, edges[1:]))
    den = sum(integrate.quad(dens, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0] for lo, hi in zip(edges, edges[1:]))
    return num / den


def test_exact_meta_regression_against_brute_force_quadrature():
    """Independent check (1e-7 in probability): the CDF of every coefficient at its fitted 2.5/50/97.5%
    quantiles, and of a prediction x0'beta, by full-matrix QUADPACK integration over tau."""
    data = raudenbush()
    fit = bm.fit(data, moderators="~ weeks + C(tester)", tau_prior="halfnormal(0.5)", seed=1)
    X = fit.family.design.X
    for j, term in enumerate(fit.family.terms):
        a = np.eye(X.shape[1])[j]
        for p in (0.025, 0.5, 0.975):
            x = float(fit.ppf(f"beta[{term}]", [p])[0])
            assert brute_regression_cdf(data, X, "halfnormal(0.5)", a, x) == pytest.approx(p, abs=1e-7), (term, p)
    pred = fit.predict({"weeks": 5, "tester": "blind"})
    a = np.array([1.0, 5.0, 1.0])
    assert brute_regression_cdf(data, X, "halfnormal(0.5)", a, float(pred["median"][0])) == pytest.approx(0.5, abs=1e-7)


def test_predictions_and_probabilities_of_meta_regression():
    fit = bm.fit(raudenbush(), moderators="~ weeks", seed=1)
    pred = fit.predict({"weeks": [0, 10]})
    coef = fit.coefficients()
    assert pred["mean"][0] == pytest.approx(coef.loc["intercept", "mean"], rel=1e-12)
    assert pred["mean"][1] == pytest.approx(coef.loc["intercept", "mean"] + 10 * coef.loc["weeks", "mean"], rel=1e-10)
    assert (pred["pred_lower"] < pred["lower"]).all() and (pred["pred_upper"] > pred["upper"]).all()
    p = fit.prob("beta[weeks] < 0")
    assert 0.99 < p < 1 and fit.prob("beta[weeks] >= 0") == pytest.approx(1 - p)
    assert fit.prob("beta[intercept] + 10 * beta[weeks] < 0") == pytest.approx(fit.cdf("beta[intercept] + 10*beta[weeks]", 0))
    with pytest.raises(ValueError, match="no single mu"):
        fit.prob("mu < 0")
    with pytest.raises(ValueError, match="no coefficient 'wekks'"):
        fit.prob("beta[wekks] < 0")
    assert list(fit.summary().index) == ["beta[intercept]", "beta[weeks]", "tau", "tau2", "I2"]


def test_intercept_only_regression_is_the_normal_normal_model():
    data = raudenbush()
    a = bm.fit(data, seed=1).summary()
    b = bm.fit(data, moderators="~ 1", seed=1)
    assert b.summary().loc["beta[intercept]"].to_numpy() == pytest.approx(a.loc["mu"].to_numpy(), rel=1e-9)
    assert b.summary().loc["I2"].to_numpy() == pytest.approx(a.loc["I2"].to_numpy(), rel=1e-9)


def test_subgroups_with_common_tau_are_the_cell_means_regression():
    """mu[g] and their differences with one tau equal the meta-regression on the factor (1e-9)."""
    data = thirdwave()
    sub = bm.fit(data, subgroup="RiskOfBias", seed=1)
    reg = bm.fit(data, moderators="~ C(RiskOfBias)", seed=1)
    assert sub.summary().loc["mu[high]"].to_numpy() == pytest.approx(reg.summary().loc["beta[intercept]"].to_numpy(),
                                                                      rel=1e-9)
    diff = sub.differences()
    assert diff.loc["mu[low] - mu[high]", ["mean", "sd", "lower", "upper"]].to_numpy(float) == pytest.approx(
        reg.coefficients().loc["C(RiskOfBias)[T.low]", ["mean", "sd", "lower", "upper"]].to_numpy(float), rel=1e-9)
    assert sub.summary().loc["tau"].to_numpy() == pytest.approx(reg.summary().loc["tau"].to_numpy(), rel=1e-9)


def test_subgroups_with_separate_taus_are_separate_analyses_and_differences_are_exact():
    """Each subgroup's posterior equals the normal-normal fit of its studies alone (1e-12); P(mu_b - mu_a < c)
    equals the independent convolution integral of the two posteriors by QUADPACK (1e-8)."""
    data = thirdwave()
    fit = bm.fit(data, subgroup="RiskOfBias", subgroup_tau="separate", seed=1)
    groups = data.moderators["RiskOfBias"].to_numpy()
    alone = {g: bm.fit(data.subset(groups == g), seed=1) for g in ("high", "low")}
    for g, f in alone.items():
        assert fit.summary().loc[f"mu[{g}]"].to_numpy() == pytest.approx(f.summary().loc["mu"].to_numpy(), rel=1e-12)
        assert fit.summary().loc[f"tau[{g}]"].to_numpy() == pytest.approx(f.summary().loc["tau"].to_numpy(), rel=1e-12)
    for c in (-0.6, -0.3, 0.0):
        conv = integrate.quad(lambda x: alone["low"].cdf("mu", x + c) * alone["high"].density("mu", x),
                              -3, 4, epsabs=0, epsrel=1e-11, limit=200)[0]
        assert fit.cdf("mu[low] - mu[high]", c) == pytest.approx(conv, abs=1e-8)


def test_subgroup_input_errors():
    data = thirdwave()
    with pytest.raises(ValueError, match="no subgroup 'medium'"):
        bm.fit(data, subgroup="RiskOfBias").prob("mu[medium] > 0")
    with pytest.raises(ValueError, match="subgroup_tau"):
        bm.fit(data, subgroup="RiskOfBias", subgroup_tau="both")
    with pytest.raises(ValueError, match="not both"):
        bm.fit(data, subgroup="RiskOfBias", moderators="~ 1")
    with pytest.raises(DataError, match="RiskOfBia"):
        bm.fit(data, subgroup="RiskOfBia")
    with pytest.raises(ValueError, match="own tau"):
        bm.fit(data, subgroup="RiskOfBias", subgroup_tau="separate").prob("tau > 0.1")


def test_a_subgroup_with_one_study_is_analysed_with_a_warning():
    """Its study alone determines its mean (leverage 1): the typical within-study variance of I2 must not
    break (it equals metafor's (k - p) / tr(P), P with a pseudo-inverse)."""
    df = bm.datasets.load("thirdwave").copy()
    df.loc[0, "ModeOfDelivery"] = "app"
    data = bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author")
    for tau in ("common", "separate"):
        with pytest.warns(bm.EstimationWarning, match="'app' of 'ModeOfDelivery' has one study"):
            fit = bm.fit(data, subgroup="ModeOfDelivery", subgroup_tau=tau, seed=1)
        assert np.isfinite(fit.summary().to_numpy()).all()
    G = pd.get_dummies(df["ModeOfDelivery"]).to_numpy(float)
    W = np.diag(1 / data.vi)
    P = W - W @ G @ np.linalg.pinv(G.T @ W @ G) @ G.T @ W
    assert typical_variance(data.vi, G) == pytest.approx((18 - 4) / np.trace(P), rel=1e-12)


def test_missing_moderator_is_named_or_dropped_on_request():
    df = pd.read_csv(DATA / "raudenbush1985_mods.csv")
    df.loc[2, "weeks"] = np.nan
    data = bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study", moderators=["setting"])
    data = bm.EffectData(data.y, data.se, data.study, moderators=df.set_index("study")[MODS])
    with pytest.raises(DataError, match=r"row 3 .*weeks"):
        bm.fit(data, moderators="~ weeks")
    fit = bm.fit(data, moderators="~ weeks", drop_missing=True, seed=1)
    assert fit.data.k == 18 and df.loc[2, "study"] not in list(fit.data.study)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["regression", "subgroups"])
def test_mcmc_agrees_with_exact_for_moderators(kind):
    """Means and 2.5/50/97.5% quantiles of every coefficient (and tau) within 4 ArviZ MCSE of exact."""
    import arviz_stats as azs

    opts = (dict(data=raudenbush(), moderators="~ weeks + C(tester)") if kind == "regression"
            else dict(data=thirdwave(), subgroup="RiskOfBias"))
    exact = bm.fit(**opts, seed=1)
    with np.errstate(all="ignore"):
        mc = bm.fit(**opts, engine="mcmc", seed=1)
    assert mc.settings["divergences"] == 0
    diag = mc.diagnostics()
    assert (diag["r_hat"] < 1.01).all()
    post = mc.idata["posterior"]
    coef = post[mc.family.coef_name]
    for j, name in enumerate(mc.family.coefficient_rows() + ["tau"]):
        da = coef.isel({mc.family.coef_dim: j}) if name != "tau" else post["tau"]
        draws = mc.draws(name)
        assert abs(draws.mean() - exact.moments(name)[0]) < 4 * float(azs.mcse(da, method="mean")), name
        for p in (0.025, 0.5, 0.975):
            err = abs(np.quantile(draws, p) - float(exact.ppf(name, [p])[0]))
            assert err < 4 * float(azs.mcse(da, method="quantile", prob=p)), (name, p)
