"""Review files: RevMan 5 (.rm5), RevMan 5 CSV exports, RevMan Web data packages and Metapsy tables read into one
Review; RevMan's pooled results reproduced to the digits the files store; effects, fits, the review command.
Fixtures and the source of every stored number: tests/data/revman/README.md."""

import json
import math
import re
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta.cli import app
from bayesmeta.errors import DataError, EstimationWarning
from bayesmeta.reviews.check import decimals, summarise

DATA = Path(__file__).parent / "data"
REVMAN = DATA / "revman"
RM5, CSV, PACKAGE = REVMAN / "review.rm5", REVMAN / "review_export.csv", REVMAN / "CD000000-dataPackage"
METAPSY = DATA / "bodily_distress_psyctr_excerpt.csv"


@pytest.fixture(scope="module")
def rm5():
    return bm.read_revman(RM5)


@pytest.fixture(scope="module")
def export():
    return bm.read_revman(CSV)


@pytest.fixture(scope="module")
def package():
    return bm.read_revman(PACKAGE)


def quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return func(*args, **kwargs)


# --------------------------------------------------------------------------- reading
def test_rm5_analyses_table(rm5):
    table = rm5.analyses
    assert table.index.tolist() == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "2.1", "2.2", "2.3", "3.1", "3.2"]
    assert table["data_type"].tolist() == ["dichotomous"] * 6 + ["continuous"] * 3 + ["generic", "o-e"]
    assert table["measure"].tolist() == ["OR", "RR", "Peto OR", "RD", "OR", "RR", "MD", "SMD", "MD", "HR", "Peto OR"]
    assert table["method"].tolist() == ["MH", "MH", "Peto", "MH", "IV", "MH", "IV", "IV", "IV", "IV", "Peto"]
    assert table["model"].tolist() == ["fixed", "random", "fixed", "fixed", "random", "fixed", "random", "random",
                                       "fixed", "random", "fixed"]
    assert table["k"].tolist() == [7, 7, 4, 4, 5, 0, 6, 4, 5, 4, 3]
    assert table.loc["1.2", "subgroups"] == 2 and table.loc["2.1", "subgroups"] == 2
    assert rm5.title.startswith("Psychological programmes") and rm5.doi == "10.1002/14651858.CD000000"
    assert rm5.format == "RevMan 5 (.rm5)"


def test_rm5_encodings_and_footnotes(rm5):
    """Latin-1 bytes, a Windows-1252 en dash, a stray UTF-8 sequence and a control character, as real files have."""
    assert "García 2013" in rm5.effects("1.2").study
    assert rm5.analysis("2.1").name == "Pain intensity (0–100 VAS)"
    rows = rm5.analysis("1.2").rows.set_index("study")
    assert rows.loc["Brown 2006", "footnotes"] == "No admissions ≥ 1 day in the programme arm"
    assert rm5.analysis("2.1").rows.set_index("study").loc["Kim 2012", "footnotes"] == "SDs from the authors"
    assert set(rm5.studies["study"]) >= {"López 2014", "Müller 2001", "O'Brien 2005"}


def test_benefit_direction_from_graph_labels(rm5):
    assert rm5.analysis("1.1").benefit == "lower"  # "Favours experimental" on the left
    a = rm5.analysis("1.5")  # "Favours usual care" (the control group's label) on the left
    assert a.benefit == "higher" and "above the line of no effect" in a.benefit_note
    assert rm5.effects("1.5").benefit == "higher"


def test_benefit_where_the_file_does_not_state_it(package):
    assert package.analysis("1.1").benefit is None  # RevMan Web data packages have no graph labels
    told = bm.read_revman(PACKAGE, benefit="lower").analysis("1.1")
    assert told.benefit == "lower" and "as given to read_revman" in told.benefit_note
    rm5 = bm.read_revman(RM5, benefit="lower")
    assert rm5.analysis("1.5").benefit == "higher"  # the file's labels win
    with pytest.raises(DataError, match="the benefit must be 'lower' or 'higher'"):
        bm.read_revman(RM5, benefit="down")


