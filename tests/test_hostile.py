"""A hostile new user: bad options, prior strings, extreme data, odd files, interrupted runs, markup in labels.

Every entry point (Python API, `bayesmeta fit/freq/run`, analysis files) either gives right numbers or says in
one line what is wrong, naming the row, column, key, option or file; never a traceback, NaN or partial output.
"""

import html
import json
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta import plots, priors
from bayesmeta.analysis import AnalysisError, load_analysis, run_analysis
from bayesmeta.cli import app
from bayesmeta.effects import EffectData
from bayesmeta.formatting import md_escape, pct
from bayesmeta.reports import build_report
from bayesmeta.tables import read_table

DATA = Path(__file__).parent / "data"
METAPSY = DATA / "bodily_distress_psyctr_excerpt.csv"
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(res, *fragments):
    """Exit 2, one 'error:' line on stderr naming what is wrong, nothing on stdout, no traceback."""
    assert res.exit_code == 2, (res.stdout, res.stderr)
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and res.stderr.splitlines()[-1] == errors[0], res.stderr
    assert "Traceback" not in res.stderr + res.stdout and res.stdout == ""
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert errors[0].count("'") % 2 == 0, f"unbalanced quotes: {errors[0]}"


def small_csv(tmp_path, text="study,yi,vi\nA,0.1,0.02\nB,0.3,0.03\nC,-0.1,0.05\n", name="d.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def analysis_file(tmp_path, extra="", data="dataset = 'thirdwave'\nbenefit = 'higher'", name="a.toml"):
    path = tmp_path / name
    path.write_text(f"[analysis]\ntitle = 'x'\n[data]\n{data}\n{extra}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tw_fit():
    return bm.fit(bm.datasets.effect_data("thirdwave"), seed=1)


# --------------------------------------------------------------------------- 1. options where they enter
@pytest.mark.parametrize("args,named", [
    (("fit", "thirdwave", "--ci", "95", "--json"), "--ci"),
    (("fit", "thirdwave", "--ci", "0", "--json"), "--ci"),
    (("fit", "thirdwave", "--ci", "nan", "--json"), "--ci"),
    (("fit", "thirdwave", "--seed", "-1", "--json"), "--seed"),
    (("fit", "thirdwave", "--seed", "99999999999", "--json"), "--seed"),
    (("fit", "thirdwave", "--seed", "abc", "--json"), "--seed"),
    (("fit", "thirdwave", "--engine", "foo", "--json"), "--engine"),
    (("fit", "thirdwave", "--measure", "OR", "--json"), "--measure"),
    (("fit", "thirdwave", "--benefit", "up", "--json"), "--benefit"),
    (("fit", "thirdwave", "--tau-prior", "halfnormal(0.5", "--json"), "unbalanced parentheses"),
    (("fit", "thirdwave", "--mu-prior", "uniform(-1, 1)", "--json"), "mu prior"),
    (("fit", "thirdwave", "--decimal", ";", "--json"), "--decimal"),
    (("fit", "thirdwave", "--sep", ";;", "--json"), "--sep"),
    (("fit", "thirdwave", "--bogus", "1", "--json"), "--bogus"),
    (("freq", "thirdwave", "--method", "foo", "--json"), "--method"),
    (("freq", "thirdwave", "--ci", "t", "--json"), "--ci"),
    (("fit",), "file"),
])
def test_cli_options_are_checked_before_anything_runs(args, named):
    assert_one_line_error(cli(*args), named)


@pytest.mark.parametrize("extra,key", [
    ("[report]\nci = 95", "'report.ci' must be a probability between 0 and 1"),
    ("[report]\nci = 1.0", "'report.ci'"),
    ("[report]\nthresholds = []", "'report.thresholds' must list at least one effect"),
    ("[report]\nthresholds = [0, -0.2]", "'report.thresholds[1]' is -0.2, on the side of harm"),
    ("[report]\nthresholds = ['small']", "'report.thresholds[0]' must be a finite number"),
    ("[report]\nthresholds = [inf]", "'report.thresholds[0]' must be a finite number"),
    ("[report]\nfrequentist = ['foo']", "'report.frequentist[0]' must be one of"),
    ("[model]\ndraws = 0", "'model.draws' must be the number of draws per chain"),
    ("[model]\nseed = -1", "'model.seed' must be a whole number from 0"),
    ("[model]\nseed = 1.5", "'model.seed' must be a whole number"),
    ("[model]\nchains = 0", "'model.chains'"),
    ("[model]\ntune = -5", "'model.tune'"),
    ("[model]\ntarget_accept = 1.5", "'model.target_accept'"),
    ("[model]\nengine = 'foo'", "'model.engine' must be one of exact, mcmc"),
    ("[priors]\ntau = 'normal(0)'", "[priors] tau prior 'normal(0)'"),
    ("[priors]\nmu = 'normal(0)'", "[priors] mu prior 'normal(0)': needs 2 argument(s)"),
    ("[priors]\nsensitivity = ['flat(7)']", "[priors] tau prior 'flat(7)'"),
    ("[data]\n", "[data] must be"),  # a second [data] table is not TOML
])
def test_analysis_file_options_name_the_key(tmp_path, extra, key):
    path = analysis_file(tmp_path, extra)
    if "[data]" in extra:
        key = "not valid TOML"
    with pytest.raises(AnalysisError, match=re.escape(key)):
        load_analysis(path)
    res = cli("run", path, "--out", tmp_path / "out")
    assert_one_line_error(res, str(path))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra,key", [("[pooled]\nlevel = 95", "'pooled.level'"),
                                       ("[pooled]\nimportant = -0.2", "'pooled.important'")])
