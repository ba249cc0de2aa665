"""Reliability round 3 on the model side: every failure a user can cause is one clear line (classes 4 and 5),
and no option is silently ignored (class 6); warnings point at the user's own line."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta.cli import app

runner = CliRunner()


def thirdwave(**extra):
    df = bm.datasets.load("thirdwave").assign(**extra)
    return bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author", moderators=list(extra))


def test_integer_column_names_in_fit_many_and_frequentist_many():
    df = bm.datasets.load("thirdwave")[["Author", "TE", "seTE"]]
    df.columns = [0, 1, 2]
    df[3] = ["a", "b"] * 9
    for run in (bm.fit_many, bm.frequentist_many):
        assert len(run(df, by=3, y=1, se=2, study=0)) == len(run(df, by="3", y="1", se="2")) == 2
    clash = df.assign(**{"1": df[1]})
    with pytest.raises(bm.DataError, match="two columns named '1'"):
        bm.frequentist_many(clash, by=3, y=1, se=2)


def test_subgroup_values_that_read_the_same():
    data = thirdwave(g=[1, "1"] * 9)
    message = r"column 'g': rows 1 \('Call et al.'\) and 2 \('Cavanagh et al.'\) hold 1 and '1'"
    for call in (lambda: bm.fit(data, subgroup="g"), lambda: bm.frequentist(data, subgroup="g"),
                 lambda: bm.fit(data, moderators="~ C(g)")):
        with pytest.raises(bm.DataError, match=message):
            call()


@pytest.mark.parametrize("other", [["x"], "x", 3])
def test_compare_with_something_that_is_not_a_result(other):
    fit = bm.fit(bm.datasets.effect_data("thirdwave"), seed=1)
    with pytest.raises(ValueError, match=r"compare\(\): .* not a frequentist result"):
        bm.compare(fit, other)


def test_numpy_scalars_are_shown_as_plain_numbers():
    with pytest.raises(bm.DataError) as err:
        bm.EffectData(np.array([0.1, np.nan]), np.array([0.1, 0.2]), np.array(["a", "b"]), "SMD", "lower")
    assert "np.float64" not in str(err.value) and "the effect nan" in str(err.value)
    with pytest.raises(ValueError) as err:
        bm.fit(bm.datasets.effect_data("thirdwave")).summary(ci=np.float64(1.5))
    assert str(err.value).endswith("not 1.5")


def test_rank_deficient_design_is_named_as_such():
    data = thirdwave(x=np.arange(18.0), z=2 * np.arange(18.0) + 1)
    for call in (bm.fit, bm.frequentist):
        with pytest.raises(bm.DataError, match="rank-deficient: 'z' is .* a linear combination of 'intercept', 'x'"):
            call(data, moderators="~ x + z")


def test_prior_errors_name_the_prior(tmp_path):
    res = runner.invoke(app, ["fit", "thirdwave", "--effects", "t", "--engine", "mcmc", "--nu-prior", "nope(1)"])
    assert res.exit_code != 0 and "--nu-prior 'nope(1)'" in res.output
    res = runner.invoke(app, ["fit", "thirdwave", "--model", "three-level", "--cluster", "InterventionType",
                              "--tau-within-prior", "nope(1)"])
    assert res.exit_code != 0 and "--tau-within-prior 'nope(1)'" in res.output
    with pytest.raises(ValueError, match=r"nu_prior \(the prior on nu - 1\)"):
        bm.fit(bm.datasets.effect_data("thirdwave"), effects="t", engine="mcmc", nu_prior="nope(1)")
    for key, value, words in (("nu", "nope(2)", "'priors.nu'"), ("tau_within", "normal(0, 1)", "'priors.tau_within'"),
                              ("beta", "halfnormal(1)", "'priors.beta'")):
        toml = tmp_path / f"{key}.toml"
        toml.write_text(f'[analysis]\ntitle = "t"\n[data]\ndataset = "thirdwave"\nbenefit = "higher"\n'
                        f'[priors]\n{key} = "{value}"\n')
        res = runner.invoke(app, ["run", str(toml), "--out", str(tmp_path / key)])
        assert res.exit_code != 0 and words in res.output, res.output
        assert not (tmp_path / key).exists()



@pytest.mark.parametrize("call, message", [
    (lambda d: bm.fit(d, bias="PET", beta_prior="normal(0"), "beta_prior 'normal(0': unbalanced"),
    (lambda d: bm.fit(d, moderators="~ 1", beta_prior="halfnormal(1)"), "beta_prior 'halfnormal(1)': unknown prior"),
    (lambda d: bm.fit(d, mu_prior="bogus(1)"), "mu prior 'bogus(1)': unknown mu prior"),
    (lambda d: bm.average(d, pet_prior="normal(0"), "pet_prior 'normal(0'"),
    (lambda d: bm.average(d, peese_prior="bogus(1)"), "peese_prior 'bogus(1)': unknown prior"),
    (lambda d: bm.average(d, tau_prior="halfnormal(-1)"), "tau_prior 'halfnormal(-1)'"),
    (lambda d: bm.average(d, mu_prior="normal(0,"), "mu_prior 'normal(0,'"),
])
def test_every_prior_error_names_the_argument_it_came_from(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call(bm.datasets.effect_data("thirdwave"))


def test_options_that_would_be_ignored_are_refused(tmp_path):
    res = runner.invoke(app, ["freq", "thirdwave", "--robust"])
    assert res.exit_code != 0 and "--robust" in res.output and "three-level" in res.output
    table = tmp_path / "t.csv"
    bm.datasets.load("thirdwave").to_csv(table, index=False)
    for extra in (["--tau-prior", "halfnormal(0.3)"], ["--prob", "mu<0"]):
        res = runner.invoke(app, ["batch", str(table), "--by", "ModeOfDelivery", "--y", "TE", "--se", "seTE",
                                  "--method", "REML", "--out", str(tmp_path / "o.csv"), *extra])
        assert res.exit_code != 0 and extra[0] in res.output and "frequentist" in res.output
    assert not (tmp_path / "o.csv").exists()


def test_common_effect_fit_does_not_carry_a_tau_prior():
    data = bm.datasets.effect_data("thirdwave")
    with pytest.warns(UserWarning, match="tau_prior 'halfnormal\\(0.3\\)' is not used") as rec:
        fit = bm.fit(data, model="common", tau_prior="halfnormal(0.3)")
    assert rec[0].filename == __file__  # the user's line
    assert "tau = 0" in bm.compare(fit, bm.frequentist(data)).index[0]
    assert "halfnormal" not in bm.compare(fit, bm.frequentist(data)).index[0]


def test_mantel_haenszel_with_one_study_warns_as_inverse_variance_does():
    counts = pd.DataFrame({"study": ["a"], "e1": [3], "n1": [20], "e2": [5], "n2": [20]})
    data = bm.EffectData.from_counts(counts, events1="e1", n1="n1", events2="e2", n2="n2", study="study",
                                     measure="logOR")
    for method in ("MH-DL", "DL"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bm.frequentist(data, method=method)
        assert [str(w.message) for w in caught] == ["k = 1: heterogeneity cannot be estimated; tau^2 set to 0"]
        assert caught[0].filename == __file__


def test_warnings_point_at_the_users_line():
    df = bm.datasets.load("internet_depression_selfguided")
    data = bm.EffectData.from_dataframe(df, y="g", se="se_g", cluster="study", benefit="higher")
    one = bm.EffectData.from_dataframe(df.drop_duplicates("study"), y="g", se="se_g", cluster="study",
                                       benefit="higher")
    calls = [lambda: bm.fit(data),  # clustered effects fitted as independent
             lambda: bm.fit(one, model="three-level"),  # one effect per cluster
             lambda: bm.frequentist(one, model="three-level")]
    for call in calls:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert caught and all(w.filename == __file__ for w in caught), [(w.filename, str(w.message)) for w in caught]


def test_the_first_mcmc_compile_says_what_it_is_doing(capsys):
    from bayesmeta.engines.mcmc import _say

    _say("preparing the model (compiled once per machine and cached)...", progressbar=True)
    _say("not shown", progressbar=False)  # no terminal under pytest
    assert capsys.readouterr().err == "preparing the model (compiled once per machine and cached)...\n"


@pytest.mark.slow
def test_one_compiled_model_serves_every_data_size():
    """The normal-normal model is compiled once, not once per number of studies: after a fit to 18 studies a
    fit to 10 takes well under 2 s (no compile), and agrees with the exact engine within 5 Monte Carlo
    standard errors (SD / sqrt(500): 2 x 1000 draws, ESS above 500)."""
    import time

    df = bm.datasets.load("thirdwave")
    bm.fit(bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author"), engine="mcmc", seed=1, chains=2,
           tau_prior="halfnormal(0.5)")
    small = bm.EffectData.from_dataframe(df.iloc[:10], y="TE", se="seTE", study="Author")
    start = time.perf_counter()
    fit = bm.fit(small, engine="mcmc", seed=2, chains=2, tau_prior="halfnormal(0.5)")
    assert time.perf_counter() - start < 2
    exact = bm.fit(small, tau_prior="halfnormal(0.5)")
    for q in ("mu", "tau"):
        mean, sd = exact.moments(q)
        assert abs(fit.moments(q)[0] - mean) < 5 * sd / np.sqrt(500), q
    assert fit.shrinkage().shape[0] == 10


def test_utf16_file_and_folder_where_a_table_is_expected(tmp_path):
    path = tmp_path / "utf16.csv"
    bm.datasets.load("thirdwave").to_csv(path, index=False, encoding="utf-16")
    with pytest.raises(bm.DataError, match="is UTF-16 text"):
        bm.read_table(path)
    with pytest.raises(bm.DataError, match="is a folder, not a data file"):
        bm.read_table(tmp_path)
    for target in (path, tmp_path):
        res = runner.invoke(app, ["fit", str(target), "--y", "TE", "--se", "seTE"])
        assert res.exit_code != 0 and res.output.startswith("error: ") and res.output.count("\n") == 1
