"""Extreme but legal data through the frequentist twin (issue 8, class 3): right, finite numbers or a clear error.

Checks: the weighted-least-squares quantities against exact rational arithmetic when weights span 1e30; the
typical within-study variance with one SE of 1e-12 (the revman5 preset printed NaN/inf and I^2 = 0 before);
data in units 1e150 or 1e-150 equal to the same data in ordinary units; an effect of 1e6 among SMDs. Hypothesis
properties for every method and CI type, with 2-8 studies, effects anywhere in [-1e6, 1e6] and SEs from 1e-8
to 1e8: every field finite (or a DataError/EstimationError of one line), mu inside [min y, max y], and
equivariance: scaling y and se by c scales mu, se, CI and prediction limits by c and tau^2 by c^2 and leaves
I^2, H^2, Q and p-values unchanged, to 1e-8 relative. The equivariance runs use converged controls
(threshold 0, tol 0: the iterations then stop at rounding level) because metafor's default stopping rules are
absolute in tau^2 units and so are not scale-free themselves.
"""

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import bayesmeta as bm
from bayesmeta.frequentist_methods import (METHODS, EstimationError, WeightedFit, frequentist, i_squared,
                                           typical_variance)

FIELDS = ("mu", "se", "lower", "upper", "pvalue", "tau2", "I2", "H2", "Q", "Q_pvalue")
RE_FIELDS = ("tau2_lower", "tau2_upper", "I2_lower", "I2_upper", "H2_lower", "H2_upper")
CONVERGED = {"threshold": 0.0, "tol": 0.0, "maxiter": 1000}


def effects(y, se):
    y, se = np.asarray(y, float), np.asarray(se, float)
    return bm.EffectData(y=y, se=se, study=np.array([f"Study {i + 1}" for i in range(len(y))], dtype=object))


# --------------------------------------------------------------------------- exact arithmetic
def exact_projection(X, w, y):
    """y'Py, y'PPy, tr(P), tr(PP) with P = W - W X (X'WX)^-1 X'W, in rational arithmetic."""
    k, p = X.shape
    Xf = [[Fraction(v) for v in row] for row in X]
    wf, yf = [Fraction(v) for v in w], [Fraction(v) for v in y]
    A = [[sum(wf[i] * Xf[i][a] * Xf[i][b] for i in range(k)) for b in range(p)] for a in range(p)]
    M = [row[:] + [Fraction(int(i == j)) for j in range(p)] for i, row in enumerate(A)]
    for c in range(p):  # Gauss-Jordan
        pivot = next(r for r in range(c, p) if M[r][c] != 0)
        M[c], M[pivot] = M[pivot], M[c]
        M[c] = [v / M[c][c] for v in M[c]]
        for r in range(p):
            if r != c and M[r][c] != 0:
                M[r] = [a - M[r][c] * b for a, b in zip(M[r], M[c])]
    Ainv = [row[p:] for row in M]
    P = [[(wf[i] if i == j else 0) - wf[i] * wf[j] * sum(Xf[i][a] * Ainv[a][b] * Xf[j][b]
                                                          for a in range(p) for b in range(p))
          for j in range(k)] for i in range(k)]
    Py = [sum(P[i][j] * yf[j] for j in range(k)) for i in range(k)]
    return dict(rss=float(sum(a * b for a, b in zip(yf, Py))), ypp=float(sum(a * a for a in Py)),
                tr_p=float(sum(P[i][i] for i in range(k))),
                tr_pp=float(sum(P[i][j] ** 2 for i in range(k) for j in range(k))))


@pytest.mark.parametrize("case", range(6))
def test_weighted_fit_equals_exact_arithmetic_over_30_orders_of_magnitude(case):
    rng = np.random.default_rng(case)
    k = 7
    X = np.ones((k, 1)) if case < 2 else np.column_stack(
        [np.ones(k), rng.integers(0, 5, size=k), rng.uniform(size=k) < 0.5]).astype(float)
    w = 10.0 ** rng.uniform(-8, 8, size=k)
    if case % 2:
        w[:] = 1.0
        w[2], w[5] = 1e30, 1e-20  # one study dominates, one hardly counts
    y = np.round(rng.normal(size=k), 3)
    fit, exact = WeightedFit(X, w, y), exact_projection(X, w, y)
    for name, value in exact.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-12), name


