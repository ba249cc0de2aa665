"""The content of a report: `build_report(fit, ...)` puts the answer first, then the forest plots, then the details, each figure in the section it belongs to; `render_report(fit, format)` renders it."""

from __future__ import annotations

from ..formatting import studies
from .averaging import model_average_section
from .document import Report, Section
from .small_study import small_study_section
from .statements import (
    effect_sentences,
    frequentist_sentence,
    heterogeneity_sentence,
    prior_sentence,
    probability_statements,
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

_frequentist_sentence = frequentist_sentence  # the earlier name


# --------------------------------------------------------------------------- the report
FIGURE_PLACES = {"forest_revman": "forest", "forest": "forest", "prior_posterior": "model", "density": "posterior",
                 "benefit": "posterior", "bubble": "posterior", "funnel": "funnel", "average": "average",
                 "trace": "diagnostics", "rank": "diagnostics", "leave_one_out": "robust", "sensitivity_grid": "robust",
                 "loo_pit": "robust", "baujat": "robust",
                 "gosh": "robust"}


def _placed_figures(figures) -> dict[str, list]:
    """{place: [(caption, figure)]}: `figures` maps a figure's name (forest, density, ...) to (caption, figure),
    or a caption to a figure (those go to a section of their own at the end)."""
    places = {}
    for key, value in (figures or {}).items():
        if isinstance(value, tuple):
            caption, fig = value
            place = FIGURE_PLACES.get(key, "figures")
        else:
            caption, fig, place = key, value, "figures"
        places.setdefault(place, []).append((caption, fig))
    return places


def build_report(fit, freq=None, thresholds=None, intervention="the intervention", title=None,
                 figures=None, ci: float = 0.95, notes=(), sensitivity=None, robust=False, models=None,
                 average=None) -> Report:
    """The content of a report, answer first. `figures` maps figure names (forest_revman, forest, density,
    benefit, bubble, prior_posterior, funnel, trace, rank) to (caption, figure), each put in its section, or
    captions to figures (put at the end); a figure is a matplotlib Figure or the path of its PNG (an SVG beside
    it is inlined in the HTML). robust=True adds "Is the answer robust?" (reports.robustness; with `models`, a
    dict of fits by name, its model comparison). `average`: a bm.average result, shown after the small-study
    effects (reports.averaging)."""
    from ..frequentist_methods import as_results

    data = fit.data
    freq_list = as_results(freq)
    places = _placed_figures(figures)
    title = title or f"Bayesian meta-analysis of {data.outcome if data.outcome != 'effect' else 'the effect'}"
    sections = []
    # ---- the answer
    summary = Section("Summary")
    statements = probability_statements(fit, thresholds, intervention)
    n_pooled = 2 * len(fit.family.pooled())  # two sentences per pooled effect, then one per comparison
    several = n_pooled > 2
    if several:  # one row per subgroup in a table; the sentences go to the details
        summary.key_tables.append(("The answer by subgroup (posterior medians and intervals; probabilities of "
                                   "benefit)", answer_table(fit, thresholds, ci)))
        summary.items += statements[n_pooled:]
    else:
        summary.items += effect_sentences(fit, ci, intervention) + statements
    summary.items.append(heterogeneity_sentence(fit, ci))
    summary.items += [frequentist_sentence(r) for r in freq_list]
    summary.items.append(prior_sentence(fit))
    if freq_list:
        summary.tables.append(("Bayesian and frequentist estimates side by side",
                               side_by_side_table(fit, freq_list, ci, full=False)))
    sections.append(summary)
    if places.get("forest"):
        sections.append(Section("Forest plots", [
            "RevMan's layout first (the frequentist analysis, with the Bayesian posterior and predictive interval in "
            "blue below it), then the Bayesian forest plot with each study's shrunken estimate."
            if len(places["forest"]) > 1 else ""], figures=places["forest"]))
        if not sections[-1].paragraphs[0]:
            sections[-1].paragraphs = []
    # ---- the details
    s_data = Section("Data", [
        f"{studies(data.k)}. {sign_convention(fit, intervention)}", *notes])
    s_data.tables.append(("Studies (observed effects and standard errors)", studies_table(fit)))
    sections.append(s_data)
    model = Section("Model and priors", [fit.spec.describe()])
    note = getattr(fit.spec, "tau_prior_note", None)
    if note:
        model.paragraphs.append(note)
    model.paragraphs.append(f"Engine: {fit.describe_engine()}.")
    model.figures += places.get("model", [])
    sections.append(model)
    post = Section("Posterior", [f"Intervals are {fit.summary(ci=ci).attrs['interval']}s (CrI). I\u00b2 is in "
                                 "percent" + ("; theta_new is the effect expected in a new study (the predictive "
                                              "distribution)." if fit.family.pooled() else ".")])
    if several:
        post.items += statements[:n_pooled]
    post.tables.append(("Posterior summaries", summary_table(fit, ci)))
    if fit.family.contrasts():
        post.tables.append(("Differences between subgroups", differences_table(fit, ci)))
    post.tables.append(("Posterior probabilities", probability_table(fit, thresholds)))
    post.tables.append(("Study effects after shrinkage", shrinkage_table(fit, ci)))
    post.figures += places.get("posterior", [])
    sections.append(post)
    if sensitivity is not None:
        sec = Section("Sensitivity to the prior on tau", [
            "The same model refitted with other priors on the heterogeneity tau (medians and 95% intervals)."])
        sec.tables.append(("Prior sensitivity", sensitivity_display(sensitivity, ci, fit)))
        sections.append(sec)
    if robust:
        from .robustness import robustness_section

        sections.append(robustness_section(fit, ci, places.get("robust", []), models))
    if freq_list:
        sec = Section("Frequentist results beside the Bayesian", [frequentist_sentence(r) for r in freq_list] + [
            "Bayesian estimates are posterior medians; frequentist tau\u00b2 intervals are Q-profile intervals."])
        sec.tables.append(("Side by side", side_by_side_table(fit, freq_list, ci)))
        sections.append(sec)
    if fit.family.pooled() and not several and data.cluster is None:  # one pooled effect over independent studies
        sections.append(small_study_section(data, places.get("funnel", [])))
    elif places.get("funnel"):
        sections.append(Section("Small-study effects", [
            "Funnel plot of the observed effects against their standard errors, with Egger's regression test where "
            "the studies differ in size."], figures=places["funnel"]))
    if average is not None:
        sections.append(model_average_section(average, ci, places.get("average", [])))
    diag = Section("Diagnostics", [f"Engine: {fit.describe_engine()}."])
    st = fit.settings
    if "sampler" in st:
        diag.paragraphs.append(f"{st['chains']} chains x {st['draws']} draws after {st['tune']} tuning steps "
                               f"({st['sampler']}, target_accept {st['target_accept']}); {st['divergences']} "
                               "divergent transitions. R-hat should be below 1.01 and bulk/tail ESS above 400.")
    diag.tables.append(("Sampler convergence (ArviZ)" if "sampler" in st else "Quadrature",
                        diagnostics_table(fit.diagnostics())))
    try:
        diag.tables.append(("Bayes factors (exact)", bayes_factor_table(fit.bayes_factors())))
    except ValueError as err:
        diag.paragraphs.append(f"Bayes factors: {err}.")
    diag.figures += places.get("diagnostics", [])
    sections.append(diag)
    if places.get("figures"):
        sections.append(Section("Figures", figures=places["figures"]))
    vers = versions(fit.settings.get("sampler"))
    sections.append(Section("Reproducibility", [
        f"Seed {fit.seed}. " + ", ".join(f"{k} {v}" for k, v in vers.items()) + ".",
        "The code behind each prior and probability of this report (for Python; probabilities.csv and "
        "sensitivity.csv hold the same codes):"], tables=[("Reproduce", reproduce_table(
            fit, thresholds, {} if sensitivity is None else prior_labels(sensitivity)))]))
    return Report(title, sections)


def render_report(fit, format="text", **kwargs) -> str:  # noqa: A002
    return build_report(fit, **kwargs).render(format)
