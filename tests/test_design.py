"""Moderator formulas -> design matrices (bayesmeta.design): coding as metafor's factor(), names, new data, errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmeta as bm
from bayesmeta.design import Design, design_matrix, subgroup_labels

DATA = Path(__file__).parent / "data"


@pytest.fixture
def data():
    df = pd.read_csv(DATA / "raudenbush1985_mods.csv")
    return bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study", moderators=["weeks", "setting", "tester"])


def with_moderators(data, **columns):
    """The same studies with moderator columns replaced or added (built directly, so values may be missing)."""
    mods = data.moderators.copy()
    for name, values in columns.items():
        mods[name] = values
    return bm.EffectData(y=data.y, se=data.se, study=data.study, moderators=mods)


def test_treatment_coding_names_and_order(data):
    d = design_matrix(data, "~ weeks + C(setting) + tester")
    assert isinstance(d, Design)
    assert d.terms == ("intercept", "weeks", "C(setting)[T.indiv]", "tester[T.blind]")
    assert d.columns == ("weeks", "setting", "tester") and d.formula == "~ weeks + C(setting) + tester"
    assert d.X.shape == (19, 4) and d.X.dtype == np.float64 and d.dropped == ()
    assert np.array_equal(d.rows, np.arange(19))
    mods = data.moderators
    assert np.array_equal(d.X[:, 1], mods["weeks"].to_numpy(float))
    assert np.array_equal(d.X[:, 2], (mods["setting"] == "indiv").to_numpy(float))  # "group" is the reference
    assert np.array_equal(d.X[:, 3], (mods["tester"] == "blind").to_numpy(float))   # "aware" is the reference
    assert d.has_intercept


def test_levels_sorted_as_r_sorts_them():
    df = bm.datasets.load("thirdwave")
    data = bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author",
                                        moderators=["TypeControlGroup", "InterventionType"])
    d = design_matrix(data, "~ TypeControlGroup + C(InterventionType)")
    # R's sort(): "information only" < "no intervention" < "WLC"; "ACT" < "mindfulness" < "PCI"
    assert d.terms[1:] == ("TypeControlGroup[T.no intervention]", "TypeControlGroup[T.WLC]",
                           "C(InterventionType)[T.mindfulness]", "C(InterventionType)[T.PCI]")
    labels, groups = subgroup_labels(data, "InterventionType")
    assert groups == ["ACT", "mindfulness", "PCI"] and list(labels[:3]) == ["mindfulness", "mindfulness", "ACT"]


def test_categorical_keeps_its_own_level_order(data):
    ordered = with_moderators(data, setting=pd.Categorical(data.moderators["setting"], categories=["indiv", "group"]))
    assert design_matrix(ordered, "~ setting").terms == ("intercept", "setting[T.group]")
    assert subgroup_labels(ordered, "setting")[1] == ["indiv", "group"]
    numeric = with_moderators(data, dose=[1, 2, 10] * 6 + [2])
    assert subgroup_labels(numeric, "dose")[1] == ["1", "2", "10"]
    assert design_matrix(numeric, "~ C(dose)").terms == ("intercept", "C(dose)[T.2]", "C(dose)[T.10]")


def test_transforms_and_cell_means(data):
    d = design_matrix(data, "~ np.log(weeks + 1)")
    assert d.terms == ("intercept", "np.log(weeks + 1)")
    assert np.allclose(d.X[:, 1], np.log(data.moderators["weeks"] + 1))
    cells = design_matrix(data, "~ 0 + C(setting)")
    assert cells.terms == ("C(setting)[group]", "C(setting)[indiv]") and cells.has_intercept
    assert np.array_equal(cells.X.sum(axis=1), np.ones(19))
    assert not design_matrix(data, "~ 0 + weeks").has_intercept


def test_matrix_for_new_values_uses_the_same_coding(data):
    d = design_matrix(data, "~ weeks + C(setting)")
    assert np.array_equal(d.matrix({"weeks": [0, 10], "setting": "indiv"}), [[1, 0, 1], [1, 10, 1]])
    frame = pd.DataFrame({"weeks": [3.0], "setting": ["group"], "other": ["x"]})
    assert np.array_equal(d.matrix(frame), [[1, 3, 0]])
    assert np.array_equal(d.matrix(data.moderators), d.X)
    scaled = design_matrix(data, "~ center(weeks)")  # stateful transforms keep the training state
    assert scaled.matrix({"weeks": data.moderators["weeks"].mean()})[0, 1] == pytest.approx(0, abs=1e-12)
    with pytest.raises(bm.DataError, match="no column 'setting'"):
        d.matrix({"weeks": 1})
    with pytest.raises(bm.DataError, match=r"column 'setting': unknown level 'home'; the model knows \['group', "):
        d.matrix({"weeks": 1, "setting": "home"})
    with pytest.raises(bm.DataError, match="column 'weeks': 'ten' is not a number"):
        d.matrix({"weeks": "ten", "setting": "group"})
    with pytest.raises(bm.DataError, match="column 'weeks': value is missing"):
        d.matrix({"weeks": None, "setting": "group"})


@pytest.mark.parametrize("formula,message", [
    ("~ wekks", r"formula '~ wekks': no column 'wekks'; the data have moderators \['weeks', 'setting', 'tester'\]"),
    ("~ weeks + C(setng)", "no column 'setng'"),
    ("~ foo(weeks)", "unknown function 'foo'"),
    ("yi ~ weeks", "has a left-hand side; give only the moderators, e.g. '~ weeks'"),
    ("~ weeks +", "cannot be read"),
    ("~ weeks | tester", "several parts"),
    ("~ 0", "has no coefficients"),
    ("", "must be a formula"),
    ("~ weeks + I(2 * weeks)",
     r"rank-deficient: 'I\(2 \* weeks\)' is \(within 1e-6\) a linear combination of 'weeks' \(collinear columns: weeks"),
])
def test_formula_errors_are_one_line(data, formula, message):
    with pytest.raises(bm.DataError, match=message) as err:
        design_matrix(data, formula)
    assert "\n" not in str(err.value)


def test_collinear_columns_are_named(data):
    twin = with_moderators(data, mode=np.where(data.moderators["setting"] == "group", "class", "alone"))
    with pytest.raises(bm.DataError, match=r"'C\(mode\)\[T.class\]' is \(within 1e-6\) a linear combination of "
                                           r"'intercept', 'C\(setting\)\[T.indiv\]' \(collinear columns: setting, "
                                           r"mode\)"):
        design_matrix(twin, "~ C(setting) + C(mode)")
    near = with_moderators(data, dose=np.where(data.moderators["setting"] == "indiv", 1.0, 0.0) + 1e-9 * np.arange(19))
    with pytest.raises(bm.DataError, match="'dose' is \\(within 1e-6\\) a linear combination"):
        design_matrix(near, "~ C(setting) + dose")
    tiny = with_moderators(data, dose=1e-160 * np.arange(19.0))
    with pytest.raises(bm.DataError, match="values of 'dose' are at most 1.8e-159 in size.*rescale dose"):
        design_matrix(tiny, "~ dose")
    fine = with_moderators(data, year=1990.0 + data.moderators["weeks"])  # far from the intercept
    assert design_matrix(fine, "~ year").terms == ("intercept", "year")


def test_constant_column_and_too_few_studies(data):
    with pytest.raises(bm.DataError, match="column 'lab' has the same value \\('A'\\) in every study"):
        design_matrix(with_moderators(data, lab="A"), "~ weeks + lab")
    tester = data.moderators["tester"].to_numpy()
    small = data.take(np.r_[np.flatnonzero(tester == "aware")[:2], np.flatnonzero(tester == "blind")[:1]])
    with pytest.raises(bm.DataError, match=r"k = 3 studies but 3 coefficients .* needs more studies than coefficients"):
        design_matrix(small, "~ weeks + tester")


def test_missing_values_are_refused_or_dropped_and_listed(data):
    weeks = data.moderators["weeks"].astype(float).to_numpy().copy()
    weeks[[2, 5]] = np.nan
    setting = data.moderators["setting"].to_numpy().copy()
    setting[7] = " "
    holed = with_moderators(data, weeks=weeks, setting=setting)
    with pytest.raises(bm.DataError, match=r"row 3 \('Jose & Cody 1971'\), column 'weeks': moderator value is missing"):
        design_matrix(holed, "~ weeks")
    with pytest.raises(bm.DataError, match=r"row 8 \(.*\), column 'setting': moderator value is missing"):
        design_matrix(holed, "~ setting")
    d = design_matrix(holed, "~ weeks + setting", drop_missing=True)
    assert [r[0] for r in d.dropped] == [3, 6, 8] and [r[2] for r in d.dropped] == ["weeks", "weeks", "setting"]
    assert d.dropped[0][1] == "Jose & Cody 1971"
    assert np.array_equal(d.rows, np.setdiff1d(np.arange(19), [2, 5, 7])) and d.X.shape == (16, 3)
    assert design_matrix(holed, "~ tester").dropped == ()  # only the columns the formula uses count
    with pytest.raises(bm.DataError, match=r"row 3 \('Jose & Cody 1971'\), column 'weeks': moderator value is missing"):
        subgroup_labels(holed, "weeks")


def test_text_in_a_numeric_column_and_no_moderators(data):
    bad = with_moderators(data, weeks=np.where(np.arange(19) == 4, np.inf, data.moderators["weeks"].astype(float)))
    with pytest.raises(bm.DataError, match=r"row 5 \(.*\), column 'weeks': value is infinite"):
        design_matrix(bad, "~ weeks")
    typo = with_moderators(data, weeks=[str(w) for w in data.moderators["weeks"]][:6] + ["1O"] + ["3"] * 12)
    with pytest.raises(bm.DataError, match=r"row 7 \(.*\), column 'weeks': '1O' is not a number"):
        design_matrix(typo, "~ weeks")
    bare = bm.EffectData.from_dataframe(pd.DataFrame({"y": [0.1, 0.2, 0.3], "se": [0.1] * 3}), y="y", se="se")
    with pytest.raises(bm.DataError, match="no column 'weeks'; the data have moderators .*pass moderators="):
        design_matrix(bare, "~ weeks")
    with pytest.raises(bm.DataError, match="subgroup 'weeks': no column 'weeks'"):
        subgroup_labels(bare, "weeks")
