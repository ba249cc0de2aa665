"""Summary of findings (bayesmeta.findings): GRADE arithmetic, wording, absolute effects against hand
calculations, the suggestions, exporters read back (Word by python-docx, HTML parsed), escaping, bad input.

Tolerances: absolute effects 1e-12 against the closed forms written out here (the same arithmetic done once
by hand); posterior numbers are compared with the Fit's own summary/prob to 1e-12 (the table must copy them,
not recompute them); the risk-of-bias weight share 1e-12 against the weights computed here.
"""

import math
import types
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesmeta as bm
from bayesmeta.errors import DataError
from bayesmeta.findings import absolute, certainty, statements
from bayesmeta.findings.certainty import Evidence

HOSTILE = '<script>alert("x")</script> | *bold* =cmd'


@pytest.fixture(scope="module")
def fibro():
    return bm.fit(bm.datasets.effect_data("fibromyalgia_pain"), tau_prior="halfnormal(0.5)", seed=1)


@pytest.fixture(scope="module")
def normand():
    return bm.fit(bm.datasets.effect_data("normand1999"), tau_prior="halfnormal(1)", seed=1)


# ------------------------------------------------------------------ certainty arithmetic
@pytest.mark.parametrize("design, judgements, expected", [
    ("randomised", {}, "high"),
    ("randomised", {"risk_of_bias": "serious"}, "moderate"),
    ("randomised", {"risk_of_bias": "serious", "imprecision": "serious"}, "low"),
    ("randomised", {"risk_of_bias": "serious", "imprecision": "very serious"}, "very low"),
    ("randomised", {d: "very serious" for d in certainty.DOMAINS}, "very low"),  # floor
    ("randomised", {d: "not serious" for d in certainty.DOMAINS}, "high"),
    ("observational", {}, "low"),
    ("observational", {"inconsistency": "serious"}, "very low"),
    ("randomized", {"indirectness": "serious"}, "moderate"),
])
def test_certainty_arithmetic(design, judgements, expected):
    assert certainty.rate(design, judgements) == expected


@pytest.mark.parametrize("judgements, needle", [
    ({"bias": "serious"}, "unknown domain 'bias'"),
    ({"imprecision": "moderate"}, "unknown level 'moderate'"),
    ({"imprecision": "Serious"}, "unknown level 'Serious'"),
    ("serious", "must map domains to levels"),
])
def test_bad_judgements_are_one_clear_error(judgements, needle):
    with pytest.raises(DataError, match=needle):
        certainty.check_judgements(judgements)
    with pytest.raises(DataError, match="design must be"):
        certainty.rate("cohort", {})


# ------------------------------------------------------------------ absolute effects
def test_smd_written_as_grade_tables_write_it():
    a = absolute.absolute_effect("SMD", -0.37, -0.59, -0.15)
    assert a.words == "0.37 SD lower (0.59 lower to 0.15 lower)"
    assert (a.value, a.lower, a.upper) == (-0.37, -0.59, -0.15)
    crossing = absolute.absolute_effect("SMD", -0.1, -0.3, 0.12)
    assert crossing.words == "0.10 SD lower (0.30 lower to 0.12 higher)"


def test_smd_as_mean_difference_in_instrument_units():
    a = absolute.absolute_effect("SMD", -0.37, -0.59, -0.15, control_sd=2.0, units="points")
    assert (a.value, a.lower, a.upper) == pytest.approx((-0.74, -1.18, -0.30), abs=1e-12)
    assert a.words == "0.7 points lower (1.2 lower to 0.3 lower)"  # two significant digits of the largest


