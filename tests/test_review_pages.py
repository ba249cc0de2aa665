"""What a review author reads (issue 22, items 1-3; issue 17, class 10): `bayesmeta review` on real Cochrane files
of both label kinds, every page read as text. No artefact ("nan", 17-digit or E-notation numbers, \\xa0), no
heterogeneity claim for one study, "1 study" not "1 studies", no guessed direction, no overall estimate where the
review pools only within subgroups or not at all."""

import html
import re
import warnings
from pathlib import Path

import pytest

import bayesmeta as bm
from bayesmeta.reviews.output import write_review

COCHRANE = Path(__file__).parent / "data" / "revman" / "cochrane"
BPH = COCHRANE / "CD013656StatsDataOnly.rm5"  # graph labels "MIT" / "TURP": no direction stated
FLUORIDE = COCHRANE / "CD007868StatsDataOnly.rm5"  # "Favours higher fluoride" / "Favours lower fluoride"


def visible_text(page: str) -> str:
    """The words a reader sees: no style, script or SVG drawing (its text labels are kept)."""
    page = re.sub(r"<style.*?</style>|<script.*?</script>", " ", page, flags=re.S)
    page = re.sub(r"<svg.*?</svg>", lambda m: " ".join(re.findall(r"<text[^>]*>(.*?)</text>", m.group(0),
                                                                    re.S)), page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def artefacts(text: str) -> list[str]:
    found = []
    for name, pattern in (("nan", r"\bnan\b|\bNaN\b"), ("E-notation", r"\d[eE][-+]?\d"),
                          ("17 digits", r"\d\.\d{7,}"), ("xa0", r"\\xa0|\xa0"), ("1 studies", r"\b1 studies\b")):
        found += [f"{name}: ...{text[max(0, m.start() - 40):m.end() + 40]!r}..." for m in re.finditer(pattern, text)]
    return found


def pages(tmp_path_factory, path, numbers):
    """`bayesmeta review` of these analyses of a Cochrane file (no figures, one process: fast)."""
    out = tmp_path_factory.mktemp(path.stem) / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_review(bm.read_revman(path), out, figures=False, numbers=numbers, workers=1)
    return out


@pytest.fixture(scope="module")
def bph_pages(tmp_path_factory):
    return pages(tmp_path_factory, BPH, ["1.1", "1.9", "1.11", "2.5", "2.10"])


@pytest.fixture(scope="module")
def fluoride_pages(tmp_path_factory):
    return pages(tmp_path_factory, FLUORIDE, ["1.1", "1.2", "4.1", "14.2"])


@pytest.mark.parametrize("pages", ["bph_pages", "fluoride_pages"])
def test_no_artefacts_on_any_page(pages, request):
    out = request.getfixturevalue(pages)
    files = sorted(out.rglob("*.html"))
    assert len(files) >= 3
    for path in files:
        problems = artefacts(visible_text(path.read_text(encoding="utf-8")))
        assert not problems, f"{path.relative_to(out)}: {problems[:3]}"


def test_no_guessed_direction(bph_pages):
    """MIT / TURP labels: the index and the reports say 'direction not stated' and never that the intervention
    reduces or improves anything."""
    index = visible_text((bph_pages / "index.html").read_text(encoding="utf-8"))
    assert index.count("direction not stated") >= 3
    for path in bph_pages.rglob("report.html"):
        text = visible_text(path.read_text(encoding="utf-8"))
        assert "direction not stated" in text
        assert not re.search(r"probability that the intervention (reduces|improves)", text), path


def test_one_study_is_not_a_meta_analysis(bph_pages):
    """1.11 has one study: no heterogeneity numbers, the study's own estimate, '1 study'."""
    text = visible_text((bph_pages / "1.11" / "report.html").read_text(encoding="utf-8"))
    assert "heterogeneity cannot be estimated from one study" in text.lower()
    assert not re.search(r"I² = \d|tau = \d", text.split("Posterior")[0])
    assert "1 study" in text
    row = visible_text((bph_pages / "index.html").read_text(encoding="utf-8"))
    assert "1 study: heterogeneity cannot be estimated" in row


def test_totals_rules_on_the_pages(bph_pages, fluoride_pages):
    """CD013656 1.1 (subtotals only): reported by subgroup, no total; CD007868 14.2 (not pooled) and 1.2 (one
    study, subtotals only without subgroups): no pooled estimate and no report."""
    index = visible_text((bph_pages / "index.html").read_text(encoding="utf-8"))
    assert "by subgroup (3 subgroups, no total)" in index
    report = visible_text((bph_pages / "1.1" / "report.html").read_text(encoding="utf-8"))
    assert "the review shows no total" in report
    assert not (fluoride_pages / "14.2").exists() and not (fluoride_pages / "1.2").exists()
    fl = visible_text((fluoride_pages / "index.html").read_text(encoding="utf-8"))
    assert fl.count("the review does not pool these studies") == 2


@pytest.mark.parametrize("bf,text", [(1e-5, "< 1/1000"), (0.00099, "< 1/1000"), (0.0042, "0.0042"), (0.5, "0.500"),
                                     (1.0, "1.00"), (18.72, "18.7"), (999.4, "999"), (61438.0, "> 1000"),
                                     (float("nan"), "–")])
def test_bayes_factors_as_a_journal_prints_them(bf, text):
    from bayesmeta.formatting import format_bayes_factor

    assert format_bayes_factor(bf) == text


def test_bayes_factor_table_of_a_report(bph):
    """CD013656 1.1 (by subgroup): tau = 0 is very unlikely (BF10 about 6e4): '> 1000' and '< 1/1000', never 0."""
    from bayesmeta.formatting import display_table
    from bayesmeta.reports import bayes_factor_table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bph.fit("1.1", seed=1)
    cells = display_table(bayes_factor_table(fit.bayes_factors())).rows[0]
    assert cells[1:] == ["< 1/1000", "> 1000"]


@pytest.fixture(scope="module")
def bph():
    return bm.read_revman(BPH)


def test_a_report_that_fails_does_not_stop_the_review(tmp_path, monkeypatch):
    """A section that cannot be computed (here: any DataError) gives that analysis a page saying why; the index
    links to it and the other analyses are written."""
    import bayesmeta.reports as reports

    def broken(*args, **kwargs):
        raise bm.DataError("REML did not converge")

    monkeypatch.setattr(reports, "build_report", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_review(bm.read_revman(FLUORIDE), tmp_path / "out", figures=False, numbers=["1.1", "4.1"], workers=1)
    page = (tmp_path / "out" / "1.1" / "report.html").read_text(encoding="utf-8")
    assert "The report could not be written: REML did not converge" in page
    assert any("analysis 4.1: the report could not be written" in str(w.message) for w in caught)
