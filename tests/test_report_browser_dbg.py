"""The HTML report in a real browser: headless Chromium (Debian's chromium package; scripts/test.sh installs it)
renders report.html at desktop (1280 px) and phone (390 px) widths and, with the print rules applied, at the width
of an A4 page. Nothing may overflow the viewport horizontally (wide tables and figures scroll inside their own
boxes on screen, and fit the page in print), every figure (inline SVG) must render with a size and drawn content,
and every <img> must load. Set BAYESMETA_SCREENSHOTS=folder to keep screenshots of each page to look at."""

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import bayesmeta as bm
from bayesmeta import plots
from bayesmeta.analysis import run_analysis
from bayesmeta.effects import EffectData
from bayesmeta.reports import build_report

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
WIDTHS = {"desktop": 1280, "phone": 390}
A4_CSS_PX = 680  # the printable width of an A4 page with the report's 14 mm margins, in CSS pixels

# Runs after the page has loaded: what overflows the viewport (outside the scrolling boxes), and whether each
# figure has drawn; the result is written into the DOM, which --dump-dom prints.
PROBE = """<script>
window.addEventListener('load', () => {
  const W = document.documentElement.clientWidth;
  const scroller = PRINTED ? '.none' : '.table-wrap, .fig-wrap';  // on paper nothing scrolls
  const over = [...document.body.querySelectorAll('*')]
    .filter(el => el.matches(scroller) || !el.closest(scroller))
    .filter(el => el.getBoundingClientRect().right > W + 0.5)
    .map(el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className : ''));
  const svgs = [...document.querySelectorAll('figure svg')];
  const drawn = svgs.filter(s => { const r = s.getBoundingClientRect();
    return r.width > 100 && r.height > 100 && s.querySelectorAll('path, use').length > 10; }).length;
  const imgs = [...document.images];
  const loaded = imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length;
  const wraps = [...document.querySelectorAll('.table-wrap')];
  const figs = [...document.querySelectorAll('.fig-wrap')];
  const stacked = [...document.querySelectorAll('td[data-label]')].filter(td =>
    getComputedStyle(td).display === 'flex' && getComputedStyle(td, '::before').content.length > 2).length;
  parent.postMessage(JSON.stringify({
    width: W, scroll_width: document.documentElement.scrollWidth, over: over.slice(0, 12), n_over: over.length,
    figures: document.querySelectorAll('figure').length, svgs: svgs.length, drawn: drawn, imgs: imgs.length,
    loaded: loaded, tables: document.querySelectorAll('table').length,
    scrolling_tables: wraps.filter(w => w.scrollWidth > w.clientWidth).length,
    scrolling_figures: figs.filter(w => w.scrollWidth > w.clientWidth + 1).length, stacked_cells: stacked,
    toc: document.querySelectorAll('nav.toc a').length, sections: document.querySelectorAll('main > section').length,
    first_section: (document.querySelector('main > section h2') || {}).textContent}), '*');
});
</script>"""
# The page is measured inside an iframe of the exact width (a browser window cannot be narrower than 500 px); the
# frame posts its findings to this page, which writes them into its DOM for --dump-dom.
FRAME = """<!DOCTYPE html><html><head><meta charset='utf-8'><style>body{margin:0}iframe{border:0;display:block}</style>
</head><body><iframe src="SRC" style="width:WIDTHpx;height:60000px"></iframe><script>
window.addEventListener('message', e => document.body.setAttribute('data-probe', e.data));
</script></body></html>"""


def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "headless Chromium is needed: scripts/test.sh installs Debian's chromium package"
    return path


def browse(page: Path, tmp: Path, width: int, *extra, height: int = 2000) -> subprocess.CompletedProcess:
    profile = tmp / f"profile-{width}-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                           *extra, page.as_uri()], capture_output=True, text=True, timeout=120)