def test_typical_variance_with_one_tiny_se():
    se = np.array([1e-12, 0.2, 0.3, 0.25, 0.15])
    w = [Fraction(1) / Fraction(float(s)) ** 2 for s in se]
    exact = float(4 * sum(w) / (sum(w) ** 2 - sum(x * x for x in w)))
    assert typical_variance(se**2) == pytest.approx(exact, rel=1e-13)
    data = effects([-0.3, -0.5, 0.1, -0.2, -0.6], se)
    res = frequentist(data, method="revman5")
    assert all(np.isfinite(getattr(res, f)) for f in FIELDS + RE_FIELDS)
    assert res.tau2 > 0 and res.I2 == pytest.approx(100 * res.tau2 / (res.tau2 + exact), rel=1e-12)
    assert "nan" not in repr(res) and "inf" not in repr(res)
    assert i_squared(0.0, se**2)[0] == 0.0


@pytest.mark.parametrize("unit", [1e150, 1e-150, 1e-8, 1e8])
@pytest.mark.parametrize("method", METHODS)
def test_data_in_extreme_units_equal_the_same_data_in_ordinary_units(unit, method):
    y, se = np.array([0.41, -0.12, 0.83, 0.25, 0.6]), np.array([0.2, 0.15, 0.3, 0.1, 0.25])
    control = dict(CONVERGED)
    ordinary = frequentist(effects(y, se), method=method, control=control)
    scaled = frequentist(effects(y * unit, se * unit), method=method, control=control)
    for name in ("mu", "se", "lower", "upper", "pi_lower", "pi_upper"):
        assert getattr(scaled, name) / unit == pytest.approx(getattr(ordinary, name), rel=1e-9, nan_ok=True), name
    for name in ("tau2", "tau2_lower", "tau2_upper"):
        assert getattr(scaled, name) / unit**2 == pytest.approx(getattr(ordinary, name), rel=1e-9, abs=1e-12,
                                                                 nan_ok=True), name
    for name in ("I2", "H2", "Q", "pvalue"):
        assert getattr(scaled, name) == pytest.approx(getattr(ordinary, name), rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("unit", [1e-150, 1e150])
def test_default_controls_still_converge_in_extreme_units(unit):
    """metafor's absolute defaults would stop at once for tau^2 ~ 1e-300; capped, REML agrees to 1e-4."""
    y, se = np.array([0.41, -0.12, 0.83, 0.25, 0.6]), np.array([0.2, 0.15, 0.3, 0.1, 0.25])
    ordinary = frequentist(effects(y, se), method="REML")
    scaled = frequentist(effects(y * unit, se * unit), method="REML")
    assert scaled.tau2 / unit**2 == pytest.approx(ordinary.tau2, rel=1e-4)


def test_an_effect_of_a_million_among_smds():
    y = [1e6, -0.2, -0.4, 0.1, -0.3]
    se = [0.2, 0.2, 0.3, 0.25, 0.15]
    for method in METHODS:
        for ci in ("z", "hksj"):
            res = frequentist(effects(y, se), method=method, ci=ci)
            names = FIELDS + (RE_FIELDS if method != "FE" else ())
            assert all(np.isfinite(getattr(res, f)) for f in names), (method, ci)
            assert min(y) <= res.mu <= max(y)
            if method != "FE":
                assert res.tau2 > 1e10 and res.I2 > 99.99  # the outlier is heterogeneity, not a point mass


def test_standard_errors_too_far_apart_are_refused_naming_the_rows():
    with pytest.raises(bm.DataError, match=r"row 1 \('Study 1'\), column 'se': the standard error 1e\+100 is more "
                                           r"than 1e100 times the smallest \(row 2, 0.1\)"):
        frequentist(effects([0.1, 0.2, 0.3], [1e100, 0.1, 0.2]))


def test_exact_fit_under_knapp_hartung_is_a_clear_error():
    with pytest.raises(EstimationError, match="fit the model exactly"):
        frequentist(effects([0.2, 0.2, 0.2], [0.1, 0.2, 0.3]), method="REML", ci="hksj")
    res = frequentist(effects([0.2, 0.2, 0.2], [0.1, 0.2, 0.3]), method="REML")
    assert res.mu == pytest.approx(0.2) and res.tau2 == 0 and res.I2 == 0


def test_moderators_with_extreme_weights():
    df = dict(y=[0.1, 0.4, 0.3, 0.8, 0.5, 0.9, 0.2], se=[1e-9, 0.2, 0.3, 0.1, 0.25, 0.2, 1e5],
              x=[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    data = bm.EffectData.from_dataframe(pd.DataFrame(df), y="y", se="se", moderators=["x"])
    for method in METHODS:
        for ci in ("z", "hksj"):
            res = frequentist(data, method=method, ci=ci, moderators="~ x")
            assert np.all(np.isfinite(res.coefficients.to_numpy())) and np.isfinite(res.tau2)
            assert np.isfinite(res.I2) and np.isfinite(res.QE) and np.isfinite(res.QM) and "nan" not in repr(res)
    fe = frequentist(data, method="FE", moderators="~ x")
    assert fe.coefficients.loc["intercept", "estimate"] == pytest.approx(0.1, abs=1e-12)  # pinned by the SE of 1e-9
    assert fe.coefficients.loc["intercept", "se"] == pytest.approx(1e-9, rel=1e-3)


# --------------------------------------------------------------------------- hypothesis properties
@st.composite
def extreme_data(draw):
    k = draw(st.integers(2, 8))
    y = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False), min_size=k, max_size=k))
    log_se = draw(st.lists(st.floats(-8, 8), min_size=k, max_size=k))
    return np.array(y), 10.0 ** np.array(log_se)


