"""Reports a review author can publish: the answer first (the pooled effect with its credible interval, the
probabilities of benefit, heterogeneity in words, the frequentist result beside it, the prior in one sentence),
then the forest plots, then the details (data, model and priors, posterior tables, sensitivity, frequentist
results, small-study effects, diagnostics, reproducibility), each figure in the section it belongs to.

By section and by format: `sections.build_report(fit, ...)` makes one `document.Report` of `Section`s from the
sentences (`statements`) and tables (`tables`); `text`, `markdown` and `html` render it (HTML self-contained: a
table of contents, tables that scroll on narrow screens, print CSS, figures as inline SVG). Every table and number
goes through `bayesmeta.formatting` (`display_table`), so the three formats print the same cells. A new output
format is one module here beside `text`, `markdown` and `html`.

`render_report(fit, format)` is a free function over a Fit; `Fit.report()` is its documented alias, wired by the
package facade through `bayesmeta.hooks` (the posterior layer never imports the output layer).
"""

from .document import Report, Section
from .sections import build_report, render_report
from .statements import (
                         bayes_label,
                         effect_sentences,
                         event_label,
                         fit_events,
                         frequentist_sentence,
                         heterogeneity_sentence,
                         i2_words,
                         prior_sentence,
                         probability_statements,
                         quantity_label,
                         reproduce_rows,
                         sign_convention,
                         versions,
)
from .tables import (
                         answer_table,
                         bayes_factor_table,
                         diagnostics_table,
                         differences_table,
                         prior_labels,
                         probability_table,
                         reproduce_table,
                         sensitivity_display,
                         shrinkage_table,
                         side_by_side_table,
                         studies_table,
                         summary_table,
)

__all__ = ["Report", "Section", "answer_table", "bayes_factor_table", "bayes_label", "build_report",
           "diagnostics_table", "differences_table", "effect_sentences", "event_label", "fit_events",
           "frequentist_sentence", "heterogeneity_sentence", "i2_words", "prior_labels", "prior_sentence",
           "probability_statements", "probability_table", "quantity_label", "render_report", "reproduce_rows",
           "reproduce_table", "sensitivity_display", "shrinkage_table", "side_by_side_table", "sign_convention",
           "studies_table", "summary_table", "versions"]