def test_odds_ratio_per_thousand_by_hand():
    p, log_or = 0.2, math.log(0.5)
    a = absolute.absolute_effect("logOR", log_or, math.log(0.25), math.log(0.9), control_risk=p)
    # by hand: p1 = OR p / (1 - p + OR p) = 0.1 / 0.9; 0.05 / 0.85; 0.18 / 0.98
    assert a.value == pytest.approx(1000 * (0.1 / 0.9 - 0.2), abs=1e-12)
    assert a.lower == pytest.approx(1000 * (0.05 / 0.85 - 0.2), abs=1e-12)
    assert a.upper == pytest.approx(1000 * (0.18 / 0.98 - 0.2), abs=1e-12)
    assert a.words == "89 fewer per 1,000 (from 141 fewer to 16 fewer)"
    assert a.control == "200 per 1,000"


def test_risk_ratio_and_risk_difference_per_thousand():
    a = absolute.absolute_effect("logRR", math.log(0.75), math.log(0.5), math.log(1.1), control_risk=0.2)
    assert (a.value, a.lower, a.upper) == pytest.approx((-50, -100, 20), abs=1e-9)
    assert a.words == "50 fewer per 1,000 (from 100 fewer to 20 more)"
    rd = absolute.absolute_effect("RD", -0.043, -0.06, -0.02)
    assert rd.words == "43 fewer per 1,000 (from 60 fewer to 20 fewer)"
    assert absolute.absolute_effect("logOR", -0.3, -0.5, -0.1).words == "\u2013"  # no control risk: a dash


def test_smd_to_odds_ratio_by_pi_over_sqrt3():
    a = absolute.absolute_effect("SMD", -0.5, -0.8, -0.2, control_risk=0.3, smd_as_risk=True)
    odds_ratio = math.exp(-0.5 * math.pi / math.sqrt(3))
    assert a.value == pytest.approx(1000 * (odds_ratio * 0.3 / (0.7 + odds_ratio * 0.3) - 0.3), abs=1e-12)


def test_odds_ratio_in_sd_units():
    a = absolute.absolute_effect("logOR", -0.9, -1.2, -0.3, or_as_smd=True)
    assert a.value == pytest.approx(-0.9 * math.sqrt(3) / math.pi, abs=1e-12) and a.scale == "SD"
    assert a.words == "0.50 SD lower (0.66 lower to 0.17 lower)"


def test_relative_effect_words():
    assert absolute.relative_words("SMD", -0.37, -0.59, -0.15) == "SMD -0.37 (-0.59 to -0.15)"
    assert absolute.relative_words("logOR", math.log(0.7), math.log(0.52), math.log(0.94)) == "OR 0.70 (0.52 to 0.94)"


# ------------------------------------------------------------------ wording
@pytest.mark.parametrize("rating, median, mid, benefit, expected", [
    ("high", -0.6, 0.2, "lower", "Internet CBT reduces pain."),
    ("moderate", -0.3, 0.2, "lower", "Internet CBT probably reduces pain slightly."),
    ("low", -0.9, 0.2, "lower", "Internet CBT may reduce pain substantially."),
    ("very low", -0.9, 0.2, "lower", "The evidence is very uncertain about the effect of Internet CBT on pain."),
    ("moderate", -0.1, 0.2, "lower", "Internet CBT probably results in little to no difference in pain."),
    ("high", 0.05, 0.2, "lower", "Internet CBT results in little to no difference in pain."),
    ("moderate", 0.3, 0.2, "lower", "Internet CBT probably increases pain slightly."),
    ("moderate", 0.3, 0.2, "higher", "Internet CBT probably improves pain slightly."),
    ("low", -0.6, 0.2, "higher", "Internet CBT may worsen pain."),
    ("moderate", -0.3, 0.2, None, "Internet CBT probably results in slightly lower pain."),
    ("high", 0.6, 0.2, None, "Internet CBT results in higher pain."),
    ("moderate", -0.3, 0.35, "lower", "Internet CBT probably results in little to no difference in pain."),
])
def test_informative_statements(rating, median, mid, benefit, expected):
    size = statements.effect_size_class(median, mid, 1.0)
    assert statements.informative_statement(rating, median, size, "Internet CBT", "pain", benefit) == expected


