"""RevMan's pooling of 2x2 tables: Mantel-Haenszel (fixed effect), DerSimonian-Laird random effects with Q taken
around the Mantel-Haenszel estimate, and Peto's odds ratio; with subgroups and the test for subgroup differences
as RevMan 5 and R meta (`metabin`, `settings.meta("RevMan5")`) compute them.

Counts: a events of n1 (treatment), c of n2 (control), b = n1 - a, d = n2 - c, N = n1 + n2. As RevMan 5 (R meta's
`MH.exact = FALSE`), a table with a zero cell enters the Mantel-Haenszel sums with 0.5 added to each cell;
tables without information on the ratio are set aside before (see `bayesmeta.binary`).

* Odds ratio: OR_MH = sum R_i / sum S_i, R_i = a d / N, S_i = b c / N; var(log OR_MH) by Robins, Breslow and
  Greenland (1986): sum P R / (2 R+^2) + sum (P S + Q R) / (2 R+ S+) + sum Q S / (2 S+^2), P = (a + d)/N,
  Q = (b + c)/N. Weights S_i.
* Risk ratio: RR_MH = sum a n2 / N / sum c n1 / N; var(log RR_MH) = sum (n1 n2 (a + c) - a c N) / N^2 /
  (sum a n2 / N * sum c n1 / N) (Greenland & Robins 1985). Weights c n1 / N.
* Risk difference: RD_MH = sum w_i RD_i / sum w_i, w_i = n1 n2 / N, with the raw RD_i;
  var = sum (a b n2^3 + c d n1^3) / (n1 n2 N^2) / (sum w_i)^2 (Greenland & Robins 1985, as RevMan and Stata's
  metan; metafor's rma.mh uses Sato et al. 1989 instead).
* Heterogeneity (RevMan, R meta's `Q.Cochrane`, metafor's rma.mh): Q = sum w_i (y_i - theta_MH)^2 with the
  inverse-variance weights w_i = 1/v_i of the studies' own effects (zero cells corrected), df = k - 1,
  I^2 = (Q - df)/Q. Random effects: tau^2 = max(0, (Q - df) / (sum w - sum w^2 / sum w)) (DerSimonian-Laird
  around the MH estimate), then the inverse-variance estimate with weights 1/(v_i + tau^2).
* Peto (Yusuf et al. 1985): log OR = sum (O - E) / sum V, var = 1 / sum V, Q = sum (O - E)^2 / V -
  (sum (O - E))^2 / sum V; weights V. No zero-cell correction.
* Subgroups: each subgroup pooled on its own (its own tau^2); test for subgroup differences Q_between =
  sum w_g (theta_g - theta_bar)^2 with w_g = 1 / se_g^2 (R meta's `subgroup`, RevMan 5).

`RevManResult` is a FrequentistResult that also says how RevMan pooled (pooling, model) and shows ratio
measures on the ratio scale.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, fields
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats

from ..binary import RATIO_NAMES, binary_effects, corrected_cells, counts_of, peto_terms
from ..errors import PACKAGE_DIR, DataError, EstimationWarning, plain
from .result import FrequentistResult
from .tau2 import q_profile_ci

BINARY_METHODS = ("MH", "MH-DL", "Peto")
POOLING_LABEL = {"MH": "M-H", "IV": "IV", "Peto": "Peto"}
DISPLAY_NAMES = {"logOR": "OR", "logRR": "RR", "SMD_RevMan": "SMD", "SMD": "SMD (Hedges' g)"}


@dataclass(repr=False)
class RevManResult(FrequentistResult):
    """A pooled result as RevMan reports it: `pooling` "MH", "Peto" or "IV", `model` "fixed" or "random";
    estimates on the analysis scale (log for odds and risk ratios), `display()` on RevMan's scale."""

    pooling: str = "IV"
    model: str = "random"
    set_aside: tuple = ()
    scale: str | None = None  # the measure's name as RevMan shows it ("OR", "SMD", "HR"); default from `measure`
    log_scale: bool | None = None  # shown exponentiated; default: odds and risk ratios

    @property
    def label(self) -> str:
        """RevMan's wording, e.g. 'M-H, Random' or 'IV, Fixed'."""
        return f"{POOLING_LABEL[self.pooling]}, {'Random' if self.model == 'random' else 'Fixed'}"

    @property
    def ratio(self) -> bool:
        """Whether RevMan shows this measure as a ratio (the analysis runs on the log scale)."""
        return self.measure in RATIO_NAMES if self.log_scale is None else bool(self.log_scale)

    def display(self) -> dict:
        """Estimate and CI as RevMan shows them (ratios exponentiated), with the measure's name."""
        f = math.exp if self.ratio else float
        name = self.scale or DISPLAY_NAMES.get(self.measure, self.measure)
        return dict(measure=name, estimate=f(self.mu), lower=f(self.lower), upper=f(self.upper))

    def __repr__(self) -> str:
        pct = int(round(self.level * 100))
        shown = self.display()
        lines = [f"RevMan pooling ({self.label}, {pct}% CI), {shown['measure']}, k = {self.k}",
                 f"  {shown['measure']} = {shown['estimate']:.4f} [{shown['lower']:.4f}, {shown['upper']:.4f}]; "
                 f"Z = {abs(self.mu / self.se):.2f} (P = {self.pvalue:.4g})"]
        if self.ratio:
            lines.append(f"  log scale: {self.mu:.4f} (SE {self.se:.4f})")
        lines.append("  Heterogeneity: " + self._heterogeneity(self.k, self.tau2, self.Q, self.Q_pvalue, self.I2))
        if self.subgroups is not None:
            lines.append(f"  Subgroups ({pct}% CI, each pooled on its own):")
            f = math.exp if self.ratio else float
            for g, r in self.subgroups.iterrows():
                het = self._heterogeneity(int(r["k"]), r["tau2"], r["Q"], r["Q_pvalue"], r["I2"])
                lines.append(f"    {g}: {shown['measure']} = {f(r['mu']):.4f} [{f(r['lower']):.4f}, "
                             f"{f(r['upper']):.4f}], k = {int(r['k'])}; {het}")
            q, df = self.Q_between, self.Q_between_df
            i2 = max(0.0, 100 * (q - df) / q) if q > 0 else 0.0
            lines.append(f"  Test for subgroup differences: Chi^2 = {q:.2f}, df = {df} "
                         f"(P = {self.Q_between_pvalue:.4g}), I^2 = {i2:.1f}%")
        if self.set_aside:
            lines.append("  set aside (not estimable): " + ", ".join(map(repr, self.set_aside)))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _heterogeneity(self, k, tau2, q, q_p, i2) -> str:
        if k < 2:
            return "not applicable (one study)"
        tau = f"Tau^2 = {tau2:.4f}; " if self.model == "random" else ""
        return f"{tau}Chi^2 = {q:.2f}, df = {k - 1} (P = {q_p:.4g}); I^2 = {i2:.0f}%"

    @classmethod
    def wrap(cls, result: FrequentistResult, pooling: str, model: str, **extra) -> "RevManResult":
        """A FrequentistResult (inverse variance, from `frequentist`) as a RevManResult."""
        values = {f.name: getattr(result, f.name) for f in fields(FrequentistResult)}
        return cls(**values, pooling=pooling, model=model, **extra)


