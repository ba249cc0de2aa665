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

from .columns import (
    _check_benefit,
    _check_df,
    _check_listed,
    _check_precision,
    _cluster_column,
    _cluster_labels,
    _covariates,
    _group_size,
    _is_missing,
    _labels,
    _moderator_list,
    _numeric,
    _positive,
    _unique_labels,
)
from .errors import PACKAGE_DIR, DataError, DataWarning, plain

MEASURES = ("SMD", "SMD_RevMan", "d", "MD", "logOR", "logRR", "RD", "generic")  # 2x2 measures: bayesmeta.binary


STANDARDISED = ("SMD", "SMD_RevMan", "d")  # scale-free: one default prior and Cohen's benchmarks fit all


ARM_ROLES = ("n1", "mean1", "sd1", "n2", "mean2", "sd2")  # two-arm summaries, arm 1 = treatment


# Column names recognised when none are given (first match wins).
COMMON_COLUMNS = {
    "study": ["study", "Study", "studlab", "author", "Author", "label", "trial"],
    "y": ["yi", "TE", "g", "y", "smd", "SMD", "es", "effect"],
    "se": ["sei", "seTE", "se_g", "se", "sigmak", "SE"],
    "vi": ["vi", "var", "variance"],
    "n": ["ni", "n", "N", "n_total"],
    "n1": ["n1i", "n1", "n_t", "n_arm1", "n.e"],
    "mean1": ["m1i", "m1", "mean1", "mean_t", "mean_arm1", "mean.e"],
    "sd1": ["sd1i", "sd1", "sd_t", "sd_arm1", "sd.e"],
    "n2": ["n2i", "n2", "n_c", "n_arm2", "n.c"],
    "mean2": ["m2i", "m2", "mean2", "mean_c", "mean_arm2", "mean.c"],
    "sd2": ["sd2i", "sd2", "sd_c", "sd_arm2", "sd.c"],
}


def hedges_j(m):
    """Exact small-sample correction J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)), m = n1+n2-2.

    For m >= 100 the difference of log-gammas loses digits (and all of them beyond m ~ 1e15), so there
    J comes from Stirling's series written without cancellation (relative error below 1e-13 for any m)."""
    m = np.asarray(m, dtype=float)
    lgamma = np.vectorize(math.lgamma, otypes=[float])  # stdlib: keeps scipy out of `import bayesmeta`
    small = np.where(m < 100, m, 3.0)
    direct = np.exp(lgamma(small / 2) - 0.5 * np.log(small / 2) - lgamma((small - 1) / 2))
    x = np.where(m < 100, 100.0, m) / 2

    def series(z):  # Stirling's correction 1/(12z) - 1/(360z^3) + 1/(1260z^5) - 1/(1680z^7)
        u = 1 / z
        return u * (1 / 12 - u**2 * (1 / 360 - u**2 * (1 / 1260 - u**2 / 1680)))

    stirling = np.exp(-(x - 1) * np.log1p(-1 / (2 * x)) - 0.5 + series(x) - series(x - 0.5))
    return np.where(m < 100, direct, stirling)


def smd_from_summary(n1, mean1, sd1, n2, mean2, sd2, measure="SMD"):
    """Effect and sampling variance for two-arm summaries; see the module docstring for formulas.
    The pooled SD is computed relative to the larger SD, so that SDs near the ends of the float range
    (1e-300, 1e200) give the right standardised effect instead of 0/0."""
    n1, n2 = np.asarray(n1, float), np.asarray(n2, float)
    with np.errstate(over="ignore", invalid="ignore"):
        diff = np.asarray(mean1, float) - np.asarray(mean2, float)
    sd1, sd2 = np.asarray(sd1, float), np.asarray(sd2, float)
    if measure == "MD":
        with np.errstate(over="ignore", under="ignore"):
            return diff, sd1**2 / n1 + sd2**2 / n2
    big = np.maximum(sd1, sd2)
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        s_pooled = big * np.sqrt(((n1 - 1) * (sd1 / big) ** 2 + (n2 - 1) * (sd2 / big) ** 2) / (n1 + n2 - 2))
        d = diff / s_pooled
    return _standardised(d, n1, n2, measure)


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