def test_pooled_options_name_the_key(tmp_path, extra, key):
    path = analysis_file(tmp_path, extra, data="dataset = 'published_pooled_icbt'")
    with pytest.raises(AnalysisError, match=re.escape(key)):
        load_analysis(path)


@pytest.mark.parametrize("call,named", [
    (lambda f: f.summary(ci=95), "ci"), (lambda f: f.shrinkage(ci=95), "ci"),
    (lambda f: f.prob("0.5 < mu < 0"), "0.5 < mu < 0"),
    (lambda f: bm.fit(f.data, draws=0), "draws"), (lambda f: bm.fit(f.data, chains=0), "chains"),
    (lambda f: bm.fit(f.data, seed=-1), "seed"),
])
def test_core_options_are_checked(tw_fit, call, named):
    with pytest.raises(ValueError, match=re.escape(named)) as err:
        call(tw_fit)
    assert "\n" not in str(err.value)


def test_prob_below_a_bounded_prior_is_a_number():
    fit = bm.fit(bm.datasets.effect_data("thirdwave"), tau_prior="uniform(0.1, 1)", seed=1)
    assert fit.prob("tau > 0.05") == 1.0 and fit.prob("tau < 0.05") == 0.0


def test_report_refuses_no_thresholds(tw_fit):
    with pytest.raises(ValueError, match="'thresholds' must list at least one effect"):
        build_report(tw_fit, thresholds=[])
    with pytest.raises(ValueError, match=r"'thresholds\[0\]' is -0.2, on the side of harm"):
        build_report(tw_fit, thresholds=[-0.2])


# --------------------------------------------------------------------------- 2. prior strings
BAD_TAU = {"normal(0)": "unknown tau prior 'normal'", "halfnormal(0.5": "unbalanced parentheses",
           "halfnormal(0.5))": "unbalanced parentheses", "halfnormal()": "needs 1 argument(s)",
           "halfnormal(0.5, 1)": "takes at most 1 argument(s)", "flat(7)": "unknown tau prior 'flat'",
           "halfnormal(nan)": "not a finite number", "halfnormal(inf)": "not a finite number",
           "halfnormal(1e999)": "not a finite number", "halfnormal(-1)": "positive finite number",
           "halfnormal(0)": "positive finite number", "halfnormal(abc)": "not a finite number",
           "halfnormal('0.5')": "not a number", "halfnormal(0.5,)": "an argument is empty",
           "halfnormal(scale=1, scale=2)": "given twice", "halfnormal(x=1)": "no argument called 'x'",
           "uniform(2, 1)": "0 <= a < b", "uniform(-1, 1)": "0 <= a < b", "jeffreys(1)": "takes no arguments",
           "halft(3)": "needs 2 argument(s)", "logt_tau2(1, 2, 3, 4)": "takes at most 3 argument(s)",
           "gamma(2, 1)": "unknown tau prior 'gamma'", "": "cannot read", "halfnormal(0.5)(1)": "cannot read",
           "halfnormal((0.5))": "cannot read", "rhodes(1)": "is not a name", "halfnormal(\n0.5)": "one line",
           "rhodes('unterminated)": "unterminated quote", "exponential(-2)": "positive finite number"}
BAD_MU = {"normal(0)": "needs 2 argument(s)", "normal(0, 1, 5)": "takes at most 2 argument(s)",
          "flat(7)": "takes no arguments", "uniform(-1, 1)": "bounded uniform prior on mu is not supported",
          "normal(0, -1)": "positive finite number", "normal(nan, 1)": "not a finite number",
          "student_t(0, 0, 1)": "positive finite number", "halfnormal(1)": "is a prior on tau",
          "cauchy(0, 1)": "unknown mu prior 'cauchy'"}


@pytest.mark.parametrize("spec", BAD_TAU)
def test_bad_tau_prior_strings(spec):
    with pytest.raises(ValueError) as err:
        priors.tau_prior(spec)
    text = str(err.value)
    assert BAD_TAU[spec] in text and "\n" not in text
    assert "accepted: halfnormal(s)" in text or "write " in text


@pytest.mark.parametrize("spec", BAD_MU)
def test_bad_mu_prior_strings(spec):
    with pytest.raises(ValueError) as err:
        priors.mu_prior(spec)
    assert BAD_MU[spec] in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("spec,expected", [
    ("halfnormal(0.5)", "halfnormal(0.5)"), ("HalfNormal( 0.5 )", "halfnormal(0.5)"),
    ("halfnormal(s=0.5)", "halfnormal(0.5)"), ("half_cauchy(1)", "halfcauchy(1)"), ("uniform(0, 2)", "uniform(0, 2)"),
    ("logt_tau2(-3.44, 2.59)", "logt_tau2(-3.44, 2.59, 5)"), ("jeffreys()", "jeffreys"),
    ("rhodes()", "logt_tau2(-3.44, 2.59, 5)"),
    ("bartos('Back and Neck')", "invgamma_tau(1.75, 0.57)"), ("bartos(Back and Neck)", "invgamma_tau(1.75, 0.57)")])
