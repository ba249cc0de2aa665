"""The core under hostile input: options out of range, prior supports, extreme but legal data (checked
against an independent integral, with hypothesis over many orders of magnitude), saving and loading."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmeta as bm
from bayesmeta.errors import DataError


def effects(y, se):
    return bm.EffectData.from_dataframe(pd.DataFrame({"y": y, "se": se}), y="y", se="se")


THIRDWAVE = bm.datasets.effect_data("thirdwave")


@pytest.mark.parametrize("call,match", [
    (lambda f: f.summary(ci=95), "ci must be a probability"),
    (lambda f: f.summary(ci=0), "ci must be a probability"),
    (lambda f: f.shrinkage(ci=float("nan")), "ci must be a probability"),
    (lambda f: f.interval("mu", 0.9, kind="median"), "kind must be"),
    (lambda f: f.prob("0.5 < mu < 0"), "lower bound 0.5 must be below"),
    (lambda f: f.prob("mu < inf"), "finite"),
    (lambda f: f.prob("mu < abc"), "not a number"),
    (lambda f: f.prob("mu"), "cannot read"),
    (lambda f: f.prob("0 > mu > -1"), "a range is written"),
    (lambda f: f.prob("nu < 0"), "no quantity 'nu'"),
    (lambda f: f.prob("theta[No such study] < 0"), "no study"),
    (lambda f: f.prob("tau - mu < 0"), "only coefficients"),
    (lambda f: f.ppf("mu", [1.5]), "must lie in"),
    (lambda f: f.differences(), "no subgroups"),
    (lambda f: f.predict({"x": 1}), "needs moderators"),
])
def test_fit_methods_refuse_options_out_of_range(call, match):
    fit = bm.fit(THIRDWAVE, seed=1)
    with pytest.raises(ValueError, match=match):
        call(fit)


@pytest.mark.parametrize("kwargs,match", [
    (dict(seed=-1), "seed must be"), (dict(seed=2**40), "seed must be"), (dict(seed=1.5), "seed must be"),
    (dict(draws=0), "draws must be"), (dict(chains=True), "chains must be"), (dict(tune=-5), "tune must be"),
    (dict(target_accept=1.2), "target_accept"), (dict(engine="stan"), "engine must be"),
    (dict(model="fixed"), "model must be"), (dict(moderators=["weeks"]), "formula string"),
])
def test_fit_refuses_options_out_of_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bm.fit(THIRDWAVE, **kwargs)


def test_probabilities_below_a_bounded_prior_support_are_zero_not_nan():
    fit = bm.fit(THIRDWAVE, tau_prior="uniform(0.1, 1)", seed=1)
    assert fit.prob("tau > 0.05") == 1.0 and fit.prob("tau < 0.05") == 0.0
    assert fit.prob("tau2 > 0.001") == 1.0 and fit.prob("I2 < -1") == 0.0 and fit.prob("I2 < 100") == 1.0
    assert 0 < fit.prob("tau > 0.5") < 1


def brute_mu_cdf(data, x, tau_prior="halfnormal(0.5)"):
    """P(mu <= x | y), flat prior on mu, written independently of the engine: the log integrand over
    u = log tau on a dense grid (20,001 points over the whole range, and 40,001 more where the integrand is
    within e^-60 of its maximum), integrated by the trapezoid rule."""
    prior = bm.priors.tau_prior(tau_prior)
    y, v = data.y, data.vi

    def log_f(u):
        t2 = np.exp(2 * u)[:, None]
        w = 1 / (v + t2)
        m = (w * y).sum(1) / w.sum(1)
        ll = -0.5 * (np.log(v + t2).sum(1) + np.log(w.sum(1)) + (w * (y - m[:, None]) ** 2).sum(1))
        with np.errstate(divide="ignore"):
            return prior.logpdf(np.exp(u)) + u + ll, m, 1 / w.sum(1)

    lo, hi = math.log(1e-8 * math.sqrt(v.min())), math.log(1e3 * (np.ptp(y) + math.sqrt(v.max())))
    wide = np.linspace(lo, hi, 20001)
    lf = log_f(wide)[0]
    i = int(np.argmax(lf))
    h = wide[1] - wide[0]
    mass = np.flatnonzero(lf > lf[i] - 60)  # where the integrand is not negligible, plus one step each side
    near = np.linspace(wide[max(mass[0] - 1, 0)], wide[min(mass[-1] + 1, len(wide) - 1)], 40001)
    u = np.unique(np.concatenate([wide, near]))
    lf, m, var = log_f(u)
    dens = np.exp(lf - lf.max())
    cdf = np.trapezoid(dens * 0.5 * (1 + np.vectorize(math.erf)((x - m) / np.sqrt(2 * var))), u)
    return cdf / np.trapezoid(dens, u), h


def test_one_effect_in_other_units_gives_right_numbers():
    """An effect of 1e6 among SMDs (mixed units): p(tau | y) is a needle the scan steps over; the peak is
    found first, so mu's median is the true median (checked by an independent dense integral, 1e-6)."""
    data = effects([-0.3, -0.5, 0.1, -0.2, 1e6], [0.2, 0.3, 0.25, 0.15, 0.2])
    fit = bm.fit(data, seed=1)
    s = fit.summary()
    assert np.isfinite(s.to_numpy()).all()
    assert brute_mu_cdf(data, s.loc["mu", "median"])[0] == pytest.approx(0.5, abs=1e-6)
    assert s.loc["tau", "median"] > 600


