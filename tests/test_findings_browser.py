"""The summary-of-findings HTML in headless Chromium (as tests/test_report_browser.py does for reports): at
phone (390 px) and desktop (1280 px) widths and with the print rules at the printable width of landscape A4,
nothing overflows the page horizontally. BAYESMETA_SCREENSHOTS=folder keeps screenshots to look at."""

import pytest

import bayesmeta as bm
from tests.test_report_browser import measure

A4_LANDSCAPE_CSS_PX = 1032  # 297 mm - 2 x 12 mm margins, at 96 CSS px per inch


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    fit = bm.fit(bm.datasets.effect_data("fibromyalgia_pain"), tau_prior="halfnormal(0.5)")
    long = "Pain intensity on a visual analogue scale with an exceptionally long outcome name " * 2
    outcomes = [bm.Outcome(long, fit, mid=0.2, follow_up="post-treatment", certainty={"risk_of_bias": "serious"},
                           reasons={"risk_of_bias": "x" * 120}, control_sd=21.5, units="mm"),
                bm.Outcome("Pain", fit, mid=0.2, follow_up="6 months", subgroup="internet-delivered")]
    sof = bm.summary_of_findings(outcomes, intervention="antidepressants", comparison="placebo",
                                 population="adults with fibromyalgia")
    folder = tmp_path_factory.mktemp("sof")
    path = folder / "sof.html"
    sof.to_html(path)
    return path, folder


@pytest.mark.parametrize("width, printed", [(390, False), (1280, False), (A4_LANDSCAPE_CSS_PX, True)])
def test_nothing_overflows(page, width, printed):
    path, folder = page
    result = measure(path, folder, width, print_rules=printed)
    assert result["n_over"] == 0 and result["scroll_width"] <= result["width"], result
    assert result["tables"] == 1
