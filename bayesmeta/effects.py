"""Effect sizes from the tables review authors hold, and the validated `EffectData` container.

Formulas (treatment = arm 1 minus control = arm 2):

* Cohen's d: d = (m1 - m2) / s_p,  s_p^2 = ((n1-1) sd1^2 + (n2-1) sd2^2) / (n1 + n2 - 2).
* Hedges' g (``measure="SMD"``, as metafor ``escalc(measure="SMD")``): g = J(m) d with the exact
  correction J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)), m = n1 + n2 - 2, and
  var(g) = 1/n1 + 1/n2 + g^2 / (2 (n1 + n2))  (metafor's large-sample variance, vtype="LS").
* ``"SMD_RevMan"`` (RevMan 5): g = d (1 - 3 / (4N - 9)), var = N/(n1 n2) + g^2 / (2 (N - 3.94)), N = n1+n2.
* ``"d"`` (Cohen's d, uncorrected): var = 1/n1 + 1/n2 + d^2 / (2 (n1 + n2)).
* ``"MD"``: m1 - m2, var = sd1^2/n1 + sd2^2/n2.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd
from .errors import DataError, DataWarning

MEASURES = ("SMD", "SMD_RevMan", "d", "MD", "generic")
BENEFIT = ("lower", "higher", None)

# Column names recognised when none are given (first match wins).
COMMON_COLUMNS = {
    "study": ["study", "Study", "studlab", "author", "Author", "label", "trial"],
    "y": ["yi", "TE", "g", "y", "smd", "SMD", "es", "effect"],
    "se": ["sei", "seTE", "se_g", "se", "sigmak", "SE"],
    "vi": ["vi", "var", "variance"],
    "n1": ["n1i", "n1", "n_t", "n_arm1", "n.e"],
    "mean1": ["m1i", "m1", "mean1", "mean_t", "mean_arm1", "mean.e"],
    "sd1": ["sd1i", "sd1", "sd_t", "sd_arm1", "sd.e"],
    "n2": ["n2i", "n2", "n_c", "n_arm2", "n.c"],
    "mean2": ["m2i", "m2", "mean2", "mean_c", "mean_arm2", "mean.c"],
    "sd2": ["sd2i", "sd2", "sd_c", "sd_arm2", "sd.c"],
}


def hedges_j(m):
    """Exact small-sample correction J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)), m = n1+n2-2."""
    m = np.asarray(m, dtype=float)
    lgamma = np.vectorize(math.lgamma, otypes=[float])  # stdlib: keeps scipy out of `import bayesmeta`
    return np.exp(lgamma(m / 2) - 0.5 * np.log(m / 2) - lgamma((m - 1) / 2))


def smd_from_summary(n1, mean1, sd1, n2, mean2, sd2, measure="SMD"):
    """Effect and sampling variance for two-arm summaries; see the module docstring for formulas."""
    n1, n2 = np.asarray(n1, float), np.asarray(n2, float)
    diff = np.asarray(mean1, float) - np.asarray(mean2, float)
    sd1, sd2 = np.asarray(sd1, float), np.asarray(sd2, float)
    if measure == "MD":
        return diff, sd1**2 / n1 + sd2**2 / n2
    s_pooled = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / (n1 + n2 - 2))
    return _standardised(diff / s_pooled, n1, n2, measure)


def _standardised(d, n1, n2, measure):
    """Apply the small-sample correction of `measure` to Cohen's d and return (effect, variance)."""
    total = n1 + n2
    if measure == "SMD":
        g = hedges_j(total - 2) * d
        return g, 1 / n1 + 1 / n2 + g**2 / (2 * total)
    if measure == "SMD_RevMan":
        g = d * (1 - 3 / (4 * total - 9))
        return g, total / (n1 * n2) + g**2 / (2 * (total - 3.94))
    if measure == "d":
        return d, 1 / n1 + 1 / n2 + d**2 / (2 * total)
    raise DataError(f"measure {measure!r} is not a standardised mean difference; use one of SMD, SMD_RevMan, d")


def _labels(df: pd.DataFrame, study: str | None) -> np.ndarray:
    if study is None:
        return np.array([f"Study {i + 1}" for i in range(len(df))], dtype=object)
    _require_columns(df, [study])
    col = df[study]
    for i, value in enumerate(col):
        if pd.isna(value) or str(value).strip() == "":
            raise DataError(f"row {i + 1}, column {study!r}: the study label is missing")
    labels = np.array([str(v) for v in col], dtype=object)
    seen = {}
    for i, lab in enumerate(labels):
        if lab in seen:
            raise DataError(
                f"row {i + 1} ({lab!r}), column {study!r}: duplicated study label (also row {seen[lab] + 1}); "
                "give each comparison its own label or select one row per study"
            )
        seen[lab] = i
    return labels