# --------------------------------------------------------------------------- one pooled estimate
def mantel_haenszel_estimate(events1, n1, events2, n2, measure):
    """Mantel-Haenszel estimate (log scale for ratios), its SE, and the study weights (unnormalised)."""
    a, b, c, d = corrected_cells(events1, n1, events2, n2)
    m1, m2 = a + b, c + d
    total = m1 + m2
    if measure == "logOR":
        r, s = a * d / total, b * c / total
        p, q = (a + d) / total, (b + c) / total
        rs, ss = r.sum(), s.sum()
        var = (p * r).sum() / (2 * rs**2) + (p * s + q * r).sum() / (2 * rs * ss) + (q * s).sum() / (2 * ss**2)
        return math.log(rs / ss), math.sqrt(var), s
    if measure == "logRR":
        r, s = a * m2 / total, c * m1 / total
        dd = (m1 * m2 * (a + c) - a * c * total) / total**2
        return math.log(r.sum() / s.sum()), math.sqrt(dd.sum() / (r.sum() * s.sum())), s
    if measure == "RD":
        w = m1 * m2 / total
        rd, _ = binary_effects(events1, n1, events2, n2, "RD")
        num = (a * b * m2**3 + c * d * m1**3) / (m1 * m2 * total**2)
        return float(np.sum(w * rd) / w.sum()), math.sqrt(num.sum()) / w.sum(), w
    raise DataError(f"Mantel-Haenszel pools logOR, logRR or RD, not {measure!r}")


def _pool(method, random, counts, y, v, measure, level) -> SimpleNamespace:
    """One pooled result (all studies, or one subgroup) by `method` ("MH" or "Peto")."""
    k = len(y)
    if method == "Peto":
        oe, var = peto_terms(*counts)
        y, v = oe / var, 1 / var
        est, se, weights = float(oe.sum() / var.sum()), math.sqrt(1 / var.sum()), var
    else:
        est, se, weights = mantel_haenszel_estimate(*counts, measure)
    w = 1 / v
    q = float(np.sum(w * (y - est) ** 2)) if k > 1 else 0.0
    df = k - 1
    tau2 = 0.0
    lo2 = hi2 = float("nan")
    if random:
        if df > 0:
            tau2 = max(0.0, (q - df) / (w.sum() - np.sum(w**2) / w.sum()))
            lo2, hi2 = q_profile_ci(y, v, tau2, level)
        ws = 1 / (v + tau2)
        est, se, weights = float(np.sum(ws * y) / ws.sum()), math.sqrt(1 / ws.sum()), ws
    crit = stats.norm.ppf(0.5 + level / 2)
    z = est / se
    i2 = max(0.0, 100 * (q - df) / q) if df > 0 and q > 0 else (0.0 if df > 0 else float("nan"))
    return SimpleNamespace(k=k, mu=est, se=se, lower=est - crit * se, upper=est + crit * se,
                           pvalue=float(2 * stats.norm.sf(abs(z))), tau2=tau2, tau2_lower=lo2, tau2_upper=hi2,
                           I2=i2, Q=q, Q_pvalue=float(stats.chi2.sf(q, df)) if df > 0 else float("nan"),
                           weights=100 * weights / weights.sum())