def test_csv_export_and_data_package_read(export, package):
    assert export.analyses.index.tolist() == ["1.1", "1.2", "2.1"]
    assert export.analyses["measure"].tolist() == ["OR", "MD", "RR"]
    assert export.effects("1.1").arms["events1"].tolist()[-1] == 1570  # "1,570": RevMan's thousands separator
    assert "García 2013" in export.effects("2.1").study  # Windows-1252
    assert package.analyses.index.tolist() == ["1.1", "1.2", "2.1"]
    assert package.analyses["data_type"].tolist() == ["dichotomous", "generic", "continuous"]
    hr = package.effects("1.2")
    assert hr.y[0] == pytest.approx(math.log(0.78), rel=1e-14)  # GIV Mean on the log scale
    assert package.analysis("2.1").subgroup_names == ["Internet-delivered", "Face to face"]
    kim = package.analysis("2.1").rows.set_index("study").loc["Kim 2012", "footnotes"]
    assert kim == "SD from a figure"


def test_data_package_zip_equals_folder(package, tmp_path):
    target = tmp_path / "CD000000-dataPackage.zip"
    with zipfile.ZipFile(target, "w") as z:
        for f in PACKAGE.rglob("*.csv"):
            z.write(f, f.relative_to(PACKAGE.parent))
    zipped = bm.read_revman(target)
    assert zipped.format == "RevMan Web data package" and zipped.numbers == package.numbers
    for n in package.numbers:
        assert np.array_equal(zipped.effects(n).y, package.effects(n).y)


def test_generic_ratios_scale_detected(rm5, package):
    """The rm5 stores hazard ratios as ratios, the data package as logs: the same log effects either way."""
    assert np.allclose(rm5.effects("3.1").y, package.effects("1.2").y, rtol=1e-14)
    assert np.allclose(rm5.effects("3.1").y, np.log([0.78, 0.91, 0.65, 1.05]), rtol=1e-14)


# --------------------------------------------------------------------------- RevMan's numbers reproduced
@pytest.mark.parametrize("path", [RM5, CSV, PACKAGE], ids=["rm5", "csv-export", "data-package"])
def test_every_stored_number_reproduced(path):
    review = bm.read_revman(path)
    table = quiet(review.check)
    analysed = table[table["where"] != "not analysed"]
    bad = analysed[~analysed["agrees"]]
    assert bad.empty, bad.to_string()
    per = summarise(table).set_index("analysis")
    stored = [n for n in review.numbers if review.analyses.loc[n, "stored"]]
    assert (per.loc[stored, "compared"] >= 9).all()  # estimate, CI, Z, P, Chi², df, P, I² at least
    assert len(analysed) >= {RM5: 250, CSV: 100, PACKAGE: 80}[path]


def test_aspirin_equals_revman_5_to_all_digits(rm5):
    res = rm5.frequentist("1.1")
    shown = res.display()
    assert shown["measure"] == "OR" and res.label == "M-H, Fixed"
    assert shown["estimate"] == pytest.approx(0.8968655609130709, rel=1e-14)
    assert shown["lower"] == pytest.approx(0.8405144008917793, rel=1e-14)
    assert shown["upper"] == pytest.approx(0.9569947088336491, rel=1e-14)
    assert res.Q == pytest.approx(9.946055983220074, rel=1e-14) and res.I2 == pytest.approx(39.67458045558399)
    assert res.Q_pvalue == pytest.approx(0.1269422521561745, rel=1e-6)  # RevMan's chi-square P is approximate


def test_mental_health_script_equals_revman_export(rm5, export):
    """The script's MD (rm5 analysis 2.3) against RevMan's own CSV export of the same trials (analysis 1.2)."""
    a, b = rm5.analysis("2.3").stored, export.analysis("1.2").stored
    for q in ("estimate", "lower", "upper", "z", "chi2", "I2"):
        assert float(a[q]) == pytest.approx(float(b[q]), abs=0.5e-8), q


