"""Figures, one module per figure kind: Bayesian forest plot (`forest`), RevMan's forest plot (`revman_forest`,
drawn by `forest(..., style="revman")`), posterior densities with probability regions (`densities`), prior
against posterior (`prior_posterior`), probability-of-benefit curves (`probabilities`), bubble plot of a
meta-regression (`bubble`), funnel plot (`funnel`), the Bayesian model average (`averaging`), Baujat plot (`baujat`) and the frequentist GOSH plot (`gosh`,
metafor's), trace and rank plots (`diagnostics`), leave-one-out, prior-grid, LOO-PIT and Bayesian GOSH plots
(`robustness`); `common` holds the shared layout helpers and `notes` the lines written under forest plots. A new
figure is a new module here, re-exported below (ArviZ 1.x arviz-plots, matplotlib, both imported inside the
functions).

Every function returns a matplotlib Figure; `save(fig, path)` writes PNG, SVG or PDF by the suffix.
Intervals drawn are 95% (or `ci`) equal-tailed; axis labels say which direction is benefit. Numbers and
probabilities on figures are formatted by `bayesmeta.formatting`.

The figures ask the fit's family what it has: a normal-normal fit has one pooled mu; a subgroup fit
(`bm.fit(data, subgroup=...)`) has mu[g] and theta_new[g] per subgroup, so the forest plot is drawn in blocks
and the densities and benefit curves per subgroup; a meta-regression (`moderators=...`) has coefficients and no
single mu, so its forest plot has no pooled diamond, `bubble` draws the effect against a moderator, and the
densities are those of the coefficients.
"""

from .averaging import model_average
from .baujat import baujat
from .bubble import bubble
from .common import (
           LABEL_WIDTH,
           MAX_PIXELS,
           _plt,
           direction_label,
           save,
           short_label,
           wrapped,
)
from .densities import EFFECT_TITLES, bounded, density, posterior_curve
from .diagnostics import rank, trace
from .forest import FOREST_COLUMNS, FOREST_STYLES, forest
from .funnel import funnel
from .gosh import gosh_frequentist
from .notes import subgroup_difference_lines, subgroup_test_text
from .prior_posterior import prior_posterior
from .probabilities import benefit_curves, pooled_probabilities
from .revman_forest import arm_columns, favours_labels
from .robustness import gosh_plot, leave_one_out_plot, loo_pit_plot, sensitivity_plot

__all__ = ["_plt", "EFFECT_TITLES", "FOREST_COLUMNS", "FOREST_STYLES", "LABEL_WIDTH", "MAX_PIXELS",
           "arm_columns", "baujat", "benefit_curves", "bounded", "bubble", "density", "direction_label",
           "favours_labels", "forest", "funnel", "gosh_frequentist", "gosh_plot", "leave_one_out_plot", "loo_pit_plot",
           "model_average", "pooled_probabilities", "posterior_curve", "prior_posterior", "rank", "save", "sensitivity_plot",
           "short_label", "subgroup_difference_lines", "subgroup_test_text", "trace", "wrapped"]
