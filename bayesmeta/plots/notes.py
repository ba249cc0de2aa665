"""Lines written under forest plots: the frequentist test for subgroup differences and the posterior differences between subgroups."""

from __future__ import annotations

from ..effects import benefit_operator
from ..formatting import format_pvalue, prob_text
from .common import short_label


def subgroup_test_text(result) -> str:
    """RevMan's line for a frequentist subgroup analysis: 'Test for subgroup differences (DL): Chi² = 2.25,
    df = 2 (P = 0.32), I² = 11.1%', with I² = max(0, (Q - df) / Q)."""
    q, df = float(result.Q_between), result.Q_between_df
    i2 = 100 * max(0.0, (q - df) / q) if q > 0 else 0.0
    return (f"Test for subgroup differences ({result.label}): Chi\u00b2 = {q:.2f}, df = {df} "
            f"({format_pvalue(result.Q_between_pvalue)}), I\u00b2 = {i2:.1f}%")


def subgroup_difference_lines(fit, ci: float = 0.95, width: int = 30) -> list[str]:
    """One line per pair of subgroups: 'P(online − group > 0) = 0.09; difference -0.29 [-0.71, 0.13]', the
    later subgroup minus the earlier, '>' or '<' the benefit direction (fit.differences())."""
    import itertools

    table = fit.differences(ci=ci)
    op = benefit_operator(fit.data.benefit)
    pairs = list(itertools.combinations(fit.family.groups, 2))  # the order of fit.family.contrasts()
    out = []
    for (a, b), (_, row) in zip(pairs, table.iterrows()):
        out.append(f"P({short_label(b, width)} \u2212 {short_label(a, width)} {op} 0) {prob_text(row[f'P({op} 0)'])}; "
                   f"difference {row['median']:.2f} [{row['lower']:.2f}, {row['upper']:.2f}]")
    return out


def _by_moderators(result, data, subgroup=None, moderators=None, terms=None):
    """A frequentist result for the fit's subgroups or formula: as given if it is one, else recomputed with the same
    method, CI type and level."""
    from ..frequentist_methods import frequentist

    if subgroup is not None and result.subgroups is not None:
        if result.subgroup != subgroup:
            raise ValueError(f"the frequentist result is a subgroup analysis by {result.subgroup!r}, the fit by "
                             f"{subgroup!r}")
        return result
    if moderators is not None and result.moderators is not None and result.subgroups is None:
        if result.k != data.k or tuple(result.coefficients.index) != tuple(terms):
            raise ValueError(f"the frequentist meta-regression ({result.moderators}, k = {result.k}) is not the fit's "
                             f"({moderators}, k = {data.k})")
        return result
    return frequentist(data, method=result.preset or result.method, ci=result.ci, level=result.level,
                       subgroup=subgroup, moderators=moderators)