def test_subgroups_and_test_for_differences(rm5):
    res = rm5.frequentist("1.2")
    assert res.subgroups.index.tolist() == ["Adults", "Older adults"]  # RevMan's order
    stored = rm5.analysis("1.2").stored
    assert res.Q_between == pytest.approx(float(stored["subgroup_chi2"]), rel=1e-12)
    assert res.Q_between_pvalue == pytest.approx(float(stored["subgroup_p"]), rel=1e-9)
    older = rm5.analysis("1.2").stored_subgroups["Older adults"]
    assert math.exp(res.subgroups.loc["Older adults", "mu"]) == pytest.approx(float(older["estimate"]), rel=1e-12)
    assert res.subgroups.loc["Older adults", "tau2"] == pytest.approx(float(older["tau2"]), rel=1e-12)
    assert res.set_aside == ("Fischer 2010",)


def test_checks_catch_a_wrong_stored_number(tmp_path):
    text = RM5.read_bytes().replace(b'CHI2="9.946055983220074"', b'CHI2="9.946"')
    text = text.replace(b'I2="39.67458045558399"', b'I2="39.7"')  # rounded: still agrees
    text = text.replace(b'CI_END="0.9569947088336491"', b'CI_END="0.9571"')  # wrong in the 4th decimal
    path = tmp_path / "edited.rm5"
    path.write_bytes(text)
    table = bm.read_revman(path).check("1.1")
    row = table.set_index(["where", "quantity"])
    assert row.loc[("overall", "Chi²"), "agrees"] and row.loc[("overall", "I² (%)"), "agrees"]
    assert not row.loc[("overall", "CI upper"), "agrees"]
    assert decimals("0.9571") == 4 and decimals("1.5E-5") == 6 and decimals("12") == 0


# --------------------------------------------------------------------------- effects, fits
def test_effects_measures_and_set_aside(rm5):
    assert rm5.effects("1.2").measure == "logRR" and rm5.effects("1.4").measure == "RD"
    assert rm5.analysis("1.2").set_aside() == {"Fischer 2010": "no events in either arm"}
    assert "Brown 2006" in rm5.effects("1.4").study  # double zero kept for RD, as RevMan
    assert rm5.analysis("2.2").set_aside() == {"Quinn 2016": "no means, SDs (> 0) and totals entered"}
    revman_smd, hedges = rm5.effects("2.2"), rm5.effects("2.2", measure="SMD")
    assert revman_smd.measure == "SMD_RevMan" and hedges.measure == "SMD"
    assert not np.allclose(revman_smd.y, hedges.y, rtol=1e-6) and np.allclose(revman_smd.y, hedges.y, rtol=2e-2)
    as_rd = rm5.effects("1.2", measure="RD")
    assert as_rd.k == 8 and as_rd.measure == "RD"
    with pytest.raises(DataError, match=r"measure 'MD' is not available for dichotomous data; choose logOR"):
        rm5.effects("1.2", measure="MD")
    subgroup = rm5.effects("2.1").moderators["subgroup"]
    assert list(subgroup.cat.categories) == ["Internet-delivered", "Face to face"]


def test_fit_uses_subgroups_and_turner(rm5):
    sub = quiet(rm5.fit, "1.2", seed=1)
    assert sub.family.name == "subgroups" and "mu[Older adults]" in sub.summary().index
    one = rm5.fit("1.1", seed=1)
    assert "Turner" in one.spec.tau_prior_note and one.data.measure == "logOR"
    assert "Turner" in str(rm5.fit("3.1", seed=1).spec.tau_prior.describe())  # generic log hazard ratios
    plain = quiet(rm5.fit, "1.2", subgroup=None, seed=1)
    assert plain.family.name != "subgroups" and 0 < plain.prob("mu < 0") < 1