def run(data, method, ci, control=None):
    """The result, or None for a clear error (one line, of the documented types)."""
    try:
        return frequentist(data, method=method, ci=ci, control=control)
    except (bm.DataError, EstimationError) as err:
        assert "\n" not in str(err) and str(err)
        return None


@pytest.mark.filterwarnings("ignore::bayesmeta.errors.EstimationWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extreme_data(), st.sampled_from(METHODS), st.sampled_from(["z", "hksj"]))
def test_every_field_finite_and_mu_inside_the_effects(values, method, ci):
    y, se = values
    res = run(effects(y, se), method, ci)
    if res is None:
        return
    names = FIELDS + (RE_FIELDS + ("pi_lower", "pi_upper") if method != "FE" else ())
    bad = [f for f in names if not np.isfinite(getattr(res, f))]
    assert not bad, bad
    assert np.all(np.isfinite(res.weights)) and res.weights.sum() == pytest.approx(100)
    ulps = 4 * np.finfo(float).eps * np.max(np.abs(y))
    assert y.min() - ulps <= res.mu <= y.max() + ulps


@pytest.mark.filterwarnings("ignore::bayesmeta.errors.EstimationWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extreme_data(), st.sampled_from(METHODS), st.sampled_from(["z", "hksj"]), st.floats(-6, 6))
def test_scaling_y_and_se_scales_the_results(values, method, ci, log_c):
    y, se = values
    # effects that differ only at rounding level change when scaled (the data's own rounding, not ours)
    assume(np.ptp(y) == 0 or np.ptp(y) > 1e-9 * np.max(np.abs(y)))
    c = 10.0**log_c
    res = run(effects(y, se), method, ci, CONVERGED)
    if res is None:
        return
    scaled = run(effects(y * c, se * c), method, ci, CONVERGED)
    assert scaled is not None
    size = float(np.max(np.abs(y)) + np.max(se))
    for name in ("mu", "se", "lower", "upper", "pi_lower", "pi_upper"):
        assert getattr(scaled, name) / c == pytest.approx(getattr(res, name), rel=1e-8, abs=1e-12 * size,
                                                           nan_ok=True), name
    for name in ("tau2", "tau2_lower", "tau2_upper"):
        assert getattr(scaled, name) / c**2 == pytest.approx(getattr(res, name), rel=1e-8, abs=1e-12 * size**2,
                                                              nan_ok=True), name
    for name in ("I2", "I2_lower", "I2_upper"):
        assert getattr(scaled, name) == pytest.approx(getattr(res, name), rel=1e-8, abs=1e-8, nan_ok=True), name
    for name in ("H2", "Q"):
        assert getattr(scaled, name) == pytest.approx(getattr(res, name), rel=1e-8, abs=1e-10, nan_ok=True), name
    for name in ("pvalue", "Q_pvalue"):
        assert getattr(scaled, name) == pytest.approx(getattr(res, name), abs=1e-8), name
    assert math.isclose(scaled.weights.sum(), 100)


def test_empirical_bayes_falls_back_to_root_finding_where_its_iteration_crawls():
    """EB's Morris iteration steps by 1/sum(w): with an SE of 2.5e-6 it does not converge in 100 steps (metafor
    stops with an error). Its equation is PM's, so it is solved by root finding, with a note."""
    data = effects([0.92, -0.46, 1.51, -1.25, 0.86, 0.49], [2.5900923, 47.92557545, 6.79317137, 2.54e-06, 0.00051201,
                                                             0.00034997])
    eb, pm = frequentist(data, method="EB"), frequentist(data, method="PM")
    assert eb.tau2 == pm.tau2 > 0 and any("root finding" in n for n in eb.notes)


@st.composite
def regression_data(draw):
    k = draw(st.integers(4, 10))
    y = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=k, max_size=k))
    log_se = draw(st.lists(st.floats(-4, 4), min_size=k, max_size=k))
    x = draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=k, max_size=k))
    g = draw(st.lists(st.sampled_from(["a", "b"]), min_size=k, max_size=k))
    return np.array(y), 10.0 ** np.array(log_se), pd.DataFrame({"x": x, "g": g})


