"""Command line: JSON keys of DESIGN.md, same numbers as the library, clean errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta.cli import app

runner = CliRunner()
SUMMARY_KEYS = {"mean", "sd", "median", "lower", "upper"}


def run(*args):
    return runner.invoke(app, list(args))


def test_fit_json_has_the_contract_keys_and_library_numbers():
    res = run("fit", "thirdwave", "--tau-prior", "halfcauchy(0.5)", "--mu-prior", "normal(0, 1)", "--seed", "1",
              "--prob", "mu<0.3", "--prob", "theta_new < 0", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"k", "engine", "tau_prior", "mu_prior", "mu", "tau", "theta_new", "I2", "prob", "studies"} <= set(out)
    for q in ("mu", "tau", "theta_new", "I2"):
        assert set(out[q]) == SUMMARY_KEYS
    fit = bm.fit(bm.datasets.effect_data("thirdwave"), tau_prior="halfcauchy(0.5)", mu_prior="normal(0, 1)", seed=1)
    assert out["mu"]["lower"] == pytest.approx(fit.summary().loc["mu", "lower"], rel=1e-12)
    assert out["prob"]["mu<0.3"] == pytest.approx(fit.prob("mu < 0.3"), rel=1e-12)
    assert out["k"] == 18 and len(out["studies"]) == 18 and out["studies"][0]["study"] == "Call et al."


def test_freq_json_keys_and_values(tmp_path):
    path = tmp_path / "tw.csv"
    bm.datasets.load("thirdwave").to_csv(path, index=False)
    res = run("freq", str(path), "--y", "TE", "--se", "seTE", "--study", "Author", "--method", "REML", "--ci", "hksj",
              "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    keys = {"k", "method", "mu", "se", "lower", "upper", "pvalue", "tau2", "tau2_lower", "tau2_upper", "I2", "H2", "Q",
            "Q_pvalue", "pi_lower", "pi_upper"}
    assert keys <= set(out)
    assert round(out["mu"], 4) == 0.5771 and round(out["upper"], 4) == 0.7760


def test_summary_columns_recognised_and_text_output(tmp_path):
    path = tmp_path / "normand.csv"
    bm.datasets.load("normand1999").drop(columns=["yi", "vi"]).rename(
        columns={"m1": "m1i", "m2": "m2i", "n1": "n1i", "n2": "n2i", "sd1": "sd1i", "sd2": "sd2i"}).to_csv(path, index=False)
    res = run("freq", str(path), "--method", "DL")
    assert res.exit_code == 0 and "DL" in res.stdout and "k = 9" in res.stdout
    res = run("fit", str(path), "--seed", "2")
    assert res.exit_code == 0 and "theta_new" in res.stdout


@pytest.mark.parametrize("args,message", [
    (("freq", "missing.csv"), "no file 'missing.csv'"),
    (("fit", "thirdwave", "--tau-prior", "halfnormal(-1)"), "scale must be a positive finite number"),
    (("fit", "thirdwave", "--engine", "gibbs"), "engine must be"),
    (("freq", "thirdwave", "--method", "XYZ"), "--method must be one of"),
    (("fit", "thirdwave", "--prob", "mu is big"), "cannot read"),
])
def test_bad_input_gives_one_line_and_exit_2(args, message):
    res = run(*args)
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.output + res.stderr


def test_bad_csv_names_row_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("study,yi,vi\nA,0.1,0.02\nB,abc,0.03\n")
    res = run("freq", str(path))
    assert res.exit_code == 2 and "row 2 ('B'), column 'yi': 'abc' is not a number" in res.stderr
    path.write_text("study,foo\nA,1\n")
    res = run("fit", str(path))
    assert res.exit_code == 2 and "could not tell which columns" in res.stderr


def test_console_script_runs():
    exe = Path(sys.executable).parent / "bayesmeta"
    out = subprocess.run([str(exe), "freq", "thirdwave", "--json"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["k"] == 18


def test_separator_decimal_and_encoding_options(tmp_path):
    path = tmp_path / "d.txt"
    path.write_bytes("study|yi|vi\nMüller|0,1|0,02\nB|0,3|0,03\nC|-0,1|0,05\n".encode("cp1252"))
    res = run("freq", str(path), "--sep", "|", "--decimal", ",", "--encoding", "cp1252", "--json")
    assert res.exit_code == 0 and res.stderr == "" and json.loads(res.stdout)["k"] == 3
    assert list(json.loads(run("freq", str(path), "--json").stdout)["weights"]) == ["Müller", "B", "C"]  # detected


def test_run_reports_where_the_output_went(tmp_path):
    toml = tmp_path / "a.toml"
    toml.write_text("[analysis]\ntitle = 'x'\n[data]\ndataset = 'thirdwave'\nbenefit = 'higher'\n"
                    "[report]\nfigures = []\nfrequentist = ['DL']\n")
    res = run("run", str(toml), "--out", str(tmp_path / "out"))
    assert res.exit_code == 0 and f"report: {tmp_path / 'out' / 'report.html'}" in res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml", "out"]