def test_metapsy_table(tmp_path):
    review = bm.read_revman(METAPSY)
    assert review.format == "Metapsy table"
    assert review.analyses.loc["1.1", ["comparison", "outcome", "measure"]].tolist() == ["som", "post", "Hedges' g"]
    data = review.effects("1.1")
    assert data.measure == "SMD" and data.benefit == "lower"
    arms = data.arms.iloc[0]
    g, v = bm.effects.smd_from_summary(*(arms[c] for c in ("n1", "mean1", "sd1", "n2", "mean2", "sd2")))
    assert data.y[0] == pytest.approx(g, rel=1e-14) and data.se[0] == pytest.approx(math.sqrt(v), rel=1e-14)
    assert data.y[0] == pytest.approx(-3.491827832, abs=2e-5)  # Metapsy's own .g (approximate J)
    assert any("not used" in n for n in review.analysis("4.1").notes)  # a second instrument named
    assert quiet(review.frequentist, "1.1").k == 2


# --------------------------------------------------------------------------- bad input
def test_truncated_rm5_names_file_and_position(tmp_path):
    raw = RM5.read_bytes()
    path = tmp_path / "cut.rm5"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"^cut.rm5: not a complete RevMan 5 file \(XML error at line \d+"):
        bm.read_revman(path)


def test_not_revman(tmp_path):
    other = tmp_path / "other.rm5"
    other.write_text('<?xml version="1.0"?><PROJECT><NAME>x</NAME></PROJECT>')
    with pytest.raises(DataError, match=r"other.rm5: not a RevMan 5 review \(the XML's root element is <PROJECT>"):
        bm.read_revman(other)
    plain = tmp_path / "notes.rm5"
    plain.write_text("just text")
    with pytest.raises(DataError, match="notes.rm5: not a RevMan 5 file"):
        bm.read_revman(plain)
    table = tmp_path / "table.csv"
    table.write_text("study,yi,vi\nA,0.1,0.01\n")
    with pytest.raises(DataError, match="table.csv: not a review file"):
        bm.read_revman(table)
    with pytest.raises(DataError, match="no file or folder"):
        bm.read_revman(tmp_path / "missing.rm5")
    empty = tmp_path / "empty.rm5"
    empty.write_text('<?xml version="1.0"?><COCHRANE_REVIEW><COVER_SHEET><TITLE>t</TITLE></COVER_SHEET>'
                     "</COCHRANE_REVIEW>")
    with pytest.raises(DataError, match="empty.rm5: the file holds no analyses"):
        bm.read_revman(empty)


def test_bad_values_name_the_element_and_nothing_is_read(tmp_path):
    raw = RM5.read_bytes().replace(b'EVENTS_1="102"', b'EVENTS_1="1o2"', 1)
    path = tmp_path / "typo.rm5"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=r"typo.rm5, DICH_DATA of study 'STD-MRC-2' in analysis 1.1, attribute "
                                        r"EVENTS_1: '1o2' is not a number"):
        bm.read_revman(path)
    raw = RM5.read_bytes().replace(b'STUDY_ID="STD-CDP"', b'STUDY_ID="STD-NONE"', 1)
    path.write_bytes(raw)
    with pytest.raises(DataError, match="no STUDY with ID 'STD-NONE'"):
        bm.read_revman(path)
    raw = RM5.read_bytes().replace(b'EVENTS_1="49" TOTAL_1="615"', b'EVENTS_1="649" TOTAL_1="615"', 1)
    path.write_bytes(raw)
    with pytest.raises(DataError, match=r"typo.rm5, DICH_DATA of study 'STD-MRC-1' in analysis 1.1 \('MRC-1'\): "
                                        r"more events than participants"):
        bm.read_revman(path).effects("1.1")


def test_no_estimable_studies_and_unknown_analysis(rm5):
    with pytest.raises(DataError, match=r"review.rm5, DICH_OUTCOME 'Suicide attempts' \(analysis 1.6\): no estimable "
                                        r"studies \('Fischer 2010': no events in either arm; 'López 2014'"):
        rm5.frequentist("1.6")
    with pytest.raises(DataError, match=r"review.rm5: no analysis '4.1'; the analyses are 1.1, 1.2"):
        rm5.effects("4.1")
    assert rm5.analysis((2, 1)).number == "2.1"
    row = rm5.check("1.6").iloc[0]
    assert row["where"] == "not analysed" and "no estimable studies" in row["quantity"]


