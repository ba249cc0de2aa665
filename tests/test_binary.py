"""2x2 effect sizes (bayesmeta.binary) and RevMan's pooling of counts (Mantel-Haenszel, DL around MH, Peto),
checked against published results:

* BCG vaccine trials (Colditz et al. 1994; metafor's dat.bcg): Stata's `metan` (Mantel-Haenszel with the
  Greenland-Robins RD variance, as RevMan; Peto), as metafor's tests record them
  (tests/testthat/test_misc_metan_vs_rma.mh_with_dat.bcg.r and ..._rma.peto_with_dat.bcg.r).
* Rothman, Greenland & Lash (2008), Modern Epidemiology, Table 15-1 (tolbutamide by age; 90% CIs), as metafor's
  analysis example rothman2008 records them.
* Fleiss (1993) aspirin trials: the pooled result RevMan 5.0.23 stored (R meta's Fleiss1993.rm5).
"""

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import bayesmeta as bm
from bayesmeta.binary import binary_effects, peto_terms, uninformative
from bayesmeta.errors import DataError, DataWarning

BCG = pd.DataFrame(dict(
    trial=[str(i) for i in range(1, 14)],
    tpos=[4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
    tneg=[119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
    cpos=[11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
    cneg=[128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825]))
BCG["n1"], BCG["n2"] = BCG.tpos + BCG.tneg, BCG.cpos + BCG.cneg
ROTHMAN = pd.DataFrame(dict(age=["<55", "55+"], a=[8, 22], n1=[106, 98], c=[5, 16], n2=[120, 85]))
ASPIRIN = pd.DataFrame(dict(study=["MRC-1", "CDP", "MRC-2", "GASP", "PARIS", "AMIS", "ISIS-2"],
                            a=[49, 44, 102, 32, 85, 246, 1570], n1=[615, 758, 832, 317, 810, 2267, 8587],
                            c=[67, 64, 126, 38, 52, 219, 1720], n2=[624, 771, 850, 309, 406, 2257, 8600]))


def counts(df, measure, study="trial", a="tpos", c="cpos"):
    return bm.EffectData.from_counts(df, a, "n1", c, "n2", study=study, measure=measure)


@pytest.mark.parametrize("measure, beta, lo, hi, z, q", [
    ("logOR", -0.4734, -0.5538, -0.3930, -11.5444, 163.9426),
    ("logRR", -0.4537, -0.5308, -0.3766, -11.5338, 152.5676),
    ("RD", -0.0033, -0.0038, -0.0027, -11.56, 386.7759),  # metan's z (Greenland-Robins variance), 2 decimals
])
def test_mantel_haenszel_equals_metan_on_bcg(measure, beta, lo, hi, z, q):
    res = bm.frequentist(counts(BCG, measure), method="MH")
    assert round(res.mu, 4) == beta and round(res.lower, 4) == lo and round(res.upper, 4) == hi
    assert round(res.mu / res.se, 4 if measure != "RD" else 2) == z
    assert round(res.Q, 4) == q
    assert res.model == "fixed" and res.label == "M-H, Fixed"


def test_peto_equals_metan_on_bcg():
    res = bm.frequentist(counts(BCG, "logOR"), method="Peto")
    assert [round(x, 4) for x in (res.mu, res.lower, res.upper, res.mu / res.se, res.Q)] == \
        [-0.4744, -0.5541, -0.3948, -11.6689, 167.7302]
    shown = res.display()
    assert shown["measure"] == "OR"
    assert [round(shown[k], 4) for k in ("estimate", "lower", "upper")] == [0.6222, 0.5746, 0.6738]


@pytest.mark.parametrize("measure, est, lo, hi, q, q_p", [
    ("logOR", 1.4031, 0.8411, 2.3409, 0.3474, 0.5556),
    ("logRR", 1.3256, 0.8658, 2.0296, 0.4472, 0.5037),
])
def test_mantel_haenszel_equals_rothman_table_15_1(measure, est, lo, hi, q, q_p):
    data = counts(ROTHMAN, measure, "age", "a", "c")
    res = bm.frequentist(data, method="MH", level=0.90)
    assert [round(math.exp(x), 4) for x in (res.mu, res.lower, res.upper)] == [est, lo, hi]
    assert round(res.Q, 4) == q and round(res.Q_pvalue, 4) == q_p


def test_risk_difference_rothman():
    data = counts(ROTHMAN, "RD", "age", "a", "c")
    assert np.round(data.y, 4).tolist() == [0.0338, 0.0363]  # Table 15-1, stratum risk differences
    assert np.round(data.vi, 4).tolist() == [0.0010, 0.0036]
    res = bm.frequentist(data, method="MH", level=0.90)
    assert round(res.mu, 4) == 0.0349 and round(res.lower, 4) == -0.0176
    assert round(res.Q, 4) == 0.0017 and round(res.Q_pvalue, 4) == 0.9669


def test_rothman_stratum_risk_ratios():
    data = counts(ROTHMAN, "logRR", "age", "a", "c")
    z = 1.959963984540054
    assert np.round(np.exp(data.y), 4).tolist() == [1.8113, 1.1926]
    assert np.round(np.exp(data.y - z * data.se), 4).tolist() == [0.6112, 0.6713]
    assert np.round(np.exp(data.y + z * data.se), 4).tolist() == [5.3679, 2.1188]


def test_aspirin_reproduces_revman_by_hand_formulas():
    """Mantel-Haenszel OR with the Robins-Breslow-Greenland variance written out, against RevMan 5.0.23's
    stored EFFECT_SIZE 0.8968655609130709 [0.8405144008917793, 0.9569947088336491], CHI2 9.946055983220074,
    I2 39.67458045558399, Z 3.287633061337987."""
    a, b = ASPIRIN.a.to_numpy(float), (ASPIRIN.n1 - ASPIRIN.a).to_numpy(float)
    c, d = ASPIRIN.c.to_numpy(float), (ASPIRIN.n2 - ASPIRIN.c).to_numpy(float)
    n = a + b + c + d
    R, S, P, Q = a * d / n, b * c / n, (a + d) / n, (b + c) / n
    var = ((P * R).sum() / (2 * R.sum() ** 2) + (P * S + Q * R).sum() / (2 * R.sum() * S.sum())
           + (Q * S).sum() / (2 * S.sum() ** 2))
    hand = math.log(R.sum() / S.sum())
    res = bm.frequentist(counts(ASPIRIN, "logOR", "study", "a", "c"), method="MH")
    assert res.mu == pytest.approx(hand, rel=1e-14) and res.se == pytest.approx(math.sqrt(var), rel=1e-14)
    assert math.exp(res.mu) == pytest.approx(0.8968655609130709, rel=1e-13)
    assert math.exp(res.lower) == pytest.approx(0.8405144008917793, rel=1e-13)
    assert math.exp(res.upper) == pytest.approx(0.9569947088336491, rel=1e-13)
    assert res.Q == pytest.approx(9.946055983220074, rel=1e-13)
    assert res.I2 == pytest.approx(39.67458045558399, rel=1e-13)
    assert abs(res.mu / res.se) == pytest.approx(3.287633061337987, rel=1e-13)
    assert res.weights.round(4).tolist() == [3.1765, 3.1017, 5.6754, 1.7955, 3.2176, 10.1535, 72.8798]


def test_dl_around_mantel_haenszel():
    data = counts(ASPIRIN, "logOR", "study", "a", "c")
    mh = bm.frequentist(data, method="MH")
    res = bm.frequentist(data, method="MH-DL")
    w = 1 / data.vi
    q = np.sum(w * (data.y - mh.mu) ** 2)  # Q around the MH estimate, not around the IV mean
    tau2 = max(0.0, (q - 6) / (w.sum() - (w**2).sum() / w.sum()))
    ws = 1 / (data.vi + tau2)
    assert res.Q == pytest.approx(q, rel=1e-13) and res.tau2 == pytest.approx(tau2, rel=1e-12)
    assert res.mu == pytest.approx(np.sum(ws * data.y) / ws.sum(), rel=1e-13)
    assert res.se == pytest.approx(1 / math.sqrt(ws.sum()), rel=1e-13)
    assert res.I2 == pytest.approx(100 * (q - 6) / q, rel=1e-12)
    assert 0 <= res.tau2_lower < res.tau2 < res.tau2_upper  # Q-profile interval
    bcg = counts(BCG, "logOR")  # where MH and the inverse-variance mean differ, so do the two taus
    assert bm.frequentist(bcg, method="MH-DL").tau2 != pytest.approx(bm.frequentist(bcg, method="DL").tau2, rel=1e-3)


def test_escalc_zero_cell_conventions():
    # one zero cell: 0.5 added to every cell (escalc add=1/2, to="only0"; RevMan)
    y, v = binary_effects([0], [10], [3], [12], "logOR")
    assert y[0] == pytest.approx(math.log(0.5 * 9.5 / (10.5 * 3.5)))
    assert v[0] == pytest.approx(1 / 0.5 + 1 / 10.5 + 1 / 3.5 + 1 / 9.5)
    y, v = binary_effects([0], [10], [3], [12], "logRR")
    assert y[0] == pytest.approx(math.log(0.5 / 11) - math.log(3.5 / 13))
    assert v[0] == pytest.approx(1 / 0.5 - 1 / 11 + 1 / 3.5 - 1 / 13)
    y, v = binary_effects([0], [10], [3], [12], "RD")  # RD itself raw (RevMan, R meta); its variance corrected
    assert y[0] == pytest.approx(-3 / 12)
    assert v[0] == pytest.approx(0.5 * 10.5 / 11**3 + 3.5 * 9.5 / 13**3)
    y, v = binary_effects([3], [10], [4], [12], "RD")  # no zero cell: the usual p(1-p)/n
    assert v[0] == pytest.approx(0.3 * 0.7 / 10 + (4 / 12) * (8 / 12) / 12)
    assert uninformative([0, 10, 0], [10, 10, 10], [0, 12, 1], [12, 12, 12], "logOR").tolist() == [True, True, False]
    assert uninformative([0, 10, 0], [10, 10, 10], [0, 12, 1], [12, 12, 12], "logRR").tolist() == [True, False, False]
    assert not uninformative([0], [10], [0], [12], "RD").any()


def test_double_zero_set_aside_and_named():
    df = pd.DataFrame(dict(study=["A", "B", "C"], a=[0, 3, 0], n1=[10, 20, 5], c=[2, 5, 0], n2=[10, 20, 5]))
    with pytest.warns(DataWarning, match=r"set aside for logOR .*'C'"):
        data = bm.EffectData.from_counts(df, "a", "n1", "c", "n2", study="study")
    assert data.study.tolist() == ["A", "B"] and data.arms.columns.tolist() == ["events1", "n1", "events2", "n2"]
    assert data.n.tolist() == [20, 40]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rd = bm.EffectData.from_counts(df, "a", "n1", "c", "n2", study="study", measure="RD")
    assert rd.k == 3 and rd.y[2] == 0.0
    with pytest.raises(DataError, match="no estimable studies for logOR"):
        bm.EffectData.from_counts(df.iloc[[2]], "a", "n1", "c", "n2", study="study")


def test_peto_uses_raw_counts_and_mh_corrects_zero_cells():
    df = pd.DataFrame(dict(study=["A", "B"], a=[0, 4], n1=[30, 40], c=[3, 9], n2=[30, 41]))
    data = bm.EffectData.from_counts(df, "a", "n1", "c", "n2", study="study")
    oe, v = peto_terms(df.a, df.n1, df.c, df.n2)
    assert oe[0] == pytest.approx(0 - 30 * 3 / 60) and v[0] == pytest.approx(30 * 30 * 3 * 57 / (60**2 * 59))
    peto = bm.frequentist(data, method="Peto")
    assert peto.mu == pytest.approx(oe.sum() / v.sum()) and peto.se == pytest.approx(1 / math.sqrt(v.sum()))
    mh = bm.frequentist(data, method="MH")  # study A enters the MH sums with 0.5 added (RevMan, MH.exact=FALSE)
    A, B, C, D = np.array([0.5, 4]), np.array([30.5, 36]), np.array([3.5, 9]), np.array([27.5, 32])
    n = A + B + C + D
    assert mh.mu == pytest.approx(math.log((A * D / n).sum() / (B * C / n).sum()), rel=1e-13)


def test_subgroups_and_test_for_subgroup_differences():
    df = BCG.assign(latitude=np.where(np.arange(13) < 6, "north", "south"))
    data = bm.EffectData.from_counts(df, "tpos", "n1", "cpos", "n2", study="trial", measure="logRR")
    res = bm.frequentist(data, method="MH-DL", subgroup="latitude")
    parts = [bm.frequentist(data.subset(df.latitude == g), method="MH-DL") for g in ("north", "south")]
    assert res.subgroups["mu"].tolist() == pytest.approx([p.mu for p in parts], rel=1e-13)
    assert res.subgroups["tau2"].tolist() == pytest.approx([p.tau2 for p in parts], rel=1e-12)
    w = np.array([1 / p.se**2 for p in parts])
    mu = np.array([p.mu for p in parts])
    q = np.sum(w * (mu - np.sum(w * mu) / w.sum()) ** 2)
    assert res.Q_between == pytest.approx(q, rel=1e-12) and res.Q_between_df == 1
    assert res.mu == pytest.approx(bm.frequentist(data, method="MH-DL").mu, rel=1e-14)
    assert "Test for subgroup differences" in repr(res)


def test_counts_errors_name_row_and_column():
    df = pd.DataFrame(dict(study=["A", "B"], a=[3, 12], n1=[10, 10], c=[2, 1], n2=[10, 10]))
    with pytest.raises(DataError, match=r"row 2 \('B'\), columns 'a'/'n1': 12 events among 10"):
        bm.EffectData.from_counts(df, "a", "n1", "c", "n2", study="study")
    with pytest.raises(DataError, match=r"row 1 \('A'\), column 'a': 2.5 is not a count"):
        bm.EffectData.from_counts(df.assign(a=[2.5, 1]), "a", "n1", "c", "n2", study="study")
    with pytest.raises(DataError, match="measure must be one of logOR, logRR, RD"):
        bm.EffectData.from_counts(df.assign(a=[1, 1]), "a", "n1", "c", "n2", study="study", measure="OR")
    effects_only = bm.EffectData.from_dataframe(pd.DataFrame(dict(y=[0.1, 0.2], se=[0.1, 0.1])), y="y", se="se",
                                                measure="logOR")
    with pytest.raises(DataError, match="pools 2x2 counts"):
        bm.frequentist(effects_only, method="MH")
    rr = bm.EffectData.from_counts(df.assign(a=[1, 1]), "a", "n1", "c", "n2", study="study", measure="logRR")
    with pytest.raises(DataError, match="Peto's method estimates an odds ratio"):
        bm.frequentist(rr, method="Peto")


def test_default_prior_for_log_odds_ratios_is_turner():
    data = counts(ASPIRIN, "logOR", "study", "a", "c")
    prior, note = bm.priors.default_tau_prior(data)
    assert (prior.m, prior.s) == (-2.56, 1.74) and "Turner" in note
    prior, note = bm.priors.default_tau_prior(counts(ASPIRIN, "logRR", "study", "a", "c"))
    assert "approximation" in note
