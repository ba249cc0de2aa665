"""Nested labels: three-level data whose effect labels repeat across clusters (metafor's
dat.konstantopoulos2011, `~ 1 | district/school`: school 1 in every district) are accepted when each label is
unique within its cluster, shown as "district 11 / school 1", and fitted as metafor fits them."""

import pandas as pd
import pytest

import bayesmeta as bm

from .conftest import DATA


def schools():
    return pd.read_csv(DATA / "konstantopoulos2011.csv")


def test_labels_unique_within_clusters_are_composed():
    data = bm.EffectData.from_dataframe(schools(), y="yi", vi="vi", study="school", cluster="district")
    assert data.study[0] == "district 11 / school 1" and data.study[-1] == "district 644 / school 4"
    assert len(set(data.study)) == data.k == 56


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_three_level_fit_equals_metafor_rma_mv(method):
    """metafor 3.8.1 rma.mv(yi, vi, random = ~ 1 | district/school): 1e-5 relative (both optimisers stop at
    about 1e-6)."""
    ref = pd.read_csv(DATA / "metafor_konstantopoulos2011_reference.csv").set_index("method").loc[method]
    data = bm.EffectData.from_dataframe(schools(), y="yi", vi="vi", study="school", cluster="district")
    fit = bm.frequentist(data, method=method, model="three-level")
    for got, want in ((fit.mu, ref.mu), (fit.se, ref.se), (fit.lower, ref.ci_lb), (fit.upper, ref.ci_ub),
                      (fit.tau2, ref.sigma2_district), (fit.tau2_within, ref.sigma2_school), (fit.QE, ref.QE)):
        assert got == pytest.approx(want, rel=1e-5)
    assert "district 58 / school 3" in fit.weights.index


def test_bayesian_three_level_fit_and_shrinkage_use_the_composed_labels():
    data = bm.EffectData.from_dataframe(schools(), y="yi", vi="vi", study="school", cluster="district")
    fit = bm.fit(data, model="three-level", tau_prior="halfnormal(0.5)", seed=1)
    assert fit.shrinkage().index[0] == "district 11 / school 1"
    assert fit.prob("theta[district 11 / school 1] < 0") > 0.5 > fit.prob("mu < 0")


def test_a_label_twice_within_one_cluster_and_labels_differing_in_white_space():
    df = schools()
    df.loc[1, "school"] = 1
    with pytest.raises(bm.DataError, match=r"row 2 \('1'\), column 'school': duplicated label within cluster '11' "
                                           r"\(also row 1\)"):
        bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="school", cluster="district")
    df = bm.datasets.load("thirdwave")
    df.loc[5, "Author"] = " " + df.loc[4, "Author"] + "  "
    with pytest.raises(bm.DataError, match=r"row 6 .* differs from row 5 .* only in white space"):
        bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author")