def test_broken_csv_export_and_package(tmp_path):
    lines = CSV.read_bytes().split(b"\r\n")
    cut = tmp_path / "cut.csv"
    cut.write_bytes(b"\r\n".join(lines[:5] + [lines[5][:20]]))
    with pytest.raises(DataError, match=r"cut.csv, row 6: \d+ fields where the header has 37"):
        bm.read_revman(cut)
    folder = tmp_path / "pkg"
    shutil.copytree(PACKAGE, folder)
    next(folder.rglob("*-overall-estimates-and-settings.csv")).unlink()
    with pytest.raises(DataError, match="pkg: not a RevMan Web data package .*overall-estimates-and-settings"):
        bm.read_revman(folder)


# --------------------------------------------------------------------------- whole review
def test_write_review_index_and_reports(tmp_path, package):
    from bayesmeta.reviews.output import write_review

    result = quiet(write_review, bm.read_revman(PACKAGE, benefit="lower"), tmp_path / "out", figures=True)
    table = result["table"].set_index("analysis")
    assert table.loc["1.1", "reproduction"].startswith("all ") and "reproduced" in table.loc["1.1", "reproduction"]
    assert table.loc["1.1", "revman"] == "0.90 (0.84 to 0.96)"  # ratio scale
    assert table.loc["2.1", "subgroups_report"] == "subgroups.html" and "(SMD ≤ -0.2)" in table.loc["2.1", "p_mid_text"]
    assert 0.5 < table.loc["2.1", "p_benefit"] <= 1 and "(OR ≤ 0.75)" in table.loc["1.1", "p_mid_text"]
    page = (tmp_path / "out" / "index.html").read_text()
    assert 'href="1.1/report.html"' in page and 'href="2.1/subgroups.html"' in page
    report = (tmp_path / "out" / "1.1" / "report.html").read_text()
    assert "ratio scale: OR" in report and "<figure" in report
    assert "stored numbers reproduced" in report
    assert (tmp_path / "out" / "check.csv").exists() and (tmp_path / "out" / "analyses.csv").exists()


def test_review_command(tmp_path):
    runner = CliRunner()
    out = tmp_path / "rv"
    res = runner.invoke(app, ["review", str(RM5), "--out", str(out), "--no-figures", "--mid", "MD=10"])
    assert res.exit_code == 0, res.output
    assert re.search(r"10 of 11 analyses fitted \(1 not analysed, see the index\); RevMan vs ours: \d+ of \d+ "
                     r"stored numbers reproduced, \d+ RevMan placeholders, 0 differ beyond the tolerance", res.output)
    page = (out / "index.html").read_text()
    assert "not analysed: review.rm5, DICH_OUTCOME &#x27;Suicide attempts&#x27;" in page
    table = pd.read_csv(out / "analyses.csv").set_index("analysis")
    assert "(MD ≤ -10)" in table.loc[2.1, "p_mid_text"]
    bad = runner.invoke(app, ["review", str(RM5), "--out", str(out), "--mid", "SMD"])
    assert bad.exit_code == 2 and "--mid takes MEASURE=VALUE" in bad.output


def test_index_escapes_labels(tmp_path):
    raw = RM5.read_bytes().replace(b"<NAME>Dropout</NAME>", b"<NAME>&lt;script&gt;alert(1)&lt;/script&gt; &amp; "
                                                            b"dropout</NAME>")
    path = tmp_path / "markup.rm5"
    path.write_bytes(raw)
    review = bm.read_revman(path)
    assert review.analysis("1.4").name == "<script>alert(1)</script> & dropout"
    from bayesmeta.reviews.output import index_html, write_review

    result = quiet(write_review, review, tmp_path / "o", figures=False)
    page = (tmp_path / "o" / "index.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; dropout" in page
    assert index_html(review, result["table"], summarise(result["check"]), 1) == page


def test_frequentist_result_json_round_trip(rm5):
    res = rm5.frequentist("2.1")
    out = json.loads(json.dumps(res.to_dict()))
    assert out["subgroups"]["Face to face"]["k"] == 3 and out["Q_between_df"] == 1
