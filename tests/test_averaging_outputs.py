"""The model-average figure (plots.model_average) and report section (reports.averaging): what they show
matches the Average they are drawn from."""

from __future__ import annotations

import numpy as np
import pytest

import bayesmeta as bm
from bayesmeta import plots
from bayesmeta.reports import render_report


@pytest.fixture(scope="module")
def avg():
    return bm.average(bm.datasets.effect_data("clbp_digital_pain"), bias=["PET", "selection(0.05)"])


def test_figure_shows_the_inclusion_probabilities_and_the_spike(avg):
    fig = plots.model_average(avg)
    bars = fig.axes[0].patches
    heights = sorted(round(b.get_width(), 12) for b in bars)
    expected = sorted(round(v, 12) for v in [*avg.inclusion["prior_prob"], *avg.inclusion["post_prob"]])
    assert heights == expected
    spike = avg.models["post_prob"][~avg.models.index.str.startswith("effect")].sum()
    twin = fig.axes[2]
    segs = twin.collections[0].get_segments()[0]
    assert segs[1][1] == pytest.approx(spike, abs=1e-12)
    plots._plt().close(fig)


def test_report_section_lists_the_models_and_the_words(avg):
    fit = bm.fit(avg.data, seed=1)
    text = render_report(fit, format="markdown", average=avg)
    assert "Model averaging over effect, heterogeneity and publication bias" in text
    assert avg.describe().split(" (")[0] in text
    assert np.all([name in text for name in avg.models.index])
