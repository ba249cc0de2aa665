"""GRADE certainty arithmetic and the package's suggestions.

Certainty starts at high for randomised trials and at low for observational studies; each of the five
domains judged "serious" lowers it one level and "very serious" two, down to very low (GRADE Handbook 5).
The author's judgement is the input and always wins: the suggestions below say what the data can inform,
each with its reason, and never change the certainty.

Suggestion rules (mid is the minimal important difference on the scale of the pooled effect):

* imprecision: serious when the 95% credible interval of mu crosses no effect (unless it lies wholly between -MID
  and MID: then it shows precisely that there is little to no difference) or the MID, when fewer
  participants than the optimal information size took part (400 for continuous outcomes by default), or when
  P(benefit beyond the MID) lies between 0.1 and 0.9; very serious when the interval spans both the MID of
  benefit and the MID of harm.
* inconsistency: serious when the posterior median of I² is 50% or more, when the 95% prediction interval
  crosses no effect while the credible interval does not, or when the median of tau exceeds the MID; very
  serious when all three hold.
* publication bias: with k >= 10 studies, serious when the regression test for small-study effects
  (bm.regtest, where the package has it) gives p < 0.10.
* risk of bias: where the data carry a risk-of-bias column, serious when trials rated at high risk carry half
  or more of the weight (random-effects weights 1 / (se² + tau²), tau at its posterior median); the reason
  gives the posterior without them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DataError

DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
DOMAIN_WORDS = {"risk_of_bias": "Risk of bias", "inconsistency": "Inconsistency", "indirectness": "Indirectness",
                "imprecision": "Imprecision", "publication_bias": "Publication bias"}
LEVELS = {"not serious": 0, "serious": 1, "very serious": 2}
RATINGS = ("very low", "low", "moderate", "high")
DESIGNS = {"randomised": 3, "randomized": 3, "observational": 1}
SYMBOLS = {"high": "\u2295\u2295\u2295\u2295", "moderate": "\u2295\u2295\u2295\u25ef",
           "low": "\u2295\u2295\u25ef\u25ef", "very low": "\u2295\u25ef\u25ef\u25ef"}
P_MID_RANGE = (0.1, 0.9)
I2_HIGH = 50.0
PUBLICATION_P = 0.10
K_FOR_TESTS = 10
HIGH_RISK_SHARE = 0.5


@dataclass(frozen=True)
class Suggestion:
    """What the data suggest for one domain: level ("serious" or "very serious") and why."""

    domain: str
    level: str
    reason: str

    def text(self) -> str:
        return f"{DOMAIN_WORDS[self.domain]}: {self.level} ({self.reason})"


def check_design(design) -> str:
    if design not in DESIGNS:
        raise DataError(f"design must be 'randomised' or 'observational', not {design!r}")
    return "randomised" if design == "randomized" else design


def check_judgements(certainty, where: str = "certainty") -> dict:
    """{domain: level} checked: unknown domains or levels are one DataError naming them and the allowed ones."""
    if certainty is None:
        return {}
    if not isinstance(certainty, dict):
        raise DataError(f"{where} must map domains to levels, e.g. {{'risk_of_bias': 'serious'}}, not {certainty!r}")
    for domain, level in certainty.items():
        if domain not in DOMAINS:
            raise DataError(f"{where}: unknown domain {domain!r} (domains: {', '.join(DOMAINS)})")
        if level not in LEVELS:
            raise DataError(f"{where}[{domain!r}]: unknown level {level!r} (levels: {', '.join(LEVELS)})")
    return dict(certainty)


def rate(design: str, judgements: dict) -> str:
    """The GRADE rating: start (high or low) minus the levels of every domain, floor very low."""
    start = DESIGNS[check_design(design)]
    down = sum(LEVELS[level] for level in check_judgements(judgements).values())
    return RATINGS[max(start - down, 0)]


@dataclass(frozen=True)
class Evidence:
    """The numbers the suggestions read (effects on the pooled scale; benefit 'lower', 'higher' or None)."""

    k: int
    lower: float
    upper: float
    benefit: str | None = None
    mid: float | None = None
    participants: int | None = None
    optimal_information_size: int | None = None
    p_mid: float | None = None
    i2: float | None = None
    i2_source: str = "posterior median"
    pred_lower: float | None = None
    pred_upper: float | None = None
    tau: float | None = None
    small_study_p: float | None = None
    high_risk_share: float | None = None
    without_high_risk: str | None = None


def _crosses(lower, upper, value) -> bool:
    return lower < value < upper


def imprecision(e: Evidence) -> Suggestion | None:
    why, crossed, level = [], [], "serious"
    trivial = e.mid is not None and -e.mid <= e.lower and e.upper <= e.mid  # precise: little to no difference
    if _crosses(e.lower, e.upper, 0) and not trivial:
        crossed.append("no effect")
    sides = [m for m in (-e.mid, e.mid) if _crosses(e.lower, e.upper, m)] if e.mid is not None else []
    if sides:
        crossed.append(f"the MID ({' and '.join(f'{m:g}' for m in sides)})")
        level = "very serious" if len(sides) == 2 else level
    if crossed:
        why.append(f"the 95% credible interval {e.lower:.2f} to {e.upper:.2f} crosses {' and '.join(crossed)}")
    if e.participants is not None and e.optimal_information_size and e.participants < e.optimal_information_size:
        why.append(f"{e.participants} participants, fewer than the optimal information size of "
                   f"{e.optimal_information_size}")
    if e.p_mid is not None and P_MID_RANGE[0] < e.p_mid < P_MID_RANGE[1]:
        why.append(f"P(benefit beyond the MID) = {e.p_mid:.2f}, between {P_MID_RANGE[0]} and {P_MID_RANGE[1]}")
    return Suggestion("imprecision", level, "; ".join(why)) if why else None


def inconsistency(e: Evidence) -> Suggestion | None:
    why = []
    if e.i2 is not None and e.i2 >= I2_HIGH:
        why.append(f"I\u00b2 = {e.i2:.0f}% ({e.i2_source}), {I2_HIGH:.0f}% or more")
    if (e.pred_lower is not None and _crosses(e.pred_lower, e.pred_upper, 0)
            and not _crosses(e.lower, e.upper, 0)):
        why.append(f"the 95% prediction interval {e.pred_lower:.2f} to {e.pred_upper:.2f} crosses no effect while "
                   "the credible interval does not")
    if e.tau is not None and e.mid is not None and e.tau > e.mid:
        why.append(f"tau = {e.tau:.2f} (posterior median) exceeds the MID of {e.mid:g}")
    if not why:
        return None
    return Suggestion("inconsistency", "very serious" if len(why) == 3 else "serious", "; ".join(why))


def publication_bias(e: Evidence) -> Suggestion | None:
    if e.k < K_FOR_TESTS or e.small_study_p is None or e.small_study_p >= PUBLICATION_P:
        return None
    return Suggestion("publication_bias", "serious", f"k = {e.k} and the regression test for small-study effects "
                                                      f"gives p = {e.small_study_p:.3f} (< {PUBLICATION_P:g})")


def risk_of_bias(e: Evidence) -> Suggestion | None:
    if e.high_risk_share is None or e.high_risk_share < HIGH_RISK_SHARE:
        return None
    reason = f"{100 * e.high_risk_share:.0f}% of the weight from trials at high risk of bias"
    if e.without_high_risk:
        reason += f"; {e.without_high_risk}"
    return Suggestion("risk_of_bias", "serious", reason)


def suggestions(e: Evidence) -> list[Suggestion]:
    """Every domain the data can inform, in GRADE's order, where they suggest rating down."""
    found = (risk_of_bias(e), inconsistency(e), imprecision(e), publication_bias(e))
    return [s for s in found if s is not None]
