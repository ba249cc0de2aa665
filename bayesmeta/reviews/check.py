"""RevMan vs ours: every pooled number a review file stores beside bayesmeta's reproduction of it.

Compared where the file holds them: the pooled estimate and CI (on RevMan's scale: ratios as ratios), Z and its
P, tau^2 (random-effects analyses), the heterogeneity Chi^2, df, P and I^2, each subgroup's, the test for
subgroup differences (Chi^2, df, P, I^2), and each study's effect, SE and weight. A value agrees when the
difference is within half a unit of the last digit the file stores (RevMan 5 files store 16 digits; exports 6 to
8) or 1e-9 relative. P-values get 1e-6 relative: RevMan computes its chi-square P-values with an approximation
good to about that (for the Fleiss 1993 aspirin data it stores P = 0.1269422522 for Chi^2 = 9.946056 on 6 df; the
exact tail area is 0.1269421779). A result whose CI is stored as [0, 0] (RevMan Web's export of an analysis
RevMan 5 never computed) counts as not stored.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from ..errors import DataError
from .text import parse_number, stored_value

P_VALUES = ("p_z", "p_chi2", "subgroup_p")
COLUMNS = ["analysis", "where", "quantity", "revman", "ours", "stored_as", "difference", "agrees"]
NAMES = {"estimate": "estimate", "lower": "CI lower", "upper": "CI upper", "z": "Z", "p_z": "P (effect)",
         "tau2": "Tau²", "chi2": "Chi²", "df": "df", "p_chi2": "P (heterogeneity)", "I2": "I² (%)",
         "subgroup_chi2": "Chi²", "subgroup_df": "df", "subgroup_p": "P", "subgroup_I2": "I² (%)",
         "effect": "effect", "se": "SE (log scale for ratios)", "weight": "weight (%)"}


def decimals(text: str) -> int:
    """Digits after the decimal point that `text` states ("0.8969" -> 4, "1.2E-5" -> 6, "12" -> 0)."""
    s = text.strip().lower().replace(",", "")
    mant, _, exp = s.partition("e")
    places = len(mant.split(".")[1]) if "." in mant else 0
    return places - (int(exp) if exp else 0)


def agrees(text, ours: float, quantity: str) -> tuple[float, bool]:
    """(stored value, whether ours agrees with it to the digits stored); see the module docstring."""
    if isinstance(text, (float, int, np.floating)):  # a table read as numbers (Metapsy): 6 significant digits
        value, tol = float(text), 5e-7 * max(1.0, abs(float(text)))
    else:
        value = parse_number(text, quantity)
        tol = 0.5 * 10.0 ** (-decimals(text))
    rel = 1e-6 if quantity in P_VALUES else 1e-9
    tol = max(tol, rel * abs(value), 1e-14)
    return value, bool(np.isfinite(ours) and abs(ours - value) <= tol)


def has_stored_result(values: dict) -> bool:
    """Whether a stored result is there: an estimate, and a CI that is not [0, 0]."""
    lo, hi = stored_value(values, "lower"), stored_value(values, "upper")
    if stored_value(values, "estimate") is None:
        return False
    if lo is not None and hi is not None:
        try:
            return float(lo.replace(",", "")) != float(hi.replace(",", ""))
        except ValueError:
            return True
    return True


def _ours(res, mu, se, lower, upper, pvalue, tau2, q, k, q_p, i2) -> dict:
    f = math.exp if res.ratio else float
    return dict(estimate=f(mu), lower=f(lower), upper=f(upper), z=abs(mu / se), p_z=pvalue, tau2=tau2, chi2=q,
                df=k - 1, p_chi2=q_p, I2=i2)


def _rows(number, where, stored: dict, ours: dict, skip=()) -> list[dict]:
    out = []
    for q, mine in ours.items():
        text = stored_value(stored, q) if isinstance(stored.get(q), (str, type(None))) else stored.get(q)
        if text is None or q in skip:
            continue
        value, ok = agrees(text, float(mine), q)
        out.append(dict(analysis=number, where=where, quantity=NAMES[q], revman=value, ours=float(mine),
                        stored_as=str(text), difference=float(mine) - value, agrees=ok))
    return out


def check_analysis(a) -> list[dict]:
    """The comparison rows of one analysis (its pooled results, subgroups, subgroup test and studies)."""
    res = a.frequentist()
    rows = []
    skip = () if a.model == "random" else ("tau2",)
    if has_stored_result(a.stored):
        rows += _rows(a.number, "overall", a.stored, _ours(res, res.mu, res.se, res.lower, res.upper, res.pvalue,
                                                           res.tau2, res.Q, res.k, res.Q_pvalue, res.I2), skip)
    if res.subgroups is not None:
        for g, r in res.subgroups.iterrows():
            stored = a.stored_subgroups.get(str(g), {})
            if has_stored_result(stored):
                rows += _rows(a.number, f"subgroup {g}", stored, _ours(res, r["mu"], r["se"], r["lower"], r["upper"],
                                                                       r["pvalue"], r["tau2"], r["Q"], r["k"],
                                                                       r["Q_pvalue"], r["I2"]), skip)
        q, df = res.Q_between, res.Q_between_df
        test = dict(subgroup_chi2=q, subgroup_df=df, subgroup_p=res.Q_between_pvalue,
                    subgroup_I2=max(0.0, 100 * (q - df) / q) if q > 0 else 0.0)
        if stored_value(a.stored, "subgroup_chi2") is not None:
            rows += _rows(a.number, "subgroup differences", a.stored, test)
    rows += _study_rows(a, res)
    return rows


def _study_rows(a, res) -> list[dict]:
    data = a.effects()
    kept, _ = a.estimable()
    y, se = np.asarray(data.y, float), np.asarray(data.se, float)
    if a.method == "Peto" and a.data_type == "dichotomous":
        from ..binary import peto_terms

        oe, var = peto_terms(*(data.arms[c].to_numpy(float) for c in ("events1", "n1", "events2", "n2")))
        y, se = oe / var, 1 / np.sqrt(var)
    shown = np.exp(y) if res.ratio else y
    weights = res.weights.to_numpy() if res.subgroups is None else None
    out = []
    for i, row in kept.iterrows():
        ours = dict(effect=shown[i], se=se[i])
        stored = dict(effect=row.get("stored_effect"), se=row.get("stored_se"))
        if weights is not None:
            ours["weight"], stored["weight"] = weights[i], row.get("stored_weight")
        out += _rows(a.number, f"study {row['study']}", stored, ours)
    return out


def check_review(review, numbers=None) -> pd.DataFrame:
    """One row per stored number: analysis, where (overall, subgroup ..., subgroup differences, study ...),
    quantity, revman, ours, stored_as (the file's text), difference, agrees. Analyses that cannot be analysed
    get one row saying why."""
    rows = []
    for number in numbers or review.numbers:
        a = review.analysis(number)
        try:
            rows += check_analysis(a)
        except DataError as err:
            rows.append(dict(analysis=a.number, where="not analysed", quantity=re.sub(r"\s+", " ", str(err)),
                             revman=np.nan, ours=np.nan, stored_as="", difference=np.nan, agrees=False))
    return pd.DataFrame(rows, columns=COLUMNS)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per analysis: numbers compared, how many agree, the largest difference relative to the stored value."""
    out = []
    for number, part in table.groupby("analysis", sort=False):
        checked = part[part["where"] != "not analysed"]
        rel = (checked["difference"].abs() / checked["revman"].abs().clip(lower=1e-300)).replace(np.inf, np.nan)
        out.append(dict(analysis=number, compared=len(checked), agree=int(checked["agrees"].sum()),
                        largest_relative_difference=float(rel.max()) if len(checked) else np.nan))
    return pd.DataFrame(out, columns=["analysis", "compared", "agree", "largest_relative_difference"])
