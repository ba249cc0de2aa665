"""The report's section on small-study effects and publication bias (frequentist tools, metafor's methods):
shown when there are at least 10 studies (the Cochrane Handbook's rule of thumb, section 13.3.5.4); below that
the section says why the tests are left out. Rows: Egger's regression test (regtest, REML, predictor SE) with
its limit estimate, Begg and Mazumdar's rank test, trim and fill (L0), PET, PEESE and the PET-PEESE choice, and
a step selection model (one-sided p < 0.025 in the direction of benefit against the rest)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import DataError, EstimationWarning
from ..formatting import format_pvalue, studies
from .document import Section

MIN_STUDIES = 10
TITLE = "Small-study effects and publication bias"


def _egger(data):
    from ..frequentist_methods import regtest

    eg = regtest(data)
    return ([("Egger's regression test (REML; effect at SE = 0)", (eg.limit_estimate, eg.limit_lower, eg.limit_upper),
              f"asymmetry z = {eg.statistic:.2f}, {format_pvalue(eg.pvalue)}")],
            [f"Egger's test {'suggests' if eg.pvalue < 0.10 else 'does not suggest'} funnel-plot asymmetry "
             f"({format_pvalue(eg.pvalue)})."])


def _rank(data):
    from ..frequentist_methods import ranktest

    rk = ranktest(data)
    return [("Rank correlation (Begg and Mazumdar)", float("nan"),
             f"Kendall's tau = {rk.tau:.2f}, {format_pvalue(rk.pvalue)}")], []


def _trimfill(data):
    from ..frequentist_methods import trimfill

    tf = trimfill(data)
    se = f"SE {tf.k0_se:.2f}" if np.isfinite(tf.k0_se) else "SE not estimable"
    return ([(f"Trim and fill (L0; {studies(tf.k0)} filled on the {tf.side})", (tf.mu, tf.lower, tf.upper),
              f"k0 = {tf.k0} ({se})")],
            [f"Trim and fill imputes {studies(tf.k0)}"
             + (f"; the filled estimate is {tf.mu:.2f}." if tf.k0 else ".")])


def _pet_peese(data):
    from ..frequentist_methods import pet_peese

    pp = pet_peese(data)
    rows = [(f"{name} (WLS regression on the {'SE' if name == 'PET' else 'variance'})",
             (r.limit_estimate, r.limit_lower, r.limit_upper), f"intercept {format_pvalue(r.intercept_pvalue)}")
            for name, r in (("PET", pp.pet), ("PEESE", pp.peese))]
    return [*rows, (f"PET-PEESE (conditional: {pp.chosen})", (pp.estimate, pp.lower, pp.upper), "")], []


def _selection(data):
    from ..frequentist_methods import selmodel

    alternative = "less" if data.benefit == "lower" else "greater"
    sel = selmodel(data, type="stepfun", steps=(0.025, 1), alternative=alternative)
    if not np.isfinite(sel.se):
        raise DataError("the Hessian could not be inverted (no confidence interval)")
    return ([(SELECTION, (sel.mu, sel.lower, sel.upper),
              f"weight of p > 0.025 = {sel.delta[1]:.2f}; LRT {format_pvalue(sel.LRT_pvalue)}")],
            [f"The selection model's adjusted effect is {sel.mu:.2f} (test for selection "
             f"{format_pvalue(sel.LRT_pvalue)})."])


SELECTION = "Step selection model (one-sided p < 0.025 against the rest)"
_METHODS = ((_egger, "Egger's regression test"), (_rank, "Rank correlation (Begg and Mazumdar)"),
            (_trimfill, "Trim and fill (L0)"), (_pet_peese, "PET and PEESE"), (_selection, SELECTION))


def _rows(data) -> tuple[list[tuple], list[str]]:
    """The table's rows (method, estimate or (estimate, lower, upper), test) and sentences; a method the data
    cannot support (e.g. every study with the same SE: no regression on it) gets one 'not estimable' row."""
    rows, words = [], []
    for method, name in _METHODS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", EstimationWarning)
                more_rows, more_words = method(data)
        except (DataError, RuntimeError, ArithmeticError) as err:  # e.g. REML not converging (an EstimationError)
            more_rows, more_words = [(name, float("nan"), f"not estimable: {err}")], []
        rows += more_rows
        words += more_words
    return rows, words


def small_study_section(data, figures=()) -> Section:
    """The section (module docstring); `figures`: [(caption, figure)] such as the funnel plot."""
    if data.k < MIN_STUDIES:
        return Section(TITLE, [f"With {studies(data.k)} (fewer than {MIN_STUDIES}) the tests for funnel-plot "
                               "asymmetry are not shown: they have too little power to tell small-study effects "
                               "from chance (Cochrane Handbook, section 13.3.5.4)."], figures=list(figures))
    rows, words = _rows(data)
    table = pd.DataFrame([(est, note) for _, est, note in rows], columns=["estimate (95% CI)", "test"],
                         index=pd.Index([name for name, _, _ in rows], name="method"))
    section = Section(TITLE, [
        "Frequentist checks (metafor's methods). Each adjusted estimate assumes that small or non-significant "
        "studies are missing for reasons of publication; read them as sensitivity analyses, not corrections.",
        " ".join(words)], figures=list(figures))
    section.tables.append(("Small-study effects (estimates adjusted for small-study effects where a method gives "
                           "one)", table))
    return section