def pool_counts(data, method="MH", level=0.95, subgroup=None) -> RevManResult:
    """Pool the 2x2 counts of `data` (EffectData.from_counts, or a review's effects) as RevMan does.

    method: "MH" (Mantel-Haenszel, fixed effect), "MH-DL" (DerSimonian-Laird random effects, Q around the MH
    estimate) or "Peto" (Peto's odds ratio, fixed effect). subgroup: a column of the data; each subgroup is pooled
    on its own and `Q_between` tests the differences."""
    if method not in BINARY_METHODS:
        raise ValueError(f"method must be one of {', '.join(BINARY_METHODS)}, not {method!r}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level must be a probability between 0 and 1 (e.g. 0.95), not {plain(level)!r}")
    what = "Peto's method" if method == "Peto" else "Mantel-Haenszel"
    counts = counts_of(data, what)
    if method == "Peto" and data.measure != "logOR":
        raise DataError(f"Peto's method estimates an odds ratio; these data are {data.measure} (use measure='logOR')")
    if data.measure not in ("logOR", "logRR", "RD"):
        raise DataError(f"{what} pools logOR, logRR or RD, not {data.measure!r}")
    random = method == "MH-DL"
    pooling = "Peto" if method == "Peto" else "MH"
    y, v = np.asarray(data.y, float), np.asarray(data.se, float) ** 2

    def pool(mask):
        return _pool(pooling, random, tuple(c[mask] for c in counts), y[mask], v[mask], data.measure, level)

    overall = pool(np.ones(data.k, bool))
    if random and data.k == 1:  # as the inverse-variance random-effects fit warns
        warnings.warn("k = 1: heterogeneity cannot be estimated; tau^2 set to 0", EstimationWarning,
                      skip_file_prefixes=PACKAGE_DIR)
    result = RevManResult(
        k=data.k, method=method, ci="z", mu=overall.mu, se=overall.se, lower=overall.lower, upper=overall.upper,
        pvalue=overall.pvalue, tau2=overall.tau2, tau2_lower=overall.tau2_lower, tau2_upper=overall.tau2_upper,
        I2=overall.I2, I2_lower=float("nan"), I2_upper=float("nan"),
        H2=overall.Q / (data.k - 1) if data.k > 1 else float("nan"), H2_lower=float("nan"), H2_upper=float("nan"),
        Q=overall.Q, Q_pvalue=overall.Q_pvalue, pi_lower=float("nan"), pi_upper=float("nan"), prediction=None,
        level=level, weights=pd.Series(overall.weights, index=pd.Index(data.study, name="study"), name="weight_pct"),
        measure=data.measure, QE=overall.Q, QE_df=data.k - 1, QE_pvalue=overall.Q_pvalue,
        pooling=pooling, model="random" if random else "fixed")
    if subgroup is not None:
        add_subgroups(result, data, subgroup, pool)
    return result


def add_subgroups(result, data, column, pool) -> None:
    """Fill `result.subgroups` and the test for subgroup differences; `pool(mask)` pools the studies in mask."""
    from ..design import subgroup_labels

    labels, groups = subgroup_labels(data, column)
    if len(groups) < 2:
        raise DataError(f"subgroup {column!r}: every study is in {groups[0]!r}; a subgroup analysis needs two or "
                        "more groups")
    rows = []
    for g in groups:
        part = pool(labels == g)
        if part.k == 1:
            warnings.warn(f"subgroup {g!r} of {column!r} has one study: it is still analysed (its estimate and "
                          "interval are that study's own)", EstimationWarning, skip_file_prefixes=PACKAGE_DIR)
        rows.append(dict(k=part.k, mu=part.mu, se=part.se, lower=part.lower, upper=part.upper, tau2=part.tau2,
                         I2=part.I2, Q=part.Q, Q_pvalue=part.Q_pvalue, pvalue=part.pvalue))
    table = pd.DataFrame(rows, index=pd.Index(groups, name=column))
    w = 1 / table["se"].to_numpy() ** 2
    mu = table["mu"].to_numpy()
    q = float(np.sum(w * (mu - np.sum(w * mu) / np.sum(w)) ** 2))
    result.subgroup, result.subgroup_tau, result.subgroups = column, "separate", table
    result.Q_between, result.Q_between_df = q, len(groups) - 1
    result.Q_between_pvalue = float(stats.chi2.sf(q, len(groups) - 1))
