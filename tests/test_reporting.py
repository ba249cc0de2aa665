"""Reports, figures, analysis files and the re-analyses."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statistics import NormalDist
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta import plots
from bayesmeta.analysis import AnalysisError, load_analysis, run_analysis
from bayesmeta.cli import app
from bayesmeta.report import build_report, pct

ROOT = Path(__file__).resolve().parent.parent
MODELS = sorted((ROOT / "models").glob("*.toml"))
EXACT_MODELS = [m for m in MODELS if load_analysis(m).get("model", "engine", "exact") == "exact"]


@pytest.fixture(scope="module")
def clbp():
    data = bm.datasets.effect_data("clbp_digital_pain")
    return data, bm.fit(data, seed=1), [bm.frequentist(data, method="revman5"), bm.frequentist(data, method="cochrane")]


def test_probability_statements_are_the_fits_numbers(clbp):
    data, fit, freq = clbp
    text = build_report(fit, freq=freq, thresholds=[0, -0.2], intervention="digital self-management").render("text")
    p0, p2 = fit.prob("mu < 0"), fit.prob("mu <= -0.2")
    assert (f"There is a {pct(p0)} probability that digital self-management reduces pain intensity on average "
            f"(SMD < 0), and a {pct(p2)} probability that the reduction is at least small (SMD <= -0.2).") in text
    assert f"{pct(fit.prob('theta_new < 0'))} probability that digital self-management reduces pain intensity in a new study" in text
    assert "half-normal prior on tau with scale 0.5" in text and "flat (improper uniform) prior on mu" in text
    assert "RevMan 5 (DL)" in text and "Cochrane (REML + HKSJ)" in text and "Seed 1." in text
    assert "pymc" not in text  # exact engine: versions of what made the numbers


def test_compare_table(clbp):
    data, fit, freq = clbp
    table = bm.compare(fit, freq)
    assert len(table) == 3 and table.iloc[1]["estimate"] == freq[0].mu
    assert table.iloc[0]["estimate"] == pytest.approx(fit.summary().loc["mu", "median"])
    assert "credible" in table.iloc[0]["interval"] and "Knapp-Hartung" in table.iloc[2]["interval"]


def test_from_estimate_and_reference_priors():
    # Eccleston 2014: -0.37 [-0.59, -0.15]; flat prior: P(mu < 0) = Phi(0.37 / se), se = 0.44 / (2 z).
    se = 0.44 / (2 * NormalDist().inv_cdf(0.975))
    flat = bm.from_estimate(-0.37, -0.59, -0.15)
    assert flat.prob("mu < 0") == pytest.approx(NormalDist(-0.37, se).cdf(0), rel=1e-12)
    priors = bm.reference_priors(0.2, "lower")
    sc = bm.from_estimate(-0.37, -0.59, -0.15, prior=priors["sceptical"])
    s0 = 0.2 / NormalDist().inv_cdf(0.95)
    prec = 1 / se**2 + 1 / s0**2
    assert sc.post_mean == pytest.approx((-0.37 / se**2) / prec) and sc.post_sd == pytest.approx(prec**-0.5)
    assert NormalDist(0, s0).cdf(-0.2) == pytest.approx(0.05)  # sceptical: 5% prior mass beyond -0.2
    assert NormalDist(-0.2, s0).cdf(0) == pytest.approx(0.95)  # enthusiastic: 5% prior mass on harm
    with pytest.raises(ValueError, match="does not contain"):
        bm.from_estimate(0.5, 0.6, 0.9)


def test_figures_have_the_promised_content(clbp):
    data, fit, freq = clbp
    fig = plots.forest(fit, freq=freq)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[: data.k] == list(data.study) and "RevMan 5 (DL) (95% CI)" in labels
    assert any("predictive" in lab for lab in labels)
    assert "< 0 favours the intervention" in fig.axes[0].get_xlabel()
    plots._plt().close(fig)
    fig = plots.forest(fit, order="effect", columns=("weight", "observed"))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[: data.k] == [data.study[i] for i in np.argsort(data.y)]
    headers = [t.get_text() for t in fig.axes[1].texts[:2]]
    assert headers == ["Weight (REML)", "Observed [95% CI]"]
    plots._plt().close(fig)
    with pytest.raises(ValueError, match="unknown forest plot column"):
        plots.forest(fit, columns=("pvalue",))
    fig = plots.density(fit, thresholds=(0, -0.2))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(f"P(mu < 0) = {fit.prob('mu < 0'):.3f}" in t for t in texts)
    assert any(f"P(theta_new <= -0.2) = {fit.prob('theta_new <= -0.2'):.3f}" in t for t in texts)
    plots._plt().close(fig)
    fig = plots.benefit_curves(fit)
    x, y = fig.axes[0].lines[0].get_data()
    assert y[0] == pytest.approx(fit.prob("mu < 0")) and np.all(np.diff(y) <= 1e-12)
    plots._plt().close(fig)


@pytest.mark.parametrize("model", EXACT_MODELS, ids=[m.stem for m in EXACT_MODELS])
def test_every_model_file_runs(model, tmp_path):
    """Every exact-engine model file (the MCMC ones run in the slow test below)."""
    result = run_analysis(model, tmp_path)
    files = result["files"]
    assert files["report_html"].exists() and files["report_md"].exists()
    html = files["report_html"].read_text()
    assert "probability" in html and "<svg" in html and "<img" not in html  # figures inlined as SVG
    if result["fit"] is not None:
        assert (tmp_path / "posterior.nc").exists() and (tmp_path / "figures" / "forest.png").exists()
        summary = pd.read_csv(tmp_path / "summary.csv", index_col=0)
        first = result["fit"].family.coefficient_rows()[0]  # mu, or mu[g] / beta[term] for other families
        assert summary.loc[first, "lower"] == pytest.approx(result["fit"].summary().loc[first, "lower"], rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("model", [m for m in MODELS if m not in EXACT_MODELS], ids=lambda m: m.stem)
def test_mcmc_model_file_runs(model, tmp_path):
    result = run_analysis(model, tmp_path)
    assert result["fit"].engine == "mcmc" and (tmp_path / "figures" / "trace.png").exists()
    assert "divergent transitions" in (tmp_path / "report.md").read_text()


def test_depression_selection_is_reported(tmp_path):
    result = run_analysis(ROOT / "models" / "internet_depression_selfguided.toml", tmp_path)
    md = (tmp_path / "report.md").read_text()
    m = re.search(r"Selection: (\d+) of 78 rows kept", md)
    assert m and int(m.group(1)) == result["fit"].data.k
    assert len(set(result["fit"].data.study)) == result["fit"].data.k
    assert "flagged as suspect" in md  # the Rhodes cell used in the sensitivity analysis


BAD = {
    "unknown section": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[prios]\ntau='x'\n",
                        "unknown section [prios]"),
    "unknown key": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[priors]\ntua='x'\n",
                    "unknown key 'priors.tua'"),
    "bad choice": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='up'\n", "'data.benefit' must be one of"),
    "wrong type": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[model]\nseed='one'\n",
                   "'model.seed' must be a whole number"),
    "missing title": ("[data]\ndataset='thirdwave'\nbenefit='higher'\n", "'analysis.title' is required"),
    "bad prior": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[priors]\ntau='halfnormal(-2)'\n",
                  "[priors] tau prior 'halfnormal(-2)': scale must be a positive finite number"),
    "no data": ("[analysis]\ntitle='x'\n[data]\nbenefit='higher'\n", "give exactly one of 'data.dataset'"),
    "missing file": ("[analysis]\ntitle='x'\n[data]\nfile='nope.csv'\nbenefit='higher'\n", "'data.file' 'nope.csv' not found"),
    "not toml": ("[analysis\ntitle=", "not valid TOML"),
    "unknown dataset": ("[analysis]\ntitle='x'\n[data]\ndataset='nope'\nbenefit='higher'\n",
                        "'data.dataset' 'nope' is not a bundled data set"),
    "bad figure": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[report]\nfigures=['pie']\n",
                   "unknown figure 'pie'"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_analysis_files_give_one_clear_message(name, tmp_path):
    text, message = BAD[name]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(AnalysisError, match=re.escape(message)):
        load_analysis(path)
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and message in res.stderr and "Traceback" not in res.output + res.stderr
    assert res.stderr.count("\n") == 1


def test_bad_csv_through_an_analysis_file(tmp_path):
    (tmp_path / "d.csv").write_text("study,yi,vi\nA,0.1,0.02\nB,0.3,-1\n")
    path = tmp_path / "a.toml"
    path.write_text("[analysis]\ntitle='x'\n[data]\nfile='d.csv'\nbenefit='higher'\n")
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "row 2 ('B'), column 'vi'" in res.stderr and "Traceback" not in res.stderr
