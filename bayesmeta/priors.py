"""Priors on the between-study SD tau and on the pooled effect mu.

Every tau prior knows its log-density on tau (for the exact engine), its PyMC form, how to draw from it,
its CDF and quantiles, and a sentence describing it. Prior strings (DESIGN.md):

    flat  normal(m, s)  student_t(nu, m, s)                     -- on mu
    halfnormal(s)  halfcauchy(s)  halft(nu, s)  exponential(rate)  uniform(a, b)
    lognormal_tau2(m, s)   log tau^2 ~ N(m, s^2)
    logt_tau2(m, s, nu)    log tau^2 ~ t_nu(m, s)
    invgamma_tau(shape, scale)   tau ~ inverse gamma
    jeffreys               Jeffreys prior for tau in the normal-normal model (improper; needs k >= 2)
    rhodes(outcome, comparison, area)  turner(outcome, comparison)  bartos(subfield)   -- empirical

Default tau prior for SMDs: half-normal(0.5). It puts 95% of its mass below tau = 0.98, i.e. it
allows anything from no to very large heterogeneity on the SMD scale while ruling out implausible
values, and it is the weakly informative choice discussed for SMD-type effects by Röver et al.
(2021, Res Synth Methods 12:448-474, doi 10.1002/jrsm.1475); Williams, Rast & Bürkner (2018) used
half-Cauchy(0.5) with similar effect. Bartoš et al.'s (2021) empirical Cochrane prior
(inverse-gamma(1.71, 0.40), median 0.27) is similar in the bulk; check sensitivity with `sensitivity()`.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, fields
from functools import cached_property
from importlib import resources

import numpy as np
import pandas as pd
from scipy import stats

from .errors import plain

DEFAULT_TAU_PRIOR = "halfnormal(0.5)"
DEFAULT_MU_PRIOR = "flat"


# --------------------------------------------------------------------------- tau priors
class TauPrior:
    """A prior on tau >= 0. Subclasses set `dist` (a frozen scipy distribution on tau) or override."""

    name = "prior"
    proper = True
    dist = None

    def logpdf(self, tau):
        return self.dist.logpdf(tau)

    def cdf(self, tau):
        return self.dist.cdf(tau)

    def ppf(self, q):
        return self.dist.ppf(q)

    def rvs(self, size, rng):
        return self.dist.rvs(size=size, random_state=rng)

    @property
    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def pymc(self, name="tau", se=None):  # pragma: no cover - per subclass
        raise NotImplementedError

    def describe(self) -> str:
        """The prior in a sentence for the model section, with its median and 95% point."""
        if not self.proper:
            return f"{self.wording} (improper)"
        q = self.ppf(np.array([0.5, 0.95]))
        return f"{self.wording} (prior median of tau {q[0]:.2f}, 95% of its mass below {q[1]:.2f})"

    @property
    def wording(self) -> str:
        return str(self)

    def label(self) -> str:
        """A short name for a reader (a table header, a figure title): 'half-normal prior on tau (scale 0.5)',
        'Empirical prior of Rhodes et al. 2015 (SMD, general)'; str(prior) is the code form."""
        return self.wording

    def bind(self, data) -> "TauPrior":
        """The prior for these data (only data-dependent priors such as Jeffreys' change). Refuses a prior that
        puts 99.9% of its mass below a millionth of the smallest standard error: for the likelihood that is
        tau = 0 (the common-effect model), and the quadrature over such a sliver of tau is ill-posed."""
        se = np.asarray(data.se, float)
        if self.proper and len(se):
            top = float(self.ppf(0.999))
            if top < 1e-6 * se.min():
                raise PriorError(
                    f"tau prior {self}: 99.9% of its mass lies below tau = {top:.3g}, less than a millionth of the "
                    f"smallest standard error ({se.min():.3g}); that is the common-effect model (model='common'), "
                    "or the prior is on another scale than the effects")
        return self

    def __repr__(self):
        return str(self)


class ParametricTauPrior(TauPrior):
    """A tau prior given by named parameters: subclasses are dataclasses that declare `keyword` (the prior
    string name), `template` (the wording in a sentence, with {parameter} fields), `short` (the reader's label
    in a table or figure), `positive` (parameters that must be > 0),
    `dist` (a scipy distribution on tau) and `pymc`."""

    keyword = ""
    template = ""
    short = ""
    positive: tuple = ()

    def __post_init__(self):
        _finite(self, **self._params())
        _positive(self, **{k: getattr(self, k) for k in self.positive})

    def _params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}

    def __str__(self):
        return f"{self.keyword}({', '.join(f'{v:g}' for v in self._params().values())})"

    @property
    def wording(self):
        source = getattr(self, "source", "")
        return self.template.format(**self._params()) + (f" ({source})" if source else "")

    def label(self):
        return empirical_label(getattr(self, "source", "")) or self.short.format(**self._params())


def _pm():
    import pymc

    return pymc


@dataclass(frozen=True, repr=False)
class HalfNormal(ParametricTauPrior):
    scale: float
    keyword, template, positive = "halfnormal", "half-normal prior on tau with scale {scale:g}", ("scale",)
    short = "half-normal prior on tau (scale {scale:g})"

    @cached_property
    def dist(self):
        return stats.halfnorm(scale=self.scale)

    def pymc(self, name="tau", se=None):
        return _pm().HalfNormal(name, sigma=self.scale)


@dataclass(frozen=True, repr=False)
class HalfCauchy(ParametricTauPrior):
    scale: float
    keyword, template, positive = "halfcauchy", "half-Cauchy prior on tau with scale {scale:g}", ("scale",)
    short = "half-Cauchy prior on tau (scale {scale:g})"

    @cached_property
    def dist(self):
        return stats.halfcauchy(scale=self.scale)

    def pymc(self, name="tau", se=None):
        return _pm().HalfCauchy(name, beta=self.scale)


@dataclass(frozen=True, repr=False)
class HalfT(ParametricTauPrior):
    """|t_nu| scaled by `scale` (scipy has no half-t: density 2 t(x / s) / s)."""

    nu: float
    scale: float
    keyword, positive = "halft", ("nu", "scale")
    template = "half-Student-t prior on tau with {nu:g} degrees of freedom and scale {scale:g}"
    short = "half-t prior on tau ({nu:g} df, scale {scale:g})"

    def logpdf(self, tau):
        tau = np.asarray(tau, float)
        out = np.log(2) + stats.t.logpdf(tau / self.scale, self.nu) - np.log(self.scale)
        return np.where(tau >= 0, out, -np.inf)

    def cdf(self, tau):
        return np.clip(2 * stats.t.cdf(np.asarray(tau, float) / self.scale, self.nu) - 1, 0, 1)

    def ppf(self, q):
        return self.scale * stats.t.ppf((1 + np.asarray(q, float)) / 2, self.nu)

    def rvs(self, size, rng):
        return np.abs(self.scale * stats.t.rvs(self.nu, size=size, random_state=rng))

    def pymc(self, name="tau", se=None):
        return _pm().HalfStudentT(name, nu=self.nu, sigma=self.scale)


@dataclass(frozen=True, repr=False)
class Exponential(ParametricTauPrior):
    rate: float
    keyword, template, positive = "exponential", "exponential prior on tau with rate {rate:g}", ("rate",)
    short = "exponential prior on tau (rate {rate:g})"

    @cached_property
    def dist(self):
        return stats.expon(scale=1 / self.rate)

    def pymc(self, name="tau", se=None):
        return _pm().Exponential(name, lam=self.rate)


@dataclass(frozen=True, repr=False)
class Uniform(ParametricTauPrior):
    lower: float
    upper: float
    keyword, template = "uniform", "uniform prior on tau between {lower:g} and {upper:g}"
    short = "uniform prior on tau ({lower:g} to {upper:g})"

    def __post_init__(self):
        _finite(self, **self._params())
        if not 0 <= self.lower < self.upper < math.inf:
            raise ValueError(f"uniform(a, b) on tau needs 0 <= a < b < inf, got ({self.lower}, {self.upper})")

    @cached_property
    def dist(self):
        return stats.uniform(self.lower, self.upper - self.lower)

    @property
    def support(self):
        return self.lower, self.upper

    def pymc(self, name="tau", se=None):
        return _pm().Uniform(name, lower=self.lower, upper=self.upper)


@dataclass(frozen=True, repr=False)
class LogNormalTau2(ParametricTauPrior):
    """log tau^2 ~ N(m, s^2), i.e. tau ~ log-normal(m/2, s/2) (Turner et al. 2015 form)."""

    m: float
    s: float
    source: str = ""
    keyword, template, positive = "lognormal_tau2", "log-normal prior on tau^2, log tau^2 ~ N({m:g}, {s:g}^2)", ("s",)
    short = "log-normal prior on tau\u00b2 (log-scale mean {m:g}, SD {s:g})"

    @cached_property
    def dist(self):
        return stats.lognorm(s=self.s / 2, scale=math.exp(self.m / 2))

    def pymc(self, name="tau", se=None):
        return _pm().LogNormal(name, mu=self.m / 2, sigma=self.s / 2)


@dataclass(frozen=True, repr=False)
class LogTTau2(ParametricTauPrior):
    """log tau^2 ~ t_nu(m, s), i.e. log tau ~ t_nu(m/2, s/2) (Rhodes et al. 2015 form)."""

    m: float
    s: float
    nu: float = 5.0
    source: str = ""
    keyword, positive = "logt_tau2", ("s", "nu")
    template = "log-t prior on tau^2, log tau^2 ~ t_{nu:g}({m:g}, {s:g})"
    short = "log-t prior on tau\u00b2 (log-scale location {m:g}, scale {s:g}, {nu:g} df)"

    @cached_property
    def _log_tau(self):
        return stats.t(self.nu, loc=self.m / 2, scale=self.s / 2)

    def logpdf(self, tau):
        tau = np.asarray(tau, float)
        with np.errstate(divide="ignore"):
            logt = np.log(tau)
        return np.where(tau > 0, self._log_tau.logpdf(logt) - logt, -np.inf)

    def cdf(self, tau):
        tau = np.asarray(tau, float)
        with np.errstate(divide="ignore"):
            return np.where(tau > 0, self._log_tau.cdf(np.log(tau)), 0.0)

    def ppf(self, q):
        return np.exp(self._log_tau.ppf(q))

    def rvs(self, size, rng):
        return np.exp(self._log_tau.rvs(size=size, random_state=rng))

    def pymc(self, name="tau", se=None):
        pm = _pm()
        log_tau = pm.StudentT(f"log_{name}", nu=self.nu, mu=self.m / 2, sigma=self.s / 2)
        return pm.Deterministic(name, pm.math.exp(log_tau))


@dataclass(frozen=True, repr=False)
class InvGammaTau(ParametricTauPrior):
    shape: float
    scale: float
    source: str = ""
    keyword, positive = "invgamma_tau", ("shape", "scale")
    template = "inverse-gamma prior on tau with shape {shape:g} and scale {scale:g}"
    short = "inverse-gamma prior on tau (shape {shape:g}, scale {scale:g})"

    @cached_property
    def dist(self):
        return stats.invgamma(self.shape, scale=self.scale)

    def pymc(self, name="tau", se=None):
        return _pm().InverseGamma(name, alpha=self.shape, beta=self.scale)


@dataclass(frozen=True, repr=False)
class Jeffreys(TauPrior):
    """Jeffreys prior p(tau) ∝ sqrt(sum (tau / (s_i^2 + tau^2))^2) (Bodnar et al. 2017; R bayesmeta).

    Improper (∝ 1/tau for large tau): the posterior is proper for k >= 2 with a flat prior on mu.
    """

    v: tuple | None = None
    proper = False

    def bind(self, data):
        return Jeffreys(tuple(np.asarray(data.vi, float)))

    def _need_data(self):
        if self.v is None:
            raise ValueError("the Jeffreys prior depends on the standard errors: call .bind(data) first")
        return np.asarray(self.v)

    def logpdf(self, tau):
        v = self._need_data()
        tau = np.asarray(tau, float)[..., None]
        with np.errstate(divide="ignore"):
            return 0.5 * np.log(np.sum((tau / (v + tau**2)) ** 2, axis=-1))

    def cdf(self, tau):
        # Only used for the mass below a tiny tau (density ~ tau sqrt(sum 1/v^2) there); unnormalised.
        v = self._need_data()
        return 0.5 * np.asarray(tau, float) ** 2 * math.sqrt(np.sum(1 / v**2))

    def ppf(self, q):
        raise ValueError("the Jeffreys prior is improper: it has no quantiles")

    def rvs(self, size, rng):
        raise ValueError("the Jeffreys prior is improper: it cannot be sampled")

    def pymc(self, name="tau", se=None):
        import pymc as pm
        v = self._need_data() if se is None else se**2
        tau = pm.HalfFlat(name)
        pm.Potential("jeffreys_tau", 0.5 * pm.math.log(pm.math.sum((tau / (v + tau**2)) ** 2)))
        return tau

    def __str__(self):
        return "jeffreys"

    @property
    def wording(self):
        return "Jeffreys prior on tau (improper, depends on the standard errors)"

    def label(self):
        return "Jeffreys prior on tau (improper)"


# --------------------------------------------------------------------------- mu priors
@dataclass(frozen=True)
class MuPrior:
    """flat (improper uniform), normal(m, s) or student_t(nu, m, s) on mu."""

    kind: str = "flat"
    m: float = 0.0
    s: float = math.inf
    nu: float = math.inf
    source: str = ""

    def __post_init__(self):
        if self.kind not in ("flat", "normal", "student_t"):
            raise ValueError(f"MuPrior: kind must be 'flat', 'normal' or 'student_t', not {self.kind!r}")
        if self.kind != "flat":
            _finite(self, m=self.m)
            _positive(self, s=self.s)
        if self.kind == "student_t":
            _positive(self, nu=self.nu)

    @property
    def proper(self):
        return self.kind != "flat"

    def logpdf(self, mu):
        if self.kind == "normal":
            return stats.norm.logpdf(mu, self.m, self.s)
        if self.kind == "student_t":
            return stats.t.logpdf(mu, self.nu, self.m, self.s)
        raise ValueError("a flat prior has no normalised density")

    def rvs(self, size, rng):
        if self.kind == "normal":
            return rng.normal(self.m, self.s, size)
        if self.kind == "student_t":
            return self.m + self.s * rng.standard_t(self.nu, size)
        raise ValueError("a flat prior cannot be sampled")

    def pymc(self, name="mu", dims=None):
        import pymc as pm
        if self.kind == "normal":
            return pm.Normal(name, mu=self.m, sigma=self.s, dims=dims)
        if self.kind == "student_t":
            return pm.StudentT(name, nu=self.nu, mu=self.m, sigma=self.s, dims=dims)
        return pm.Flat(name, dims=dims)

    def __str__(self):
        return {"flat": "flat", "normal": f"normal({self.m:g}, {self.s:g})",
                "student_t": f"student_t({self.nu:g}, {self.m:g}, {self.s:g})"}[self.kind]

    def label(self) -> str:
        """A short name for a reader: 'flat prior on mu', 'normal prior on mu (mean 0, SD 1)', 'Empirical prior
        of Bartoš et al. 2021 (SMD, Back and Neck)'; str(prior) is the code form."""
        return empirical_label(self.source) or {
            "flat": "flat prior on mu", "normal": f"normal prior on mu (mean {self.m:g}, SD {self.s:g})",
            "student_t": f"Student-t prior on mu ({self.nu:g} df, location {self.m:g}, scale {self.s:g})"}[self.kind]

    def describe(self) -> str:
        src = f" ({self.source})" if self.source else ""
        return {"flat": "flat (improper uniform) prior on mu",
                "normal": f"normal prior on mu with mean {self.m:g} and SD {self.s:g}",
                "student_t": f"Student-t prior on mu with {self.nu:g} degrees of freedom, location {self.m:g} "
                             f"and scale {self.s:g}"}[self.kind] + src


# --------------------------------------------------------------------------- empirical priors
def empirical_label(source: str) -> str:
    """'Rhodes et al. 2015, SMD, general' -> 'Empirical prior of Rhodes et al. 2015 (SMD, general)'; '' -> ''."""
    if not source:
        return ""
    cite, _, where = source.partition(", ")
    return f"Empirical prior of {cite}" + (f" ({where})" if where else "")

def _table(name) -> pd.DataFrame:
    with resources.files("bayesmeta.prior_tables").joinpath(name).open("r", encoding="utf-8") as fh:
        return pd.read_csv(fh)


def _pick(table: pd.DataFrame, column: str, wanted: str | None, default: str) -> pd.DataFrame:
    """Rows whose `column` matches `wanted` (exactly, else as a case-insensitive substring)."""
    wanted = default if wanted is None else wanted
    exact = table[table[column].str.lower() == wanted.lower()]
    if len(exact):
        return exact
    part = table[table[column].str.lower().str.contains(wanted.lower(), regex=False)]
    choices = sorted(set(part[column])) if len(part) else sorted(set(table[column]))
    if len(set(part[column])) != 1:
        raise ValueError(f"{column} {wanted!r} is {'ambiguous' if len(part) else 'unknown'}; choose one of: "
                         + "; ".join(choices))
    return part


def rhodes(outcome: str | None = None, comparison: str | None = None, area: str | None = None) -> LogTTau2:
    """Rhodes, Turner & Higgins (2015, J Clin Epidemiol 68:52-60) empirical prior for SMDs:
    log tau^2 ~ t5(location, scale). No arguments: their general (marginal) prior t5(-3.44, 2.59).
    Names may be abbreviated (a unique case-insensitive substring); an argument left out defaults to
    outcome "various subjectively measured outcomes", comparison "pharmacological vs. placebo / control",
    area "other".

    Two cells are flagged as suspect in the source table (an additive pattern in the published table
    implies other values): mental health / non-pharmacological / other area (-3.85, pattern implies
    -2.85) and internal and external structure-related / pharmacological vs placebo / cancer (-0.13,
    sign may be +0.13). They are used as published, with a warning.
    """
    table = _table("rhodes2015_smd_logtau2_t5.csv")
    if outcome is None and comparison is None and area is None:
        row = table.iloc[0]
    else:
        rows = _pick(table[table["outcome"] != "any (marginal)"], "outcome", outcome, "various subjectively")
        rows = _pick(rows, "comparison", comparison, "pharmacological vs. placebo / control")
        row = _pick(rows, "medical.area", area, "other").iloc[0]
        if isinstance(row["flag"], str) and row["flag"]:
            import warnings

            from .effects import PACKAGE_DIR
            warnings.warn(f"Rhodes et al. 2015 prior for {row['outcome']} / {row['comparison']} / "
                          f"{row['medical.area']} is flagged as suspect: {row['flag']}", UserWarning,
                          skip_file_prefixes=PACKAGE_DIR)
    where = ("general" if row["outcome"] == "any (marginal)"
             else f"{row['outcome']}; {row['comparison']}; {row['medical.area']}")
    return LogTTau2(float(row["location_log_tau2"]), float(row["scale_log_tau2"]), float(row["df"]),
                    source=f"Rhodes et al. 2015, SMD, {where}")


def turner(outcome: str | None = None, comparison: str | None = None) -> LogNormalTau2:
    """Turner et al. (2015, Stat Med 34:984-998) empirical prior for log odds ratios: log tau^2 ~ N(mu, sigma^2).
    No arguments: the general prior N(-2.56, 1.74^2)."""
    table = _table("turner2015_lor_logtau2_normal.csv")
    if outcome is None and comparison is None:
        row = table.iloc[0]
    else:
        rows = _pick(table[table["outcome"] != "any (marginal)"], "outcome", outcome, "subjective outcomes")
        row = _pick(rows, "comparison", comparison, "pharmacological vs. placebo / control").iloc[0]
    where = "general" if row["outcome"] == "any (marginal)" else f"{row['outcome']}; {row['comparison']}"
    return LogNormalTau2(float(row["mu_log_tau2"]), float(row["sigma_log_tau2"]),
                         source=f"Turner et al. 2015, log OR, {where}")


def bartos(subfield: str | None = None, parameter: str = "tau"):
    """Bartoš et al. (2021, Stat Med, doi 10.1002/sim.9170) empirical priors for SMDs by Cochrane subfield:
    tau ~ inverse-gamma(shape, scale), mu ~ Student-t(df, 0, scale). No subfield: all of Cochrane."""
    table = _table("bartos2021_smd.csv")
    row = _pick(table, "subfield", subfield, "Cochrane (all)").iloc[0]
    source = f"Bartoš et al. 2021, SMD, {row['subfield']}"
    if parameter == "tau":
        return InvGammaTau(float(row["tau_shape"]), float(row["tau_scale"]), source=source)
    if pd.isna(row["mu_scale"]):
        raise ValueError(f"Bartoš et al. give no prior on mu for {row['subfield']!r}")
    return MuPrior("student_t", float(row["mu_location"]), float(row["mu_scale"]), float(row["mu_df"]), source)


# --------------------------------------------------------------------------- parsing
@dataclass(frozen=True)
class _Form:
    """One accepted prior string: its usage text, its parameters (the first `required` must be given),
    whether they are numbers or text, and the function that builds the prior."""

    usage: str
    params: tuple
    required: int
    build: object
    text: bool = False


def _empirical_mu(*args, **kwargs):
    return bartos(*args, parameter="mu", **kwargs)


def _mu(kind):
    def build(*args):
        if kind == "student_t":
            nu, m, s = args
            return MuPrior("student_t", m, s, nu)
        return MuPrior(kind, *args)
    return build


_TAU_FORMS = {
    "halfnormal": _Form("halfnormal(s)", ("scale",), 1, HalfNormal),
    "halfcauchy": _Form("halfcauchy(s)", ("scale",), 1, HalfCauchy),
    "halft": _Form("halft(nu, s)", ("nu", "scale"), 2, HalfT),
    "exponential": _Form("exponential(rate)", ("rate",), 1, Exponential),
    "uniform": _Form("uniform(a, b)", ("lower", "upper"), 2, Uniform),
    "lognormal_tau2": _Form("lognormal_tau2(m, s)", ("m", "s"), 2, LogNormalTau2),
    "logt_tau2": _Form("logt_tau2(m, s, nu)", ("m", "s", "nu"), 2, LogTTau2),
    "invgamma_tau": _Form("invgamma_tau(shape, scale)", ("shape", "scale"), 2, InvGammaTau),
    "jeffreys": _Form("jeffreys", (), 0, Jeffreys),
    "rhodes": _Form("rhodes(outcome, comparison, area)", ("outcome", "comparison", "area"), 0, rhodes, text=True),
    "turner": _Form("turner(outcome, comparison)", ("outcome", "comparison"), 0, turner, text=True),
    "bartos": _Form("bartos(subfield)", ("subfield",), 0, bartos, text=True),
}
_MU_FORMS = {
    "flat": _Form("flat", (), 0, lambda: MuPrior("flat")),
    "normal": _Form("normal(m, s)", ("m", "s"), 2, _mu("normal")),
    "student_t": _Form("student_t(nu, m, s)", ("nu", "m", "s"), 3, _mu("student_t")),
    "bartos": _Form("bartos(subfield)", ("subfield",), 0, _empirical_mu, text=True),
}
_ALIASES = {"half_normal": "halfnormal", "half_cauchy": "halfcauchy", "half_t": "halft", "t": "student_t"}
# Short names used in the usage texts, accepted as keywords too: halfnormal(s=0.5), uniform(a=0, b=1).
_KEYWORDS = {"s": ("scale", "s"), "a": ("lower",), "b": ("upper",), "nu": ("nu",), "rate": ("rate",), "m": ("m",),
             "shape": ("shape",), "scale": ("scale", "s")}

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_CALL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*", re.S)


class PriorError(ValueError):
    """A prior string or prior object that cannot be used; the message names it and lists the accepted forms."""


def _accepted(forms) -> str:
    return ", ".join(f.usage for f in forms.values())


def _split_arguments(inner: str, fail) -> list[str]:
    """Split 'a, "b, c", d' at the commas outside quotes."""
    parts, current, quote = [], [], None
    for ch in inner:
        if quote:
            current.append(ch)
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quote:
        fail(f"unterminated quote {quote}")
    parts.append("".join(current))
    if len(parts) == 1 and not parts[0].strip():
        return []
    if any(not p.strip() for p in parts):
        fail("an argument is empty (two commas in a row, or a comma at the end)")
    return [p.strip() for p in parts]


def _value(text: str, form: _Form, fail):
    """A quoted text, a finite number, or (for the empirical priors) an unquoted text."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        if not form.text:
            fail(f"{text} is not a number")
        return text[1:-1]
    if _NUMBER.fullmatch(text):
        value = float(text)
        if not math.isfinite(value):
            fail(f"{text} is not a finite number")
        if form.text:
            fail(f"{text} is not a name (give the {form.params[0]} as text)")
        return value
    if not form.text:
        fail(f"{text!r} is not a finite number")
    return text


def parse_prior(spec, what: str = "tau"):
    """The prior named by a prior string, checked strictly: a known name, balanced parentheses, the right
    number of arguments, finite numbers, positive scales. `what` is "tau" or "mu". Raises PriorError (a
    ValueError) with a one-line message that lists the accepted forms."""
    forms = _TAU_FORMS if what == "tau" else _MU_FORMS
    text = spec

    def fail(reason, usage=None):
        hint = f"write {usage}" if usage else f"accepted: {_accepted(forms)}"
        raise PriorError(f"{what} prior {text!r}: {reason}; {hint}")

    if not isinstance(spec, str):
        fail(f"a prior is a prior string, not {type(spec).__name__}")
    if "\n" in spec or "\r" in spec:
        text = " ".join(spec.split())
        fail("a prior string is one line")
    if spec.count("(") != spec.count(")"):
        fail("unbalanced parentheses")
    m = _CALL.fullmatch(spec)
    if not m or (m.group(2) is not None and ("(" in m.group(2) or ")" in m.group(2))):
        fail("cannot read it as name(arguments)")
    name = m.group(1).lower()
    name = _ALIASES.get(name, name)
    if what == "mu" and name == "uniform":
        if m.group(2) is None or not m.group(2).strip():
            return MuPrior("flat")  # an unbounded uniform is the flat prior
        fail("a bounded uniform prior on mu is not supported (only the flat, unbounded one is)",
             "flat, normal(m, s) or student_t(nu, m, s)")
    if name not in forms:
        other = "a prior on mu" if name in _MU_FORMS else "a prior on tau" if name in _TAU_FORMS else None
        fail(f"unknown {what} prior {name!r}" + (f" ({name} is {other})" if other else ""))
    form = forms[name]
    raw = _split_arguments(m.group(2) or "", fail)
    args, kwargs = [], {}
    for item in raw:
        key = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)", item, re.S)
        if key and not _NUMBER.fullmatch(item):
            names = [p for p in form.params if p in _KEYWORDS.get(key.group(1), (key.group(1),))]
            if not names:
                fail(f"no argument called {key.group(1)!r}", form.usage)
            if names[0] in kwargs:
                fail(f"{key.group(1)!r} is given twice", form.usage)
            kwargs[names[0]] = _value(key.group(2).strip(), form, lambda r: fail(r, form.usage))
        elif kwargs:
            fail("a positional argument follows a keyword argument", form.usage)
        else:
            args.append(_value(item, form, lambda r: fail(r, form.usage)))
    given = len(args) + len(kwargs)
    if given > len(form.params):
        most = f"at most {len(form.params)} argument(s)" if form.params else "no arguments"
        fail(f"takes {most}, got {given}", form.usage)
    bound = dict(zip(form.params, args))
    for key in kwargs:
        if key in bound:
            fail(f"{key!r} is given twice", form.usage)
    bound.update(kwargs)
    missing = [p for p in form.params[: form.required] if p not in bound]
    if missing:
        fail(f"needs {form.required} argument(s), got {given}", form.usage)
    try:
        if form.text:
            return form.build(**bound)
        return form.build(*[bound[p] for p in form.params if p in bound])
    except PriorError:
        raise
    except (ValueError, TypeError) as err:  # the class name that starts the message says less than the string
        fail(re.sub(r"^[A-Z]\w*: ", "", str(err).strip().rstrip(".")), form.usage)


def tau_prior(spec, name: str = "tau prior") -> TauPrior:
    """A TauPrior from a prior string (see the module docstring) or a TauPrior (returned as is). `name` is what
    error messages call it (e.g. "--nu-prior" or "nu_prior" where the same kind of prior serves nu - 1)."""
    if isinstance(spec, TauPrior):
        return spec
    if spec is None:
        spec = DEFAULT_TAU_PRIOR
    if isinstance(spec, MuPrior):
        raise PriorError(f"{name}: {spec} is a prior on mu; accepted: {_accepted(_TAU_FORMS)}")
    return _named(spec, "tau", name)


def mu_prior(spec, name: str = "mu prior") -> MuPrior:
    """A MuPrior from 'flat', 'normal(m, s)', 'student_t(nu, m, s)', 'bartos(subfield)' or a MuPrior; `name` as in
    tau_prior (e.g. "beta_prior" where the same kind of prior serves the coefficients)."""
    if isinstance(spec, MuPrior):
        return spec
    if spec is None:
        spec = DEFAULT_MU_PRIOR
    if isinstance(spec, TauPrior):
        raise PriorError(f"{name}: {spec} is a prior on tau; accepted: {_accepted(_MU_FORMS)}")
    return _named(spec, "mu", name)


def _named(spec, kind: str, name: str):
    """parse_prior(spec, kind), its errors calling the prior `name`."""
    try:
        return parse_prior(spec, kind)
    except PriorError as err:
        if name == f"{kind} prior":
            raise
        raise PriorError(re.sub(rf"^{kind} prior", name, str(err)).replace(f"unknown {kind} prior", "unknown prior")
                         ) from None


# --------------------------------------------------------------------------- default prior on tau
def unit_information_sd(data) -> float | None:
    """The unit-information SD of R bayesmeta's `uisd()` (Röver et al. 2021, eq. 6):
    sigma_U = sqrt(sum n_i / sum se_i^-2), with n_i the total sample size of study i; None when the sizes
    are unknown."""
    n = getattr(data, "n", None)
    if n is None:
        return None
    precision = np.sum(1 / np.asarray(data.se, float) ** 2)
    return float(math.sqrt(np.sum(np.asarray(n, float)) / precision))


def default_tau_prior(data) -> tuple[TauPrior, str]:
    """The prior on tau used when none is given, and one sentence saying which and why.

    Standardised mean differences (SMD, SMD_RevMan, d): half-normal(0.5). Log odds and risk ratios (logOR, logRR):
    Turner et al.'s (2015) general prior, log tau^2 ~ N(-2.56, 1.74^2). Other measures (MD in raw units, RD,
    generic effects): half-normal with a quarter of the unit-information SD of the data as its scale
    (sigma_U / 4; for SMDs sigma_U is about 2, so this is the same choice on the scale of the data, as
    RoBMA's default). Without group sizes there is no unit-information SD: DataError asking for a prior.
    """
    from .effects import STANDARDISED
    from .errors import DataError

    measure = getattr(data, "measure", "SMD")
    if measure in STANDARDISED:
        prior = HalfNormal(0.5)
        return prior, ("Prior on tau not given: the default for standardised mean differences, half-normal(0.5), "
                       "which puts 95% of its mass below tau = 0.98 (Röver et al. 2021).")
    if measure in ("logOR", "logRR"):  # 2x2 outcomes: Turner et al.'s general prior (derived for log odds ratios)
        prior = turner()
        what = ("log odds ratios" if measure == "logOR" else
                "log risk ratios (the prior was derived for log odds ratios; for risk ratios it is an approximation)")
        return prior, (f"Prior on tau not given: for {what} the default is Turner et al.'s (2015) general predictive "
                       f"distribution, log tau^2 ~ N({prior.m:g}, {prior.s:g}^2) (median tau "
                       f"{math.exp(prior.m / 2):.2f}).")
    uisd = unit_information_sd(data)
    what = "mean differences in raw units" if measure == "MD" else f"{measure} effects"
    if uisd is None or not (uisd > 0 and math.isfinite(uisd)):
        raise DataError(
            f"no default prior on tau for {what} without group sizes: give tau_prior (e.g. "
            f"'halfnormal(s)' with s about a quarter of the within-group SD of the outcome, in its units), or give "
            f"the total sample size of each study (n=) so that the prior can be scaled to the data")
    scale = float(f"{uisd / 4:.3g}")
    prior = HalfNormal(scale)
    return prior, (f"Prior on tau not given: for {what} the default is half-normal({scale:g}), a quarter of the "
                   f"unit-information SD of these data (sqrt(total N / sum 1/se^2) = {uisd:.4g}; Röver et al. "
                   f"2021), the scale that half-normal(0.5) has for standardised mean differences.")


def _positive(obj, **values):
    for key, value in values.items():
        if not (_is_number(value) and value > 0 and math.isfinite(value)):
            raise ValueError(f"{type(obj).__name__}: {key} must be a positive finite number, got {plain(value)!r}")


def _finite(obj, **values):
    for key, value in values.items():
        if not (_is_number(value) and math.isfinite(value)):
            raise ValueError(f"{type(obj).__name__}: {key} must be a finite number, got {plain(value)!r}")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