def test_size_rule_on_other_scales():
    assert statements.effect_size_class(-0.9, 0.2, math.sqrt(3) / math.pi) == "small"  # log OR -0.9 = SMD -0.50
    assert statements.effect_size_class(-0.99, 0.2, math.sqrt(3) / math.pi) == "moderate"
    assert statements.effect_size_class(-3.0, 5.0, None) == "trivial"
    assert statements.effect_size_class(-8.0, 5.0, None) == "unsized"


def test_bayesian_sentence():
    text = statements.bayesian_sentence("pain", "lower", 0.99, 0.2, 0.71, "0.2 SD")
    assert text == "P(less pain) = 0.990; P(a reduction larger than the MID of 0.2 SD) = 0.710"
    assert statements.bayesian_sentence("pain", "lower", 0.9999, None, None, "") == "P(less pain) > 0.999"
    assert statements.bayesian_sentence("quality of life", "higher", 0.8, 0.2, 0.3, "0.2 SD").startswith(
        "P(better quality of life) = 0.800; P(an improvement larger")


# ------------------------------------------------------------------ suggestions
def test_imprecision_suggestions():
    base = dict(k=5, benefit="lower", mid=0.2)
    assert certainty.imprecision(Evidence(lower=-0.6, upper=-0.3, participants=900, optimal_information_size=400,
                                          p_mid=0.99, **base)) is None
    s = certainty.imprecision(Evidence(lower=-0.4, upper=0.05, participants=300, optimal_information_size=400,
                                       p_mid=0.5, **base))
    assert s.level == "serious" and "crosses no effect" in s.reason and "300 participants" in s.reason
    assert "between 0.1 and 0.9" in s.reason and "crosses no effect and the MID (-0.2)" in s.reason
    assert certainty.imprecision(Evidence(lower=-0.5, upper=0.4, **base)).level == "very serious"


def test_inconsistency_and_publication_bias_suggestions():
    s = certainty.inconsistency(Evidence(k=9, lower=-0.6, upper=-0.2, mid=0.2, i2=77, pred_lower=-1.1,
                                         pred_upper=0.3, tau=0.4))
    assert s.level == "very serious" and "I\u00b2 = 77%" in s.reason
    assert certainty.inconsistency(Evidence(k=9, lower=-0.6, upper=0.1, i2=20, pred_lower=-1, pred_upper=0.5,
                                            tau=0.1, mid=0.2)) is None
    assert certainty.publication_bias(Evidence(k=9, lower=0, upper=1, small_study_p=0.01)) is None
    assert certainty.publication_bias(Evidence(k=12, lower=0, upper=1, small_study_p=0.01)).level == "serious"
    assert certainty.publication_bias(Evidence(k=12, lower=0, upper=1, small_study_p=0.4)) is None


def test_regtest_stand_in_is_used_when_present(fibro, monkeypatch):
    from bayesmeta import frequentist_methods

    calls = []

    def regtest(data):
        calls.append(data.k)
        return types.SimpleNamespace(pvalue=0.003)

    monkeypatch.setattr(frequentist_methods, "regtest", regtest, raising=False)
    o = bm.Outcome("Pain", fibro, mid=0.2)
    assert any(s.domain == "publication_bias" and "p = 0.003" in s.reason for s in o.suggestions())
    assert calls == [22]
    monkeypatch.delattr(frequentist_methods, "regtest", raising=False)  # before the bias work lands: no test
    assert not any(s.domain == "publication_bias" for s in bm.Outcome("Pain", fibro, mid=0.2).suggestions())


