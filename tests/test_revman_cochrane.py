"""RevMan's own rules checked on real Cochrane review files (tests/data/revman/cochrane, see PROVENANCE.md).

The reference numbers are the ones RevMan 5 itself stored in the files (16-17 significant digits), so these
tests compare our reproduction with RevMan's computation; tolerances are stated where they are used.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import bayesmeta as bm

COCHRANE = Path(__file__).parent / "data" / "revman" / "cochrane"
Z975 = 1.959963984540054


@pytest.fixture(scope="module")
def cholera():
    return bm.read_revman(COCHRANE / "CD008625StatsDataOnly.rm5")


@pytest.mark.parametrize("number", ["1.3", "8.3", "12.3", "14.3", "9.3", "13.3"])
def test_mantel_haenszel_risk_difference_with_double_zero_studies(cholera, number):
    """RevMan weights risk differences by n1 n2 / N from the entered totals and corrects zero cells only inside
    the variance; a one-study analysis is that study's own result. Stored: estimate, CI and each study's weight
    (RevMan's 16 digits; 1e-9 relative allows for the order of summation)."""
    a = cholera.analysis(number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = a.frequentist()
    for ours, key in ((res.mu, "estimate"), (res.lower, "lower"), (res.upper, "upper")):
        assert ours == pytest.approx(float(a.stored[key]), rel=1e-9, abs=1e-12), key
    stored_w = a.rows["stored_weight"].astype(float).to_numpy()
    if res.subgroups is None:
        np.testing.assert_allclose(res.weights.to_numpy(), stored_w, rtol=1e-9)


def test_risk_difference_weights_independent_formula(cholera):
    """Analysis 1.3 (nine double-zero studies): the pooled SE by a plain loop over RevMan's documented formula
    (Greenland & Robins 1985; weights from the entered totals, 0.5 added to every cell of a zero-cell table in
    the variance terms) equals RevMan's stored CI half-width / 1.96."""
    a = cholera.analysis("1.3")
    k_sum, j_sum = 0.0, 0.0
    for e1, n1, e2, n2 in a.rows[["events1", "n1", "events2", "n2"]].to_numpy(float):
        k_sum += n1 * n2 / (n1 + n2)
        add = 0.5 if 0 in (e1, n1 - e1, e2, n2 - e2) else 0.0
        A, B, C, D = e1 + add, n1 - e1 + add, e2 + add, n2 - e2 + add
        m1, m2 = A + B, C + D
        j_sum += (A * B * m2**3 + C * D * m1**3) / (m1 * m2 * (m1 + m2) ** 2)
    se = math.sqrt(j_sum) / k_sum
    stored = (float(a.stored["upper"]) - float(a.stored["lower"])) / (2 * Z975)
    assert se == pytest.approx(stored, rel=1e-9)


@pytest.fixture(scope="module")
def bph():
    return bm.read_revman(COCHRANE / "CD013656StatsDataOnly.rm5")


@pytest.fixture(scope="module")
def fluoride():
    return bm.read_revman(COCHRANE / "CD007868StatsDataOnly.rm5")


def test_direction_read_only_where_the_file_states_it(bph, fluoride, cholera):
    """Graph labels that are only group names ("MIT" / "TURP", "Short Duration" / "Long Duration") state no
    direction; "Favours higher fluoride" (left) / "Favours lower fluoride" does (issue 22, item 1)."""
    assert all(a.benefit is None for a in bph)
    assert "direction not stated" in bph.analysis("1.1").benefit_note
    assert {a.benefit for a in fluoride} == {"lower"}
    durations = [a for a in cholera if a.labels.get("left") == "Short Duration"]
    assert durations and all(a.benefit is None for a in durations)


@pytest.mark.parametrize("labels,benefit", [
    (("Favours laser", "Favours ranibizumab", "ranibizumab", "laser"), "higher"),
    (("Favours [methylpred.]", "Favours [placebo]", "Methylprednisolone", "Placebo"), "lower"),
    (("Favours paracetamol", "Favours std. treatment", "Paracetamol", "Standard treatment"), "lower"),
    (("Favours 2nd intervention", "Favours 1st intervention", "1st intervention", "2nd intervention"), "higher"),
    (("Favours OS-IUI", "Favours OS", "OS-IUI", "OS"), "lower"),
    (("Favors placebo", "Favors celecoxib", "Celecoxib 200 mg", "Placebo"), "higher"),
    (("MIT", "TURP", "MIT", "TURP"), None),
    (("Favours experimental", "Favours experimental", "A", "B"), None),  # contradictory
    (("", "", "A", "B"), None),
])
def test_labels_of_real_cochrane_files(labels, benefit):
    """Label pairs as they occur in the 16 Cochrane files of issue 17 (CD007419, CD012859, CD013437, CD012692,
    CD009865, CD013656)."""
    from bayesmeta.reviews.benefit import benefit_from_labels

    assert benefit_from_labels(*labels)[0] == benefit


def test_benefit_declared_per_analysis(tmp_path):
    path = COCHRANE / "CD013656StatsDataOnly.rm5"
    review = bm.read_revman(path, benefit={"1.1": "lower", "1.9": "higher"})
    assert review.analysis("1.1").benefit == "lower" and review.analysis("1.9").benefit == "higher"
    assert review.analysis("1.2").benefit is None
    assert "declared for this analysis by the user" in review.analysis("1.9").benefit_note
    with pytest.raises(bm.DataError, match="no analysis '9.9'"):
        bm.read_revman(path, benefit={"9.9": "lower"})
    with pytest.raises(bm.DataError, match=r"benefit\['1.1'\]: the benefit must be 'lower' or 'higher'"):
        bm.read_revman(path, benefit={"1.1": "better"})
    from bayesmeta.reviews.benefit import load_benefit_map

    toml = tmp_path / "benefit.toml"
    toml.write_text('# lower or higher values favour the intervention\n"1.1" = "lower"\n"2.1" = "higher"\n')
    assert load_benefit_map(toml) == {"1.1": "lower", "2.1": "higher"}
    toml.write_text('[benefit]\n"1.1" = "up"\n')
    with pytest.raises(bm.DataError, match="key '1.1'"):
        load_benefit_map(toml)


@pytest.mark.parametrize("name", ["CD007868", "CD013656", "CD008625"])
def test_every_number_revman_stored_is_reproduced_or_a_placeholder(name):
    """review.check() compares every result RevMan stored (overall, subgroups, subgroup test, each study's effect,
    SE, CI and weight) and none differs beyond the tolerance of RevMan's stored precision (reviews.check)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from revman_parity import stored_numbers

    path = COCHRANE / f"{name}StatsDataOnly.rm5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = bm.read_revman(path).check()
    assert set(table["status"]) <= {"agrees", "placeholder"}, table[table["status"] == "differs"].head().to_string()
    assert len(table) == stored_numbers(path)
    placeholders = table[table["status"] == "placeholder"]
    assert placeholders["note"].str.len().min() > 10  # each says why


def test_totals_sub_and_one_estimable_subgroup(bph):
    """TOTALS="SUB": the stored overall result is RevMan's (unshown) pool of the subgroup estimates and the study
    weights are shares of their subgroup; an analysis whose only subgroup with data has two studies (2.5) still
    gets that subtotal; a one-study analysis stores placeholders for heterogeneity (1.9: Chi² 3.3E-32)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = bph.check()
    a11 = table[table["analysis"] == "1.1"]
    overall = a11[(a11["where"] == "overall") & (a11["quantity"] == "estimate")].iloc[0]
    assert overall["status"] == "agrees" and "not shown by RevMan" in overall["note"]
    weights = a11[a11["quantity"] == "weight (%)"]
    assert len(weights) == 11 and weights["status"].eq("agrees").all()
    assert weights["ours"].sum() == pytest.approx(300, rel=1e-9)  # three subgroups, each 100%
    sub = table[(table["analysis"] == "2.5") & (table["where"] == "subgroup TUMT")]
    assert len(sub) >= 10 and sub["status"].eq("agrees").all()
    one = table[(table["analysis"] == "1.9") & (table["quantity"] == "Chi²")]
    assert set(one["status"]) == {"placeholder"} and "3.2977233251757685E-32" in set(one["stored_as"])
