"""A hostile new user on the bias, sensitivity and summary-of-findings wave: degenerate data (k = 1, 2, 3,
identical effects or SEs, huge or tiny SEs), malformed options and labels. Each either gives finite numbers or
one clear DataError / ValueError naming the argument; never a raw exception, NaN result or partial file."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmeta as bm
from bayesmeta.effects import EffectData


def data(y, se, n=None):
    return EffectData(y=np.asarray(y, float), se=np.asarray(se, float), study=[f"s{i + 1}" for i in range(len(y))],
                      n=n)


D5 = data([0.3, 0.1, 0.5, 0.2, 0.4], [0.1, 0.2, 0.15, 0.3, 0.25])
SAME_SE = data([0.3, 0.1, 0.5, 0.2], [0.1] * 4)


# ------------------------------------------------------------------------------------------ bm.average
@pytest.mark.parametrize("bias", [["PET"], "PEESE", ["PET", "PEESE"]])
def test_average_with_pet_or_peese_alone(bias):
    """Without any weight function the prior split used to divide by zero (ZeroDivisionError)."""
    avg = bm.average(D5, bias=bias)
    assert np.isclose(avg.models["prior_prob"].sum(), 1.0)
    assert np.all(np.isfinite(avg.models["post_prob"]))
    assert avg.inclusion.loc["bias", "prior_prob"] == pytest.approx(0.5)


def test_average_improper_slope_prior_refused():
    with pytest.raises(ValueError, match="pet_prior must be proper"):
        bm.average(D5, bias=["PET"], pet_prior="jeffreys")


@pytest.mark.parametrize("workers", [0, -1, "2", 1.5, True])
def test_average_workers_checked(workers):
    with pytest.raises(ValueError, match="workers must be a whole number"):
        bm.average(D5, workers=workers)


@pytest.mark.parametrize("call", [lambda: bm.average(SAME_SE, bias=["PET"]), lambda: bm.fit(SAME_SE, bias="PEESE"),
                                  lambda: bm.fit(data([0.3], [0.1]), bias="PET")])
def test_pet_peese_with_one_standard_error_refused(call):
    """Was a LinAlgError from the exact engine (fit) or a meaningless 'PET' model weight (average)."""
    with pytest.raises(bm.DataError, match="same standard error"):
        call()