def test_good_tau_prior_strings(spec, expected):
    assert str(priors.tau_prior(spec)) == expected
    assert str(priors.tau_prior(str(priors.tau_prior(spec)))) == expected  # the printed form reads back


def test_good_mu_prior_strings():
    assert priors.mu_prior("uniform").kind == "flat" and priors.mu_prior("flat()").kind == "flat"
    assert priors.mu_prior("normal(m=0, s=2)") == priors.MuPrior("normal", 0.0, 2.0)
    assert priors.mu_prior("t(3, 0, 1)") == priors.MuPrior("student_t", 0.0, 1.0, 3.0)
    with pytest.raises(ValueError, match="s must be a positive finite number"):
        priors.MuPrior("normal", 0.0, float("nan"))
    with pytest.raises(ValueError, match="scale must be a"):
        priors.HalfNormal(True)


def test_a_prior_that_is_tau_zero_for_these_data_is_refused():
    data = bm.datasets.effect_data("thirdwave")
    with pytest.raises(ValueError, match=r"halfnormal\(1e-12\): 99.9% of its mass lies below tau = 3.29e-12"):
        priors.tau_prior("halfnormal(1e-12)").bind(data)
    assert priors.tau_prior("halfnormal(0.01)").bind(data) == priors.HalfNormal(0.01)


PRIOR_NAMES = ["halfnormal", "halfcauchy", "halft", "exponential", "uniform", "lognormal_tau2", "logt_tau2",
               "invgamma_tau", "jeffreys", "rhodes", "turner", "bartos", "normal", "student_t", "flat", "t", "x"]
ARGUMENT = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 5).map(str),
                     st.text("abc'\"=, ()", max_size=6), st.sampled_from(["pain", "'mental health'", "s=1", "nu=2"]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30),
                 st.tuples(st.sampled_from(PRIOR_NAMES), st.lists(ARGUMENT, max_size=4), st.sampled_from(["(", ""]),
                           st.sampled_from([")", "", "))"])).map(lambda t: f"{t[0]}{t[2]}{', '.join(t[1])}{t[3]}")))
def test_any_string_is_a_prior_or_a_value_error(text):
    import warnings

    for parse in (priors.tau_prior, priors.mu_prior):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                prior = parse(text)
            except ValueError as err:
                assert "\n" not in str(err)
                continue
        assert isinstance(prior, (priors.TauPrior, priors.MuPrior))


# --------------------------------------------------------------------------- 3. default tau prior by measure
def test_default_tau_prior_depends_on_the_measure():
    smd = bm.datasets.effect_data("normand1999")
    prior, note = priors.default_tau_prior(smd)
    assert prior == priors.HalfNormal(0.5) and "standardised mean differences" in note and "\n" not in note
    df = bm.datasets.load("normand1999")
    md = bm.EffectData.from_summary(df, n1="n1", mean1="m1", sd1="sd1", n2="n2", mean2="m2", sd2="sd2",
                                    study="study", measure="MD")
    n = df["n1"] + df["n2"]
    var = df["sd1"] ** 2 / df["n1"] + df["sd2"] ** 2 / df["n2"]
    uisd = math.sqrt(n.sum() / (1 / var).sum())  # Röver et al. 2021 eq. 6; R bayesmeta uisd()
    assert priors.unit_information_sd(md) == pytest.approx(uisd, rel=1e-12)
    prior, note = priors.default_tau_prior(md)
    assert prior.scale == pytest.approx(uisd / 4, rel=5e-3) and f"{uisd:.4g}" in note and "unit-information" in note
    # effects with variances only (eight schools, SAT points): no scale to borrow, so a prior is asked for
    with pytest.raises(bm.DataError, match="no default prior on tau for mean differences in raw units"):
        priors.default_tau_prior(bm.datasets.effect_data("eightschools"))
    # ... unless the sizes are given
    sized = bm.EffectData.from_dataframe(df.assign(md=md.y, v=md.vi, N=n), y="md", vi="v", study="study", n="N",
                                         measure="MD")
    assert priors.default_tau_prior(sized)[0] == prior


