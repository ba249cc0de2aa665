"""Figures (Baujat, GOSH) and the report section on small-study effects: the numbers they show are those of the
frequentist functions (themselves tested against metafor in test_bias_frequentist.py)."""

import numpy as np
import pytest

import bayesmeta as bm
from bayesmeta import plots
from bayesmeta.reports.small_study import small_study_section

DATA = bm.datasets.effect_data("fibromyalgia_pain")


def test_baujat_figure_draws_the_baujat_data():
    fig = plots.baujat(DATA)
    points = fig.axes[0].collections[0].get_offsets()
    b = bm.baujat(DATA)
    np.testing.assert_allclose(points[:, 0], b["x"], rtol=1e-12)
    np.testing.assert_allclose(points[:, 1], b["y"], rtol=1e-12)


def test_gosh_figure_marks_the_subsets_with_a_study():
    g = bm.gosh(DATA, max_subsets=2000, method="DL", seed=2)
    fig = plots.gosh_frequentist(DATA, result=g, out="20")
    scatter = fig.axes[0].collections[0]
    keep = g.results["k"].to_numpy() > 1
    assert len(scatter.get_offsets()) == keep.sum()
    orange = np.all(scatter.get_facecolors()[:, :3] == scatter.get_facecolors()[0, :3], axis=1)
    assert 0 < (~orange).sum() < keep.sum()  # two colours: with and without study 20
    with pytest.raises(bm.DataError, match="not a study label"):
        plots.gosh_frequentist(DATA, result=g, out="no such study")


def test_report_section_small_study_effects():
    section = small_study_section(DATA)
    table = section.tables[0][1]
    assert len(table) == 7
    egger = bm.regtest(DATA)
    assert table.iloc[0, 0] == (egger.limit_estimate, egger.limit_lower, egger.limit_upper)
    assert table.iloc[2, 0][0] == bm.trimfill(DATA).mu
    few = small_study_section(DATA.take(range(9)))
    assert not few.tables and "fewer than 10" in few.paragraphs[0]


def test_funnel_draws_filled_studies_hollow_and_the_contours():
    tf = bm.trimfill(DATA, estimator="R0")
    fig = plots.funnel(DATA, contours=True, filled=tf)
    ax = fig.axes[0]
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and tf.k0 == 2
    np.testing.assert_allclose(hollow[0].get_xdata(), tf.filled["y"])
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:3] == ["0.10 > p > 0.05", "0.05 > p > 0.01", "p < 0.01"]


def test_funnel_title_gives_the_report_tables_egger_p_and_a_contour_legend():
    """The funnel plot's Egger P is regtest's (REML, as the small-study table), and the contour regions have a
    legend."""
    import matplotlib

    matplotlib.use("Agg")
    from bayesmeta import plots
    from bayesmeta.formatting import format_pvalue

    data = bm.datasets.effect_data("fibromyalgia_pain")
    fig = plots.funnel(data, contours=True, filled=bm.trimfill(data))
    ax = fig.axes[0]
    assert format_pvalue(bm.regtest(data).pvalue) in ax.get_title(loc="left")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == ["0.10 > p > 0.05", "0.05 > p > 0.01",
                                                                        "p < 0.01"]