def test_risk_of_bias_share_and_posterior_without():
    df = bm.datasets.load("thirdwave")
    data = bm.datasets.effect_data("thirdwave")
    fit = bm.fit(data, tau_prior="halfnormal(0.5)")
    o = bm.Outcome("Stress", fit, mid=0.2, risk_of_bias_column="RiskOfBias")
    share, without = o._risk_of_bias()
    tau = float(fit.summary().loc["tau", "median"])
    w = 1 / (data.se**2 + tau**2)
    high = df["RiskOfBias"].str.lower().str.startswith("high").to_numpy()
    assert share == pytest.approx(w[high].sum() / w.sum(), abs=1e-12)
    refit = bm.fit(data.subset(~high), tau_prior="halfnormal(0.5)")
    assert f"mu = {refit.summary().loc['mu', 'median']:.2f}" in without
    assert f"(k = {(~high).sum()})" in without


# ------------------------------------------------------------------ outcomes and the table
def test_table_copies_the_posterior(fibro):
    o = bm.Outcome("Pain", fibro, mid=0.2, certainty={"risk_of_bias": "serious"}, follow_up="post-treatment")
    sof = bm.summary_of_findings([o], intervention="antidepressants", comparison="placebo")
    row = sof.table.iloc[0]
    s = fibro.summary()
    assert list(sof.table.columns[:19]) == list(bm.findings.table.COLUMNS)
    assert (row["effect"], row["lower"], row["upper"]) == pytest.approx(
        (s.loc["mu", "median"], s.loc["mu", "lower"], s.loc["mu", "upper"]), abs=1e-12)
    assert row["p_benefit"] == pytest.approx(fibro.prob("mu < 0"), abs=1e-12)
    assert row["p_mid"] == pytest.approx(fibro.prob("mu < -0.2"), abs=1e-12)
    assert row["p_new_benefit"] == pytest.approx(fibro.prob("theta_new < 0"), abs=1e-12)
    assert row["certainty"] == "moderate" and row["participants"] is None and row["k"] == 22
    assert row["statement"].startswith("Antidepressants probably reduces pain")
    assert "Risk of bias: rated down one level (serious) by the authors" in sof.footnotes[0]
    assert "NaN" not in sof.to_markdown() + sof.to_html() + sof.to_csv()


def test_participants_from_group_sizes(normand):
    df = bm.datasets.load("normand1999")
    o = bm.Outcome("Length of stay", normand)
    assert o.participants == int(df["n1"].sum() + df["n2"].sum())
    sof = bm.summary_of_findings([o], intervention="specialist care", comparison="routine care")
    assert f"{o.participants:,} (9 RCTs)" in sof.to_markdown()


def test_order_is_kept_and_neutral_wording(fibro, normand):
    neutral = bm.fit(bm.EffectData(fibro.data.y, fibro.data.se, fibro.data.study), tau_prior="halfnormal(0.5)")
    outs = [bm.Outcome("B", normand), bm.Outcome("A", neutral, mid=0.2)]
    sof = bm.summary_of_findings(outs, intervention="X", comparison="Y")
    assert list(sof.table["outcome"]) == ["B", "A"]
    assert sof.table.iloc[1]["statement"] == "X results in slightly lower a."
    assert sof.table.iloc[1]["p_benefit"] is None and sof.table.iloc[1]["bayesian"].startswith("P(lower a)")


# ------------------------------------------------------------------ exporters and escaping
class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def hostile(fibro):
    o = bm.Outcome(HOSTILE, fibro, mid=0.2, certainty={"imprecision": "serious"}, follow_up=HOSTILE,
                   reasons={"imprecision": HOSTILE}, subgroup="a|b")
    return bm.summary_of_findings([o], intervention=HOSTILE, comparison="<b>ctl</b>", population="P & Q")


def test_html_is_escaped_and_parses(hostile):
    text = hostile.to_html()
    assert "<script>" not in text and "<b>ctl</b>" not in text
    parser = _Collect()
    parser.feed(text)
    assert "script" not in parser.tags and parser.tags.count("tr") == 2
    joined = "".join(parser.text)
    assert HOSTILE in joined and "Footnotes" in joined and "\u2295\u2295\u2295\u25ef" in joined
    assert 'href="#note-1"' in text and 'id="note-1"' in text
    assert "http" not in text.replace("http-equiv", "")  # self-contained: no external resources


