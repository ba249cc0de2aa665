"""Effect sizes against metafor's escalc, properties, and every kind of bad input."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bayesmeta as bm
from bayesmeta.effects import hedges_j, smd_from_summary


def normand():
    return bm.datasets.load("normand1999")


def test_hedges_g_equals_metafor_escalc():
    # normand1999's yi, vi were made by metafor escalc(measure="SMD"); tolerance 1e-10 (floating point).
    df = normand()
    data = bm.EffectData.from_summary(df, n1="n1", mean1="m1", sd1="sd1", n2="n2", mean2="m2", sd2="sd2",
                                      study="study")
    np.testing.assert_allclose(data.y, df["yi"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(data.vi, df["vi"], rtol=0, atol=1e-10)
    assert list(data.study) == list(df["study"])


def test_exact_j_against_gamma_and_approximation():
    # J(m) -> 1 - 3/(4m - 1) for large m; J(10) = 0.9227 (Hedges 1981 Table 1: 0.9227).
    assert hedges_j(10) == pytest.approx(0.92274, abs=1e-5)
    assert hedges_j(1000) == pytest.approx(1 - 3 / (4 * 1000 - 1), rel=1e-7)


def test_revman_md_and_cohens_d():
    n1, m1, s1, n2, m2, s2 = 20.0, 5.0, 2.0, 22.0, 6.0, 2.5
    sp = np.sqrt((19 * 4 + 21 * 6.25) / 40)
    d = (m1 - m2) / sp
    g, v = smd_from_summary(n1, m1, s1, n2, m2, s2, "SMD_RevMan")
    assert g == pytest.approx(d * (1 - 3 / (4 * 42 - 9)))
    assert v == pytest.approx(42 / (20 * 22) + g**2 / (2 * (42 - 3.94)))
    dd, vd = smd_from_summary(n1, m1, s1, n2, m2, s2, "d")
    assert dd == pytest.approx(d) and vd == pytest.approx(1 / 20 + 1 / 22 + d**2 / 84)
    md, vm = smd_from_summary(n1, m1, s1, n2, m2, s2, "MD")
    assert md == -1.0 and vm == pytest.approx(4 / 20 + 6.25 / 22)


def test_from_t_statistic_and_from_ci_round_trip():
    df = normand()
    full = bm.EffectData.from_summary(df, n1="n1", mean1="m1", sd1="sd1", n2="n2", mean2="m2", sd2="sd2")
    sp = np.sqrt(((df.n1 - 1) * df.sd1**2 + (df.n2 - 1) * df.sd2**2) / (df.n1 + df.n2 - 2))
    t = (df.m1 - df.m2) / (sp * np.sqrt(1 / df.n1 + 1 / df.n2))
    from_t = bm.EffectData.from_t_statistic(df.assign(t=t), t="t", n1="n1", n2="n2")
    np.testing.assert_allclose(from_t.y, full.y, atol=1e-12)
    z = 1.959963984540054
    ci = pd.DataFrame({"est": full.y, "lo": full.y - z * full.se, "hi": full.y + z * full.se})
    from_ci = bm.EffectData.from_estimate_ci(ci, estimate="est", lower="lo", upper="hi")
    np.testing.assert_allclose(from_ci.se, full.se, atol=1e-12)


arm = st.tuples(st.integers(2, 500), st.floats(-100, 100), st.floats(0.1, 50))


@settings(max_examples=200, deadline=None)
@given(arm, arm, st.sampled_from(["SMD", "SMD_RevMan", "d", "MD"]))
def test_swapping_arms_flips_the_sign(a, b, measure):
    g, v = smd_from_summary(*a, *b, measure)
    g2, v2 = smd_from_summary(*b, *a, measure)
    assert g2 == pytest.approx(-g, abs=1e-12) and v2 == pytest.approx(v, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(arm, arm, st.floats(1e-3, 1e3), st.sampled_from(["SMD", "SMD_RevMan", "d"]))
def test_scaling_means_and_sds_leaves_g_unchanged(a, b, c, measure):
    g, v = smd_from_summary(*a, *b, measure)
    scaled = lambda x: (x[0], x[1] * c, x[2] * c)  # noqa: E731
    g2, v2 = smd_from_summary(*scaled(a), *scaled(b), measure)
    assert g2 == pytest.approx(g, rel=1e-9, abs=1e-12) and v2 == pytest.approx(v, rel=1e-9)


def test_labels_made_when_absent_and_moderators_carried():
    df = bm.datasets.load("thirdwave")
    data = bm.EffectData.from_dataframe(df, y="TE", se="seTE", moderators=["RiskOfBias"], benefit="higher")
    assert data.study[0] == "Study 1" and data.k == 18
    out = data.to_dataframe()
    assert list(out.columns[:4]) == ["study", "y", "se", "vi"] and "RiskOfBias" in out
    assert data.benefit == "higher"


def test_from_table_recognises_common_names():
    assert bm.EffectData.from_table(bm.datasets.load("raudenbush1985")).k == 19
    tw = bm.EffectData.from_table(bm.datasets.load("thirdwave"))
    assert tw.study[0] == "Call et al." and tw.k == 18
    df = normand().rename(columns={"n1": "n1i", "m1": "m1i", "sd1": "sd1i", "n2": "n2i", "m2": "m2i",
                                   "sd2": "sd2i"}).drop(columns=["yi", "vi"])
    np.testing.assert_allclose(bm.EffectData.from_table(df).y, normand()["yi"], atol=1e-10)


def test_clbp_keeps_input_order_and_uses_published_g_for_the_g_only_study():
    data = bm.datasets.effect_data("clbp_digital_pain")
    df = bm.datasets.load("clbp_digital_pain")
    assert list(data.study) == list(df["study"])
    i = list(df["study"]).index("Zheng, 2022a")
    assert data.y[i] == pytest.approx(-df["g"][i]) and data.se[i] == pytest.approx(df["se_g"][i])


# --------------------------------------------------------------------------- bad input
def summary_table(change=None):
    df = normand()[["study", "n1", "m1", "sd1", "n2", "m2", "sd2"]].astype(object)
    for (row, col), value in (change or {}).items():
        df.loc[row, col] = value
    return df


def build(df):
    return bm.EffectData.from_summary(df, n1="n1", mean1="m1", sd1="sd1", n2="n2", mean2="m2", sd2="sd2",
                                      study="study")


@pytest.mark.parametrize("col,value,message", [
    ("m1", np.nan, "missing"),
    ("m1", None, "missing"),
    ("sd2", "twelve", "'twelve' is not a number"),
    ("m2", np.inf, "infinite"),
    ("sd1", 0.0, "not a valid SD"),
    ("sd2", -3.0, "not a valid SD"),
    ("n1", 1, "below 2"),
    ("n2", 30.5, "not a whole number"),
])
def test_bad_summary_values_name_row_and_column(col, value, message):
    df = summary_table({(2, col): value})
    with pytest.raises(bm.DataError) as err:
        build(df)
    text = str(err.value)
    assert f"row 3 ('Orpington-Moderate'), column {col!r}" in text and message in text


@pytest.mark.parametrize("col,value,message", [
    ("yi", np.nan, "missing"), ("vi", 0.0, "not a valid variance"), ("vi", -0.1, "not a valid variance"),
    ("yi", "n/a", "is not a number"), ("yi", -np.inf, "infinite")])
def test_bad_effect_values_name_row_and_column(col, value, message):
    df = bm.datasets.load("raudenbush1985").astype({"yi": object, "vi": object})
    df.loc[4, col] = value
    with pytest.raises(bm.DataError) as err:
        bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study")
    assert f"row 5 ('Pellegrini & Hicks 1972 5'), column {col!r}" in str(err.value)
    assert message in str(err.value)


def test_bad_se_and_missing_label_and_duplicates_and_columns():
    df = bm.datasets.load("thirdwave")
    bad = df.copy()
    bad.loc[0, "seTE"] = 0
    with pytest.raises(bm.DataError, match=r"row 1 \('Call et al.'\), column 'seTE'.*standard error"):
        bm.EffectData.from_dataframe(bad, y="TE", se="seTE", study="Author")
    bad = df.copy()
    bad.loc[3, "Author"] = None
    with pytest.raises(bm.DataError, match=r"row 4, column 'Author': the study label is missing"):
        bm.EffectData.from_dataframe(bad, y="TE", se="seTE", study="Author")
    bad = df.copy()
    bad.loc[5, "Author"] = "Call et al."
    with pytest.raises(bm.DataError, match=r"row 6 \('Call et al.'\), column 'Author': duplicated .*row 1"):
        bm.EffectData.from_dataframe(bad, y="TE", se="seTE", study="Author")
    with pytest.raises(bm.DataError, match=r"column\(s\) \['SE'\] not found"):
        bm.EffectData.from_dataframe(df, y="TE", se="SE")
    with pytest.raises(bm.DataError, match="empty"):
        bm.EffectData.from_dataframe(df.iloc[:0], y="TE", se="seTE")
    with pytest.raises(bm.DataError, match="exactly one of se"):
        bm.EffectData.from_dataframe(df, y="TE")
    with pytest.raises(bm.DataError, match="benefit must be"):
        bm.EffectData.from_dataframe(df, y="TE", se="seTE", benefit="up")
    with pytest.raises(bm.DataError, match="does not contain the estimate"):
        bm.EffectData.from_estimate_ci(pd.DataFrame({"estimate": [0.5], "lower": [0.6], "upper": [0.9]}))
    with pytest.raises(bm.DataError, match=r"row 2 \('Study 2'\), column 'mod': moderator value is missing"):
        bm.EffectData.from_dataframe(df.assign(mod=[1.0, np.nan] + [1.0] * 16), y="TE", se="seTE",
                                     moderators=["mod"])


def test_bad_input_is_a_value_error():
    assert issubclass(bm.DataError, ValueError)


def test_sd_that_looks_like_a_standard_error_warns():
    df = summary_table({(0, "sd1"): 47 / np.sqrt(155)})  # Edinburgh: SE given in place of the SD
    with pytest.warns(bm.DataWarning, match=r"row 1 \('Edinburgh'\), columns 'sd1'/'sd2'.*standard errors"):
        build(df)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(summary_table())  # the real data do not warn


def test_import_is_light():
    code = ("import sys, bayesmeta; heavy = [m for m in ('pymc', 'pytensor', 'arviz', 'arviz_base', "
            "'arviz_plots', 'matplotlib') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_datasets_list_and_load():
    listing = bm.datasets.list()
    assert set(listing["name"]) >= {"clbp_digital_pain", "thirdwave", "normand1999", "published_pooled_icbt"}
    df = bm.datasets.load("fibromyalgia_pain")
    assert len(df) == 22 and "Riley" in df.attrs["source"] and df.attrs["benefit"] == "lower"
    with pytest.raises(KeyError, match="no bundled data set"):
        bm.datasets.load("nope")


@pytest.mark.parametrize("m", [1e6, 1e8, 1e10, 1e15, 1e17, 1e300])
def test_exact_j_keeps_its_digits_for_huge_samples(m):
    # beyond m ~ 1e15 the difference of log-gammas lost every digit; J(m) = 1 - 3/(4m - 1) + O(m^-2)
    assert hedges_j(m) == pytest.approx(1 - 3 / (4 * m - 1), rel=1e-13)


def test_exact_j_is_continuous_where_the_method_changes():
    below, above = hedges_j([99.999999]), hedges_j([100.0])
    assert above - below == pytest.approx(3 / (4 * 100**2) * 1e-6, rel=1e-2)


def test_sizes_recognised_only_where_complete():
    df = bm.datasets.load("normand1999")
    data = bm.EffectData.from_table(df.drop(columns=["m1", "m2", "sd1", "sd2"]))
    np.testing.assert_array_equal(data.n, df["n1"] + df["n2"])
    holes = df.astype({"n1": float})
    holes.loc[2, "n1"] = np.nan
    assert bm.EffectData.from_table(holes.drop(columns=["m1", "m2", "sd1", "sd2"])).n is None
    with pytest.raises(bm.DataError, match=r"row 3 \('Orpington-Moderate'\), column 'n1': value is missing"):
        bm.EffectData.from_dataframe(holes, y="yi", vi="vi", study="study", n=("n1", "n2"))