def measure(report: Path, tmp: Path, width: int, print_rules: bool = False) -> dict:
    """The probe's findings for report.html at `width` (with the print rules applied to the screen if asked)."""
    text = report.read_text(encoding="utf-8")
    if print_rules:  # what a browser lays out for paper: the @media print rules, at the printable width
        text = text.replace("@media print{", "@media all{")
    probe = report.with_name(f"probe-{width}{'-print' if print_rules else ''}.html")
    probe.write_text(text.replace("</body>", PROBE.replace("PRINTED", str(print_rules).lower()) + "</body>"),
                     encoding="utf-8")
    frame = report.with_name(f"frame-{width}.html")
    frame.write_text(FRAME.replace("SRC", probe.name).replace("WIDTH", str(width)), encoding="utf-8")
    out = browse(frame, tmp, max(width, 500) + 20, "--virtual-time-budget=10000", "--dump-dom")
    m = re.search(r'data-probe="([^"]*)"', out.stdout)
    assert m, out.stderr[-2000:]
    result = json.loads(html.unescape(m.group(1)))
    shots = os.environ.get("BAYESMETA_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        name = f"{report.parent.name}-{width}{'-print' if print_rules else ''}.png"
        shown = report.with_name(f"shown-{width}.html")
        source = probe.name if print_rules else report.name
        shown.write_text(FRAME.replace("SRC", source).replace("WIDTH", str(width)).replace("60000", "12000"))
        browse(shown, tmp, max(width, 500) + 20, f"--screenshot={Path(shots) / name}", height=12000)
    return result


def assert_clean(result: dict, figures: int):
    assert result["n_over"] == 0 and result["scroll_width"] <= result["width"], result
    assert result["figures"] == result["svgs"] == result["drawn"] == figures, result
    assert result["loaded"] == result["imgs"], result


def analysis_file(tmp: Path, body: str) -> Path:
    path = tmp / "analysis.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def clbp(tmp_path_factory):
    out = tmp_path_factory.mktemp("clbp") / "clbp"
    run_analysis(ROOT / "models" / "clbp_digital_pain.toml", out)
    return out / "report.html"


# two forest plots, densities, prior-posterior, benefit curves, funnel; the robustness figures (leave-one-out, Baujat,
# prior grid, LOO-PIT, GOSH); model averaging (12 studies: the small-study section's tests are shown)
CLBP_FIGURES = 12


@pytest.mark.parametrize("device", WIDTHS)
def test_clbp_report_fits_the_screen_and_every_figure_renders(clbp, tmp_path, device):
    result = measure(clbp, tmp_path, WIDTHS[device])
    assert result["width"] == WIDTHS[device]
    assert_clean(result, figures=CLBP_FIGURES)
    assert result["first_section"] == "Summary" and result["toc"] == result["sections"] >= 9
    # No sideways scrolling: on a desktop screen every table fits (long cells and headers wrap); on a phone the rows
    # stack, each cell beside its column's name, and the figures scale to the width of the screen.
    assert result["scrolling_tables"] == 0 and result["scrolling_figures"] == 0, result
    if device == "phone":
        assert result["stacked_cells"] > 100, result


def test_clbp_report_prints_on_a4(clbp, tmp_path):
    result = measure(clbp, tmp_path, A4_CSS_PX, print_rules=True)
    assert_clean(result, figures=CLBP_FIGURES)
    assert result["scrolling_tables"] == 0  # on paper every table fits the page
    pdf = tmp_path / "report.pdf"
    browse(clbp, tmp_path, 1280, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    assert 5 <= pages <= 30, pages
    # No heading left at the foot of a page with its table on the next: the last line of each page is not a
    # section heading, a table caption or a paragraph that introduces a table (poppler's pdftotext reads the PDF).
    text = clbp.read_text(encoding="utf-8")
    leads = [html.unescape(t) for t in re.findall(r"<h2>([^<]+)</h2>|<caption id='[^']+'>([^<]+)</caption>", text)
             for t in t if t]
    leads += [html.unescape(p) for after in re.findall(r"</h2>\s*((?:<p>[^<]*</p>\s*)+)", text)  # a heading's words
              for p in re.findall(r"<p>([^<]+)</p>", after)]
    assert len(leads) > 20
    for page in range(1, pages + 1):
        lines = [" ".join(line.split()) for line in pdftotext(pdf, page).splitlines() if line.strip()]
        assert lines, page
        assert not any(" ".join(lead.split()).endswith(lines[-1]) for lead in leads), (page, lines[-3:])


def pdftotext(pdf: Path, page: int) -> str:
    path = shutil.which("pdftotext")
    assert path, "poppler's pdftotext is needed: scripts/test.sh installs Debian's poppler-utils package"
    return subprocess.run([path, "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout


def test_every_figure_can_be_opened_alone_at_full_size(clbp):
    page = clbp.read_text(encoding="utf-8")
    figures = re.findall(r"<figure id='figure-\d+'>.*?</figure>", page, flags=re.S)
    assert len(figures) == CLBP_FIGURES
    for fig in figures:  # the link opens the figure's own SVG file, which exists beside the report
        links = re.findall(r"<a href='(figures/[^']+\.svg)' target='_blank'>SVG</a>", fig)
        assert len(links) == 1 and (clbp.parent / links[0]).is_file() and "Open the figure alone" in fig


@pytest.mark.slow
def test_subgroup_and_regression_reports_fit_every_screen(tmp_path):
    """ThirdWave by mode of delivery (the model file) and a meta-regression (Raudenbush's weeks and tester)."""
    shutil.copy(DATA / "raudenbush1985_mods.csv", tmp_path / "d.csv")
    reg = analysis_file(tmp_path, "[analysis]\ntitle = 'Teacher expectancy: weeks of contact'\n[data]\nfile = 'd.csv'\n"
                                  "benefit = 'higher'\ncolumns = {y = 'yi', vi = 'vi', study = 'study'}\n[model]\n"
                                  "moderators = '~ weeks + C(tester)'\n[report]\nfrequentist = ['REML', 'DL']\n")
    cases = [(ROOT / "models" / "thirdwave_subgroups.toml", "thirdwave", 6), (reg, "regression", 5)]
    for model, name, figures in cases:  # regression: forest, densities, prior-posterior, funnel, bubble
        run_analysis(model, tmp_path / name)
        report = tmp_path / name / "report.html"
        for width in (*WIDTHS.values(), A4_CSS_PX):
            result = measure(report, tmp_path, width, print_rules=width == A4_CSS_PX)
            print(name, width, result)
            assert_clean(result, figures)
            assert result["first_section"] == "Summary"


def test_hostile_labels_stay_inside_the_page_and_out_of_the_markup(tmp_path):
    """Markup, a closing comment and a 3000-character label in study labels and the title: the inline SVGs carry no
    comment or script (matplotlib writes each text into a comment), and nothing widens the page."""
    labels = ["<script>alert(1)</script>", "--><script>alert(2)</script><!--", "x" * 3000, "A | B", "plain"]
    data = EffectData([0.1, 0.3, -0.1, 0.2, 0.4], [0.1, 0.15, 0.2, 0.12, 0.3], labels, benefit="higher")
    fit = bm.fit(data, seed=1)
    freq = bm.frequentist(data, method="revman5")
    figures = {"forest_revman": ("RevMan <b>layout</b>", plots.forest(fit, freq=freq, style="revman")),
               "forest": ("Bayesian forest plot", plots.forest(fit, freq=freq))}
    page = build_report(fit, freq=freq, title="<script>t</script> " + "y" * 400, figures=figures).render("html")
    assert "<script" not in page.lower() and "<!--" not in page and "<b>" not in page
    report = tmp_path / "nasty" / "report.html"
    report.parent.mkdir()
    report.write_text(page, encoding="utf-8")
    for width in WIDTHS.values():
        assert_clean(measure(report, tmp_path, width), figures=2)
    plots._plt().close("all")