def _check_measure(measure, allowed=MEASURES):
    if measure not in allowed:
        raise DataError(f"measure must be one of {', '.join(allowed)}, not {measure!r} (other effects on an additive "
                        "scale, such as log hazard ratios, are 'generic')")
    return measure


def benefit_sign(benefit) -> int:
    """-1 where lower values favour the intervention ("lower"), +1 otherwise."""
    return -1 if benefit == "lower" else 1


def benefit_operator(benefit) -> str:
    """The comparison that means benefit: "<" for benefit "lower", ">" otherwise."""
    return "<" if benefit == "lower" else ">"


def guess_column(df: pd.DataFrame, role: str) -> str | None:
    """The first of the common names for `role` (see COMMON_COLUMNS) that `df` has, else None."""
    return next((c for c in COMMON_COLUMNS[role] if c in df.columns), None)


def _floats(values, field_name, k=None) -> np.ndarray:
    try:
        out = np.array(values, dtype=float).reshape(-1) if np.ndim(values) <= 1 else None
    except (TypeError, ValueError):
        raise DataError(f"EffectData field {field_name!r}: not a sequence of numbers") from None
    if out is None:
        raise DataError(f"EffectData field {field_name!r}: give one value per study (a flat sequence)")
    if k is not None and len(out) != k:
        raise DataError(f"EffectData field {field_name!r} has {len(out)} values for {k} studies")
    return out


