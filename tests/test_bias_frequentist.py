"""Small-study effects, trim and fill, selection models, influence, cumulative, Baujat and GOSH against R metafor
3.8-1 (tests/data/make_bias_reference.R on metafor's documented example data: dat.bcg, dat.egger2001,
dat.hackshaw1998, dat.baskerville2012, and the bundled fibromyalgia and clbp sets; see tests/data/README.md).

Tolerances: 1e-6 relative (as for rma) wherever the computation is the same closed form or the same iteration
as metafor's (regtest, ranktest, trimfill, influence, cumul, baujat, gosh). Selection models are a numerical
maximisation of a likelihood that is flat near its maximum: against metafor run with tight controls (BFGS
reltol 1e-12, integrals at rel.tol 1e-9) the maximum log-likelihood and the LRTs agree to 1e-7 absolute, the
parameters to 1e-4 of their standard errors and the standard errors (numDeriv's Richardson Hessian against ours)
to 1e-4 relative (where a delta sits at its bound metafor stops short and only bayesmeta's higher maximum and
its warning are checked); against metafor's defaults (reltol 1e-8, integrals at rel.tol 1.2e-4, which is what metafor's
own optimiser allows) to 2e-3, and bayesmeta's maximum is never lower than metafor's (up to metafor's
integration error). Our normalising integrals are checked against scipy's adaptive quadrature to 1e-9.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import bayesmeta as bm
from bayesmeta.errors import DataError

DATA = Path(__file__).parent / "data"
RTOL = 1e-6


KEYS = ("statistic", "pvalue", "df", "limit_estimate", "limit_lower", "limit_upper", "tau", "k0", "k0_se", "side",
        "mu", "se", "lower", "upper", "tau2", "p_k0", "filled_y", "filled_v", "tau2_se", "LRT", "LRT_df",
        "LRT_pvalue", "loglik", "LRT_tau2", "LRT_tau2_pvalue", "delta", "delta_se", "delta_pvalue", "rstudent",
        "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight", "dfbetas", "influential", "Q",
        "Q_pvalue", "I2", "H2", "order", "x", "y")


def _key(name):
    """The R script's keys come from unlist(): 'delta2' for the 2nd delta, 'limit_estimate.intrcpt' for a named
    value; map each to its field (the longest field name that is a prefix)."""
    return max((k for k in KEYS if name.startswith(k) and (name[len(k):] == "" or name[len(k):].isdigit()
                                                              or name[len(k)] == ".")), key=len)


def _reference():
    ref = pd.concat([pd.read_csv(DATA / "metafor_bias_reference.csv"),
                     pd.read_csv(DATA / "metafor_selmodel_reference.csv")])
    ref["field"] = ref["key"].map(_key)
    out = {}
    for (dataset, analysis), part in ref.groupby(["dataset", "analysis"], sort=False):
        out[dataset, analysis] = {key: pd.to_numeric(g["value"], errors="coerce").to_numpy()
                                  for key, g in part.groupby("field", sort=False)}
    return out


REF = _reference()
SETS = pd.read_csv(DATA / "bias_data.csv")


def effects(name) -> bm.EffectData:
    part = SETS[SETS["dataset"] == name].reset_index(drop=True)
    n = "ni" if part["ni"].notna().all() else None
    return bm.EffectData.from_dataframe(part, y="yi", vi="vi", study="study", n=n, measure="generic")


def close(actual, expected, rtol=RTOL, atol=1e-10):
    actual, expected = np.ravel(np.asarray(actual, float)), np.ravel(np.asarray(expected, float))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


def cases(prefix):
    return [pytest.param(d, a, id=f"{d}-{a}") for d, a in REF if a.startswith(prefix)]


# ---------------------------------------------------------------------------------------------- regtest, ranktest
@pytest.mark.parametrize("dataset, analysis", cases("regtest"))
def test_regtest_matches_metafor(dataset, analysis):
    _, model, predictor, method, *knha = analysis.split(":")
    res = bm.regtest(effects(dataset), model=model, predictor=predictor, method=method,
                     ci="hksj" if knha else "z")
    ref = REF[dataset, analysis]
    close(res.statistic, ref["statistic"])
    close(res.pvalue, ref["pvalue"], atol=1e-14)
    assert (res.df is None) == bool(np.isnan(ref["df"][0])) and (res.df is None or res.df == ref["df"][0])
    if "limit_estimate" in ref:
        close([res.limit_estimate, res.limit_lower, res.limit_upper],
              [ref["limit_estimate"], ref["limit_lower"], ref["limit_upper"]])
    else:
        assert np.isnan(res.limit_estimate)


@pytest.mark.parametrize("dataset, analysis", cases("ranktest"))
def test_ranktest_matches_metafor(dataset, analysis):
    res = bm.ranktest(effects(dataset))
    close([res.tau, res.pvalue], [REF[dataset, analysis]["tau"], REF[dataset, analysis]["pvalue"]])


def test_ranktest_is_exact_beyond_50_studies_as_metafor():
    """metafor calls cor.test(exact=TRUE): exact without ties for any k. Reference: metafor 3.8-1
    ranktest(y, v) on these 60 studies (numpy default_rng(1): se ~ U(0.1, 0.5), y ~ N(0, se))."""
    rng = np.random.default_rng(1)
    se = rng.uniform(0.1, 0.5, 60)
    y = rng.normal(0, se)
    res = bm.ranktest(bm.EffectData.from_dataframe(pd.DataFrame(dict(y=y, se=se)), y="y", se="se"))
    assert res.exact
    close([res.tau, res.pvalue], [-0.01694915254237288, 0.85390572201595349], rtol=1e-12)


def test_pet_peese_are_regtest_lm_and_the_conditional_rule():
    data = effects("hackshaw1998")
    pet, peese = bm.pet(data), bm.peese(data)
    ref_pet, ref_peese = REF["hackshaw1998", "regtest:lm:sei:REML"], REF["hackshaw1998", "regtest:lm:vi:REML"]
    close(pet.limit_estimate, ref_pet["limit_estimate"])
    close(peese.limit_estimate, ref_peese["limit_estimate"])
    both = bm.pet_peese(data)
    assert both.chosen == ("PEESE" if pet.intercept_pvalue < 0.05 else "PET")
    assert both.estimate == (peese if both.chosen == "PEESE" else pet).limit_estimate
    # the intercept test is the z/t test of b0 in the same weighted regression (scipy's WLS as a second opinion)
    y, se = data.y, data.se
    X = np.column_stack([np.ones(len(y)), se]) / se[:, None]
    b, rss, *_ = np.linalg.lstsq(X, y / se, rcond=None)
    cov = rss[0] / (len(y) - 2) * np.linalg.inv(X.T @ X)
    close(pet.intercept_pvalue, 2 * stats.t.sf(abs(b[0] / math.sqrt(cov[0, 0])), len(y) - 2))


# ---------------------------------------------------------------------------------------------- trim and fill
@pytest.mark.parametrize("dataset, analysis", cases("trimfill"))
def test_trimfill_matches_metafor(dataset, analysis):
    _, estimator, method, side = analysis.split(":")
    res = bm.trimfill(effects(dataset), estimator=estimator, method=method, side=None if side == "auto" else side)
    ref = REF[dataset, analysis]
    assert res.k0 == ref["k0"][0]
    assert res.side == ("left" if ref["side"][0] < 0 else "right")
    close([res.k0_se, res.mu, res.se, res.lower, res.upper, res.tau2, res.result.pvalue, res.p_k0],
          [ref[c][0] for c in ("k0_se", "mu", "se", "lower", "upper", "tau2", "pvalue", "p_k0")])
    if res.k0:
        close(res.filled["y"], ref["filled_y"])
        close(res.filled["se"] ** 2, ref["filled_v"])


# ---------------------------------------------------------------------------------------------- selection models
SELMODEL_STEPS = {"stepfun": (0.025, 0.10, 0.50, 1), "stepfun2": (0.05, 1)}


def _selmodel(dataset, analysis):
    _, kind, _ = analysis.split(":")
    steps = SELMODEL_STEPS.get(kind)
    return bm.selmodel(effects(dataset), type="stepfun" if steps else kind, steps=steps), REF[dataset, analysis]


@pytest.mark.parametrize("dataset, analysis", [c for c in cases("selmodel") if c.values[1].endswith("tight")])
def test_selmodel_matches_metafor_at_tight_settings(dataset, analysis):
    """The maximum itself (log-likelihood, LRT) to 1e-8; the parameters to 1e-4 of their standard errors (the
    likelihood is flat there: a shift of 1e-5 SE changes it by 1e-10); SEs (numerical Hessians) to 1e-4."""
    res, ref = _selmodel(dataset, analysis)
    assert res.loglik >= ref["loglik"][0] - 1e-7
    if res.loglik - ref["loglik"][0] > 1e-7:  # metafor stopped short: a delta at its bound (fibromyalgia, stepfun
        assert any("bound" in n for n in res.notes)  # with steps 0.05/1: delta_2 -> 100), which we report
        return
    close([res.loglik, res.LRT, res.LRT_tau2], [ref["loglik"][0], ref["LRT"][0], ref["LRT_tau2"][0]], rtol=0,
          atol=1e-7)
    np.testing.assert_array_less(np.abs(np.r_[res.mu, res.tau2, res.delta] - np.r_[ref["mu"], ref["tau2"], ref["delta"]]),
                                 1e-4 * np.nan_to_num(np.r_[ref["se"], ref["tau2_se"], ref["delta_se"]], nan=1.0) + 1e-9)
    close(np.r_[res.se, res.tau2_se, res.delta_se], np.r_[ref["se"], ref["tau2_se"], ref["delta_se"]], rtol=1e-4)
    close([res.LRT_pvalue, res.pvalue], [ref["LRT_pvalue"][0], ref["pvalue"][0]], rtol=1e-4, atol=1e-8)
    assert res.LRT_df == ref["LRT_df"][0]


@pytest.mark.parametrize("dataset, analysis", [c for c in cases("selmodel") if c.values[1].endswith("default")])
def test_selmodel_near_metafor_defaults(dataset, analysis):
    res, ref = _selmodel(dataset, analysis)
    # never a worse maximum than metafor's (up to the error of metafor's integrals at rel.tol 1.2e-4) ...
    assert res.loglik >= ref["loglik"][0] - 1e-5
    # ... and where metafor's BFGS stopped short (e.g. fibromyalgia, logistic: delta at its bound 0, where
    # bayesmeta's log-likelihood is 2e-3 higher) the estimates differ by what that shortfall allows
    if res.loglik - ref["loglik"][0] < 1e-4:
        close([res.mu, res.tau2, res.loglik], [ref[c][0] for c in ("mu", "tau2", "loglik")], rtol=2e-3, atol=2e-4)


def test_selmodel_normalising_constant_against_scipy_quad():
    """A_i by our Gauss-Legendre rule against scipy's adaptive quadrature of w(p(y)) N(y; mu, v + tau^2)."""
    from bayesmeta.frequentist_methods.selection import _Problem

    data = effects("hackshaw1998")
    for kind, d, steps in (("beta", np.array([0.6, 1.4]), None), ("halfnorm", np.array([2.0]), None),
                           ("power", np.array([0.7]), None), ("negexp", np.array([3.0]), np.array([0.05, 1.0]))):
        prob = _Problem(data.y, data.se**2, kind, steps, 1e-5 if kind in ("beta", "power") else 0.0)
        ours = prob.norm_const(0.1, 0.03, d)
        for i in (0, 20):
            s, sv = math.sqrt(data.se[i] ** 2 + 0.03), data.se[i]

            def f(x, sv=sv, s=s, d=d, prob=prob):
                p = np.clip(stats.norm.sf(x / sv), prob.p_min, 1 - prob.p_min)
                return prob.weight(np.asarray(p), d) * stats.norm.pdf(x, 0.1, s)

            ref = integrate.quad(f, -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=500)[0]
            close(ours[i], ref, rtol=1e-9)