def test_markdown_is_escaped(hostile):
    text = hostile.to_markdown()
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 2
    assert all(line.count(" | ") == 6 for line in table)  # no label adds a column
    assert "<script>" not in text and "&lt;script&gt;" in text and "\\*bold\\*" in text


def test_csv_read_back(hostile, tmp_path):
    path = tmp_path / "sof.csv"
    hostile.to_csv(path)
    back = pd.read_csv(path)
    assert back.loc[0, "outcome"] == HOSTILE and back.loc[0, "follow_up"] == HOSTILE
    assert back.loc[0, "certainty"] == "moderate"
    assert back.loc[0, "effect"] == pytest.approx(hostile.table.loc[0, "effect"], rel=1e-12)
    assert "NaN" not in path.read_text()


def test_csv_neutralises_formulas(fibro):
    sof = bm.summary_of_findings([bm.Outcome("=HYPERLINK(1)", fibro)], intervention="X", comparison="Y")
    assert pd.read_csv(pd.io.common.StringIO(sof.to_csv())).loc[0, "outcome"] == "'=HYPERLINK(1)"


def test_docx_read_back(hostile, tmp_path):
    docx = pytest.importorskip("docx")
    path = tmp_path / "sof.docx"
    hostile.to_docx(path)
    doc = docx.Document(str(path))
    table = doc.tables[0]
    assert len(table.rows) == 2 and len(table.columns) == 7
    assert table.cell(0, 0).text == "Outcomes"
    assert table.cell(1, 0).text.startswith(HOSTILE + " (a|b)")
    assert "Moderate" in table.cell(1, 4).text and table.cell(1, 4).paragraphs[0].runs[-1].font.superscript
    assert any(HOSTILE in p.text for p in doc.paragraphs)


def test_xml_invalid_characters_refused_at_the_outcome(fibro):
    """A NUL or vertical tab reached the HTML, Markdown and CSV exporters as it was (only Word dropped it):
    now it is refused where it is given, naming the argument and position."""
    with pytest.raises(bm.DataError, match=r"Outcome name holds the control character '\\x00' at position 5"):
        bm.Outcome("Pain\x00\x0b", fibro)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs, needle", [
    (dict(mid=-0.2), "mid must be a number above 0"),
    (dict(mid=float("nan")), "mid must be a number above 0"),
    (dict(mid=True), "mid must be a number above 0"),
    (dict(control_risk=1.5), "control_risk must be a number above 0 and below 1"),
    (dict(control_risk=0.2), "control_risk applies to log OR"),
    (dict(smd_as_risk=True), "smd_as_risk needs"),
    (dict(or_as_smd=True), "or_as_smd needs a log OR"),
    (dict(design="cohort"), "design must be"),
    (dict(certainty={"imprecision": "bad"}), "unknown level 'bad'"),
    (dict(reasons={"bias": "x"}), "unknown domain 'bias'"),
    (dict(follow_up=""), "follow_up must be non-empty text"),
    (dict(risk_of_bias_column="nope"), "risk_of_bias_column 'nope' is not a column"),
])
def test_bad_outcomes(fibro, kwargs, needle):
    with pytest.raises(DataError, match=needle):
        bm.Outcome("Pain", fibro, **kwargs)


def test_bad_fits_and_tables(fibro):
    with pytest.raises(DataError, match="fit must be a fitted model"):
        bm.Outcome("Pain", "not a fit")
    with pytest.raises(DataError, match="Outcome name"):
        bm.Outcome(" ", fibro)
    sub = bm.fit(bm.datasets.effect_data("thirdwave"), subgroup="ModeOfDelivery", tau_prior="halfnormal(0.5)")
    with pytest.raises(DataError, match="one pooled effect"):
        bm.Outcome("Stress", sub)
    with pytest.raises(DataError, match="non-empty list"):
        bm.summary_of_findings([], intervention="X", comparison="Y")
    with pytest.raises(DataError, match="intervention must be non-empty"):
        bm.summary_of_findings([bm.Outcome("Pain", fibro)], intervention="", comparison="Y")
    with pytest.raises(DataError, match="outcome 'Pain' is listed twice with the same follow_up"):
        bm.summary_of_findings([bm.Outcome("Pain", fibro), bm.Outcome("pain ", fibro)], intervention="X")