@dataclass(frozen=True)
class EffectData:
    """Per-study effects y with standard errors se, in input order.

    Build with `from_dataframe` (effects given), `from_summary` (two-arm means, SDs and sizes),
    `from_t_statistic` or `from_estimate_ci`; `benefit` says which direction of the effect is
    favourable ("lower": negative effects favour treatment, as for pain scores).

    `moderators` holds the covariates: every other column of the input table, indexed by study label, so
    that a meta-regression can name any of them later (`bm.fit(data, moderators="~ weeks")`);
    `moderator_names` are those listed at construction, checked there for missing values. `n` is the total
    sample size of each study where known (it scales the default tau prior of unstandardised measures).
    Built directly, the fields are checked as the constructors check them (DataError naming row and field).
    """

    y: np.ndarray
    se: np.ndarray
    study: np.ndarray
    measure: str = "SMD"
    benefit: str | None = None
    moderators: pd.DataFrame = field(default_factory=pd.DataFrame)
    arms: pd.DataFrame | None = None  # n1, mean1, sd1, n2, mean2, sd2 when built from summaries
    outcome: str = "effect"
    n: np.ndarray | None = None
    moderator_names: tuple = ()
    cluster: np.ndarray | None = None  # the trial (or other cluster) of each effect, for multilevel models

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 - frozen dataclass
        y = _floats(self.y, "y")
        if len(y) == 0:
            raise DataError("the table is empty: no studies to pool")
        se = _floats(self.se, "se", len(y))
        study = list(self.study) if np.ndim(self.study) == 1 else None
        if study is None or len(study) != len(y):
            raise DataError(f"EffectData field 'study' must hold one label per study ({len(y)})")
        for i, lab in enumerate(study):
            if _is_missing(lab) or not str(lab).strip():
                raise DataError(f"row {i + 1}, field 'study': the study label is missing or empty ({lab!r})")
        labels = _unique_labels([str(lab) for lab in study], "field 'study'")
        for i, lab in enumerate(labels):
            where = f"row {i + 1} ({lab!r}), field"
            if not np.isfinite(y[i]):
                raise DataError(f"{where} 'y': the effect {float(y[i])!r} is not a finite number")
            if not (np.isfinite(se[i]) and se[i] > 0):
                raise DataError(f"{where} 'se': the standard error {float(se[i])!r} must be a finite number > 0")
        _check_precision(y, se, labels)
        _check_measure(self.measure)
        _check_benefit(self.benefit)
        if self.n is not None:
            n = _floats(self.n, "n", len(y))
            for i, lab in enumerate(labels):
                if not (np.isfinite(n[i]) and n[i] >= 1):
                    raise DataError(f"row {i + 1} ({lab!r}), field 'n': the sample size {n[i]!r} must be >= 1")
            set_("n", n)
        mods = self.moderators
        if not isinstance(mods, pd.DataFrame):
            raise DataError("EffectData field 'moderators' must be a DataFrame (one row per study)")
        if len(mods.columns) == 0 and len(mods) == 0:
            mods = pd.DataFrame(index=pd.Index(labels, name="study"))
        elif len(mods) != len(y):
            raise DataError(f"EffectData field 'moderators' has {len(mods)} rows for {len(y)} studies")
        else:
            mods = mods.copy()
            mods.index = pd.Index(labels, name="study")
        names = _moderator_list(self.moderator_names)
        _check_listed(mods, names, labels)
        if self.arms is not None and len(self.arms) != len(y):
            raise DataError(f"EffectData field 'arms' has {len(self.arms)} rows for {len(y)} studies")
        set_("y", y), set_("se", se), set_("study", labels), set_("moderators", mods), set_("moderator_names", names)
        if self.cluster is not None:
            set_("cluster", _cluster_labels(self.cluster, labels, "field 'cluster'"))

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

    def to_dataframe(self, covariates: bool = True) -> pd.DataFrame:
        """One row per study: study, y, se, vi, n (where known), the arm summaries where present, then the
        covariates (all of them, or with covariates=False only the listed moderators). A covariate named
        like one of the first columns is left out."""
        out = pd.DataFrame({"study": self.study, "y": self.y, "se": self.se, "vi": self.vi})
        if self.cluster is not None:
            out.insert(1, "cluster", self.cluster)
        if self.n is not None:
            out["n"] = self.n
        if self.arms is not None:
            out = pd.concat([out, self.arms.reset_index(drop=True)], axis=1)
        cols = list(self.moderators.columns) if covariates else list(self.moderator_names)
        cols = [c for c in cols if c not in out.columns]
        if cols:
            out = pd.concat([out, self.moderators[cols].reset_index(drop=True)], axis=1)
        return out

    def take(self, index) -> "EffectData":
        """The studies at integer positions `index`, in that order."""
        index = np.asarray(index, int)
        return EffectData(y=self.y[index], se=self.se[index], study=self.study[index], measure=self.measure,
                          benefit=self.benefit, moderators=self.moderators.iloc[index],
                          arms=None if self.arms is None else self.arms.iloc[index].reset_index(drop=True),
                          outcome=self.outcome, n=None if self.n is None else self.n[index],
                          moderator_names=self.moderator_names,
                          cluster=None if self.cluster is None else self.cluster[index])

    def subset(self, mask) -> "EffectData":
        """The studies where boolean `mask` is true (e.g. for leave-one-out)."""
        return self.take(np.flatnonzero(np.asarray(mask, bool)))

    @staticmethod
    def concat(parts, order=None) -> "EffectData":
        """Studies of several EffectData (same measure) in one, optionally re-ordered by positions `order`.
        Covariates are combined by name (missing where a part lacks one); sizes are kept if all parts have them."""
        first = parts[0]
        if any(p.measure != first.measure or p.benefit != first.benefit for p in parts):
            raise DataError("cannot combine effect data of different measures or benefit directions")
        labels = np.concatenate([p.study for p in parts])
        _unique_labels(list(labels), "combined tables")
        arms = [p.arms if p.arms is not None else pd.DataFrame(index=range(p.k)) for p in parts]
        names = tuple(dict.fromkeys(n for p in parts for n in p.moderator_names))
        combined = EffectData(
            y=np.concatenate([p.y for p in parts]), se=np.concatenate([p.se for p in parts]), study=labels,
            measure=first.measure, benefit=first.benefit, moderators=pd.concat([p.moderators for p in parts]),
            arms=None if all(p.arms is None for p in parts) else pd.concat(arms, ignore_index=True),
            outcome=first.outcome, n=None if any(p.n is None for p in parts) else np.concatenate([p.n for p in parts]),
            moderator_names=names,
            cluster=None if any(p.cluster is None for p in parts) else np.concatenate([p.cluster for p in parts]))
        return combined if order is None else combined.take(order)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_dataframe(cls, df: pd.DataFrame, y: str = "yi", se: str | None = None, vi: str | None = None,
                       study: str | None = None, measure: str = "SMD", benefit: str | None = None,
                       moderators=None, outcome: str = "effect", n=None, cluster: str | None = None) -> "EffectData":
        """Effects in column `y` with standard errors `se` or variances `vi` (exactly one of them).

        n: the column of total sample sizes, or a pair of columns (n1, n2) whose sum it is (optional; the
        default tau prior of unstandardised measures is scaled by them). Every other column is kept as a
        covariate; `moderators` (a column or list of columns) must be complete. cluster: the column that groups
        several effects of one trial (multilevel models); without `study` the effects are then labelled
        "<cluster> #1", "<cluster> #2", ..."""
        _check_df(df)
        _check_measure(measure)
        if (se is None) == (vi is None):
            raise DataError("give exactly one of se= (standard errors) or vi= (sampling variances)")
        labels = _labels(df, study, cluster)
        yv = _numeric(df, y, labels)
        if se is not None:
            sev = _positive(_numeric(df, se, labels), se, labels, "is not a valid standard error (must be > 0)")
        else:
            sev = np.sqrt(_positive(_numeric(df, vi, labels), vi, labels, "is not a valid variance (must be > 0)"))
        _check_precision(yv, sev, labels, y, se or vi)
        n_cols = (n,) if isinstance(n, str) or n is None else tuple(n)
        sizes = None if n is None else sum(_group_size(df, c, labels, smallest=1) for c in n_cols)
        return cls(yv, sev, labels, measure, _check_benefit(benefit),
                   _covariates(df, labels, (study, y, se, vi, *n_cols, cluster), moderators), outcome=outcome, n=sizes,
                   moderator_names=_moderator_list(moderators), cluster=_cluster_column(df, cluster, labels))

    @classmethod
    def from_summary(cls, df: pd.DataFrame, n1="n1", mean1="mean1", sd1="sd1", n2="n2", mean2="mean2",
                     sd2="sd2", study: str | None = None, measure: str = "SMD", benefit: str | None = None,
                     moderators=None, outcome: str = "effect", cluster: str | None = None) -> "EffectData":
        """Effects from two-arm means, SDs and group sizes (arm 1 = treatment, arm 2 = control); `cluster` as
        in `from_dataframe`."""
        _check_df(df)
        _check_measure(measure, ("SMD", "SMD_RevMan", "d", "MD"))
        labels = _labels(df, study, cluster)
        arms = {}
        for role, col in (("n1", n1), ("n2", n2)):
            arms[role] = _group_size(df, col, labels)
        for role, col in (("mean1", mean1), ("mean2", mean2)):
            arms[role] = _numeric(df, col, labels)
        for role, col in (("sd1", sd1), ("sd2", sd2)):
            arms[role] = _positive(_numeric(df, col, labels), col, labels, "is not a valid SD (must be > 0)")
        yv, var = smd_from_summary(arms["n1"], arms["mean1"], arms["sd1"], arms["n2"], arms["mean2"],
                                   arms["sd2"], measure)
        cols = (n1, mean1, sd1, n2, mean2, sd2)
        for i, lab in enumerate(labels):
            if not (np.isfinite(yv[i]) and np.isfinite(var[i]) and var[i] > 0):
                raise DataError(f"row {i + 1} ({lab!r}), columns {'/'.join(map(repr, cols))}: the {measure} "
                                f"and its variance cannot be computed in float64 (effect {yv[i]:.3g}, variance "
                                f"{var[i]:.3g}); express the means and SDs in other units")
        _check_precision(yv, np.sqrt(var), labels, f"{mean1}/{mean2}", f"{sd1}/{sd2}")
        _warn_sd_like_se(arms, labels, yv, (sd1, sd2), measure)
        arms_df = pd.DataFrame({k: arms[k] for k in ARM_ROLES})
        return cls(yv, np.sqrt(var), labels, measure, _check_benefit(benefit),
                   _covariates(df, labels, (study, *cols, cluster), moderators), arms=arms_df, outcome=outcome,
                   n=arms["n1"] + arms["n2"], moderator_names=_moderator_list(moderators),
                   cluster=_cluster_column(df, cluster, labels))

    @classmethod
    def from_counts(cls, df: pd.DataFrame, events1="events1", n1="n1", events2="events2", n2="n2", study=None,
                    measure="logOR", benefit=None, moderators=None, outcome="effect") -> "EffectData":
        """Log odds ratios, log risk ratios or risk differences (measure logOR, logRR, RD) from 2x2 counts (arm 1 =
        treatment), with escalc's and RevMan's zero-cell conventions; tables without information are set aside
        with a warning naming them. See bayesmeta.binary."""
        from .binary import from_counts

        return from_counts(cls, df, events1, n1, events2, n2, study, measure, benefit, moderators, outcome)

    @classmethod
    def from_t_statistic(cls, df: pd.DataFrame, t="t", n1="n1", n2="n2", study=None, measure="SMD",
                         benefit=None, moderators=None, outcome="effect") -> "EffectData":
        """Effects from an independent-samples t statistic: d = t sqrt(1/n1 + 1/n2), then as `measure`."""
        _check_df(df)
        _check_measure(measure, ("SMD", "SMD_RevMan", "d"))
        labels = _labels(df, study)
        tv = _numeric(df, t, labels)
        nv1, nv2 = _group_size(df, n1, labels), _group_size(df, n2, labels)
        yv, var = _standardised(tv * np.sqrt(1 / nv1 + 1 / nv2), nv1, nv2, measure)
        _check_precision(yv, np.sqrt(var), labels, t, f"{n1}/{n2}")
        return cls(yv, np.sqrt(var), labels, measure, _check_benefit(benefit),
                   _covariates(df, labels, (study, t, n1, n2), moderators), outcome=outcome, n=nv1 + nv2,
                   moderator_names=_moderator_list(moderators))

    @classmethod
    def from_estimate_ci(cls, df: pd.DataFrame, estimate="estimate", lower="lower", upper="upper", level=0.95,
                         study=None, measure="SMD", benefit=None, moderators=None, outcome="effect") -> "EffectData":
        """Effects from an estimate and its symmetric CI: se = (upper - lower) / (2 z_{(1+level)/2})."""
        _check_df(df)
        _check_measure(measure)
        if not (isinstance(level, (int, float)) and 0 < level < 1):
            raise DataError(f"level must be between 0 and 1 (0.95 for a 95% CI), not {plain(level)!r}")
        labels = _labels(df, study)
        est, lo, hi = (_numeric(df, c, labels) for c in (estimate, lower, upper))
        for i, lab in enumerate(labels):
            if not lo[i] < est[i] < hi[i]:
                raise DataError(f"row {i + 1} ({lab!r}), columns {lower!r}/{upper!r}: the interval "
                                f"[{lo[i]}, {hi[i]}] does not contain the estimate {est[i]}")
        with np.errstate(over="ignore"):
            se = (hi - lo) / (2 * NormalDist().inv_cdf((1 + level) / 2))
        _check_precision(est, se, labels, estimate, f"{lower}/{upper}")
        return cls(est, se, labels, measure, _check_benefit(benefit),
                   _covariates(df, labels, (study, estimate, lower, upper), moderators), outcome=outcome,
                   moderator_names=_moderator_list(moderators))

    @classmethod
    def from_table(cls, df: pd.DataFrame, **columns) -> "EffectData":
        """Pick the constructor from the columns given or recognised (see COMMON_COLUMNS).

        Keywords: y, se, vi, n, n1, mean1, sd1, n2, mean2, sd2, study, measure, benefit, moderators, outcome.
        Given effect columns win over summaries; a missing role is looked up among the common names. With
        effects given, the sizes come from n, or from n1 and n2 where the table has them.
        """
        opts = {k: columns.pop(k) for k in ("measure", "benefit", "moderators", "outcome", "cluster")
                if columns.get(k) is not None}
        roles = table_roles(df, columns)
        study = roles["study"]
        # with clusters, effects are labelled "<cluster> #j" unless a study (effect) column is named or recognised
        if opts.get("cluster") and (study == opts["cluster"] or (study and df[study].duplicated().any())):
            study = columns.get("study")
        if roles["kind"] == "effects":  # sizes given are checked strictly; recognised ones used only where complete
            n = roles["n"] if not roles["n_guessed"] or _complete_sizes(df, roles["n"]) else None
            return cls.from_dataframe(df, y=roles["y"], se=roles["se"], vi=roles["vi"], study=study, n=n, **opts)
        return cls.from_summary(df, study=study, **{r: roles[r] for r in ARM_ROLES}, **opts)