def _require_columns(df: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"column(s) {missing} not found; the table has columns {list(df.columns)}")


def _numeric(df: pd.DataFrame, col: str, labels) -> np.ndarray:
    """The column as floats; DataError naming row and column for text, missing or infinite values."""
    _require_columns(df, [col])
    values = np.empty(len(df))
    for i, (lab, raw) in enumerate(zip(labels, df[col])):
        where = f"row {i + 1} ({lab!r}), column {col!r}"
        if raw is None or (isinstance(raw, float) and np.isnan(raw)) or (isinstance(raw, str) and raw.strip() == ""):
            raise DataError(f"{where}: value is missing")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise DataError(f"{where}: {raw!r} is not a number") from None
        if np.isnan(value):
            raise DataError(f"{where}: value is missing (NaN)")
        if not np.isfinite(value):
            raise DataError(f"{where}: value is infinite")
        values[i] = value
    return values


def _positive(values, col, labels, what="must be > 0"):
    for i, (lab, v) in enumerate(zip(labels, values)):
        if not v > 0:
            raise DataError(f"row {i + 1} ({lab!r}), column {col!r}: {v!r} {what}")
    return values


def _group_size(df, col, labels):
    n = _numeric(df, col, labels)
    for i, (lab, v) in enumerate(zip(labels, n)):
        where = f"row {i + 1} ({lab!r}), column {col!r}"
        if v != np.round(v):
            raise DataError(f"{where}: group size {v!r} is not a whole number")
        if v < 2:
            raise DataError(f"{where}: group size {v:g} is below 2; an SD needs at least two participants")
    return n


def _check_benefit(benefit):
    if benefit not in BENEFIT:
        raise DataError(f"benefit must be 'lower' or 'higher' (the direction of a favourable effect), not {benefit!r}")
    return benefit


def _moderators(df, moderators, labels):
    if not moderators:
        return pd.DataFrame(index=pd.Index(labels, name="study"))
    _require_columns(df, list(moderators))
    mods = df[list(moderators)].copy()
    mods.index = pd.Index(labels, name="study")
    for col in mods.columns:
        for i, (lab, v) in enumerate(zip(labels, mods[col])):
            if pd.isna(v):
                raise DataError(f"row {i + 1} ({lab!r}), column {col!r}: moderator value is missing")
    return mods


def benefit_sign(benefit) -> int:
    """-1 where lower values favour the intervention ("lower"), +1 otherwise."""
    return -1 if benefit == "lower" else 1


def benefit_operator(benefit) -> str:
    """The comparison that means benefit: "<" for benefit "lower", ">" otherwise."""
    return "<" if benefit == "lower" else ">"


def guess_column(df: pd.DataFrame, role: str) -> str | None:
    """The first of the common names for `role` (see COMMON_COLUMNS) that `df` has, else None."""
    return next((c for c in COMMON_COLUMNS[role] if c in df.columns), None)


