"""Reports, analysis files and the command line for meta-regression and subgroup fits."""

import json
import warnings

import pandas as pd
import pytest
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta.analysis import run_analysis
from bayesmeta.cli import app
from bayesmeta.errors import ConvergenceWarning
from bayesmeta.reports import fit_events, probability_statements

from .conftest import DATA

ROOT = DATA.parent.parent


def raudenbush():
    df = pd.read_csv(DATA / "raudenbush1985_mods.csv")
    return bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study", benefit="higher")


def test_subgroup_statements_are_the_fits_numbers():
    fit = bm.fit(bm.datasets.effect_data("thirdwave"), subgroup="ModeOfDelivery", seed=1)
    text = " ".join(probability_statements(fit, intervention="third-wave CBT"))
    assert f"{100 * fit.prob('mu[online] > 0'):.1f}% probability that third-wave CBT improves" in text
    assert "in subgroup online" in text and "ModeOfDelivery online rather than group" in text
    assert f"{100 * fit.prob('mu[online] - mu[group] > 0'):.1f}% probability" in text
    assert fit_events(fit)[-1] == "mu[online] - mu[group] > 0"


def test_regression_report_names_coefficients_and_the_frequentist_twin():
    data = raudenbush()
    fit = bm.fit(data, moderators="~ weeks + C(tester)", seed=1)
    freq = bm.frequentist(data, method="REML", moderators="~ weeks + C(tester)")
    md = fit.report("markdown", freq=freq)
    assert "each unit more of weeks" in md and "tester blind rather than aware" in md
    assert f"QM = {freq.QM:.2f}" in md
    table = bm.compare(fit, freq)
    assert table.loc[("weeks", "REML"), "estimate"] == pytest.approx(freq.coefficients.loc["weeks", "estimate"])
    assert table.loc[("weeks", fit_label(fit)), "estimate"] == pytest.approx(fit.coefficients().loc["weeks", "median"])


def fit_label(fit):
    return f"Bayesian ({fit.engine}; tau ~ {fit.spec.tau_prior})"


def test_subgroup_analysis_file_writes_consistent_outputs_and_a_loadable_fit(tmp_path):
    files = run_analysis(ROOT / "models" / "thirdwave_subgroups.toml", tmp_path / "out")["files"]
    probs = pd.read_csv(files["probabilities"]).set_index("event")["probability"]
    report = files["report_md"].read_text()
    back = bm.load(files["posterior"])
    for event, p in probs.items():
        assert back.prob(event) == pytest.approx(p, abs=1e-12)
    assert "mu[online] - mu[group] > 0" in probs.index and "test for subgroup differences" in report
    assert (tmp_path / "out" / "sensitivity.csv").exists()


def test_command_line_subgroups_and_moderators():
    runner = CliRunner()
    out = runner.invoke(app, ["fit", "thirdwave", "--subgroup", "ModeOfDelivery", "--seed", "1", "--json"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)
    assert res["model"] == "subgroups" and "mu[online]" in res and "mu[online] - mu[group]" in res["differences"]
    out = runner.invoke(app, ["freq", str(DATA / "raudenbush1985_mods.csv"), "--moderators", "~ weeks", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["QM"] == pytest.approx(bm.frequentist(raudenbush(), moderators="~ weeks").QM)
    bad = runner.invoke(app, ["fit", "thirdwave", "--subgroup", "Mode"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "Mode" in bad.stderr


@pytest.mark.slow
def test_too_short_mcmc_run_warns_what_to_do():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bm.fit(bm.datasets.effect_data("thirdwave"), engine="mcmc", draws=10, chains=1, tune=10, seed=1)
    messages = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert messages and "run more chains or draws" in messages[0]


def test_ratio_measures_are_stated_on_the_ratio_scale():
    import math

    df = pd.DataFrame({"study": list("ABCDE"), "e1": [3, 5, 2, 8, 4], "n1": [50, 60, 40, 80, 55],
                       "e2": [8, 9, 6, 12, 7], "n2": [50, 58, 42, 79, 54]})
    data = bm.EffectData.from_counts(df, events1="e1", n1="n1", events2="e2", n2="n2", study="study",
                                     measure="logRR", benefit="lower")
    fit = bm.fit(data, tau_prior="halfnormal(0.5)", seed=1)
    text = " ".join(probability_statements(fit, thresholds=[0, -0.2], intervention="the drug"))
    assert f"{100 * fit.prob('mu < 0'):.1f}% probability that the drug reduces the outcome on average (RR < 1)" in text
    assert f"(RR <= {math.exp(-0.2):.3g})" in text and "logRR" not in text
