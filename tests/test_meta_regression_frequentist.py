"""Frequentist meta-regression and subgroup analysis against R metafor 3.8 (tests/data/metafor_moderators_reference.csv,
tests/data/metafor_subgroups_reference.csv; provenance in tests/data/README.md), and against a dense k x k
implementation of metafor's formulas for the estimators the reference does not cover (HE, HS, SJ, EB).

Tolerances: every reference value to 1e-6 relative (absolute 1e-12 where the value is 0). We run metafor's own
algorithms at its default tolerances (Fisher scoring threshold 1e-5, R's uniroot), so the agreement measured is
to rounding: at most 1e-12 relative (R^2, a difference of two tau^2 values: 9e-12; tau^2 and I^2: 1e-12; the
other fields 6e-13).
"""

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmeta as bm
from bayesmeta.frequentist_methods import estimate_tau2

DATA = Path(__file__).parent / "data"


def raudenbush():
    df = pd.read_csv(DATA / "raudenbush1985_mods.csv")
    return bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study", moderators=["weeks", "setting", "tester"])


def thirdwave():
    df = bm.datasets.load("thirdwave")
    return bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author", moderators=[
        "RiskOfBias", "TypeControlGroup", "InterventionDuration", "InterventionType", "ModeOfDelivery"])


DATASETS = {"raudenbush1985": raudenbush, "thirdwave": thirdwave}


def our_formula(mods: str) -> str:
    """metafor's formula in formulaic: factor(x) -> C(x), log -> np.log."""
    return re.sub(r"factor\((\w+)\)", r"C(\1)", mods).replace("log(weeks + 1)", "np.log(weeks + 1)")


def our_term(term: str) -> str:
    """metafor's coefficient names -> ours: intrcpt, factor(tester)blind, log(weeks + 1)."""
    if term == "intrcpt":
        return "intercept"
    if term == "log(weeks + 1)":
        return "np.log(weeks + 1)"
    factor = re.fullmatch(r"factor\((\w+)\)(.*)", term)
    return f"C({factor.group(1)})[T.{factor.group(2)}]" if factor else term


def close(got, expected, what):
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12), what


def moderator_models():
    ref = pd.read_csv(DATA / "metafor_moderators_reference.csv")
    return [pytest.param(key, rows, id=f"{key[0]}-{key[1]}-{key[2]}-{'knha' if key[3] else 'z'}")
            for key, rows in ref.groupby(["dataset", "mods", "method", "knha"], sort=False)]


@pytest.mark.parametrize("key,rows", moderator_models())
def test_every_metafor_meta_regression_value(key, rows):
    dataset, mods, method, knha = key
    res = bm.frequentist(DATASETS[dataset](), method=method, ci="hksj" if knha else "z", moderators=our_formula(mods))
    first = rows.iloc[0]
    assert res.k == first.k and res.QE_df == first.k - len(rows)
    assert res.QM_df == ((int(first.QMdf1), int(first.QMdf2)) if knha else int(first.QMdf1))
    for ours, theirs in dict(QM="QM", QM_pvalue="QMp", QE="QE", QE_pvalue="QEp", tau2="tau2", I2="I2", R2="R2").items():
        close(getattr(res, ours), first[theirs], ours)
    assert list(res.coefficients.index) == [our_term(t) for t in rows.term]  # same terms, same order
    for _, row in rows.iterrows():
        coef = res.coefficients.loc[our_term(row.term)]
        for ours, theirs in dict(estimate="beta", se="se", statistic="zval", pvalue="pval", lower="ci_lb",
                                 upper="ci_ub").items():
            close(coef[ours], row[theirs], f"{row.term} {ours}")


def subgroup_analyses():
    ref = pd.read_csv(DATA / "metafor_subgroups_reference.csv")
    return [pytest.param(key, rows, id=f"{key[0]}-{key[1]}") for key, rows in ref.groupby(["by", "method"], sort=False)]


