"""The report's section on a Bayesian model average (bm.average): the inclusion Bayes factors in words, the
models' prior and posterior probabilities, and the model-averaged and conditional estimates."""

from __future__ import annotations

from .document import Section


def model_average_section(avg, ci: float = 0.95, figures=()) -> Section:
    """A Section: avg.describe() as its paragraph, then the inclusion table, the estimates averaged over all
    models and among the models with each parameter, and the models sorted by posterior probability."""
    sec = Section("Model averaging over effect, heterogeneity and publication bias", [
        avg.describe(),
        f"{len(avg.results)} models; marginal likelihoods by quadrature (no sampling error). Prior: mu ~ "
        f"{avg.priors['mu']}, tau ~ {avg.priors['tau']}" + (
            f", PET slope ~ {avg.priors['PET']}, PEESE slope ~ {avg.priors['PEESE']} (on b >= 0, in the direction "
            "of benefit)." if avg.has_bias else ".")], figures=list(figures))
    sec.tables.append(("Inclusion: prior and posterior probability, inclusion Bayes factor", avg.inclusion))
    sec.tables.append((f"Model-averaged estimates ({avg.summary(ci).attrs['interval']})", avg.summary(ci)))
    sec.tables.append(("Conditional estimates (among the models that include each parameter)", avg.conditional(ci)))
    models = avg.models.sort_values("post_prob", ascending=False)
    sec.tables.append(("Models by posterior probability", models))
    return sec