def test_tiny_standard_error_keeps_heterogeneity_finite():
    data = effects([-0.3, -0.5, 0.1, -0.2], [0.2, 1e-12, 0.25, 0.15])
    s = bm.fit(data, seed=1).summary()
    assert np.isfinite(s.to_numpy()).all() and 0 < s.loc["I2", "median"] < 100
    assert brute_mu_cdf(data, s.loc["mu", "median"])[0] == pytest.approx(0.5, abs=1e-6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(k=st.integers(2, 7), scale_y=st.integers(-3, 5), scale_se=st.integers(-5, 3), seed=st.integers(0, 10**6))
def test_any_finite_data_gives_finite_summaries_that_match_an_independent_integral(k, scale_y, scale_se, seed):
    """Effects up to 1e5 and SEs from 1e-5 to 1e3, each data set spanning two orders of magnitude in SE:
    every summary finite, mu's median the median of an independent dense integral (1e-5)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 10.0**scale_y, k)
    se = 10.0 ** (scale_se + rng.uniform(-1, 1, k))
    data = effects(y, se)
    fit = bm.fit(data, seed=1)
    s = fit.summary()
    assert np.isfinite(s.to_numpy()).all()
    assert np.isfinite(fit.shrinkage().to_numpy(float)).all()
    assert brute_mu_cdf(data, s.loc["mu", "median"])[0] == pytest.approx(0.5, abs=1e-5)


@pytest.mark.parametrize("kwargs", [dict(), dict(moderators="~ C(ModeOfDelivery)", mu_prior="normal(0, 1)"),
                                    dict(subgroup="RiskOfBias", subgroup_tau="separate", tau_prior="rhodes()")])
def test_saved_fit_loads_with_the_same_numbers(tmp_path, kwargs):
    df = bm.datasets.load("thirdwave")
    data = bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author", benefit="higher",
                                        moderators=["RiskOfBias", "ModeOfDelivery"])
    fit = bm.fit(data, seed=3, **kwargs)
    fit.save(tmp_path / "fit.nc")
    back = bm.load(tmp_path / "fit.nc")
    pd.testing.assert_frame_equal(back.summary(), fit.summary(), check_exact=True)
    pd.testing.assert_frame_equal(back.shrinkage(), fit.shrinkage(), check_exact=True)
    tau = next(q for q in fit.family.summary_rows() if q.startswith("tau"))
    assert back.prob(f"{tau} > 0.2") == fit.prob(f"{tau} > 0.2") and str(back.spec.tau_prior) == str(fit.spec.tau_prior)
    assert back.spec.tau_prior.describe() == fit.spec.tau_prior.describe()
    assert np.array_equal(back.draws(tau), fit.draws(tau)) and back.data.benefit == "higher"


@pytest.mark.slow
def test_saved_mcmc_fit_loads_its_draws(tmp_path):
    fit = bm.fit(THIRDWAVE, engine="mcmc", seed=4)
    fit.save(tmp_path / "fit.nc")
    back = bm.load(tmp_path / "fit.nc")
    pd.testing.assert_frame_equal(back.summary(), fit.summary())
    assert back.prob("theta_new > 0") == fit.prob("theta_new > 0")
    assert (back.diagnostics()["r_hat"] < 1.01).all()


def test_loading_a_file_that_is_not_a_fit_names_it(tmp_path):
    bad = tmp_path / "x.nc"
    bad.write_text("hello")
    with pytest.raises(DataError, match="x.nc: not a saved bayesmeta fit"):
        bm.load(bad)
    with pytest.raises(DataError, match="no such file"):
        bm.load(tmp_path / "missing.nc")


def test_options_a_model_would_ignore_are_refused_and_clusters_are_not_forgotten():
    """From the hostile-input session: nothing given is silently ignored."""
    data = bm.datasets.effect_data("thirdwave")
    clustered = bm.EffectData.from_dataframe(bm.datasets.load("internet_depression_selfguided"), y="g", se="se_g",
                                             cluster="study")
    with pytest.raises(ValueError, match="takes none of moderators"):
        bm.frequentist(clustered, model="three-level", moderators="~ 1")
    with pytest.raises(ValueError, match="takes none of ci"):
        bm.frequentist(clustered, model="three-level", ci="hksj")
    with pytest.raises(ValueError, match="subgroup_tau is for subgroup analyses"):
        bm.fit(data, subgroup_tau="separate")
    with pytest.raises(ValueError, match="beta_prior is the prior of the moderators"):
        bm.fit(data, beta_prior="normal(0, 1)")
    with pytest.warns(bm.EstimationWarning, match="treats them as independent"):
        bm.fit(clustered, seed=1)
    singletons = bm.EffectData.from_dataframe(bm.datasets.load("thirdwave"), y="TE", se="seTE", cluster="Author")
    with pytest.warns(bm.EstimationWarning, match="every cluster has one effect"):
        bm.fit(singletons, model="three-level", seed=1)
    with pytest.warns(bm.EstimationWarning, match="every cluster has one effect"):
        bm.frequentist(singletons, model="three-level")


def test_one_study_and_rows_left_out_are_reported_not_crashed(tmp_path):
    data = bm.datasets.effect_data("thirdwave")
    assert "cannot be estimated from one study" in repr(bm.frequentist(data.take([0]), method="FE"))
    assert "nan" not in repr(bm.frequentist(data.take([0]), method="FE")).lower()
    df = bm.datasets.load("thirdwave").copy()
    df.loc[2, "ModeOfDelivery"] = None
    gaps = bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author")
    fit = bm.fit(gaps, subgroup="ModeOfDelivery", drop_missing=True, seed=1)
    assert fit.dropped == ((3, "DanitzOrsillo", "ModeOfDelivery"),) and "left out: row 3" in repr(fit)
    reg = bm.fit(bm.datasets.effect_data("thirdwave"), moderators="~ C(RiskOfBias)", seed=1)
    with pytest.raises(DataError, match="unknown level"):
        reg.predict({"RiskOfBias": "medium"})
    with pytest.raises(DataError, match="is a folder"):
        fit.save(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        fit.save(tmp_path / "no" / "fit.nc")
    assert list(tmp_path.iterdir()) == []


def test_predictions_far_outside_float_range_are_refused():
    from .conftest import DATA

    data = bm.EffectData.from_dataframe(pd.read_csv(DATA / "raudenbush1985_mods.csv"), y="yi", vi="vi", study="study")
    fit = bm.fit(data, moderators="~ weeks", seed=1)
    with pytest.raises(ValueError, match="too large to predict"):
        fit.predict({"weeks": 1e200})


def test_review_findings_priors_without_mass_at_zero_improper_hdi_and_t_results():
    """From the review of the change: no NaN where a prior has no mass near tau = 0, HDIs under the improper
    Jeffreys prior, compare() with a t random-effects result, three-level JSON keys."""
    data = bm.datasets.effect_data("thirdwave")
    fit = bm.fit(data, tau_prior="invgamma_tau(1.71, 0.4)", seed=1)
    assert fit.prob("tau < 1e-9") == 0.0 and np.isfinite(fit.ppf("tau", [0.0, 0.5])).all()
    hdi = bm.fit(data, tau_prior="jeffreys", seed=1).summary(kind="hdi")
    assert np.isfinite(hdi.to_numpy()).all()
    table = bm.compare(bm.fit(data, seed=1), bm.frequentist(data, model="t"))
    assert table.loc["ML with t random effects", "estimate"] > 0
    clustered = bm.EffectData.from_dataframe(bm.datasets.load("internet_depression_selfguided"), y="g", se="se_g",
                                             cluster="study")
    keys = bm.frequentist(clustered, model="three-level", robust=True).to_dict()
    assert {"I2", "pi_lower", "pi_upper", "tau2", "tau2_within"} <= set(keys)