@pytest.mark.parametrize("key,rows", subgroup_analyses())
def test_every_subgroup_value(key, rows):
    by, method = key
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.EstimationWarning)
        res = bm.frequentist(thirdwave(), method=method, subgroup=by, subgroup_tau="separate")
    test = rows[rows.group.str.startswith("(")].iloc[0]
    close(res.Q_between, test.Q_between, "Q_between")
    close(res.Q_between_pvalue, test.p_between, "p_between")
    assert res.Q_between_df == test.df
    groups = rows[~rows.group.str.startswith("(")]
    assert list(res.subgroups.index) == list(groups.group)  # R's level order: ACT, mindfulness, PCI
    for _, row in groups.iterrows():
        sub = res.subgroups.loc[row.group]
        assert sub["k"] == row.k
        for ours, theirs in dict(mu="mu", se="se", lower="ci_lb", upper="ci_ub", tau2="tau2", I2="I2").items():
            close(sub[ours], row[theirs], f"{row.group} {ours}")
    overall = bm.frequentist(thirdwave(), method=method)  # the top level is RevMan's "Total"
    assert res.mu == overall.mu and res.tau2 == overall.tau2


# --------------------------------------------------------------------------- independent dense formulas
def dense_tau2(y, v, X, method):
    """metafor's rma.uni formulas with the full k x k matrices, for the estimators without a reference."""
    k, p = X.shape

    def P(w):
        W = np.diag(w)
        return W - W @ X @ np.linalg.solve(X.T @ W @ X, X.T @ W)

    yc = y - y.mean()
    if method == "HE":
        Pols = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
        return max(0.0, (yc @ Pols @ yc - np.trace(Pols @ np.diag(v))) / (k - p))
    if method == "HS":
        return max(0.0, (yc @ P(1 / v) @ yc - k) / np.sum(1 / v))
    if method == "SJ":
        tau0 = np.var(y)
        return tau0 * (yc @ P(1 / (v + tau0)) @ yc) / (k - p)
    raise ValueError(method)