# ---------------------------------------------------------------------------------------------- influence, cumul
@pytest.mark.parametrize("dataset, analysis", cases("influence"))
def test_influence_matches_metafor(dataset, analysis):
    res = bm.influence(effects(dataset), method=analysis.split(":")[1])
    ref = REF[dataset, analysis]
    for col in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del", "hat", "weight", "dfbetas"):
        close(res[col], ref[col], atol=1e-9)
    assert list(res["influential"]) == list(ref["influential"].astype(bool))


@pytest.mark.parametrize("dataset, analysis", cases("cumul"))
def test_cumulative_matches_metafor(dataset, analysis):
    parts = analysis.split(":")
    data = effects(dataset)
    order = None
    if len(parts) == 3:  # by publication year
        order = [int(s.split()[-1]) for s in data.study]
    res = bm.cumulative(data, method=parts[1], order=order)
    ref = REF[dataset, analysis]
    if "order" in ref:
        assert list(res.index) == list(data.study[ref["order"].astype(int) - 1])
    for col in ("mu", "se", "lower", "upper", "tau2", "I2", "statistic", "pvalue", "Q", "Q_pvalue", "H2"):
        if col in ref:
            close(res[col], ref[col], atol=1e-9)


@pytest.mark.parametrize("dataset, analysis", cases("baujat"))
def test_baujat_matches_metafor(dataset, analysis):
    res = bm.baujat(effects(dataset), method=analysis.split(":")[1])
    close(res["x"], REF[dataset, analysis]["x"])
    close(res["y"], REF[dataset, analysis]["y"], atol=1e-9)