def table_roles(df: pd.DataFrame, columns: dict) -> dict:
    """The column of each role, given in `columns` or recognised (COMMON_COLUMNS): kind "effects" (y with se
    or vi, and sizes n: a column or the pair n1, n2; n_guessed when they were recognised, not given) or kind
    "arms" (n1, mean1, sd1, n2, mean2, sd2); and study. Given effect columns win over summaries."""
    cols = {k: v for k, v in columns.items() if v is not None}
    unknown = set(cols) - set(COMMON_COLUMNS)
    if unknown:
        raise DataError(f"unknown column role(s) {sorted(unknown)}; roles are {', '.join(COMMON_COLUMNS)}")
    out = dict(study=cols.get("study") or guess_column(df, "study"))
    if "y" in cols or not any(r in cols for r in ARM_ROLES):
        y = cols.get("y") or guess_column(df, "y")
        se, vi = cols.get("se"), cols.get("vi")
        if se is None and vi is None:
            se = guess_column(df, "se")
            vi = None if se else guess_column(df, "vi")
        if y is not None and (se is not None or vi is not None):
            n = cols.get("n") or (cols.get("n1"), cols.get("n2"))
            guessed = not isinstance(n, str) and None in n
            if guessed:
                n = guess_column(df, "n") or tuple(guess_column(df, r) for r in ("n1", "n2"))
            return dict(out, kind="effects", y=y, se=se, vi=vi, n=n, n_guessed=guessed)
    arms = {r: cols.get(r) or guess_column(df, r) for r in ARM_ROLES}
    if all(arms.values()):
        return dict(out, kind="arms", **arms)
    raise DataError(
        "could not tell which columns hold the effects: give y with se or vi, or n1, mean1, sd1, n2, mean2, "
        f"sd2 (the table has columns {[str(c) for c in df.columns][:40]})")


def _complete_sizes(df, columns) -> bool:
    """Whether the size column(s) exist and hold a whole number >= 1 in every row."""
    columns = [columns] if isinstance(columns, str) else list(columns)
    if not columns or any(c is None or c not in df.columns for c in columns):
        return False
    values = df[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return bool(np.isfinite(values).all() and (values >= 1).all() and (values == np.round(values)).all())


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
                          DataWarning, skip_file_prefixes=PACKAGE_DIR)
