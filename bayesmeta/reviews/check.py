"""RevMan vs ours: every number RevMan computed and stored in a review file, beside bayesmeta's reproduction.

Compared, where the file holds them (`QUANTITIES`): per analysis the pooled estimate and CI (on RevMan's scale:
ratios as ratios), Z and its P, tau², the heterogeneity Chi², df, P and I², and the test for subgroup differences
(Chi², df, P, I²); the same for each subgroup; per study its effect, SE, CI and weight. Each row gets a status:

* "agrees": within the tolerance. A number stored as text with d decimals has half a unit of its last digit
  (RevMan 5 files store 16-17 significant digits, CSV exports 6 to 8 decimals), at least 1e-9 relative (order of
  summation). P-values: 1e-5 relative or 1e-7 absolute, whichever is larger: RevMan's chi-square and normal tail
  areas are approximations of that accuracy (for the Fleiss 1993 aspirin data it stores P = 0.1269422522 for
  Chi² = 9.946056 on 6 df, the exact tail area being 0.1269421779; in the Cochrane review CD013656 it stores
  2.4152100430718804E-8 for a tail area of 2.4332e-8). Journals print P < 0.001 for all of these.
* "placeholder": RevMan's rules say there is nothing to estimate, and the file holds a filler: the heterogeneity
  of one study (Chi² 0 or 3.3E-32, P 0 or 1, I² 0 or 99.99999999999999), the subgroup test of an analysis
  with fewer than two subgroups, the results of an analysis RevMan does not pool (TOTALS="NO", or "SUB" without
  subgroups: everything 0, study weights 0), a study or subgroup without estimable data.
* "differs": beyond the tolerance; `note` says where the rule comes from when it is not the obvious one.

RevMan's totals (the analysis's TOTALS setting): "YES" pools all studies and shows subgroup subtotals; study
weights are shares of the total. "SUB" shows only subgroup subtotals; study weights are shares of their
subgroup, and the overall result it stores (not shown) is the fixed-effect inverse-variance pool of the subgroup
estimates, the centre of the test for subgroup differences. "NO" pools nothing.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from .text import parse_number, stored_value

P_VALUES = ("p_z", "p_chi2", "subgroup_p")
HETEROGENEITY = ("tau2", "chi2", "df", "p_chi2", "I2")
TEST = ("subgroup_chi2", "subgroup_df", "subgroup_p", "subgroup_I2")
COLUMNS = ["analysis", "where", "quantity", "revman", "ours", "stored_as", "difference", "tolerance", "agrees",
           "status", "note"]
NAMES = {"estimate": "estimate", "lower": "CI lower", "upper": "CI upper", "z": "Z", "p_z": "P (effect)",
         "tau2": "Tau²", "chi2": "Chi²", "df": "df", "p_chi2": "P (heterogeneity)", "I2": "I² (%)",
         "subgroup_chi2": "Chi²", "subgroup_df": "df", "subgroup_p": "P", "subgroup_I2": "I² (%)",
         "effect": "effect", "se": "SE (log scale for ratios)", "study_lower": "CI lower", "study_upper": "CI upper",
         "weight": "weight (%)"}


def decimals(text: str) -> int:
    """Digits after the decimal point that `text` states ("0.8969" -> 4, "1.2E-5" -> 6, "12" -> 0)."""
    s = text.strip().lower().replace(",", "")
    mant, _, exp = s.partition("e")
    places = len(mant.split(".")[1]) if "." in mant else 0
    return places - (int(exp) if exp else 0)


def tolerance(text, value: float, quantity: str) -> float:
    """How far ours may be from the stored `value` (see the module docstring)."""
    if isinstance(text, (float, int, np.floating)):  # a table read as numbers (Metapsy): 6 significant digits
        tol = 5e-7 * max(1.0, abs(value))
    else:
        tol = 0.5 * 10.0 ** (-decimals(text))
    if quantity in P_VALUES:
        return max(tol, 1e-5 * abs(value), 1e-7)
    return max(tol, 1e-9 * abs(value), 1e-14)


def agrees(text, ours: float, quantity: str) -> tuple[float, bool]:
    """(stored value, whether ours agrees with it to the stored precision)."""
    value = float(text) if isinstance(text, (float, int, np.floating)) else parse_number(text, quantity)
    return value, bool(np.isfinite(ours) and abs(ours - value) <= tolerance(text, value, quantity))


def has_stored_result(values: dict) -> bool:
    """Whether a pooled result is stored: an estimate, and a CI that is not [0, 0]."""
    lo, hi = stored_value(values, "lower"), stored_value(values, "upper")
    if stored_value(values, "estimate") is None:
        return False
    if lo is not None and hi is not None:
        try:
            return float(lo.replace(",", "")) != float(hi.replace(",", ""))
        except ValueError:
            return True
    return True


def _stored(values: dict, q: str):
    """The stored value of `q`: its text, a number (tables read as numbers), or None where nothing is stored."""
    value = values.get(q)
    if isinstance(value, (float, int, np.floating)):
        return None if math.isnan(value) else value
    return stored_value(values, q)


class _Rows:
    """Collects the comparison rows of one analysis."""

    def __init__(self, number):
        self.number, self.rows = number, []

    def compare(self, where, stored: dict, ours: dict, note=""):
        for q, mine in ours.items():
            text = _stored(stored, q)
            if text is None:
                continue
            value, ok = agrees(text, float(mine), q)
            self.rows.append(dict(analysis=self.number, where=where, quantity=NAMES[q], revman=value,
                                  ours=float(mine), stored_as=str(text), difference=float(mine) - value,
                                  tolerance=tolerance(text, value, q), agrees=ok, status="agrees" if ok else "differs",
                                  note=note))

    def placeholders(self, where, stored: dict, quantities, why: str):
        for q in quantities:
            text = _stored(stored, q)
            if text is None:
                continue
            value = float(text) if not isinstance(text, str) else parse_number(text, q)
            self.rows.append(dict(analysis=self.number, where=where, quantity=NAMES[q], revman=value, ours=np.nan,
                                  stored_as=str(text), difference=np.nan, tolerance=np.nan, agrees=True,
                                  status="placeholder", note=why))


def _pooled(res, mu, se, lower, upper, pvalue) -> dict:
    f = math.exp if res.ratio else float
    return dict(estimate=f(mu), lower=f(lower), upper=f(upper), z=abs(mu / se), p_z=pvalue)


def _block(rows, where, stored, res, r: dict, shown=None, note=""):
    """One pooled block (overall or a subgroup): estimate, CI, Z and P (from `shown` where RevMan stores another
    pool than the one it tests heterogeneity around), and the heterogeneity (placeholders for one study)."""
    s = shown or r
    rows.compare(where, stored, _pooled(res, s["mu"], s["se"], s["lower"], s["upper"], s["pvalue"]), note)
    if r["k"] < 2:
        rows.placeholders(where, stored, HETEROGENEITY, "one study: heterogeneity cannot be estimated (RevMan "
                                                        "stores a placeholder)")
        return
    het = dict(tau2=r["tau2"], chi2=r["Q"], df=r["k"] - 1, p_chi2=r["Q_pvalue"], I2=r["I2"])
    if res.model != "random":
        rows.placeholders(where, stored, ("tau2",), "fixed-effect analysis: no tau²")
        het.pop("tau2")
    rows.compare(where, stored, het)


def _as_row(res) -> dict:
    return dict(k=res.k, mu=res.mu, se=res.se, lower=res.lower, upper=res.upper, pvalue=res.pvalue, tau2=res.tau2,
                Q=res.Q, Q_pvalue=res.Q_pvalue, I2=res.I2)


def _pooled_subgroups(table, level) -> dict:
    """RevMan's stored overall result under TOTALS="SUB": the fixed-effect inverse-variance pool of the subgroup
    estimates (the centre of the test for subgroup differences)."""
    w = 1 / table["se"].to_numpy() ** 2
    mu = float(np.sum(w * table["mu"].to_numpy()) / np.sum(w))
    se = math.sqrt(1 / np.sum(w))
    crit = stats.norm.ppf(0.5 + level / 2)
    return dict(mu=mu, se=se, lower=mu - crit * se, upper=mu + crit * se, pvalue=float(2 * stats.norm.sf(abs(mu / se))))


def check_analysis(a, res=None) -> list[dict]:
    """The comparison rows of one analysis (its pooled results, subgroups, subgroup test and studies); `res`:
    its RevMan pooling when already computed (a.frequentist())."""
    rows = _Rows(a.number)
    data = a.effects()
    res = a.frequentist(data=data) if res is None else res
    mode = a.totals
    groups = _subgroup_results(res)
    pooled = mode == "YES" or (mode == "SUB" and bool(groups))
    if not pooled:
        why = f"RevMan does not pool this analysis (TOTALS={mode!r}{', no subgroups' if mode == 'SUB' else ''})"
        rows.placeholders("overall", a.stored, ("estimate", "lower", "upper", "z", "p_z", *HETEROGENEITY), why)
    elif mode == "SUB":
        shown = _pooled_subgroups(pd.DataFrame(list(groups.values())), a.level)
        _block(rows, "overall", a.stored, res, _as_row(res), shown,
               "not shown by RevMan (TOTALS='SUB'): its inverse-variance pool of the subgroup estimates")
    elif has_stored_result(a.stored):
        _block(rows, "overall", a.stored, res, _as_row(res))
    for name, stored in a.stored_subgroups.items():
        if mode == "NO":
            rows.placeholders(f"subgroup {name}", stored, ("estimate", "lower", "upper", "z", "p_z", *HETEROGENEITY),
                              "RevMan does not pool this analysis (TOTALS='NO')")
        elif name in groups:
            _block(rows, f"subgroup {name}", stored, res, groups[name])
        else:
            rows.placeholders(f"subgroup {name}", stored, ("estimate", "lower", "upper", "z", "p_z", *HETEROGENEITY),
                              "no estimable studies in this subgroup")
    _test(rows, a, res, groups if mode != "NO" else {})
    _study_rows(rows, a, data, res, pooled)
    return rows.rows


def _subgroup_results(res) -> dict:
    """{subgroup: its pooled row} (one estimable subgroup keeps its subtotal, as in RevMan)."""
    if res.subgroups is None:
        return {}
    return {str(g): dict(r) for g, r in res.subgroups.iterrows()}


def _test(rows, a, res, groups):
    stored = {q: a.stored.get(q) for q in TEST}
    if len(groups) < 2:
        rows.placeholders("subgroup differences", stored, TEST, "no test for subgroup differences: fewer than two "
                                                                "subgroups with estimable studies")
        return
    table = pd.DataFrame(list(groups.values()))
    w = 1 / table["se"].to_numpy() ** 2
    mu = table["mu"].to_numpy()
    q = float(np.sum(w * (mu - np.sum(w * mu) / np.sum(w)) ** 2))
    df = len(table) - 1
    rows.compare("subgroup differences", stored, dict(subgroup_chi2=q, subgroup_p=float(stats.chi2.sf(q, df)),
                                                      subgroup_I2=max(0.0, 100 * (q - df) / q) if q > 0 else 0.0))


def _study_rows(rows, a, data, res, pooled):
    kept, aside = a.estimable()
    y, se = np.asarray(data.y, float), np.asarray(data.se, float)
    if a.method == "Peto" and a.data_type == "dichotomous":
        from ..binary import peto_terms

        oe, var = peto_terms(*(data.arms[c].to_numpy(float) for c in ("events1", "n1", "events2", "n2")))
        y, se = oe / var, 1 / np.sqrt(var)
    crit = stats.norm.ppf(0.5 + a.level / 2)
    f = np.exp if res.ratio else (lambda x: x)
    weights = res.weights.to_dict()  # shares of the total, or of the subgroup under TOTALS="SUB"
    for i, row in kept.iterrows():
        where = f"study {row['study']}"
        stored = dict(effect=row.get("stored_effect"), se=row.get("stored_se"),
                      study_lower=row.get("stored_lower"), study_upper=row.get("stored_upper"),
                      weight=row.get("stored_weight"))
        ours = dict(effect=f(y[i]), se=se[i], study_lower=f(y[i] - crit * se[i]), study_upper=f(y[i] + crit * se[i]))
        rows.compare(where, stored, ours)
        if pooled:
            rows.compare(where, stored, dict(weight=weights[row["study"]]))
        else:
            rows.placeholders(where, stored, ("weight",), "RevMan does not pool this analysis: no weights")
    for _, row in a.rows[a.rows["study"].isin(list(aside))].iterrows():
        stored = dict(effect=row.get("stored_effect"), se=row.get("stored_se"), study_lower=row.get("stored_lower"),
                      study_upper=row.get("stored_upper"), weight=row.get("stored_weight"))
        rows.placeholders(f"study {row['study']}", stored, ("effect", "se", "study_lower", "study_upper", "weight"),
                          f"not estimable ({aside[row['study']]})")


def check_review(review, numbers=None) -> pd.DataFrame:
    """One row per stored number (see the module docstring); an analysis that cannot be analysed gets one row
    saying why."""
    rows = []
    for number in numbers or review.numbers:
        a = review.analysis(number)
        try:
            rows += check_analysis(a)
        except DataError as err:
            rows.append(dict(analysis=a.number, where="not analysed", quantity=re.sub(r"\s+", " ", str(err)),
                             revman=np.nan, ours=np.nan, stored_as="", difference=np.nan, tolerance=np.nan,
                             agrees=False, status="not analysed", note=""))
    return pd.DataFrame(rows, columns=COLUMNS)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per analysis: numbers compared, how many agree, RevMan's placeholders, how many differ beyond the
    tolerance, and the largest difference relative to the stored value among those compared."""
    out = []
    for number, part in table.groupby("analysis", sort=False):
        checked = part[part["where"] != "not analysed"]
        real = checked[checked["status"] != "placeholder"]
        rel = (real["difference"].abs() / real["revman"].abs().clip(lower=1e-300)).replace(np.inf, np.nan)
        out.append(dict(analysis=number, compared=len(checked), agree=int((checked["status"] == "agrees").sum()),
                        placeholder=int((checked["status"] == "placeholder").sum()),
                        differ=int((checked["status"] == "differs").sum()),
                        largest_relative_difference=float(rel.max()) if len(real) else np.nan))
    return pd.DataFrame(out, columns=["analysis", "compared", "agree", "placeholder", "differ",
                                      "largest_relative_difference"])