# ------------------------------------------------------------------ published estimates
def test_from_published_is_the_flat_prior_posterior():
    o = bm.Outcome.from_published("Pain", -0.37, -0.59, -0.15, k=11, participants=1785, benefit="lower", mid=0.2,
                                  i2=77)
    se = (-0.15 + 0.59) / (2 * 1.959963984540054)
    from scipy.stats import norm

    assert o.probabilities()["p_mid"] == pytest.approx(norm.cdf(-0.2, -0.37, se), abs=1e-9)
    assert o.probabilities()["p_new_benefit"] is None and (o.k, o.participants) == (11, 1785)
    inc = [s for s in o.suggestions() if s.domain == "inconsistency"]
    assert inc and "I\u00b2 = 77% (as published)" in inc[0].reason
    judged = o.with_judgements({"inconsistency": "serious"}, {"inconsistency": "I2 77%"})
    assert judged.rating == "moderate" and o.rating == "high"


def test_trivial_interval_is_precise():
    e = Evidence(k=5, lower=-0.1, upper=0.15, benefit="lower", mid=0.2)
    assert certainty.imprecision(e) is None
    assert certainty.imprecision(Evidence(k=5, lower=-0.1, upper=0.15, benefit="lower")).level == "serious"


# ------------------------------------------------------------------ review files
REVIEW_TOML = """
[review]
intervention = "third-wave CBT"
comparison = "control"
population = "college students"

[defaults]
dataset = "thirdwave"
columns = { y = "TE", se = "seTE", study = "Author" }
benefit = "higher"
tau_prior = "halfnormal(0.5)"
mid = 0.2

[[outcome]]
name = "Perceived stress"
follow_up = "post-test"
certainty = { risk_of_bias = "serious" }

[[outcome]]
name = "Perceived stress"
subgroup = "online"
select = { ModeOfDelivery = ["online"] }
certainty = { imprecision = "serious" }
"""


def test_review_file(tmp_path):
    from bayesmeta.findings.review_file import summary_of_findings_from_file

    path = tmp_path / "review.toml"
    path.write_text(REVIEW_TOML, encoding="utf-8")
    sof = summary_of_findings_from_file(path)
    df = bm.datasets.load("thirdwave")
    assert list(sof.table["k"]) == [18, int((df["ModeOfDelivery"] == "online").sum())]
    fit = bm.fit(bm.datasets.effect_data("thirdwave"), tau_prior="halfnormal(0.5)")
    assert sof.table.loc[0, "effect"] == pytest.approx(float(fit.summary().loc["mu", "median"]), abs=1e-12)
    assert list(sof.table["certainty"]) == ["moderate", "moderate"]


@pytest.mark.parametrize("edit, needle", [
    (lambda t: t.replace('mid = 0.2', 'mid = "small"'), "'defaults.mid' must be number"),
    (lambda t: t.replace('follow_up = "post-test"', 'follow = "x"'), "unknown key 'outcome\\[0\\].follow'"),
    (lambda t: t.replace('risk_of_bias = "serious"', 'bias = "serious"'), "unknown domain 'bias'"),
    (lambda t: t.replace('["online"]', '["nowhere"]'), "'select' keeps no rows"),
    (lambda t: t.replace('intervention = "third-wave CBT"', ''), "'review.intervention' is required"),
    (lambda t: t.replace('dataset = "thirdwave"', 'dataset = "nope"'), "'dataset' 'nope' is not a bundled"),
    (lambda t: t + "\n[extra]\n", "unknown section \\[extra\\]"),
    (lambda t: t.replace('dataset = "thirdwave"', 'file = ".."'), r"outcome\[0\] .*'file' '\.\.': .* is a folder"),
    (lambda t: t.replace('dataset = "thirdwave"', 'file = "none.csv"'), r"'file' 'none.csv': .*none.csv: no such file"),
    (lambda t: t.replace('[review]', '[review'), "not valid TOML"),
])
def test_bad_review_files(tmp_path, edit, needle):
    from bayesmeta.findings.review_file import summary_of_findings_from_file

    path = tmp_path / "review.toml"
    path.write_text(edit(REVIEW_TOML), encoding="utf-8")
    with pytest.raises(DataError, match=needle):
        summary_of_findings_from_file(path)


