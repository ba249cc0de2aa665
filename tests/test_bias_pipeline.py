"""Bias models and model averaging through the command line and analysis files: `bayesmeta fit --bias`,
`[model] bias`, and the model-averaged section of a report ([report] average)."""

import json

import pytest
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta.analysis import run_analysis
from bayesmeta.cli import app


def test_cli_fit_bias_pet_equals_the_api():
    result = CliRunner().invoke(app, ["fit", "fibromyalgia_pain", "--bias", "PET", "--seed", "1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    fit = bm.fit(bm.datasets.effect_data("fibromyalgia_pain"), bias="PET", seed=1)
    assert out["mu"]["median"] == pytest.approx(float(fit.summary().loc["mu", "median"]), abs=1e-12)


def test_cli_fit_bias_refuses_an_unknown_model():
    result = CliRunner().invoke(app, ["fit", "fibromyalgia_pain", "--bias", "PETX"])
    assert result.exit_code != 0 and "bias must be" in result.output


ANALYSIS = """[analysis]
title = "Fibromyalgia pain"
[data]
dataset = "fibromyalgia_pain"
measure = "SMD"
benefit = "lower"
[model]
{model}
[report]
figures = ["forest"]
robust = false
{report}
"""


@pytest.mark.parametrize("average", [True, False])
def test_analysis_file_model_average_section(tmp_path, average):
    """22 studies (>= 10): the report averages RoBMA's 36 models unless [report] average = false; the numbers in
    its sentence are bm.average's."""
    path = tmp_path / "a.toml"
    path.write_text(ANALYSIS.format(model="", report=f"average = {str(average).lower()}"), encoding="utf-8")
    result = run_analysis(path, tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert ("## Model averaging over effect, heterogeneity and publication bias" in text) is average
    assert ("figure_average" in result["files"]) is average
    if average:
        avg = bm.average(bm.datasets.effect_data("fibromyalgia_pain"), bias="RoBMA")
        assert f"{avg.inclusion.loc['bias', 'BF']:.2f} times more likely under models with publication bias" in text


def test_analysis_file_bias_key(tmp_path):
    path = tmp_path / "a.toml"
    path.write_text(ANALYSIS.format(model='bias = "PEESE"\nseed = 3', report="average = false"), encoding="utf-8")
    result = run_analysis(path, tmp_path / "out")
    fit = bm.fit(bm.datasets.effect_data("fibromyalgia_pain"), bias="PEESE", seed=3)
    assert float(result["fit"].summary().loc["mu", "median"]) == pytest.approx(
        float(fit.summary().loc["mu", "median"]), abs=1e-12)
    path.write_text(ANALYSIS.format(model="bias = 1", report=""), encoding="utf-8")
    with pytest.raises(ValueError, match="bias"):
        run_analysis(path, tmp_path / "out2")