# ---------------------------------------------------------------------------------------------- GOSH
@pytest.mark.parametrize("method", ["FE", "DL", "REML"])
def test_gosh_all_subsets_match_metafor(method):
    ref = pd.read_csv(DATA / "metafor_gosh_reference.csv", dtype={"subset": str})
    ref = ref[ref["method"] == method].reset_index(drop=True)
    res = bm.gosh(effects("clbp"), method=method)
    assert res.exact and len(res.results) == len(ref) == 2**12 - 1
    codes = ["".join("1" if x else "0" for x in row) for row in res.incl.to_numpy()]
    assert codes == list(ref["subset"])
    for col in ("k", "mu", "tau2", "I2", "H2", "Q"):
        close(res.results[col], ref[col], atol=1e-8)


def test_gosh_random_subsets_are_seeded_and_fit_like_a_single_fit():
    data = effects("fibromyalgia")  # k = 22: 4 million subsets, so a random sample
    a, b = bm.gosh(data, max_subsets=500, method="DL", seed=3), bm.gosh(data, max_subsets=500, method="DL", seed=3)
    assert not a.exact and len(a.results) == 500
    pd.testing.assert_frame_equal(a.results, b.results)
    row = 17
    single = bm.frequentist(data.subset(a.incl.iloc[row].to_numpy()), method="DL")
    close([a.results["mu"][row], a.results["tau2"][row], a.results["I2"][row]], [single.mu, single.tau2, single.I2])