# --------------------------------------------------------------------------- 4. EffectData
@pytest.mark.parametrize("kwargs,message", [
    (dict(y=[0.1, 0.2], se=[0.1], study=["A", "B"]), "field 'se' has 1 values for 2 studies"),
    (dict(y=[0.1, np.nan], se=[0.1, 0.1], study=["A", "B"]), "row 2 ('B'), field 'y'"),
    (dict(y=[0.1, np.inf], se=[0.1, 0.1], study=["A", "B"]), "row 2 ('B'), field 'y'"),
    (dict(y=[0.1, 0.2], se=[0.1, 0.0], study=["A", "B"]), "row 2 ('B'), field 'se'"),
    (dict(y=[0.1, 0.2], se=[0.1, -1.0], study=["A", "B"]), "row 2 ('B'), field 'se'"),
    (dict(y=[0.1, 0.2], se=[0.1, np.nan], study=["A", "B"]), "row 2 ('B'), field 'se'"),
    (dict(y=[0.1, 0.2], se=[0.1, 0.1], study=["A", "A"]), "row 2 ('A'), field 'study': duplicated"),
    (dict(y=[0.1, 0.2], se=[0.1, 0.1], study=["A", " "]), "row 2, field 'study'"),
    (dict(y=[0.1, 0.2], se=[0.1, 0.1], study=["A", None]), "row 2, field 'study'"),
    (dict(y=[0.1, 0.2], se=[0.1, 0.1], study=["A"]), "field 'study' must hold one label per study"),
    (dict(y=[], se=[], study=[]), "empty"),
    (dict(y=["a"], se=[0.1], study=["A"]), "field 'y': not a sequence of numbers"),
    (dict(y=[0.1], se=[1e200], study=["A"]), "squared overflows float64"),
    (dict(y=[0.1], se=[1e-160], study=["A"]), "squared underflows float64"),
    (dict(y=[1e300], se=[1.0], study=["A"]), "y^2/se^2 overflows"),
    (dict(y=[1e150, -1e150], se=[1e-5, 1e-5], study=["A", "B"]), "row 1 ('A'), columns 'y'/'se'"),
    (dict(y=[0.1], se=[0.1], study=["A"], measure="OR"), "measure must be one of"),
    (dict(y=[0.1], se=[0.1], study=["A"], benefit="up"), "benefit must be"),
    (dict(y=[0.1], se=[0.1], study=["A"], n=[0]), "field 'n'"),
])
def test_effectdata_built_directly_is_checked(kwargs, message):
    with pytest.raises(bm.DataError) as err:
        EffectData(**kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(allow_nan=True, allow_infinity=True)), min_size=1, max_size=6))
def test_any_floats_give_effect_data_or_a_data_error(rows):
    y, se = [r[0] for r in rows], [r[1] for r in rows]
    try:
        data = EffectData(y, se, [f"S{i}" for i in range(len(rows))])
    except bm.DataError as err:
        assert "\n" not in str(err)
        return
    assert np.all(np.isfinite(data.y)) and np.all(data.se > 0)
    assert np.all(np.isfinite(data.vi)) and np.all(data.vi > 0) and np.all(np.isfinite(1 / data.vi))
    assert np.isfinite(np.sum(data.y**2 / data.vi))


@pytest.mark.parametrize("factor", [1e-300, 1e-150, 1e150, 1e250])
@pytest.mark.parametrize("measure", ["SMD", "SMD_RevMan", "d"])
def test_extreme_units_give_the_same_standardised_effects(factor, measure):
    df = bm.datasets.load("normand1999")
    cols = dict(n1="n1", mean1="m1", sd1="sd1", n2="n2", mean2="m2", sd2="sd2", study="study", measure=measure)
    plain = bm.EffectData.from_summary(df, **cols)
    scaled = bm.EffectData.from_summary(df.assign(**{c: df[c] * factor for c in ("m1", "m2", "sd1", "sd2")}), **cols)
    np.testing.assert_allclose(scaled.y, plain.y, rtol=1e-12)
    np.testing.assert_allclose(scaled.se, plain.se, rtol=1e-12)


def test_extreme_raw_units_are_refused_with_a_reason():
    df = bm.datasets.load("normand1999")
    cols = dict(n1="n1", mean1="m1", sd1="sd1", n2="n2", mean2="m2", sd2="sd2", study="study", measure="MD")
    with pytest.raises(bm.DataError, match=r"row 1 \('Edinburgh'\), columns 'n1'/'m1'.*variance 0"):
        bm.EffectData.from_summary(df.assign(sd1=df.sd1 * 1e-300, sd2=df.sd2 * 1e-300), **cols)
    with pytest.raises(bm.DataError, match=r"row 1 \('Edinburgh'\), column 'sd1/sd2'.*underflows float64"):
        bm.EffectData.from_summary(df.assign(sd1=df.sd1 * 1e-160, sd2=df.sd2 * 1e-160), **cols)
    with pytest.raises(bm.DataError, match=r"row 1 \('Edinburgh'\), columns 'n1'/'m1'.*cannot be computed"):
        bm.EffectData.from_summary(df.assign(m1=1e308, m2=-1e308), **cols)


def test_huge_groups_give_the_large_sample_limit():
    df = pd.DataFrame({"study": ["A", "B"], "n1": [1e15, 1e12], "m1": [1.0, 2.0], "sd1": [1.0, 2.0],
                       "n2": [1e15, 1e12], "m2": [0.5, 1.0], "sd2": [1.0, 2.0]})
    data = bm.EffectData.from_summary(df, n1="n1", mean1="m1", sd1="sd1", n2="n2", mean2="m2", sd2="sd2",
                                      study="study")
    np.testing.assert_allclose(data.y, [0.5, 0.5], rtol=1e-11)  # J(m) -> 1
    assert data.se[0] == pytest.approx(math.sqrt(2e-15 + 0.25 / 4e15), rel=1e-9)


