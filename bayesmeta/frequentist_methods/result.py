"""The result of a frequentist meta-analysis, meta-regression or subgroup analysis (one type for all three)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError

NAN = float("nan")
# Fields that exist for every model; the plain (intercept-only) result reports exactly these in to_dict().
_PLAIN = ("k", "method", "ci", "mu", "se", "lower", "upper", "pvalue", "tau2", "tau2_lower", "tau2_upper", "I2",
          "I2_lower", "I2_upper", "H2", "H2_lower", "H2_upper", "Q", "Q_pvalue", "pi_lower", "pi_upper",
          "prediction", "level", "measure", "preset", "notes")
_REGRESSION = ("k", "method", "ci", "level", "moderators", "QM", "QM_df", "QM_pvalue", "QE", "QE_df", "QE_pvalue",
               "tau2", "tau2_lower", "tau2_upper", "I2", "H2", "R2", "measure", "preset", "notes", "dropped")
_SUBGROUP = ("subgroup", "subgroup_tau", "Q_between", "Q_between_df", "Q_between_pvalue")


class PooledOnly:
    """Defaults, for a result with one pooled estimate and no moderators or subgroups (three-level, t effects),
    of the fields that the comparison and the report read from every frequentist result."""

    subgroups = None
    is_regression = False
    preset = None


@dataclass
class FrequentistResult:
    """One frequentist meta-analysis. Intervals are 95% (or `level`); `ci` says z or Knapp-Hartung.

    Every result carries its coefficient table (`coefficients`: estimate, se, statistic, pvalue, lower, upper by
    term), as metafor's `rma()` does: without moderators one row, "intercept", equal to mu. With moderators
    (`moderators` holds the formula) mu, se, lower, upper, pvalue and the prediction interval are NaN (there is no
    single pooled effect; see `coefficients` and `predict()`), Q is Q_E, and QM tests the moderators. With
    `subgroup`, the top-level fields are the pooled result over all studies (RevMan's "Total") and `subgroups`
    holds one row per subgroup, with the test for subgroup differences in Q_between.
    """

    k: int
    method: str
    ci: str
    mu: float
    se: float
    lower: float
    upper: float
    pvalue: float
    tau2: float
    tau2_lower: float
    tau2_upper: float
    I2: float
    I2_lower: float
    I2_upper: float
    H2: float
    H2_lower: float
    H2_upper: float
    Q: float
    Q_pvalue: float
    pi_lower: float
    pi_upper: float
    prediction: str | None
    level: float
    weights: pd.Series = field(repr=False)
    measure: str = "SMD"
    preset: str | None = None
    notes: list = field(default_factory=list)
    # meta-regression (the intercept-only model has them too: one coefficient, QM its squared z or F)
    coefficients: pd.DataFrame | None = field(default=None, repr=False)
    vcov: pd.DataFrame | None = field(default=None, repr=False)
    moderators: str | None = None
    QM: float = NAN
    QM_df: int | tuple | None = None
    QM_pvalue: float = NAN
    QE: float = NAN
    QE_df: int | None = None
    QE_pvalue: float = NAN
    R2: float | None = None
    dropped: tuple = ()
    design: object = field(default=None, repr=False)
    # subgroup analysis
    subgroup: str | None = None
    subgroup_tau: str | None = None
    subgroups: pd.DataFrame | None = field(default=None, repr=False)
    Q_between: float = NAN
    Q_between_df: int | None = None
    Q_between_pvalue: float = NAN

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2)

    @property
    def tau_lower(self) -> float:
        return math.sqrt(self.tau2_lower) if np.isfinite(self.tau2_lower) else float("nan")

    @property
    def tau_upper(self) -> float:
        return math.sqrt(self.tau2_upper) if np.isfinite(self.tau2_upper) else float("nan")

    @property
    def label(self) -> str:
        """Short name, e.g. 'REML + HKSJ' or 'RevMan 5 (DL, z)'."""
        base = f"{self.method}{' + HKSJ' if self.ci == 'hksj' else ''}"
        return {"revman5": f"RevMan 5 ({base})", "cochrane": f"Cochrane ({base})"}.get(self.preset, base)

    @property
    def is_regression(self) -> bool:
        return self.moderators is not None

    # ------------------------------------------------------------------ prediction at moderator values
    def predict(self, newmods=None) -> pd.DataFrame:
        """The mean effect at moderator values (a dict or DataFrame, coded as the formula), with its CI and the
        prediction interval for a new study there (metafor `predict(res, newmods=)`): columns pred, se, lower,
        upper, pi_lower, pi_upper. Without moderators: the pooled effect, one row."""
        b = self.coefficients["estimate"].to_numpy()
        if self.design is None:
            if newmods is not None:
                raise DataError("this model has no moderators; call predict() without values")
            X = np.ones((1, 1))
        else:
            if newmods is None:
                raise DataError(f"give moderator values for {list(self.design.columns)}, e.g. "
                                f"predict({{{self.design.columns[0]!r}: ...}})")
            X = self.design.matrix(newmods)
        pred = X @ b
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, self.vcov.to_numpy(), X))
        df = self.k - len(b)
        dist = stats.t(df) if self.ci == "hksj" else stats.norm()
        crit = dist.ppf(0.5 + self.level / 2)
        half_pi = crit * np.sqrt(se**2 + self.tau2)
        return pd.DataFrame(dict(pred=pred, se=se, lower=pred - crit * se, upper=pred + crit * se,
                                 pi_lower=pred - half_pi, pi_upper=pred + half_pi))

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """The JSON keys of the command line (plus tau, CIs of I2/H2, weights in percent, notes).

        With moderators: k, method, moderators, coefficients {term: {estimate, se, statistic, pvalue, lower,
        upper}}, QM, QM_df, QM_pvalue, QE, QE_df, QE_pvalue, tau2 (and its CI), I2, H2, R2, dropped, ...
        With a subgroup: the plain keys plus subgroup, subgroup_tau, subgroups {group: {...}}, Q_between, ..."""
        keys = _REGRESSION if self.is_regression else _PLAIN
        if self.subgroup is not None:
            keys = keys + _SUBGROUP
        out = {k: getattr(self, k) for k in keys}
        out.update(tau=self.tau, weights=self.weights.to_dict())
        if self.is_regression:
            out["coefficients"] = _frame_dict(self.coefficients)
        if self.subgroups is not None:
            out["subgroups"] = _frame_dict(self.subgroups)
        return json_safe(out)

    def __repr__(self) -> str:
        if self.is_regression:
            return self._repr_regression()
        pct = int(round(self.level * 100))
        ci = "Knapp-Hartung t" if self.ci == "hksj" else "Wald z"
        lines = [
            f"Frequentist meta-analysis: {self.label}, k = {self.k}",
            f"  mu    = {self.mu:.4f} (SE {self.se:.4f}), {pct}% CI [{self.lower:.4f}, {self.upper:.4f}] "
            f"({ci}), p = {self.pvalue:.4g}",
        ]
        if self.k == 1:
            lines.append("  heterogeneity (tau^2, I^2, Q) cannot be estimated from one study")
        else:
            if self.method != "FE":
                lines.append(f"  tau^2 = {self.tau2:.4f}, {pct}% CI [{_fmt(self.tau2_lower, '.4f')}, "
                             f"{_fmt(self.tau2_upper, '.4f')}] (Q-profile); tau = {self.tau:.4f}")
            lines.append(f"  I^2   = {self.I2:.1f}%, H^2 = {self.H2:.2f}; Q = {self.Q:.2f} (df = {self.k - 1}), "
                         f"p = {self.Q_pvalue:.4g}")
        if self.prediction:
            lines.append(f"  {pct}% prediction interval [{self.pi_lower:.4f}, {self.pi_upper:.4f}] "
                         f"({ {'z': 'normal', 't': 't(k-1)', 'hts': 't(k-2)'}[self.prediction] })")
        if self.subgroups is not None:
            lines += self._repr_subgroups(pct)
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_regression(self) -> str:
        pct = int(round(self.level * 100))
        lines = [f"Frequentist meta-regression: {self.label}, k = {self.k}, moderators {self.moderators}"]
        if self.method != "FE":
            lines.append(f"  tau^2 (residual) = {_fmt(self.tau2, '.4f')}, {pct}% CI [{_fmt(self.tau2_lower, '.4f')}, "
                         f"{_fmt(self.tau2_upper, '.4f')}] (Q-profile); tau = {_fmt(self.tau, '.4f')}")
        r2 = "" if self.R2 is None else f"; R^2 = {_fmt(self.R2, '.1f')}% of tau^2 explained"
        lines.append(f"  I^2 (residual) = {_fmt(self.I2, '.1f')}%, H^2 = {_fmt(self.H2, '.2f')}{r2}")
        lines.append(f"  Test for residual heterogeneity: QE = {_fmt(self.QE, '.2f')} (df = {self.QE_df}), "
                     f"p = {_fmt(self.QE_pvalue, '.4g')}")
        if isinstance(self.QM_df, tuple):
            qm = f"F({self.QM_df[0]}, {self.QM_df[1]}) = {_fmt(self.QM, '.3f')}"
        else:
            qm = f"QM = {_fmt(self.QM, '.3f')} (df = {self.QM_df})"
        lines.append(f"  Test of moderators: {qm}, p = {_fmt(self.QM_pvalue, '.4g')}")
        stat = "t" if self.ci == "hksj" else "z"
        table = self.coefficients.rename(columns={"statistic": stat})
        kind = f"Knapp-Hartung t({self.QE_df})" if stat == "t" else "Wald z"
        lines.append(f"  Coefficients ({pct}% CI, {kind}):")
        lines += ["    " + row for row in _format_table(table).splitlines()]
        if self.dropped:
            rows = "; ".join(f"row {r} ({s!r}, {c})" for r, s, c in self.dropped)
            lines.append(f"  dropped (missing moderator): {rows}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_subgroups(self, pct) -> list[str]:
        tau = ("separate tau^2 per subgroup" if self.subgroup_tau == "separate"
               else "common tau^2 (mixed-effects model)")
        lines = [f"  Subgroups by {self.subgroup!r} ({tau}; {pct}% CI):"]
        lines += ["    " + row for row in _format_table(self.subgroups).splitlines()]
        q, df = self.Q_between, self.Q_between_df
        i2 = max(0.0, 100 * (q - df) / q) if q > 0 else 0.0
        lines.append(f"  Test for subgroup differences: Chi^2 = {_fmt(q, '.2f')}, df = {df} "
                     f"(p = {_fmt(self.Q_between_pvalue, '.4g')}), I^2 = {i2:.1f}%")
        return lines


def _fmt(x, spec) -> str:
    """A number, or an en dash where there is none (never 'nan')."""
    if x is None or (isinstance(x, (float, np.floating)) and not np.isfinite(x)):
        return "–"
    return format(x, spec)


def _format_table(frame: pd.DataFrame) -> str:
    shown = frame.copy().astype(object)
    shown.index.name = None  # the heading above the table names it
    for col in frame.columns:
        spec = {"k": "d", "I2": ".1f", "Q": ".2f"}.get(col, ".4g" if "pvalue" in col else ".4f")
        shown[col] = [_fmt(int(x) if spec == "d" else x, spec) for x in frame[col]]
    return shown.to_string()


def _frame_dict(frame: pd.DataFrame) -> dict:
    return {str(idx): {col: row[col] for col in frame.columns} for idx, row in frame.iterrows()}


def json_safe(value):
    """NaN and infinities as None, numpy scalars as Python values, tuples as lists, recursively (for JSON)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    return value


def warn_one_study_subgroup(group, column) -> None:
    """The one warning for a subgroup of one study in a frequentist subgroup analysis (RevMan, metafor), pointing
    at the user's line."""
    import warnings

    from ..errors import PACKAGE_DIR, EstimationWarning

    warnings.warn(f"frequentist subgroup analysis: subgroup {group!r} of {column!r} has one study: its subtotal is "
                  "that study's own estimate and interval (no heterogeneity to estimate there)", EstimationWarning,
                  skip_file_prefixes=PACKAGE_DIR)