@dataclass(frozen=True)
class EffectData:
    """Per-study effects y with standard errors se, in input order.

    Build with `from_dataframe` (effects given), `from_summary` (two-arm means, SDs and sizes),
    `from_t_statistic` or `from_estimate_ci`; `benefit` says which direction of the effect is
    favourable ("lower": negative effects favour treatment, as for pain scores).
    """

    y: np.ndarray
    se: np.ndarray
    study: np.ndarray
    measure: str = "SMD"
    benefit: str | None = None
    moderators: pd.DataFrame = field(default_factory=pd.DataFrame)
    arms: pd.DataFrame | None = None  # n1, mean1, sd1, n2, mean2, sd2 when built from summaries
    outcome: str = "effect"

    def __post_init__(self):
        if len(self.y) == 0:
            raise DataError("the table is empty: no studies to pool")
        _check_benefit(self.benefit)

    @property
    def vi(self) -> np.ndarray:
        """Sampling variances se^2."""
        return self.se**2

    @property
    def k(self) -> int:
        """Number of studies."""
        return len(self.y)

    def __len__(self):
        return self.k

    def __repr__(self):
        benefit = f", benefit={self.benefit!r}" if self.benefit else ""
        return f"EffectData(k={self.k}, measure={self.measure!r}{benefit})"

    def to_dataframe(self) -> pd.DataFrame:
        """One row per study: study, y, se, vi, then arm summaries and moderators where present."""
        out = pd.DataFrame({"study": self.study, "y": self.y, "se": self.se, "vi": self.vi})
        if self.arms is not None:
            out = pd.concat([out, self.arms.reset_index(drop=True)], axis=1)
        if len(self.moderators.columns):
            out = pd.concat([out, self.moderators.reset_index(drop=True)], axis=1)
        return out

    def take(self, index) -> "EffectData":
        """The studies at integer positions `index`, in that order."""
        index = np.asarray(index, int)
        mods = (self.moderators.iloc[index] if len(self.moderators.columns)
                else pd.DataFrame(index=pd.Index(self.study[index], name="study")))
        return EffectData(y=self.y[index], se=self.se[index], study=self.study[index], measure=self.measure,
                          benefit=self.benefit, moderators=mods,
                          arms=None if self.arms is None else self.arms.iloc[index].reset_index(drop=True),
                          outcome=self.outcome)

    def subset(self, mask) -> "EffectData":
        """The studies where boolean `mask` is true (e.g. for leave-one-out)."""
        return self.take(np.flatnonzero(np.asarray(mask, bool)))

    @staticmethod
    def concat(parts, order=None) -> "EffectData":
        """Studies of several EffectData (same measure) in one, optionally re-ordered by positions `order`."""
        first = parts[0]
        if any(p.measure != first.measure or p.benefit != first.benefit for p in parts):
            raise DataError("cannot combine effect data of different measures or benefit directions")
        arms = [p.arms if p.arms is not None else pd.DataFrame(index=range(p.k)) for p in parts]
        combined = EffectData(
            y=np.concatenate([p.y for p in parts]), se=np.concatenate([p.se for p in parts]),
            study=np.concatenate([p.study for p in parts]), measure=first.measure, benefit=first.benefit,
            moderators=pd.concat([p.moderators for p in parts]),
            arms=None if all(p.arms is None for p in parts) else pd.concat(arms, ignore_index=True),
            outcome=first.outcome)
        if len(set(combined.study)) < combined.k:
            raise DataError("duplicated study labels across the combined tables")
        return combined if order is None else combined.take(order)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataframe(cls, df: pd.DataFrame, y: str = "yi", se: str | None = None, vi: str | None = None,
                       study: str | None = None, measure: str = "SMD", benefit: str | None = None,
                       moderators=None, outcome: str = "effect") -> "EffectData":
        """Effects in column `y` with standard errors `se` or variances `vi` (exactly one of them)."""
        _check_df(df)
        if (se is None) == (vi is None):
            raise DataError("give exactly one of se= (standard errors) or vi= (sampling variances)")
        labels = _labels(df, study)
        yv = _numeric(df, y, labels)
        if se is not None:
            sev = _positive(_numeric(df, se, labels), se, labels, "is not a valid standard error (must be > 0)")
        else:
            sev = np.sqrt(_positive(_numeric(df, vi, labels), vi, labels, "is not a valid variance (must be > 0)"))
        return cls(yv, sev, labels, measure, _check_benefit(benefit), _moderators(df, moderators, labels),
                   outcome=outcome)

    @classmethod
    def from_summary(cls, df: pd.DataFrame, n1="n1", mean1="mean1", sd1="sd1", n2="n2", mean2="mean2",
                     sd2="sd2", study: str | None = None, measure: str = "SMD", benefit: str | None = None,
                     moderators=None, outcome: str = "effect") -> "EffectData":
        """Effects from two-arm means, SDs and group sizes (arm 1 = treatment, arm 2 = control)."""
        _check_df(df)
        if measure not in ("SMD", "SMD_RevMan", "d", "MD"):
            raise DataError(f"measure must be one of SMD, SMD_RevMan, d, MD for summary data, not {measure!r}")
        labels = _labels(df, study)
        arms = {}
        for role, col in (("n1", n1), ("n2", n2)):
            arms[role] = _group_size(df, col, labels)
        for role, col in (("mean1", mean1), ("mean2", mean2)):
            arms[role] = _numeric(df, col, labels)
        for role, col in (("sd1", sd1), ("sd2", sd2)):
            arms[role] = _positive(_numeric(df, col, labels), col, labels, "is not a valid SD (must be > 0)")
        yv, var = smd_from_summary(arms["n1"], arms["mean1"], arms["sd1"], arms["n2"], arms["mean2"],
                                   arms["sd2"], measure)
        _warn_sd_like_se(arms, labels, yv, (sd1, sd2), measure)
        arms_df = pd.DataFrame({k: arms[k] for k in ("n1", "mean1", "sd1", "n2", "mean2", "sd2")})
        return cls(yv, np.sqrt(var), labels, measure, _check_benefit(benefit), _moderators(df, moderators, labels),
                   arms=arms_df, outcome=outcome)

    @classmethod
    def from_t_statistic(cls, df: pd.DataFrame, t="t", n1="n1", n2="n2", study=None, measure="SMD",
                         benefit=None, moderators=None, outcome="effect") -> "EffectData":
        """Effects from an independent-samples t statistic: d = t sqrt(1/n1 + 1/n2), then as `measure`."""
        _check_df(df)
        labels = _labels(df, study)
        tv = _numeric(df, t, labels)
        nv1, nv2 = _group_size(df, n1, labels), _group_size(df, n2, labels)
        yv, var = _standardised(tv * np.sqrt(1 / nv1 + 1 / nv2), nv1, nv2, measure)
        return cls(yv, np.sqrt(var), labels, measure, _check_benefit(benefit), _moderators(df, moderators, labels),
                   outcome=outcome)

    @classmethod
    def from_estimate_ci(cls, df: pd.DataFrame, estimate="estimate", lower="lower", upper="upper", level=0.95,
                         study=None, measure="SMD", benefit=None, moderators=None, outcome="effect") -> "EffectData":
        """Effects from an estimate and its symmetric CI: se = (upper - lower) / (2 z_{(1+level)/2})."""
        _check_df(df)
        labels = _labels(df, study)
        est, lo, hi = (_numeric(df, c, labels) for c in (estimate, lower, upper))
        for i, lab in enumerate(labels):
            if not lo[i] < est[i] < hi[i]:
                raise DataError(f"row {i + 1} ({lab!r}), columns {lower!r}/{upper!r}: the interval "
                                f"[{lo[i]}, {hi[i]}] does not contain the estimate {est[i]}")
        se = (hi - lo) / (2 * NormalDist().inv_cdf((1 + level) / 2))
        return cls(est, se, labels, measure, _check_benefit(benefit), _moderators(df, moderators, labels),
                   outcome=outcome)

    @classmethod
    def from_table(cls, df: pd.DataFrame, **columns) -> "EffectData":
        """Pick the constructor from the columns given or recognised (see COMMON_COLUMNS).

        Keywords: y, se, vi, n1, mean1, sd1, n2, mean2, sd2, study, measure, benefit, moderators.
        Given effect columns win over summaries; a missing role is looked up among the common names.
        """
        opts = {k: columns.pop(k) for k in ("measure", "benefit", "moderators", "outcome") if columns.get(k) is not None}
        cols = {k: v for k, v in columns.items() if v is not None}
        study = cols.get("study") or guess_column(df, "study")
        arm_roles = ("n1", "mean1", "sd1", "n2", "mean2", "sd2")
        if "y" in cols or not any(r in cols for r in arm_roles):
            y = cols.get("y") or guess_column(df, "y")
            se, vi = cols.get("se"), cols.get("vi")
            if se is None and vi is None:
                se = guess_column(df, "se")
                vi = None if se else guess_column(df, "vi")
            if y is not None and (se is not None or vi is not None):
                return cls.from_dataframe(df, y=y, se=se, vi=vi, study=study, **opts)
        arms = {r: cols.get(r) or guess_column(df, r) for r in arm_roles}
        if all(arms.values()):
            return cls.from_summary(df, study=study, **arms, **opts)
        raise DataError(
            "could not tell which columns hold the effects: give y with se or vi, or n1, mean1, sd1, n2, mean2, "
            f"sd2 (the table has columns {list(df.columns)})")


def _check_df(df):
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if len(df) == 0:
        raise DataError("the table is empty: no studies to pool")


def _warn_sd_like_se(arms, labels, effect, sd_cols, measure):
    """Warn when an SD looks like a standard error: arms' SDs differ by about sqrt(n), or |SMD| > 3."""
    ratio = np.maximum(arms["sd1"], arms["sd2"]) / np.minimum(arms["sd1"], arms["sd2"])
    n_small = np.minimum(arms["n1"], arms["n2"])
    for i, lab in enumerate(labels):
        odd_ratio = n_small[i] >= 10 and ratio[i] > 0.7 * np.sqrt(n_small[i]) and ratio[i] > 3
        huge = measure != "MD" and abs(effect[i]) > 3
        if odd_ratio or huge:
            why = (f"the arms' SDs differ by a factor of {ratio[i]:.1f}" if odd_ratio
                   else f"the standardised effect is {effect[i]:.2f}")
            warnings.warn(f"row {i + 1} ({lab!r}), columns {sd_cols[0]!r}/{sd_cols[1]!r}: {why}; "
                          "check that these are SDs and not standard errors (SD = SE * sqrt(n))",
                          DataWarning, stacklevel=3)