# ---------------------------------------------------------------------------------------------- bad input
SMALL, NO_N, BCG = effects("bcg").take([0, 1]), effects("hackshaw1998"), effects("bcg")
BAD_INPUT = [
    (lambda: bm.regtest(SMALL), "at least 3 studies"),
    (lambda: bm.regtest(NO_N, predictor="ni"), "sample size"),
    (lambda: bm.regtest(BCG, predictor="n"), "predictor must be one of"),
    (lambda: bm.regtest(BCG, model="glm"), "model must be one of"),
    (lambda: bm.ranktest(SMALL), "at least 3 studies"),
    (lambda: bm.trimfill(BCG, estimator="Q1"), "estimator must be one of"),
    (lambda: bm.trimfill(BCG, side="up"), "side must be"),
    (lambda: bm.selmodel(BCG, type="cauchy"), "type must be one of"),
    (lambda: bm.selmodel(BCG, type="stepfun"), "needs steps"),
    (lambda: bm.selmodel(BCG, type="stepfun", steps=(0.001, 0.002, 1)),
     r"no study has a one-sided p-value in \(0.001, 0.002\]"),
    (lambda: bm.selmodel(SMALL, type="stepfun", steps=(0.5, 1)), "too few"),
    (lambda: bm.selmodel(BCG, type="halfnorm", steps=(0.025, 0.5)), "takes a single step"),
    (lambda: bm.influence(SMALL), "at least 3 studies"),
    (lambda: bm.gosh(BCG, method="PM"), "gosh: method"),
    (lambda: bm.cumulative(BCG, order="year"), "order 'year' is not a column"),
]


@pytest.mark.parametrize("call, message", BAD_INPUT)
def test_bad_input_is_one_clear_data_error(call, message):
    with pytest.raises(DataError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