def test_covariates_are_kept_and_follow_the_studies():
    df = bm.datasets.load("thirdwave").assign(weeks=np.arange(18.0))
    df.loc[2, "weeks"] = np.nan  # missing in a column nobody listed: fine
    data = bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author", moderators=["RiskOfBias"])
    assert {"weeks", "RiskOfBias", "InterventionType"} <= set(data.moderators.columns)
    assert "TE" not in data.moderators and "Author" not in data.moderators and data.moderator_names == ("RiskOfBias",)
    assert list(data.moderators.index) == list(data.study) and data.moderators.index.name == "study"
    assert list(data.to_dataframe(covariates=False).columns) == ["study", "y", "se", "vi", "RiskOfBias"]
    assert "weeks" in data.to_dataframe()
    sub = data.take([5, 1])
    assert list(sub.moderators.index) == [data.study[5], data.study[1]] and sub.moderators["weeks"].tolist() == [5, 1]
    back = bm.EffectData.concat([data.subset(np.arange(18) < 9), data.subset(np.arange(18) >= 9)])
    pd.testing.assert_frame_equal(back.moderators, data.moderators)
    with pytest.raises(bm.DataError, match=r"row 3 \('DanitzOrsillo'\), column 'weeks': moderator value is missing"):
        bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author", moderators=["weeks"])


# --------------------------------------------------------------------------- 5. reading tables
def test_metapsy_semicolons_and_decimal_commas_are_read():
    df = read_table(METAPSY)
    assert df.attrs["sep"] == ";" and len(df) == 12 and df.shape[1] == 115
    assert df.loc[0, "mean_arm1"] == 36.88 and df.loc[0, ".g"] == pytest.approx(-3.491827832)
    assert df["n_arm1"].dtype.kind in "iu" and df["multi_arm1"].isna().all() and df.loc[0, "study"] == "Alda, 2011"
    res = cli("freq", METAPSY, "--y", ".g", "--se", ".g_se")  # read fine; the labels repeat, and it says so
    assert_one_line_error(res, "row 2 ('Alda, 2011'), column 'study': duplicated study label")


def test_metapsy_file_through_an_analysis_file(tmp_path):
    (tmp_path / "m.csv").write_bytes(METAPSY.read_bytes())
    path = analysis_file(tmp_path, "[report]\nfigures = ['forest']\nfrequentist = ['DL']",
                         data="file = 'm.csv'\nbenefit = 'lower'\ncolumns = { y = '.g', se = '.g_se' }\n"
                              "select = { time = 'post' }\nper_study = 'first'")
    result = run_analysis(path, tmp_path / "out")
    assert result["fit"].data.k == 2 and result["fit"].data.y[0] == pytest.approx(-3.491827832)


def _xlsx(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<x/>")
        z.writestr("xl/workbook.xml", "<x/>")


@pytest.mark.parametrize("content,message", [
    (_xlsx, "is an Excel workbook (.xlsx)"),
    (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100), "old-style Excel workbook (.xls)"),
    (lambda p: p.write_text("study,yi,vi\nA,0.1,0.02\n", encoding="utf-16"), "is UTF-16 text"),
    (lambda p: p.write_bytes("study,yi,vi\nA,0.1,0.02\n".encode("utf-16-le")), "is UTF-16 text"),
    (lambda p: p.write_bytes(b"%PDF-1.4 ..."), "is a PDF document"),
    (lambda p: p.write_bytes(b""), "the file is empty"),
    (lambda p: p.write_bytes(b"  \n\n"), "the file is empty"),
    (lambda p: p.write_text("study,yi,vi\n"), "has a header but no rows"),
    (lambda p: p.write_text("study,yi,yi\nA,0.1,0.2\n"), "column 'yi' appears twice in the header (columns 2 and 3)"),
    (lambda p: p.write_text("study,yi,vi\nA,0.1,0.02\nB,0.2,0.03,9,9\n"), "line 3 has 5 fields but the header has 3"),
    (lambda p: p.write_text('study,yi,vi\n"A,0.1,0.02\n'), "cannot be read"),
    (lambda p: p.mkdir(), "is a folder, not a data file"),
])
def test_odd_files_are_named(tmp_path, content, message):
    path = tmp_path / "data.csv"
    content(path)
    with pytest.raises(bm.DataError) as err:
        read_table(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    assert_one_line_error(cli("fit", path, "--json"), message)


def test_latin1_file_is_read_with_a_warning(tmp_path):
    path = small_csv(tmp_path, "study,yi,vi\nMüller 2010,0.1,0.02\nGöteborg,0.3,0.03\nSão Paulo,-0.1,0.05\n",
                     encoding="latin-1")
    with pytest.warns(bm.DataWarning, match="not UTF-8 .*Windows-1252"):
        df = read_table(path)
    assert list(df["study"]) == ["Müller 2010", "Göteborg", "São Paulo"]
    res = cli("freq", path, "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["k"] == 3
    assert res.stderr.startswith("warning: ") and res.stderr.count("\n") == 1


def test_study_called_na_is_a_label_and_missing_numbers_are_named(tmp_path):
    path = small_csv(tmp_path, "study,yi,vi\nNA,0.1,0.02\nN/A,0.3,0.03\nnull,-0.1,0.05\nNone,0.2,0.04\n")
    df = read_table(path)
    assert list(df["study"]) == ["NA", "N/A", "null", "None"]
    assert list(bm.EffectData.from_table(df).study) == ["NA", "N/A", "null", "None"]
    path = small_csv(tmp_path, "study,yi,vi\nA,0.1,0.02\nB,NA,0.03\nC,-0.1,\n")
    assert_one_line_error(cli("freq", path, "--json"), "row 2 ('B'), column 'yi': value is missing")
    # with pandas' own reader the label is lost; the message says how to keep it
    with pytest.raises(bm.DataError, match="a study called NA"):
        bm.EffectData.from_table(pd.read_csv(small_csv(tmp_path, "study,yi,vi\nNA,0.1,0.02\nB,0.3,0.03\n")))


def test_excel_separator_line_and_padded_headers(tmp_path):
    path = small_csv(tmp_path, "sep=;\r\nstudy ; yi ;vi\r\nA;0,1;0,02\r\nB;0,3;0,03\r\n")
    df = read_table(path)
    assert list(df.columns) == ["study", "yi", "vi"] and df["yi"].tolist() == [0.1, 0.3]


def test_decimal_comma_in_a_comma_file_says_what_to_do(tmp_path):
    path = small_csv(tmp_path, 'study,yi,vi\nA,"0,1",0.02\nB,0.3,0.03\n')
    assert_one_line_error(cli("freq", path, "--json"), "row 1 ('A'), column 'yi': '0,1' is not a number",
                          "decimal comma")
    tab = small_csv(tmp_path, "study\tyi\tvi\nA\t0,1\t0,02\nB\t0,3\t0,03\n", name="t.tsv")
    assert read_table(tab)["yi"].tolist() == [0.1, 0.3]
    assert read_table(tab, decimal=".")["yi"].tolist() == ["0,1", "0,3"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=300),
                 st.text(alphabet=st.sampled_from(list("ab,;\t\"'\n\r 0123456789.-eNA")), max_size=200)
                 .map(lambda t: t.encode("utf-8"))))
