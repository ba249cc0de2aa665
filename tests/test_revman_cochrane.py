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