@pytest.mark.parametrize("method", ["HE", "HS", "SJ"])
@pytest.mark.parametrize("formula", ["~ weeks", "~ weeks + C(setting)", "~ C(tester)"])
def test_closed_form_estimators_equal_dense_formulas(method, formula):
    data = raudenbush()
    X = bm.design.design_matrix(data, formula).X
    res = bm.frequentist(data, method=method, moderators=formula)
    assert res.tau2 == pytest.approx(dense_tau2(data.y, data.vi, X, method), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("formula", ["~ weeks", "~ np.log(weeks + 1) + C(setting) + tester"])
def test_iterative_estimators_solve_their_equations(formula):
    """At tight control: PM and EB solve Q_E(tau^2) = k - p, REML y'PPy = tr(P), ML y'PPy = tr(W)."""
    data = raudenbush()
    X = bm.design.design_matrix(data, formula).X
    k, p = X.shape
    tight = {"threshold": 1e-14, "tol": 1e-15}

    def P(tau2):
        W = np.diag(1 / (data.vi + tau2))
        return W, W - W @ X @ np.linalg.solve(X.T @ W @ X, X.T @ W)

    for method in ("PM", "EB", "REML", "ML"):
        tau2 = bm.frequentist(data, method=method, moderators=formula, control=tight).tau2
        W, Pm = P(tau2)
        y = data.y
        lhs, rhs = {"PM": (y @ Pm @ y, k - p), "EB": (y @ Pm @ y, k - p), "REML": (y @ Pm @ Pm @ y, np.trace(Pm)),
                    "ML": (y @ Pm @ Pm @ y, np.trace(W))}[method]
        if tau2 < 1e-10:  # at the boundary the equation has no root above 0: lhs < rhs there
            assert lhs < rhs, method
        else:
            assert lhs == pytest.approx(rhs, rel=1e-9), method


# --------------------------------------------------------------------------- structure of the result
def test_intercept_only_model_carries_its_coefficient():
    data = thirdwave()
    for ci in ("z", "hksj"):
        res = bm.frequentist(data, method="REML", ci=ci)
        row = res.coefficients.loc["intercept"]
        assert list(res.coefficients.index) == ["intercept"]
        assert (row.estimate, row.se, row.lower, row.upper, row.pvalue) == (res.mu, res.se, res.lower, res.upper,
                                                                            res.pvalue)
        assert res.QM == pytest.approx(row.statistic**2) and res.QE == res.Q and res.moderators is None
        assert "coefficients" not in res.to_dict()  # the plain result keeps its keys
    one = bm.frequentist(data, method="REML", moderators="~ 1")
    assert one.mu == bm.frequentist(data, method="REML").mu and "mu" in repr(one)


def test_regression_output_has_no_nan_and_is_json():
    data = raudenbush()
    for method in ("FE", "DL", "REML"):
        for ci in ("z", "hksj"):
            for formula in ("~ weeks + C(setting)", "~ 0 + C(tester)"):
                res = bm.frequentist(data, method=method, ci=ci, moderators=formula)
                text = repr(res)
                assert "nan" not in text.lower() and "QE =" in text and res.coefficients.index[0] in text
                out = json.loads(json.dumps(res.to_dict(), allow_nan=False))
                assert {"k", "method", "moderators", "coefficients", "QM", "QM_df", "QM_pvalue", "QE", "QE_pvalue",
                        "tau2", "I2", "R2"} <= set(out)
                assert set(out["coefficients"]) == set(res.coefficients.index)
                assert set(out["coefficients"][res.coefficients.index[0]]) == {"estimate", "se", "statistic",
                                                                                 "pvalue", "lower", "upper"}
    assert "F(2, 16)" in repr(bm.frequentist(data, ci="hksj", moderators="~ weeks + C(setting)"))


def test_model_without_intercept_tests_every_coefficient():
    data = raudenbush()
    cells = bm.frequentist(data, method="REML", moderators="~ 0 + C(tester)")
    contrast = bm.frequentist(data, method="REML", moderators="~ C(tester)")
    assert cells.QM_df == 2 and contrast.QM_df == 1
    assert cells.tau2 == pytest.approx(contrast.tau2, rel=1e-10)  # same column space
    b = cells.coefficients["estimate"]
    assert b.iloc[1] - b.iloc[0] == pytest.approx(contrast.coefficients["estimate"].iloc[1], rel=1e-9)
    assert cells.R2 == pytest.approx(contrast.R2, rel=1e-9)  # R^2: the column space holds the intercept
    assert bm.frequentist(data, moderators="~ 0 + weeks").R2 is None


def test_fe_r2_is_the_adjusted_r2_of_the_weighted_regression():
    data = raudenbush()
    res = bm.frequentist(data, method="FE", moderators="~ weeks")
    q0 = bm.frequentist(data, method="FE").Q
    k = data.k
    assert res.R2 == pytest.approx(100 * (1 - (res.QE / (k - 2)) / (q0 / (k - 1))), rel=1e-12)


def test_predict_at_moderator_values():
    data = raudenbush()
    res = bm.frequentist(data, method="REML", moderators="~ weeks + C(setting)")
    mods = data.moderators
    fitted = res.predict({"weeks": mods["weeks"].to_numpy(), "setting": mods["setting"].to_numpy()})
    X = bm.design.design_matrix(data, "~ weeks + C(setting)").X
    assert np.allclose(fitted["pred"], X @ res.coefficients["estimate"].to_numpy(), rtol=1e-12)
    at = res.predict({"weeks": 0, "setting": "group"}).iloc[0]
    b = res.coefficients.loc["intercept"]
    assert at.pred == pytest.approx(b.estimate) and at.lower == pytest.approx(b.lower)
    z = stats.norm.ppf(0.975)
    assert at.pi_upper == pytest.approx(at.pred + z * np.sqrt(at.se**2 + res.tau2))
    with pytest.raises(bm.DataError, match="unknown level 'home'"):
        res.predict({"weeks": 1, "setting": "home"})
    plain = bm.frequentist(data, method="REML")
    assert plain.predict().iloc[0].pi_lower == pytest.approx(plain.pi_lower)


def test_drop_missing_leaves_out_and_lists_the_studies():
    data = raudenbush()
    mods = data.moderators.copy()
    mods["weeks"] = mods["weeks"].astype(float)
    mods.iloc[2, mods.columns.get_loc("weeks")] = np.nan
    holed = bm.EffectData(y=data.y, se=data.se, study=data.study, moderators=mods)
    with pytest.raises(bm.DataError, match=r"row 3 \('Jose & Cody 1971'\), column 'weeks': moderator value is missing"):
        bm.frequentist(holed, moderators="~ weeks")
    res = bm.frequentist(holed, moderators="~ weeks", drop_missing=True)
    assert res.dropped == ((3, "Jose & Cody 1971", "weeks"),) and res.k == data.k - 1
    assert "Jose & Cody 1971" in repr(res) and res.to_dict()["dropped"] == [[3, "Jose & Cody 1971", "weeks"]]
    direct = bm.frequentist(data.subset(np.arange(data.k) != 2), moderators="~ weeks")
    assert res.coefficients.equals(direct.coefficients)


def test_common_tau_subgroups_are_the_mixed_effects_model():
    data = thirdwave()
    res = bm.frequentist(data, method="REML", subgroup="ModeOfDelivery", subgroup_tau="common")
    cells = bm.frequentist(data, method="REML", moderators="~ 0 + C(ModeOfDelivery)")
    contrast = bm.frequentist(data, method="REML", moderators="~ C(ModeOfDelivery)")
    assert np.allclose(res.subgroups["mu"], cells.coefficients["estimate"], rtol=1e-12)
    assert np.allclose(res.subgroups["se"], cells.coefficients["se"], rtol=1e-12)
    assert (res.subgroups["tau2"] == cells.tau2).all()
    assert res.Q_between == pytest.approx(contrast.QM, rel=1e-10) and res.Q_between_df == contrast.QM_df == 2
    text = repr(res)
    assert "common tau^2" in text and "Test for subgroup differences" in text and "nan" not in text


def test_subgroup_with_one_study_warns_and_is_analysed():
    data = bm.datasets.effect_data("thirdwave")
    df = bm.datasets.load("thirdwave")
    df["arm"] = ["solo"] + ["rest"] * (len(df) - 1)
    data = bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author", moderators=["arm"])
    with pytest.warns(bm.EstimationWarning, match="'solo' of 'arm' has one study"):
        res = bm.frequentist(data, method="REML", ci="hksj", subgroup="arm")
    solo = res.subgroups.loc["solo"]
    assert solo["k"] == 1 and solo["tau2"] == 0 and solo["mu"] == data.y[0] and solo["se"] == data.se[0]
    assert "nan" not in repr(res) and json.dumps(res.to_dict(), allow_nan=False)


def test_bad_options_are_refused():
    data = raudenbush()
    with pytest.raises(ValueError, match="either moderators"):
        bm.frequentist(data, moderators="~ weeks", subgroup="setting")
    with pytest.raises(ValueError, match="level must be a probability"):
        bm.frequentist(data, level=95)
    with pytest.raises(ValueError, match="subgroup_tau"):
        bm.frequentist(data, subgroup="setting", subgroup_tau="pooled")
    with pytest.raises(bm.DataError, match="no column 'settng'"):
        bm.frequentist(data, subgroup="settng")
    one_group = bm.EffectData.from_dataframe(pd.DataFrame({"y": [0.1, 0.2, 0.3], "se": [0.1] * 3, "g": ["a"] * 3}),
                                             y="y", se="se", moderators=["g"])
    with pytest.raises(bm.DataError, match="two or more groups"):
        bm.frequentist(one_group, subgroup="g")


def test_every_estimator_runs_with_moderators():
    data = thirdwave()
    for method in bm.frequentist_methods.METHODS:
        res = bm.frequentist(data, method=method, moderators="~ C(RiskOfBias)")
        assert np.isfinite(res.tau2) and np.all(np.isfinite(res.coefficients.to_numpy()))
    # R^2 refers to the intercept-only fit by the same method
    tau2_re, _ = estimate_tau2(data.y, data.vi, "DL")
    res = bm.frequentist(data, method="DL", moderators="~ C(RiskOfBias)")
    assert res.R2 == pytest.approx(max(0, 100 * (tau2_re - res.tau2) / tau2_re))