def test_any_file_is_a_table_or_a_data_error(tmp_path, raw):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(raw)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            df = read_table(path)
        except bm.DataError as err:
            assert "\n" not in str(err)
            return
    assert isinstance(df, pd.DataFrame) and len(df) > 0


# --------------------------------------------------------------------------- 6. bayesmeta run
def test_failed_run_leaves_nothing_and_keeps_the_old_output(tmp_path):
    good = analysis_file(tmp_path, "[report]\nfigures = ['forest']\nfrequentist = ['DL']")
    out = tmp_path / "results" / "tw"
    assert cli("run", good, "--out", out).exit_code == 0
    before = sorted(p.name for p in out.iterdir())
    assert "report.html" in before
    small_csv(tmp_path, "study,yi,vi\nA,0.1,0.02\nB,0.3,-1\n")
    bad = analysis_file(tmp_path, "[report]\nfigures = ['forest']", data="file = 'd.csv'\nbenefit = 'higher'",
                        name="bad.toml")
    res = cli("run", bad, "--out", out, "--overwrite")
    assert_one_line_error(res, str(bad), "'data.file' 'd.csv'", "row 2 ('B'), column 'vi'")
    assert sorted(p.name for p in out.iterdir()) == before  # the earlier output is untouched
    assert [p.name for p in out.parent.iterdir()] == ["tw"]  # no temporary folder left beside it
    fresh = tmp_path / "new" / "deeper" / "out"
    assert_one_line_error(cli("run", bad, "--out", fresh))
    assert not (tmp_path / "new").exists()  # nor the folders made for it