class _Review:
    """A stand-in with only the public methods the judgements reader may use."""

    def __init__(self):
        self.analyses = pd.DataFrame({"outcome": ["Pain", "Stress"]}, index=pd.Index(["1.1", "1.2"], name="analysis"))

    def effects(self, number):
        return bm.datasets.effect_data({"1.1": "fibromyalgia_pain", "1.2": "thirdwave"}[number])


def test_review_with_judgements(tmp_path):
    from bayesmeta.findings.review_file import review_summary_of_findings

    path = tmp_path / "judgements.toml"
    path.write_text('[review]\nintervention = "therapy"\ncomparison = "control"\n[defaults]\ntau_prior = '
                    '"halfnormal(0.5)"\n[[outcome]]\nanalysis = "1.2"\nmid = 0.2\n[[outcome]]\nanalysis = "1.1"\n'
                    'name = "Pain intensity"\ncertainty = { inconsistency = "very serious" }\n', encoding="utf-8")
    sof = review_summary_of_findings(_Review(), path)
    assert list(sof.table["outcome"]) == ["Stress", "Pain intensity"]
    assert list(sof.table["certainty"]) == ["high", "low"]
    path.write_text('[review]\nintervention = "t"\ncomparison = "c"\n[[outcome]]\nanalysis = "9.9"\n')
    with pytest.raises(DataError, match="'analysis' '9.9' is not in the review"):
        review_summary_of_findings(_Review(), path)


def test_written_folder(fibro, tmp_path):
    from bayesmeta.findings.output import write_summary_of_findings

    sof = bm.summary_of_findings([bm.Outcome("Pain", fibro, mid=0.2, follow_up="post")], intervention="X",
                                 comparison="Y")
    files = write_summary_of_findings(sof, tmp_path / "out")
    assert {p.name for p in files.values()} == {"summary_of_findings.html", "summary_of_findings.md",
                                                "summary_of_findings.csv", "summary_of_findings.docx",
                                                "01-pain-post.html", "01-pain-post.md"}
    assert pd.read_csv(files["sof_csv"]).loc[0, "outcome"] == "Pain"
    report = files["outcome_1_md"].read_text()
    assert report.startswith("# Pain - post") and "Pooled effect" in report


def test_binary_outcome_per_thousand_from_the_posterior():
    counts = pd.DataFrame({"study": ["A", "B", "C", "D"], "events1": [12, 8, 20, 5], "n1": [100, 80, 150, 60],
                           "events2": [20, 15, 30, 9], "n2": [100, 85, 150, 58]})
    data = bm.EffectData.from_counts(counts, study="study", measure="logOR", benefit="lower")
    fit = bm.fit(data, tau_prior="halfnormal(0.5)")
    o = bm.Outcome("Relapse", fit, control_risk=0.2, mid=0.2)
    sof = bm.summary_of_findings([o], intervention="X", comparison="Y")
    row, s = sof.table.iloc[0], fit.summary().loc["mu"]
    for col, q in (("absolute_effect", "median"), ("absolute_lower", "lower"), ("absolute_upper", "upper")):
        odds_ratio = math.exp(s[q])
        assert row[col] == pytest.approx(1000 * (odds_ratio * 0.2 / (0.8 + odds_ratio * 0.2) - 0.2), abs=1e-9)
    assert row["participants"] == counts[["n1", "n2"]].to_numpy().sum()
    assert row["absolute"].endswith(")") and "per 1,000 (from" in row["absolute"]
    assert row["relative"].startswith("OR ") and "200 per 1,000" in sof.to_markdown()


