"""One outcome of a summary of findings: a fitted pooled effect with the review author's GRADE judgements, and
what the posterior says about it (effect, absolute effect, probabilities, the numbers the suggestions read).

Participants are the sum of the studies' group sizes where the data carry them (EffectData from summaries or
counts, or a size column); with several effects per trial (a cluster column) each trial counts once, with its
largest comparison. Otherwise the number is unknown (printed as a dash).
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field, replace

import numpy as np

from ..effects import STANDARDISED, benefit_operator
from ..errors import DataError
from .absolute import SMD_TO_LOG_OR, Absolute, absolute_effect
from .certainty import DOMAINS, K_FOR_TESTS, Evidence, check_design, check_judgements, rate, suggestions
from .formatting import format_number

OPTIMAL_INFORMATION_SIZE = 400  # participants, continuous outcomes (GRADE: a trial that detects 0.2 SD)
ROB_COLUMNS = ("rob", "risk_of_bias", "RoB", "ROB", "rob_overall", "overall_rob")
RISK_MEASURES = ("logOR", "logRR", "RD")


def _positive(value, name, below=math.inf):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 < value < below):
        bound = f" and below {below:g}" if below < math.inf else ""
        raise DataError(f"{name} must be a number above 0{bound}, not {value!r}")
    return float(value)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline and carriage return are text


def _text(value, name, required=False):
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{name} must be non-empty text, not {value!r}")
    bad = _CONTROL.search(value)
    if bad:  # a NUL or other control character reaches no exporter intact (XML, CSV, Markdown readers)
        raise DataError(f"{name} holds the control character {bad.group()!r} at position {bad.start() + 1}: "
                        f"{value!r}")
    return value.strip()


@dataclass
class Outcome:
    """An outcome row: `bm.Outcome("Pain", fit, mid=0.2, certainty={"risk_of_bias": "serious"}, ...)`.

    mid: the minimal important difference on the scale of the pooled effect (SMD, MD units, log OR ...);
    control_sd: the control group's SD of a familiar instrument (SMD -> mean difference in its `units`);
    control_risk: the assumed control risk (0 to 1) for log OR / log RR / RD outcomes, or for SMDs with
    smd_as_risk=True (log OR = SMD pi / sqrt(3)); or_as_smd: a log OR outcome's absolute effect in SD units
    (SMD = log OR sqrt(3) / pi) instead of events per 1,000; design: "randomised" or "observational"; certainty:
    {domain: "not serious" | "serious" | "very serious"} (the author's judgement); reasons: {domain: why};
    follow_up and subgroup: words shown with the outcome; risk_of_bias_column: the data column rating each
    study ("auto": the first of rob, risk_of_bias, ... the data carry; None: none).
    """

    name: str
    fit: object
    mid: float | None = None
    control_sd: float | None = None
    control_risk: float | None = None
    design: str = "randomised"
    certainty: dict | None = None
    follow_up: str | None = None
    reasons: dict | None = None
    units: str | None = None
    smd_as_risk: bool = False
    or_as_smd: bool = False
    optimal_information_size: int | None = None
    risk_of_bias_column: str | None = "auto"
    subgroup: str | None = None
    _given: dict = field(default_factory=dict, repr=False)  # k and participants of a published estimate
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self.name = _text(self.name, "Outcome name", required=True)
        where = f"Outcome {self.name!r}"
        fit = self.fit
        if not all(hasattr(fit, a) for a in ("family", "data", "prob", "summary")):
            raise DataError(f"{where}: fit must be a fitted model (bm.fit(...)), not {type(fit).__name__}")
        pooled = fit.family.pooled()
        if pooled != [("", "mu", "theta_new")]:
            why = (f"its mu is the effect {pooled[0][0]}: summarise the unadjusted fit and rate publication_bias "
                   "in certainty" if len(pooled) == 1 else
                   "it has none (a meta-regression)" if not pooled else
                   "it has several (fit each subgroup as an outcome of its own)")
            raise DataError(f"{where}: a summary of findings needs one pooled effect mu, not the {fit.family.name} "
                            f"model's: {why}")
        measure = fit.data.measure
        self.mid = _positive(self.mid, f"{where}: mid")
        self.control_sd = _positive(self.control_sd, f"{where}: control_sd")
        self.control_risk = _positive(self.control_risk, f"{where}: control_risk", below=1)
        if self.control_sd is not None and measure not in (*STANDARDISED, "MD"):
            raise DataError(f"{where}: control_sd applies to SMD and MD outcomes, not {measure}")
        if self.smd_as_risk and (measure not in STANDARDISED or self.control_risk is None):
            raise DataError(f"{where}: smd_as_risk needs an SMD outcome and a control_risk")
        if self.or_as_smd and measure != "logOR":
            raise DataError(f"{where}: or_as_smd needs a log OR outcome, not {measure}")
        if self.control_risk is not None and measure not in RISK_MEASURES and not self.smd_as_risk:
            raise DataError(f"{where}: control_risk applies to log OR, log RR and RD outcomes (or SMDs with "
                            f"smd_as_risk=True), not {measure}")
        self.design = check_design(self.design)
        self.certainty = check_judgements(self.certainty, f"{where}: certainty")
        if not isinstance(self.reasons or {}, dict):
            raise DataError(f"{where}: reasons must map domains to text, e.g. {{'imprecision': 'few events'}}, "
                            f"not {self.reasons!r}")
        for flag in ("smd_as_risk", "or_as_smd"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise DataError(f"{where}: {flag} must be True or False, not {getattr(self, flag)!r}")
        self.reasons = {k: _text(v, f"{where}: reasons[{k!r}]") for k, v in (self.reasons or {}).items()}
        for domain in self.reasons:
            if domain not in DOMAINS:
                raise DataError(f"{where}: reasons: unknown domain {domain!r} (domains: {', '.join(DOMAINS)})")
        self.follow_up = _text(self.follow_up, f"{where}: follow_up")
        self.subgroup = _text(self.subgroup, f"{where}: subgroup")
        self.units = _text(self.units, f"{where}: units")
        if self.optimal_information_size is None and measure in (*STANDARDISED, "MD"):
            self.optimal_information_size = OPTIMAL_INFORMATION_SIZE
        if self.optimal_information_size is not None:
            ois = _positive(self.optimal_information_size, f"{where}: optimal_information_size")
            if ois != int(ois):
                raise DataError(f"{where}: optimal_information_size is a number of participants (a whole "
                                f"number), not {self.optimal_information_size!r}")
            self.optimal_information_size = int(ois)
        self.risk_of_bias_column = self._rob_column()

    def _rob_column(self):
        cols = self.fit.data.moderators.columns
        if self.risk_of_bias_column == "auto":
            return next((c for c in ROB_COLUMNS if c in cols), None)
        if self.risk_of_bias_column is not None and self.risk_of_bias_column not in cols:
            raise DataError(f"Outcome {self.name!r}: risk_of_bias_column {self.risk_of_bias_column!r} is not a "
                            f"column of the data (columns: {', '.join(map(str, cols))})")
        return self.risk_of_bias_column

    # ---------------------------------------------------------------- what the posterior says
    @property
    def data(self):
        return self.fit.data

    @property
    def benefit(self):
        return self.data.benefit

    @property
    def rating(self) -> str:
        """The certainty of the evidence from the design and the author's judgements."""
        return rate(self.design, self.certainty)

    @classmethod
    def from_published(cls, name, estimate, lower, upper, k, participants=None, benefit=None, measure="SMD",
                       level=0.95, i2=None, **kwargs) -> "Outcome":
        """An outcome from a published pooled estimate and its `level` CI (no per-study data): the posterior of
        mu under a flat prior, N(estimate, se^2) with se = (upper - lower) / (2 z); k and participants as the
        review reports them, and its I² (percent) where given. The between-study variation is not known, so there
        is no predictive probability."""
        import pandas as pd

        from ..effects import EffectData
        from ..fitting import fit

        row = pd.DataFrame({"study": [f"{name} (pooled)"], "estimate": [estimate], "lower": [lower],
                            "upper": [upper]})
        data = EffectData.from_estimate_ci(row, study="study", level=level, measure=measure, benefit=benefit,
                                           outcome=name)
        k = int(_positive(k, f"Outcome {name!r}: k"))
        given = dict(k=k, participants=None if participants is None else int(_positive(
            participants, f"Outcome {name!r}: participants")))
        if i2 is not None:
            given["i2"] = _positive(i2, f"Outcome {name!r}: i2", below=100) if i2 != 0 else 0.0
        return cls(name, fit(data, model="common", mu_prior="flat"), _given=given, **kwargs)

    def with_judgements(self, certainty, reasons=None) -> "Outcome":
        """The same outcome with other judgements ({domain: level}) and reasons ({domain: why})."""
        return replace(self, certainty=certainty, reasons=reasons, _cache=dict(self._cache))

    @property
    def k(self) -> int:
        """Studies (effects) pooled: the data's, or as the review reports them for a published estimate."""
        return self._given.get("k", self.data.k)

    @property
    def studies(self) -> int:
        """Trials: clusters where the data have them, else k."""
        return len(set(self.data.cluster)) if self.data.cluster is not None else self.k

    @property
    def participants(self) -> int | None:
        data = self.data
        if "participants" in self._given:
            return self._given["participants"]
        if data.n is None:
            return None
        if data.cluster is None:
            return int(round(float(np.sum(data.n))))
        largest = {}
        for c, n in zip(data.cluster, data.n):
            largest[c] = max(largest.get(c, 0), n)
        return int(round(sum(largest.values())))

    def effect(self) -> dict:
        """Posterior median and 95% equal-tailed interval of mu and theta_new, tau and I² medians (the last three
        None for a common-effect model)."""
        if "effect" not in self._cache:
            s = self.fit.summary(ci=0.95)
            random = self.fit.family.random
            get = lambda q, c: float(s.loc[q, c]) if q in s.index and (random or q == "mu") else None  # noqa: E731
            self._cache["effect"] = dict(effect=get("mu", "median"), lower=get("mu", "lower"),
                                         upper=get("mu", "upper"), pred_lower=get("theta_new", "lower"),
                                         pred_upper=get("theta_new", "upper"), tau=get("tau", "median"),
                                         tau_within=get("tau_within", "median"),
                                         i2=self._given.get("i2", get("I2", "median")))
        return self._cache["effect"]

    def probabilities(self) -> dict:
        """P(benefit), P(benefit beyond the MID), P(a new study shows benefit) (None without a benefit
        direction), and P(mu < 0)."""
        if "probs" not in self._cache:
            fit, benefit, mid = self.fit, self.benefit, self.mid
            out = dict(p_benefit=None, p_mid=None, p_new_benefit=None, p_lower=fit.prob("mu < 0"))
            if benefit is not None:
                op = benefit_operator(benefit)
                out["p_benefit"] = fit.prob(f"mu {op} 0")
                if fit.family.random:  # a new study's effect needs the between-study variation
                    out["p_new_benefit"] = fit.prob(f"theta_new {op} 0")
                if mid is not None:
                    out["p_mid"] = fit.prob(f"mu {op} {-mid if benefit == 'lower' else mid!r}")
            self._cache["probs"] = out
        return self._cache["probs"]

    def absolute(self) -> Absolute:
        e = self.effect()
        return absolute_effect(self.data.measure, e["effect"], e["lower"], e["upper"], self.control_sd,
                               self.control_risk, self.smd_as_risk, self.units, self.or_as_smd)

    def smd_scale(self) -> float | None:
        """The factor that puts the pooled effect on the SMD scale (None where there is none)."""
        measure = self.data.measure
        if measure in STANDARDISED:
            return 1.0
        if measure == "MD" and self.control_sd is not None:
            return 1 / self.control_sd
        return 1 / SMD_TO_LOG_OR if measure == "logOR" else None

    def mid_words(self) -> str:
        mid, measure = self.mid, self.data.measure
        if mid is None:
            return ""
        if measure in STANDARDISED:
            return f"{mid:g} SD"
        if measure in ("logOR", "logRR"):
            ratio = math.exp(-mid if self.benefit != "higher" else mid)
            return f"{measure[3:]} {format_number(ratio, 2)}"
        if measure == "RD":
            return f"{1000 * mid:g} per 1,000"
        return f"{mid:g}{f' {self.units}' if self.units and measure == 'MD' else ''}"

    def evidence(self) -> Evidence:
        """The numbers the suggestions read."""
        e, p = self.effect(), self.probabilities()
        share, without = self._risk_of_bias()
        return Evidence(k=self.k, lower=e["lower"], upper=e["upper"], benefit=self.benefit, mid=self.mid,
                        participants=self.participants, optimal_information_size=self.optimal_information_size,
                        p_mid=p["p_mid"], i2=e["i2"], i2_source="as published" if self._given else "posterior median",
                        pred_lower=e["pred_lower"], pred_upper=e["pred_upper"],
                        tau=e["tau"], small_study_p=small_study_pvalue(self.data) if not self._given else None,
                        high_risk_share=share,
                        without_high_risk=without)

    def suggestions(self):
        if "suggestions" not in self._cache:
            self._cache["suggestions"] = suggestions(self.evidence())
        return self._cache["suggestions"]

    def _risk_of_bias(self):
        """(share of the weight from trials rated high risk, the posterior without them in words); weights
        1 / (se^2 + tau^2 (+ tau_within^2 in a three-level model)), the SDs at their posterior medians."""
        column = self.risk_of_bias_column
        if column is None:
            return None, None
        data, e = self.data, self.effect()
        high = np.array([str(v).strip().lower().startswith("high") for v in data.moderators[column]])
        weights = 1 / (data.se**2 + (e["tau"] or 0.0) ** 2 + (e["tau_within"] or 0.0) ** 2)
        share = float(weights[high].sum() / weights.sum())
        if high.all():
            return share, "every trial is rated at high risk of bias"
        if not high.any():
            return share, None
        return share, self._without(data.subset(~high))

    def _without(self, data) -> str:
        from ..fitting import fit as fit_model

        f = self.fit
        try:
            refit = fit_model(data, tau_prior=f.spec.tau_prior, mu_prior=f.spec.mu_prior, engine="exact",
                              seed=f.seed, **f.family.arguments())
        except ValueError as err:
            return f"the posterior without them could not be computed ({err})"
        s = refit.summary(ci=0.95).loc["mu"]
        text = (f"without them (k = {data.k}) mu = {s['median']:.2f} (95% CrI {s['lower']:.2f} to "
                f"{s['upper']:.2f})")
        if self.benefit is not None:
            text += f", P(benefit) = {refit.prob(f'mu {benefit_operator(self.benefit)} 0'):.2f}"
        return text


def small_study_pvalue(data) -> float | None:
    """The p value of the regression test for small-study effects (bm.regtest of the frequentist twin, looked up
    when called: None while the package has none, for fewer than 10 studies, or when the test cannot be run on
    these data)."""
    from .. import frequentist_methods

    regtest = getattr(frequentist_methods, "regtest", None)
    if regtest is None or data.k < K_FOR_TESTS:
        return None
    try:
        p = float(regtest(data).pvalue)
    except (ValueError, ArithmeticError):
        return None
    return p if math.isfinite(p) else None