@pytest.mark.parametrize("raw,message", [
    (b"study,yi,vi\nA,0.1,0.02\nB,0.2,0.03,9\n", "line 3 has 4 fields but the header has 3"),
    ("study,yi,vi\nA,0.1,0.02\n".encode("utf-16"), "is UTF-16 text"),
    (b"study,yi,yi\nA,0.1,0.02\n", "column 'yi' appears twice"),
])
def test_malformed_data_files_through_an_analysis_file(tmp_path, raw, message):
    (tmp_path / "d.csv").write_bytes(raw)
    path = analysis_file(tmp_path, data="file = 'd.csv'\nbenefit = 'higher'")
    assert_one_line_error(cli("run", path, "--out", tmp_path / "out"), str(path), "'data.file'", "d.csv", message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml", "d.csv"]


def test_a_failure_after_the_fit_leaves_nothing(tmp_path, monkeypatch):
    path = analysis_file(tmp_path, "[report]\nfigures = ['forest']\nfrequentist = ['DL']")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("bayesmeta.analysis._write_report", broken)
    assert_one_line_error(cli("run", path, "--out", tmp_path / "out"), "disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["a.toml"]


def test_run_refuses_odd_paths(tmp_path):
    path = analysis_file(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    assert_one_line_error(cli("run", path, "--out", tmp_path / "file.txt"), "--out", "is a file, not a folder")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    assert_one_line_error(cli("run", path, "--out", tmp_path / "mine"), "exists and is not empty", "--overwrite")
    assert (tmp_path / "mine" / "thesis.docx").read_text() == "precious"
    assert_one_line_error(cli("run", tmp_path), str(tmp_path), "is a folder, not an analysis file")
    assert_one_line_error(cli("run", tmp_path / "nope.toml"), "no such analysis file")
    (tmp_path / "folder.csv").mkdir()
    bad = analysis_file(tmp_path, data="file = 'folder.csv'\nbenefit = 'higher'", name="b.toml")
    assert_one_line_error(cli("run", bad), "'data.file' 'folder.csv' is a folder")
    latin = tmp_path / "latin.toml"
    latin.write_bytes("[analysis]\ntitle = 'Müller'\n".encode("latin-1"))
    assert_one_line_error(cli("run", latin), str(latin), "not UTF-8")


def test_run_never_replaces_a_folder_holding_its_inputs(tmp_path, monkeypatch):
    small_csv(tmp_path)
    path = analysis_file(tmp_path, "[report]\nfigures = []\nfrequentist = ['DL']",
                         data="file = 'd.csv'\nbenefit = 'higher'")
    (tmp_path / "report.html").write_text("an earlier run wrote here")
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(cli("run", path, "--out", "."), "holds the input")
    assert_one_line_error(cli("run", path, "--out", tmp_path.parent), "holds the input")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml", "d.csv", "report.html"]


def test_select_takes_one_value(tmp_path):
    path = analysis_file(tmp_path, data="dataset = 'thirdwave'\nbenefit = 'higher'\nselect = { RiskOfBias = [1, 2] }")
    with pytest.raises(AnalysisError, match=r"'data.select.RiskOfBias' must be one value"):
        load_analysis(path)
    path = analysis_file(tmp_path, data="dataset = 'thirdwave'\nbenefit = 'higher'\nselect = { RiskOfBias = 'nope' }")
    assert_one_line_error(cli("run", path, "--out", tmp_path / "out"), "'data.select' keeps none of the 18 rows")


def test_a_prior_asked_for_names_the_key(tmp_path):
    path = analysis_file(tmp_path, "[report]\nfigures = []", data="dataset = 'eightschools'\nbenefit = 'higher'")
    assert_one_line_error(cli("run", path, "--out", tmp_path / "out"), str(path), "no default prior on tau",
                          "'priors.tau'")


def test_bom_analysis_file_and_latin1_data_file(tmp_path):
    small_csv(tmp_path, "study,yi,vi\nMüller,0.1,0.02\nB,0.3,0.03\nC,-0.1,0.05\n", encoding="latin-1")
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + "[analysis]\ntitle = 'BOM'\n[data]\nfile = 'd.csv'\nbenefit = 'higher'\n"
                     "[report]\nfigures = ['forest']\nfrequentist = ['DL']\n".encode())
    res = cli("run", path, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.stderr
    assert "warning: " in res.stderr and "not UTF-8" in res.stderr and "Traceback" not in res.stderr
    assert "Müller" in (tmp_path / "out" / "shrinkage.csv").read_text()


def test_probabilities_csv_and_report_state_the_same_events(tmp_path):
    path = analysis_file(tmp_path, "[report]\nthresholds = [0.5, 0, 0.2, 0.2]\nfigures = []\nfrequentist = ['DL']")
    result = run_analysis(path, tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "probabilities.csv", index_col=0)["probability"]
    assert list(table.index) == ["mu > 0", "mu >= 0.2", "mu >= 0.5", "theta_new > 0", "theta_new >= 0.2",
                                 "theta_new >= 0.5"]
    md = html.unescape(re.sub(r"\\(.)", r"\1", (tmp_path / "out" / "report.md").read_text()))
    stated = re.findall(r"an? ([<>\d.]+%) probability that", md)
    events = re.findall(r"\(SMD ([<>]=?) (-?[\d.]+)\)", md)
    assert len(stated) == len(events) == 6
    for p, (op, c), (event, value) in zip(stated, events, table.items()):
        assert event.endswith(f"{op} {c}") and p == pct(value)
    assert result["thresholds"] == [0.0, 0.2, 0.5]


# --------------------------------------------------------------------------- 7. command line
def test_warnings_are_one_line_each(tmp_path):
    df = bm.datasets.load("normand1999").astype({"sd1": float})
    df.loc[0, "sd1"] = 47 / np.sqrt(155)  # an SE where the SD goes
    path = tmp_path / "n.csv"
    df.drop(columns=["yi", "vi"]).to_csv(path, index=False)
    cols = ["--n1", "n1", "--mean1", "m1", "--sd1", "sd1", "--n2", "n2", "--mean2", "m2", "--sd2", "sd2"]
    for command in ("fit", "freq"):
        res = cli(command, path, *cols, "--json")
        assert res.exit_code == 0 and json.loads(res.stdout)["k"] == 9
        lines = res.stderr.splitlines()
        assert lines == [line for line in lines if line.startswith("warning: ")] and len(lines) >= 1
        assert "row 1 ('Edinburgh'), columns 'sd1'/'sd2'" in lines[0] and "warnings.warn" not in res.stderr


def test_messages_keep_their_quotes():
    from bayesmeta.cli import message_of

    assert message_of(KeyError("no bundled data set 'x'")) == "no bundled data set 'x'"
    assert message_of(ValueError("first\nsecond")) == "first; second"
    assert_one_line_error(cli("fit", "published_pooled_icbt", "--json"), "could not tell which columns")


def test_unexpected_errors_are_still_one_line(monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("bayesmeta.frequentist_methods.frequentist", bug)
    assert_one_line_error(cli("freq", "thirdwave", "--json"), "unexpected ZeroDivisionError: oops",
                          "BAYESMETA_TRACEBACK")


# --------------------------------------------------------------------------- 8. reports
NASTY = ["A | B", "two\nlines", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "# not a heading",
         "- not a list", "x*y_z", "& amp"]


@pytest.fixture(scope="module")
def nasty_fit():
    data = EffectData([0.1, 0.3, -0.1, 0.2, 0.4, 0.0, 0.25, 0.15], [0.1, 0.15, 0.2, 0.12, 0.3, 0.1, 0.2, 0.18],
                      NASTY, benefit="higher")
    return bm.fit(data, seed=1)


def _cells(row):
    return re.split(r"(?<!\\)\|", row.strip())[1:-1]


def test_markdown_report_escapes_labels_and_title(nasty_fit):
    md = build_report(nasty_fit, title="Trial | <script>x</script>\n# big", thresholds=[0]).render("markdown")
    assert "<script" not in md and "<img" not in md and "onerror=alert(1)>" not in md
    assert md.startswith("# Trial \\| &lt;script&gt;x&lt;/script&gt; # big\n")
    for block in re.findall(r"(\|[^\n]*\|\n\|[-|]+\|\n(?:\|[^\n]*\|\n?)+)", md):
        rows = block.strip().split("\n")
        widths = {len(_cells(r)) for r in rows if not r.startswith("|---")}
        assert len(widths) == 1, block  # no label shifts a cell
    for label in NASTY:
        assert md_escape(label) in md
    html = build_report(nasty_fit, title="<script>x</script>", thresholds=[0]).render("html")
    assert "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_text_report_keeps_its_rows(nasty_fit):
    text = build_report(nasty_fit, title="two\nlines", thresholds=[0]).render("text")
    assert text.startswith("two lines\n=========\n")
    table = text.split("Study effects after shrinkage:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(table) == 2 + len(NASTY)  # header lines, then one line per study


def test_pooled_report_shows_no_tuples(tmp_path):
    result = run_analysis(Path(__file__).resolve().parent.parent / "models" / "icbt_published_pooled.toml",
                          tmp_path / "out")
    for name in ("report.md", "report.html"):
        text = (tmp_path / "out" / name).read_text()
        assert "('" not in text and "')" not in text
    assert "review / prior" in (tmp_path / "out" / "report.md").read_text()
    assert result["files"]["report_md"] == tmp_path / "out" / "report.md"


def test_report_states_the_default_prior_note(tw_fit):
    spec = tw_fit.spec
    had = "tau_prior_note" in vars(spec)
    old = getattr(spec, "tau_prior_note", None)
    object.__setattr__(spec, "tau_prior_note", "Prior on tau not given: the default, half-normal(0.5).")
    try:
        assert "Prior on tau not given: the default, half-normal(0.5)." in tw_fit.report()
    finally:
        if had:
            object.__setattr__(spec, "tau_prior_note", old)
        else:
            object.__delattr__(spec, "tau_prior_note")


# --------------------------------------------------------------------------- 9. figures
def test_figures_draw_user_text_as_plain_text_and_stay_small(tmp_path):
    labels = ["cost $5 and $\\foo$ ok", "x" * 5000, "a\nb", "$$", "fine"]
    data = EffectData([0.1, 0.3, -0.1, 0.2, 0.0], [0.1, 0.15, 0.2, 0.12, 0.1], labels, benefit="higher")
    fit = bm.fit(data, seed=1)
    from matplotlib.image import imread

    fig = plots.forest(fit, title="$\\alpha$ " + "t" * 3000)
    shown = [t.get_text() for t in fig.axes[0].get_yticklabels()][:5]
    assert shown[0] == labels[0] and len(shown[1]) <= plots.LABEL_WIDTH and shown[2] == "a b"
    png = plots.save(fig, tmp_path / "forest.png")
    height, width = imread(png).shape[:2]
    assert width < 2500 and height < 2500
    shrink = fit.shrinkage()
    assert shrink.index[1] == "x" * 5000  # the tables keep the full label
    fig = plots.pooled_probabilities(pd.DataFrame({"review": ["$\\foo$ / " + "y" * 4000] * 3,
                                                   "prior": ["sceptical", "neutral", "enthusiastic"],
                                                   "P(benefit)": [0.5, 0.6, 0.7],
                                                   "P(benefit >= 0.2)": [0.1, 0.2, 0.3]}),
                                     0.2)
    height, width = imread(plots.save(fig, tmp_path / "pooled.png")).shape[:2]
    assert width < 2500 and height < 2500


def test_forest_of_many_studies_is_written_at_a_lower_resolution(tmp_path, monkeypatch):
    from matplotlib.image import imread

    rng = np.random.default_rng(1)
    data = EffectData(rng.normal(0.3, 0.3, 120), rng.uniform(0.1, 0.4, 120), [f"S{i}" for i in range(120)])
    monkeypatch.setattr(plots.common, "MAX_PIXELS", 3000)
    height, width = imread(plots.save(plots.forest(bm.fit(data, seed=1)), tmp_path / "f.png")).shape[:2]
    assert max(height, width) <= 3000 and height > 2500