def regression(y, se, mods, method, ci, control=None):
    data = bm.EffectData(y=y, se=se, study=np.array([f"Study {i + 1}" for i in range(len(y))], dtype=object),
                         moderators=mods.set_index(pd.Index([f"Study {i + 1}" for i in range(len(y))])))
    try:
        return frequentist(data, method=method, ci=ci, moderators="~ x + C(g)", control=control)
    except (bm.DataError, EstimationError) as err:
        assert "\n" not in str(err) and str(err)
        return None


@pytest.mark.filterwarnings("ignore::bayesmeta.errors.EstimationWarning")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(regression_data(), st.sampled_from(METHODS), st.sampled_from(["z", "hksj"]), st.floats(-4, 4))
def test_meta_regression_is_finite_and_scales(values, method, ci, log_c):
    y, se, mods = values
    assume(np.ptp(y) == 0 or np.ptp(y) > 1e-9 * np.max(np.abs(y)))
    res = regression(y, se, mods, method, ci, CONVERGED)
    if res is None:
        return
    numbers = [*res.coefficients.to_numpy().ravel(), res.tau2, res.I2, res.H2, res.QE, res.QM, res.QM_pvalue,
               res.QE_pvalue]
    assert np.all(np.isfinite(numbers)) and "nan" not in repr(res).lower()
    c = 10.0**log_c
    scaled = regression(y * c, se * c, mods, method, ci, CONVERGED)
    assert scaled is not None
    size = float(np.max(np.abs(y)) + np.max(se))
    # a coefficient's natural size is the effects' size over its column's (x may be 1e-16 in every study)
    atol = 1e-10 * size / np.max(np.abs(res.design.X), axis=0)
    for col in ("estimate", "se", "lower", "upper"):
        assert np.allclose(scaled.coefficients[col] / c, res.coefficients[col], rtol=1e-7, atol=atol), col
    assert scaled.tau2 / c**2 == pytest.approx(res.tau2, rel=1e-7, abs=1e-10 * size**2)
    for name in ("QM", "QE", "I2"):
        assert getattr(scaled, name) == pytest.approx(getattr(res, name), rel=1e-7, abs=1e-8), name