def test_revman_review_with_judgements(tmp_path):
    from bayesmeta.findings.review_file import review_summary_of_findings

    review = bm.read_revman(Path(__file__).parent / "data" / "revman" / "review.rm5")
    path = tmp_path / "judgements.toml"
    path.write_text('[review]\nintervention = "aspirin"\ncomparison = "placebo"\n[defaults]\ntau_prior = '
                    '"halfnormal(0.5)"\n[[outcome]]\nanalysis = "1.1"\ncontrol_risk = 0.1\n'
                    'certainty = { imprecision = "serious" }\n[[outcome]]\nanalysis = "2.2"\nmid = 0.2\n')
    sof = review_summary_of_findings(review, path)
    fit = bm.fit(review.effects("1.1"), tau_prior="halfnormal(0.5)")
    odds_ratio = math.exp(fit.summary().loc["mu", "median"])
    assert sof.table.loc[0, "absolute_effect"] == pytest.approx(
        1000 * (odds_ratio * 0.1 / (0.9 + odds_ratio * 0.1) - 0.1), abs=1e-9)
    assert list(sof.table["outcome"]) == list(review.analyses.loc[["1.1", "2.2"], "outcome"])
    assert list(sof.table["certainty"]) == ["moderate", "high"] and "Measure: OR" in sof.to_markdown()


def test_bayesmeta_run_writes_the_summary_of_findings_of_a_review_file(tmp_path):
    """`bayesmeta run REVIEW.toml` fits each outcome and writes the table in every format, and the
    outcomes' reports, through the same staged write as an analysis file."""
    from typer.testing import CliRunner

    from bayesmeta.cli import app

    path = tmp_path / "review.toml"
    path.write_text(REVIEW_TOML, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "summary of findings:" in result.output
    for name in ("summary_of_findings.html", "summary_of_findings.md", "summary_of_findings.csv",
                 "summary_of_findings.docx"):
        assert (out / name).stat().st_size > 0
    table = pd.read_csv(out / "summary_of_findings.csv")
    assert len(table) == 2 and table["k"].iloc[0] == 18
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_bayesmeta_review_with_sof_writes_the_summary_of_findings(tmp_path):
    """`bayesmeta review FILE.rm5 --sof judgements.toml` writes the review and its summary of findings; a bad
    judgements file is one clear line and leaves no output folder."""
    from typer.testing import CliRunner

    from bayesmeta.cli import app

    rm5 = Path(__file__).parent / "data" / "revman" / "review.rm5"
    judgements = tmp_path / "judgements.toml"
    judgements.write_text('[review]\nintervention = "aspirin"\ncomparison = "placebo"\n[defaults]\ntau_prior = '
                          '"halfnormal(0.5)"\n[[outcome]]\nanalysis = "1.1"\ncontrol_risk = 0.1\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["review", str(rm5), "--out", str(out), "--no-figures", "--sof", str(judgements)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "summary_of_findings" / "summary_of_findings.csv")
    assert list(table["outcome"]) == [bm.read_revman(rm5).analyses.loc["1.1", "outcome"]]
    assert (out / "summary_of_findings" / "summary_of_findings.docx").stat().st_size > 0
    judgements.write_text('[review]\nintervention = "a"\ncomparison = "p"\n[[outcome]]\nanalysis = "9.9"\n')
    result = CliRunner().invoke(app, ["review", str(rm5), "--out", str(tmp_path / "out2"), "--sof", str(judgements)])
    assert result.exit_code != 0 and "'analysis' '9.9' is not in the review" in result.output
    assert not (tmp_path / "out2").exists()
