"""One review, whatever file it came from: its analyses (RevMan's numbering "1.2"), their study rows, RevMan's
settings and the pooled results the file stores; effects, RevMan's frequentist pooling and Bayesian fits.

An `Analysis` is what one RevMan outcome holds: data type (dichotomous, continuous, generic inverse variance,
O-E and variance), effect measure, pooling method and model, the group and graph labels, subgroups, the study
rows and the stored results (as the text the file holds, so that comparisons know its digits).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..binary import BINARY_MEASURES, binary_effects, set_aside_reason, uninformative
from ..effects import EffectData, smd_from_summary
from ..errors import DataError
from .benefit import benefit_from_labels

DATA_TYPES = ("dichotomous", "continuous", "generic", "o-e")
# RevMan's effect measure -> the measure the models take (ratios on the log scale)
MEASURE_MAP = {"OR": "logOR", "RR": "logRR", "RD": "RD", "PETO_OR": "logOR", "MD": "MD", "SMD": "SMD_RevMan",
               "HEDGES_G": "SMD"}
RATIO_MEASURES = ("OR", "RR", "PETO_OR", "HR", "RATIO")
ROW_COLUMNS = ("study", "study_id", "year", "subgroup", "subgroup_no", "events1", "n1", "events2", "n2", "mean1",
               "sd1", "mean2", "sd2", "y", "se", "oe", "var", "footnotes", "where")
# Stored pooled results, by our name (estimate and CI on RevMan's display scale, I2 in percent)
QUANTITIES = ("estimate", "lower", "upper", "z", "p_z", "tau2", "chi2", "df", "p_chi2", "I2")
TEST_QUANTITIES = ("subgroup_chi2", "subgroup_df", "subgroup_p", "subgroup_I2")
GENERIC_RATIOS = re.compile(r"\b(odds|risk|hazard|rate|incidence|ratio)\b|^(h|o|r|i)rr?$", re.I)


def is_ratio_measure(measure: str) -> bool:
    """Whether RevMan shows this measure as a ratio (analysed on the log scale): OR, RR, Peto OR, HR, and
    generic measures named as ratios ("Hazard Ratio", "Rate Ratio", ...)."""
    m = str(measure).strip()
    return m.upper() in RATIO_MEASURES or bool(GENERIC_RATIOS.search(m))


@dataclass
class Analysis:
    """One RevMan analysis (outcome) with its rows and stored results; see the module docstring."""

    number: str
    comparison_no: int
    outcome_no: int
    comparison: str
    name: str
    data_type: str
    measure: str
    method: str
    model: str
    rows: pd.DataFrame
    source: str
    where: str
    subgroups: bool = False
    subgroup_test: bool = True
    totals: str = "YES"  # RevMan's TOTALS: "YES" (total and subtotals), "SUB" (subtotals only), "NO" (not pooled)
    level: float = 0.95
    swap_events: bool = False
    log_data: str | None = None  # generic data: RevMan's flag that the entered data are on the log scale
    tau2_method: str = "DL"  # RevMan 5: DerSimonian-Laird; RevMan Web may state REML
    ci_method: str = "z"  # RevMan 5: Wald z; RevMan Web may state Hartung-Knapp-Sidik-Jonkman ("hksj")
    labels: dict = field(default_factory=dict)  # group1, group2, left, right
    default_benefit: str | None = None  # the direction where the graph labels do not state one (read_revman)
    declared_benefit: str | None = None  # the direction the user declared for this analysis (benefit map)
    stored: dict = field(default_factory=dict)  # quantity -> text as stored
    stored_subgroups: dict = field(default_factory=dict)  # subgroup name -> {quantity: text}
    notes: list = field(default_factory=list)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)  # estimable rows and effects by measure

    # ------------------------------------------------------------------ settings
    @property
    def ratio(self) -> bool:
        """Odds, risk and hazard ratios: analysed on the log scale, shown as ratios."""
        return is_ratio_measure(self.measure)

    @property
    def model_measure(self) -> str:
        """The measure of the effects the models take: logOR, logRR, RD, MD, SMD_RevMan or generic."""
        if self.data_type in ("dichotomous", "continuous"):
            return MEASURE_MAP[self.measure]
        if self.measure.upper() in ("OR", "PETO_OR") or self.measure.casefold() in ("odds ratio", "peto odds ratio"):
            return "logOR"
        if self.measure.upper() == "RR" or self.measure.casefold() == "risk ratio":
            return "logRR"
        return {"MD": "MD", "SMD": "SMD_RevMan", "RD": "RD"}.get(self.measure.upper(), "generic")

    @property
    def display_measure(self) -> str:
        """The measure as RevMan names it in forest plots (OR, RR, Peto OR, MD, SMD, or the generic name)."""
        return {"PETO_OR": "Peto OR", "HEDGES_G": "Hedges' g"}.get(self.measure, self.measure)

    @property
    def benefit(self) -> str | None:
        """"lower" or "higher": as the user declared it for this analysis, else from the graph labels where they
        state it, else the default given to read_revman; None: direction not stated (see reviews.benefit)."""
        return self._benefit()[0]

    @property
    def benefit_note(self) -> str:
        return self._benefit()[1]

    def _benefit(self):
        benefit, why = benefit_from_labels(self.labels.get("left"), self.labels.get("right"),
                                           self.labels.get("group1"), self.labels.get("group2"))
        declared = self.declared_benefit or (None if benefit else self.default_benefit)
        if declared is None:
            return benefit, why
        side = "below" if declared == "lower" else "above"
        who = ("declared for this analysis by the user" if self.declared_benefit else
               "as given to read_revman (--benefit) for the analyses that do not state it")
        said = why if benefit in (None, declared) else f"the file's labels say {benefit!r}: {why}"
        return declared, (f"benefit {declared!r} {who}: effects {side} the line of no effect favour the "
                          f"intervention; {said}")

    @property
    def subgroup_names(self) -> list:
        """The subgroups in RevMan's order (those with rows)."""
        if not self.subgroups:
            return []
        order = self.rows.dropna(subset=["subgroup"]).sort_values("subgroup_no", kind="stable")
        return list(dict.fromkeys(order["subgroup"]))

    def describe(self) -> str:
        model = "random effects" if self.model == "random" else "fixed effect"
        return (f"Analysis {self.number} ({self.comparison}: {self.name}): {self.data_type}, {self.display_measure}, "
                f"{self.method} {model}")

    # ------------------------------------------------------------------ effects
    def estimable(self, measure=None):
        """(rows that can be analysed, {study label: why not} for the others), for `measure` (default the
        analysis's own)."""
        measure = measure or self.model_measure
        if ("estimable", measure) not in self._cache:
            self._cache["estimable", measure] = self._estimable(measure)
        kept, why = self._cache["estimable", measure]
        return kept, dict(why)

    def _estimable(self, measure):
        rows = self.rows
        why = {}
        keep = np.ones(len(rows), bool)
        if self.data_type == "dichotomous":
            counts = rows[["events1", "n1", "events2", "n2"]].to_numpy(dtype=float)
            missing = ~np.isfinite(counts).all(axis=1) | (counts[:, 1] < 1) | (counts[:, 3] < 1)
            for i in np.flatnonzero(missing):
                why[rows["study"].iat[i]] = "no events or totals entered"
            keep &= ~missing
            if keep.any():
                self._check_counts(rows, counts, keep)
                if self.swap_events:
                    counts[:, 0], counts[:, 2] = counts[:, 1] - counts[:, 0], counts[:, 3] - counts[:, 2]
                aside = np.zeros(len(rows), bool)
                aside[keep] = uninformative(*counts[keep].T, measure)
                for i in np.flatnonzero(aside):
                    why[rows["study"].iat[i]] = set_aside_reason(measure)
                keep &= ~aside
        elif self.data_type == "continuous":
            arms = rows[["n1", "mean1", "sd1", "n2", "mean2", "sd2"]].to_numpy(dtype=float)
            complete = np.isfinite(arms).all(axis=1) & (arms[:, 0] >= 1) & (arms[:, 3] >= 1)
            complete &= (arms[:, 2] > 0) & (arms[:, 5] > 0)
            if measure != "MD":
                complete &= arms[:, 0] + arms[:, 3] > 2
            given = np.isfinite(rows[["y", "se"]].to_numpy(dtype=float)).all(axis=1) & (rows["se"].to_numpy(float) > 0)
            for i in np.flatnonzero(~complete & ~given):
                why[rows["study"].iat[i]] = "no means, SDs (> 0) and totals entered"
            keep &= complete | given
        elif self.data_type == "o-e":
            oe, var = rows["oe"].to_numpy(float), rows["var"].to_numpy(float)
            ok = np.isfinite(oe) & np.isfinite(var) & (var > 0)
            for i in np.flatnonzero(~ok):
                why[rows["study"].iat[i]] = "no O-E and variance (> 0) entered"
            keep &= ok
        else:
            y, se = rows["y"].to_numpy(float), rows["se"].to_numpy(float)
            ok = np.isfinite(y) & np.isfinite(se) & (se > 0)
            for i in np.flatnonzero(~ok):
                why[rows["study"].iat[i]] = "no estimate and SE (> 0) entered"
            keep &= ok
        return rows[keep].reset_index(drop=True), why

    def _check_counts(self, rows, counts, keep):
        c = counts[keep]
        if np.all((c == np.round(c)) & (c >= 0)) and np.all(c[:, 0] <= c[:, 1]) and np.all(c[:, 2] <= c[:, 3]):
            return
        for i in np.flatnonzero(keep):
            e1, m1, e2, m2 = counts[i]
            where = f"{self.source}, {rows['where'].iat[i]} ({rows['study'].iat[i]!r})"
            if any(x != np.round(x) or x < 0 for x in counts[i]):
                raise DataError(f"{where}: the events and totals must be whole numbers >= 0, not {e1:g}/{m1:g}, "
                                f"{e2:g}/{m2:g}")
            if e1 > m1 or e2 > m2:
                raise DataError(f"{where}: more events than participants ({e1:g}/{m1:g}, {e2:g}/{m2:g})")

    def effects(self, measure=None, benefit="from labels") -> EffectData:
        """EffectData of this analysis (RevMan's study labels; the subgroup in column "subgroup", RevMan's order).

        measure: for dichotomous data logOR, logRR or RD (default RevMan's measure); for continuous data MD,
        SMD_RevMan (RevMan's SMD, the default for SMD analyses) or SMD (Hedges' g with the exact correction).
        Studies that cannot be analysed are left out and listed in `analysis.set_aside(measure)`."""
        measure = self._check_measure(measure)
        benefit = self.benefit if benefit == "from labels" else benefit
        key = ("effects", measure, benefit)
        if key not in self._cache:  # EffectData is immutable: built once per measure and direction
            self._cache[key] = self._effects(measure, benefit)
        return self._cache[key]

    def _effects(self, measure, benefit) -> EffectData:
        rows, why = self.estimable(measure)
        if len(rows) == 0:
            reasons = "; ".join(f"{s!r}: {w}" for s, w in why.items()) or "the analysis has no study rows"
            raise DataError(f"{self.source}, {self.where}: no estimable studies ({reasons})")
        arms, n = None, None
        if self.data_type == "dichotomous":
            counts = rows[["events1", "n1", "events2", "n2"]].to_numpy(dtype=float)
            if self.swap_events:
                counts[:, 0], counts[:, 2] = counts[:, 1] - counts[:, 0], counts[:, 3] - counts[:, 2]
            y, v = binary_effects(*counts.T, measure)
            arms = pd.DataFrame(counts, columns=["events1", "n1", "events2", "n2"])
            n = counts[:, 1] + counts[:, 3]
        elif self.data_type == "continuous":
            a = rows[["n1", "mean1", "sd1", "n2", "mean2", "sd2"]].to_numpy(dtype=float)
            complete = np.isfinite(a).all(axis=1) & (a[:, 2] > 0) & (a[:, 5] > 0) & (a[:, 0] >= 1) & (a[:, 3] >= 1)
            with np.errstate(all="ignore"):
                yc, vc = smd_from_summary(*a.T, measure=measure)
            y = np.where(complete, yc, rows["y"].to_numpy(float))
            v = np.where(complete, vc, rows["se"].to_numpy(float) ** 2)
            if complete.all():
                arms = pd.DataFrame(a, columns=["n1", "mean1", "sd1", "n2", "mean2", "sd2"])
            sizes = a[:, 0] + a[:, 3]
            n = sizes if np.isfinite(sizes).all() and (sizes >= 1).all() else None
        elif self.data_type == "o-e":
            var = rows["var"].to_numpy(float)
            y, v = rows["oe"].to_numpy(float) / var, 1 / var
        else:
            y, v = rows["y"].to_numpy(float), rows["se"].to_numpy(float) ** 2
            sizes = rows["n1"].to_numpy(float) + rows["n2"].to_numpy(float)
            n = sizes if np.isfinite(sizes).all() and (sizes >= 1).all() else None
        bad = ~(np.isfinite(y) & np.isfinite(v) & (v > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{self.source}, {rows['where'].iat[i]} ({rows['study'].iat[i]!r}): the {measure} and its "
                            "variance cannot be computed from the values entered")
        covariates = pd.DataFrame({"year": rows["year"].to_numpy()})
        if self.subgroups:
            order = self.subgroup_names
            covariates["subgroup"] = pd.Categorical(rows["subgroup"], categories=order)
        return EffectData(y, np.sqrt(v), rows["study"].to_numpy(dtype=object), measure, benefit, covariates,
                          arms=arms, outcome=self.name, n=n)

    def set_aside(self, measure=None) -> dict:
        """{study label: reason} for the studies of this analysis that cannot be analysed with `measure`."""
        return self.estimable(self._check_measure(measure))[1]

    def _check_measure(self, measure):
        own = self.model_measure
        if measure is None or measure == own:
            return own
        allowed = {"dichotomous": BINARY_MEASURES, "continuous": ("MD", "SMD", "SMD_RevMan")}.get(self.data_type, ())
        if measure not in allowed:
            options = ", ".join(allowed) if allowed else f"only {own} (the effects are given)"
            raise DataError(f"{self.source}, {self.where}: measure {measure!r} is not available for {self.data_type} "
                            f"data; choose {options}")
        return measure

    def has_subgroups(self, data: EffectData) -> bool:
        """Whether the studies of `data` fall into two or more subgroups."""
        return self.subgroups and "subgroup" in data.moderators and data.moderators["subgroup"].nunique() >= 2

    # ------------------------------------------------------------------ RevMan's pooling
    def frequentist(self, measure=None, method=None, model=None, data=None):
        """RevMan's pooled result for this analysis (a RevManResult): Mantel-Haenszel, Peto or inverse variance,
        fixed or random effects (DerSimonian-Laird), subgroups and the test for subgroup differences, as the file
        says unless `method` ("MH", "Peto", "IV") or `model` ("fixed", "random") are given. `data`: the analysis's
        effects (default `effects(measure)`).

        RevMan's totals (`result.totals`, from the file): "YES" the total and the subtotals; "SUB" only the
        subtotals (each study's weight is its share of its subgroup; the top-level numbers are the pool of all
        studies, which RevMan does not show); "NO" nothing pooled. A single subgroup with estimable studies keeps
        its subtotal (a one-row `subgroups` table, no test for subgroup differences)."""
        data = self.effects(measure) if data is None else data
        method, model = method or self.method, model or self.model
        if method not in ("MH", "Peto", "IV") or model not in ("fixed", "random"):
            raise ValueError(f"method must be MH, Peto or IV and model fixed or random, not {method!r}, {model!r}")
        result = self._pool(data, method, model, "subgroup" if self.has_subgroups(data) else None, measure)
        result.totals = self.totals
        groups = self._groups(data)
        if len(groups) == 1:
            one_subgroup(result, groups[0])
        if self.totals == "SUB" and groups:
            result.weights = self._weights_within_subgroups(data, method, model, measure)
        return result

    def _groups(self, data) -> list:
        if not self.subgroups or "subgroup" not in data.moderators:
            return []
        column = data.moderators["subgroup"]
        present = set(column.dropna())
        order = column.cat.categories if hasattr(column, "cat") else pd.unique(column.dropna())
        return [g for g in order if g in present]

    def _weights_within_subgroups(self, data, method, model, measure):
        """Each study's weight as a share of its subgroup (RevMan's TOTALS="SUB")."""
        labels = data.moderators["subgroup"].astype(str).to_numpy()
        parts = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for g in dict.fromkeys(labels):
                parts.append(self._pool(data.subset(labels == g), method, model, None, measure).weights)
        return pd.concat(parts).reindex(list(data.study))

    def _pool(self, data, method, model, subgroup, measure):
        from ..frequentist_methods import frequentist as rma
        from ..frequentist_methods.mantel_haenszel import RevManResult, pool_counts

        set_aside = tuple(self.set_aside(measure))
        if method in ("MH", "Peto") and self.data_type == "dichotomous":
            name = "Peto" if method == "Peto" else ("MH-DL" if model == "random" else "MH")
            result = pool_counts(data, name, self.level, subgroup)
            result.set_aside, result.scale, result.log_scale = set_aside, self.display_measure, self.ratio
            if method == "Peto" and model == "random":
                result.notes.append("RevMan pools Peto odds ratios with a fixed-effect model only")
            if model == "random" and (self.tau2_method, self.ci_method) != ("DL", "z"):
                result.notes.append(f"the file states {self.tau2_method} with {self.ci_method} intervals; Mantel-"
                                    "Haenszel random effects are reproduced with DerSimonian-Laird and z intervals")
            return result
        random = model == "random"
        res = rma(data, method=self.tau2_method if random else "FE", ci=self.ci_method if random else "z",
                  level=self.level, prediction=None, subgroup=subgroup)
        pooling = "Peto" if self.data_type == "o-e" else "IV"
        return RevManResult.wrap(res, pooling, model, set_aside=set_aside, scale=self.display_measure,
                                 log_scale=self.ratio)


def one_subgroup(result, name) -> None:
    """The subtotal of the only subgroup with estimable studies (it is the pool of all of them): a one-row
    `subgroups` table and no test for subgroup differences (RevMan shows the subtotal)."""
    row = dict(k=result.k, mu=result.mu, se=result.se, lower=result.lower, upper=result.upper, tau2=result.tau2,
               I2=result.I2, Q=result.Q, Q_pvalue=result.Q_pvalue, pvalue=result.pvalue)
    result.subgroup, result.subgroup_tau = "subgroup", "separate"
    result.subgroups = pd.DataFrame([row], index=pd.Index([name], name="subgroup"))
    result.Q_between, result.Q_between_df, result.Q_between_pvalue = 0.0, 0, math.nan


@dataclass
class Review:
    """A review read by `bayesmeta.read_revman`: title, studies and analyses (by RevMan's number "1.2")."""

    title: str
    path: str
    format: str
    analyses_by_number: dict
    studies: pd.DataFrame = field(default_factory=pd.DataFrame)
    doi: str | None = None
    notes: list = field(default_factory=list)

    def __post_init__(self):
        if not self.analyses_by_number:
            raise DataError(f"{self.path}: the file holds no analyses (no outcomes with data)")

    def __repr__(self) -> str:
        return f"Review({self.title!r}, {len(self.analyses_by_number)} analyses, format {self.format!r})"

    def __len__(self) -> int:
        return len(self.analyses_by_number)

    def __iter__(self):
        return iter(self.analyses_by_number.values())

    @property
    def numbers(self) -> list[str]:
        return list(self.analyses_by_number)

    @property
    def analyses(self) -> pd.DataFrame:
        """One row per analysis, indexed by RevMan's number: comparison, outcome, data type, measure, model,
        method, k (studies that can be analysed), subgroups (their number, 0 without), stored (whether the file
        holds RevMan's pooled result)."""
        from .check import has_stored_result

        rows = []
        for a in self:
            kept, _ = a.estimable()
            rows.append(dict(analysis=a.number, comparison=a.comparison, outcome=a.name, data_type=a.data_type,
                             measure=a.display_measure, model=a.model, method=a.method, k=len(kept),
                             subgroups=len(a.subgroup_names), stored=has_stored_result(a.stored)))
        return pd.DataFrame(rows).set_index("analysis")

    def analysis(self, number) -> Analysis:
        """The analysis numbered `number` ("1.2", or (1, 2))."""
        key = number if isinstance(number, str) else ".".join(str(int(x)) for x in number)
        key = key.strip()
        if key not in self.analyses_by_number:
            shown = ", ".join(self.numbers[:30]) + (" ..." if len(self) > 30 else "")
            raise DataError(f"{self.path}: no analysis {key!r}; the analyses are {shown}")
        return self.analyses_by_number[key]

    def effects(self, number, measure=None) -> EffectData:
        """EffectData of analysis `number` (see Analysis.effects)."""
        return self.analysis(number).effects(measure)

    def frequentist(self, number, measure=None, method=None, model=None):
        """RevMan's pooled result for analysis `number` (see Analysis.frequentist)."""
        return self.analysis(number).frequentist(measure, method, model)

    def fit(self, number, measure=None, subgroup="from file", **kwargs):
        """Bayesian fit of analysis `number` (bayesmeta.fit; keywords pass on). With RevMan subgroups the
        subgroup model is fitted (subgroup="subgroup"); pass subgroup=None for one pooled effect. The default prior
        on tau is the measure's (priors.default_tau_prior: Turner et al. for log odds and risk ratios); generic log
        ratios (hazard ratios, ...) get Turner et al.'s general prior too."""
        from ..fitting import fit

        a = self.analysis(number)
        data = a.effects(measure)
        if subgroup == "from file":
            subgroup = "subgroup" if a.has_subgroups(data) and "moderators" not in kwargs else None
        if kwargs.get("tau_prior") is None and a.ratio and data.measure == "generic":
            from ..priors import (
                turner,  # a generic log ratio (hazard, rate ratio): Turner et al.'s general prior
            )

            kwargs["tau_prior"] = turner()
        return fit(data, subgroup=subgroup, **kwargs)

    def check(self, number=None) -> pd.DataFrame:
        """RevMan vs ours: every pooled number the file stores beside our reproduction (see reviews.check)."""
        from .check import check_review

        return check_review(self, None if number is None else [self.analysis(number).number])


def disambiguate(labels, subgroups) -> list[str]:
    """Study labels made unique within one analysis: a study entered twice (in two subgroups, as RevMan allows)
    gets its subgroup in brackets, and a number where that is not enough."""
    labels = [str(x) for x in labels]
    counts = pd.Series(labels).value_counts()
    out = []
    for lab, sub in zip(labels, subgroups):
        out.append(f"{lab} ({sub})" if counts[lab] > 1 and sub is not None and not pd.isna(sub) else lab)
    seen = {}
    final = []
    for lab in out:
        seen[lab] = seen.get(lab, 0) + 1
        final.append(lab if seen[lab] == 1 else f"{lab} #{seen[lab]}")
    return final


def make_rows(records: list[dict]) -> pd.DataFrame:
    """The rows of one analysis as a DataFrame with every column of ROW_COLUMNS, study labels unique."""
    frame = pd.DataFrame.from_records(records, columns=list(ROW_COLUMNS) + ["stored_effect", "stored_se",
                                                                              "stored_weight", "stored_lower",
                                                                              "stored_upper"])
    if len(frame):
        frame["study"] = disambiguate(frame["study"], frame["subgroup"])
    for col in ("events1", "n1", "events2", "n2", "mean1", "sd1", "mean2", "sd2", "y", "se", "oe", "var"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame
