"""The robustness figures (bayesmeta.plots.robustness) and the report section "Is the answer robust?"
(bayesmeta.reports.robustness): what they draw and say is what the tables hold."""

import logging

import matplotlib
import numpy as np
import pytest

import bayesmeta as bm
from bayesmeta import plots
from bayesmeta.reports import robustness as section

matplotlib.use("Agg")
logging.getLogger("arviz_stats").setLevel(logging.ERROR)


def test_leave_one_out_plot_draws_the_table(clbp_fit):
    table = clbp_fit.leave_one_out()
    fig = plots.leave_one_out_plot(clbp_fit, table)
    ax = fig.axes[0]
    points = ax.collections[-1].get_offsets()
    assert np.allclose(np.asarray(points)[:, 0], table["mu_median"])
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table.index)
    plots._plt().close(fig)


@pytest.mark.parametrize("kind", ["sensitivity_plot", "loo_pit_plot", "gosh_plot"])
def test_other_robustness_figures_draw(clbp_fit, kind, tmp_path):
    small = bm.fit(clbp_fit.data.take(np.arange(6)), tau_prior="halfnormal(0.5)", seed=1)
    fig = getattr(plots, kind)(small)
    assert fig.axes and plots.save(fig, tmp_path / f"{kind}.png").stat().st_size > 1000


def test_robustness_section_sentences_match_the_tables(clbp_fit, clbp):
    common = bm.fit(clbp, model="common", seed=1)
    sec = section.robustness_section(clbp_fit, models={"random": clbp_fit, "common": common})
    loo = clbp_fit.leave_one_out()
    text = " ".join(sec.items)
    assert f"{loo['mu_median'].min():.3f} (without {loo['mu_median'].idxmin()})" in text
    assert f"most influential study is {loo['mu_change'].abs().idxmax()}" in text
    assert "Neither prior-data conflict" in text and "cannot be told apart" in text
    assert sec.tables[0][0].startswith("Model comparison")
    report = clbp_fit.report(robust=True)
    assert "Is the answer robust?" in report and "Leaving out one study at a time" in report


@pytest.mark.parametrize("robust", [False, True])
def test_analysis_file_report_robust_key(tmp_path, robust):
    """`[report] robust` turns the section "Is the answer robust?" and its figures on or off (default: on for
    models the exact batch kernel refits); a model without one pooled effect gets no section."""
    from bayesmeta.analysis import run_analysis

    path = tmp_path / "a.toml"
    path.write_text('[analysis]\ntitle = "t"\n[data]\ndataset = "clbp_digital_pain"\nmeasure = "SMD"\n'
                    'benefit = "lower"\n[report]\nfigures = ["forest"]\n' + f"robust = {str(robust).lower()}\n",
                    encoding="utf-8")
    result = run_analysis(path, tmp_path / "out")
    text = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert ("## Is the answer robust?" in text) is robust
    assert ("figure_leave_one_out" in result["files"]) is robust
    assert ("figure_gosh" in result["files"]) is robust  # 12 studies: every subset
