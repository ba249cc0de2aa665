"""Bayesian model averaging over effect, heterogeneity and publication bias (metaBMA: Gronau et al. 2021;
RoBMA-PSMA: Bartoš, Maier, Wagenmakers, Doucouliagos & Stanley 2023), from marginal likelihoods computed by
quadrature (bayesmeta.engines.evidence), not bridge sampling.

    posterior probability of model m:  P(m | y) = P(m) Z_m / sum_l P(l) Z_l,   Z_m = integral of p(y | theta) p(theta)
    inclusion Bayes factor of a component:  [P(with | y) / P(without | y)] / [P(with) / P(without)]

Model-averaged posteriors of mu and tau are mixtures of the models' posteriors weighted by P(m | y), with the
point masses at mu = 0 and tau = 0 of the models without them; `conditional()` gives them among the models
that include the parameter (RoBMA's conditional estimates). Default priors are RoBMA's for standardised
effects given as y and se (its `y=` route): mu ~ N(0, 1), tau ~ InvGamma(1, 0.15), PET b ~ Cauchy(0, 1)
and PEESE b ~ Cauchy(0, 5) on b >= 0; with bias the prior model probabilities are RoBMA's: effect and
heterogeneity 1/2 each, no bias 1/2, PET 1/8, PEESE 1/8 and the six weight functions 1/24 each.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy import special

from . import priors as _priors
from .effects import EffectData, benefit_operator
from .engines.evidence import Component, Setup, evidence
from .families.bias import SLOPE, WeightFunction, check_slope_identified, parse_bias
from .posterior import check_ci, parse_event

ROBMA_BIAS = (WeightFunction((0.05,), two_sided=True), WeightFunction((0.05, 0.1), two_sided=True),
              WeightFunction((0.05,)), WeightFunction((0.025, 0.05)), WeightFunction((0.05, 0.5)),
              WeightFunction((0.025, 0.05, 0.5)), "PET", "PEESE")
_RELATIVE = {"PET": 0.25, "PEESE": 0.25}  # RoBMA's prior_weights; the weight functions share 1/2


class Mixture:
    """A distribution as a weighted list of Atoms (bayesmeta.engines.evidence): cdf, ppf, moments."""

    def __init__(self, parts):
        total = sum(p for p, _ in parts)
        self.parts = [(p / total, a) for p, a in parts if p > 0]

    def cdf(self, x, strict: bool = False) -> np.ndarray:
        """P(X <= x), or P(X < x) with strict=True (they differ at a point mass)."""
        x = np.atleast_1d(np.asarray(x, float))
        out = np.zeros(x.shape)
        for p, a in self.parts:
            if a.kind == "normal":
                out += p * np.sum(a.weight * special.ndtr((x[:, None] - a.loc) / a.scale), axis=1)
            elif a.kind == "point":
                out += p * np.sum(a.weight * ((a.loc < x[:, None]) if strict else (a.loc <= x[:, None])), axis=1)
            else:  # grid nodes: each node's mass centred on it, linear in between
                order = np.argsort(a.loc)
                w = a.weight[order] / a.weight.sum()
                out += p * np.interp(x, a.loc[order], np.cumsum(w) - w / 2, left=0.0, right=1.0)
        return out

    def moments(self) -> tuple[float, float]:
        m1 = m2 = 0.0
        for p, a in self.parts:
            w = a.weight / a.weight.sum()
            var = a.scale**2 if a.kind == "normal" else 0.0
            m1 += p * float(np.sum(w * a.loc))
            m2 += p * float(np.sum(w * (a.loc**2 + var)))
        return m1, math.sqrt(max(m2 - m1**2, 0.0))

    def ppf(self, q) -> np.ndarray:
        """Quantiles by bisection on the CDF (the smallest x with F(x) >= q: a point mass is hit exactly)."""
        q = np.atleast_1d(np.asarray(q, float))
        lo = min(float(np.min(a.loc - (12 * a.scale if a.kind == "normal" else 0))) for _, a in self.parts) - 1e-9
        hi = max(float(np.max(a.loc + (12 * a.scale if a.kind == "normal" else 0))) for _, a in self.parts) + 1e-9
        a, b = np.full(q.shape, lo), np.full(q.shape, hi)
        for _ in range(80):
            mid = (a + b) / 2
            below = self.cdf(mid) < q
            a, b = np.where(below, mid, a), np.where(below, b, mid)
        for _, atom in self.parts:  # a quantile at a point mass is its location (0, not 1.7e-20)
            if atom.kind == "point":
                for loc in np.atleast_1d(atom.loc):
                    b = np.where(np.abs(b - loc) <= 1e-12 * (hi - lo), loc, b)
        return b

    def row(self, ci) -> dict:
        mean, sd = self.moments()
        lower, median, upper = self.ppf([(1 - ci) / 2, 0.5, (1 + ci) / 2])
        return dict(mean=mean, sd=sd, median=median, lower=lower, upper=upper)


def _components(bias) -> list:
    """The bias models of the ensemble: [None] without bias, else None and the given ones (RoBMA's eight for
    bias="RoBMA")."""
    if bias is None:
        return [None]
    if isinstance(bias, str) and bias.strip().lower() in ("robma", "robma-psma", "psma"):
        return [None, *ROBMA_BIAS]
    items = [bias] if isinstance(bias, (str, WeightFunction)) else list(bias)
    if not items:
        raise ValueError("bias must name at least one bias model, or be None")
    parsed = [parse_bias(b) for b in items]
    if len(set(parsed)) < len(parsed):
        raise ValueError(f"bias lists a model twice: {items!r}")
    return [None, *parsed]


def _bias_prior(models) -> dict:
    """Prior probability of each bias model: 1/2 no bias; the rest as RoBMA's prior_weights (PET and PEESE
    1/4 each, the weight functions sharing 1/2), normalised to 1/2."""
    if models == [None]:
        return {None: 1.0}
    n_weights = sum(isinstance(x, WeightFunction) for x in models)
    rel = {m: _RELATIVE[m] if m in _RELATIVE else 0.5 / n_weights for m in models[1:]}
    total = sum(rel.values())
    return {None: 0.5, **{m: 0.5 * r / total for m, r in rel.items()}}


def _check_data(data):
    if not isinstance(data, EffectData):
        raise TypeError("average() takes an EffectData; build one with bm.EffectData.from_dataframe(...)")
    if data.k < 2:
        raise ValueError(f"model averaging needs at least 2 studies, not {data.k}")


def _proper_priors(mu_prior, tau_prior, pet_prior, peese_prior):
    mu = _priors.mu_prior(mu_prior, "mu_prior")
    if not mu.proper:
        raise ValueError("mu_prior must be proper for Bayes factors (e.g. 'normal(0, 1)', RoBMA's), not flat")
    tau = _priors.tau_prior(tau_prior, "tau_prior")
    if not tau.proper:
        raise ValueError(f"tau_prior must be proper for Bayes factors (e.g. 'invgamma_tau(1, 0.15)'), not {tau}")
    slopes = {"PET": _priors.tau_prior(pet_prior, "pet_prior"), "PEESE": _priors.tau_prior(peese_prior, "peese_prior")}
    for name, prior in slopes.items():
        if not prior.proper:
            raise ValueError(f"{name.lower()}_prior must be proper for Bayes factors (e.g. 'halfcauchy(1)'), "
                             f"not {prior}")
    return mu, tau, slopes


def _check_scales(data, mu, slopes, kinds):
    """Refuse priors that are a point mass for these data (as TauPrior.bind does for tau): a mu prior with sd
    below a millionth of the smallest SE, or a PET / PEESE slope prior whose 99.9% quantile moves no study's
    mean by a millionth of its SE; their quadrature is ill-posed (a division by zero, a log marginal of -4000).
    PET and PEESE also need SEs that vary (families.bias.check_slope_identified)."""
    se = np.asarray(data.se, float)
    if mu.s < 1e-6 * se.min():
        raise ValueError(f"mu_prior {mu}: its sd is less than a millionth of the smallest standard error "
                         f"({se.min():.3g}), a point mass at {mu.m:g}; the no-effect model covers mu = 0")
    for kind in sorted(kinds):
        check_slope_identified(data, kind)
        shift = float(slopes[kind].ppf(0.999)) * (1.0 if kind == "PET" else se.max())
        if shift < 1e-6:
            raise ValueError(f"{kind.lower()}_prior {slopes[kind]}: 99.9% of its mass moves no study's mean by a "
                             "millionth of its standard error: that is the model without bias")


def average(data, mu_prior="normal(0, 1)", tau_prior="invgamma_tau(1, 0.15)", bias=None,
            pet_prior="halfcauchy(1)", peese_prior="halfcauchy(5)", workers: int = 2) -> "Average":
    """Bayesian model average of effect (mu = 0 or mu ~ mu_prior) x heterogeneity (tau = 0 or tau ~ tau_prior)
    x bias: None (the four models of metaBMA), "RoBMA" (RoBMA-PSMA's 36 models), or a list of "PET", "PEESE",
    "selection(0.025, 0.05)" (one-sided), "selection(0.05, two-sided)" or WeightFunction objects (each with
    the no-bias model). pet_prior and peese_prior: priors on the slope b >= 0 (RoBMA's half-Cauchy(1) and
    half-Cauchy(5)). The priors apply to y and se directly (RoBMA's y= route); see the module docstring.
    workers: threads computing the models' marginal likelihoods (the same numbers for any number)."""
    _check_data(data)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, not {workers!r}")
    mu, tau, slopes = _proper_priors(mu_prior, tau_prior, pet_prior, peese_prior)
    tau = tau.bind(data)
    biases = _components(bias)
    _check_scales(data, mu, slopes, set(biases) & set(SLOPE))
    setup = Setup.of(data, mu, tau, slopes)
    bias_prior = _bias_prior(biases)
    start = time.perf_counter()
    components = [Component(effect, het, b) for b in biases for effect in (False, True) for het in (False, True)]
    prior = [0.25 * bias_prior[c.bias] for c in components]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(components)))) as pool:  # NumPy releases the GIL
        results = list(pool.map(lambda c: evidence(c, setup), components))
    return Average(data, results, np.array(prior), dict(mu=mu, tau=tau, **slopes), bias is not None,
                   time.perf_counter() - start)


class Average:
    """The result of `bm.average`: models, inclusion, summary(), conditional(), prob(), describe()."""

    def __init__(self, data, results, prior, priors, has_bias, seconds):
        self.data, self.results, self.priors, self.has_bias, self.seconds = data, results, priors, has_bias, seconds
        log_m = np.array([r.log_marginal for r in results])
        log_post = np.log(prior) + log_m
        post = np.exp(log_post - special.logsumexp(log_post))
        names = [r.component.name for r in results]
        self.models = pd.DataFrame({"prior_prob": prior, "log_marginal": log_m, "post_prob": post},
                                   index=pd.Index(names, name="model"))
        self.components = {r.component.name: r.component for r in results}
        rows = {"effect": lambda c: c.effect, "heterogeneity": lambda c: c.heterogeneity}
        if has_bias:
            rows["bias"] = lambda c: c.bias is not None
        incl = {}
        for row, has in rows.items():
            mask = np.array([has(r.component) for r in results])
            p0, p1 = float(prior[mask].sum()), float(post[mask].sum())
            with np.errstate(divide="ignore"):
                bf = math.exp(math.log(p1) - math.log1p(-p1) - math.log(p0) + math.log1p(-p0)) if 0 < p1 < 1 \
                    else (math.inf if p1 >= 1 else 0.0)
            incl[row] = dict(prior_prob=p0, post_prob=p1, BF=bf)
        self.inclusion = pd.DataFrame.from_dict(incl, orient="index").rename_axis("component")

    # ---------------------------------------------------------------- distributions
    def _mixture(self, quantity, conditional=False) -> Mixture:
        post = self.models["post_prob"].to_numpy()
        if quantity in ("mu", "tau"):
            key = "effect" if quantity == "mu" else "heterogeneity"
            parts = [(p, getattr(r, quantity)) for p, r in zip(post, self.results)
                     if not conditional or getattr(r.component, key)]
        elif quantity in ("PET", "PEESE"):
            parts = [(p, r.slope) for p, r in zip(post, self.results) if r.component.bias == quantity]
        else:
            raise ValueError(f"no quantity {quantity!r} in the model average; quantities: mu, tau, PET, PEESE")
        if not parts or sum(p for p, _ in parts) <= 0:
            raise ValueError(f"no model of this average has {quantity} (or none has posterior probability)")
        return Mixture(parts)

    def summary(self, ci: float = 0.95) -> pd.DataFrame:
        """Model-averaged posteriors of mu and tau (including the point masses at 0 of the models without
        them): mean, sd, median, lower, upper (an equal-tailed `ci` interval)."""
        ci = check_ci(ci)
        out = pd.DataFrame({q: self._mixture(q).row(ci) for q in ("mu", "tau")}).T.rename_axis("quantity")
        out.attrs["interval"] = f"{ci:.0%} equal-tailed credible interval, averaged over all models"
        return out

    def conditional(self, ci: float = 0.95) -> pd.DataFrame:
        """mu among the models with an effect, tau among those with heterogeneity, and the PET / PEESE
        coefficients among their models (RoBMA's conditional estimates)."""
        ci = check_ci(ci)
        names = ["mu", "tau"] + [k for k in ("PET", "PEESE") if any(r.component.bias == k for r in self.results)]
        out = pd.DataFrame({q: self._mixture(q, conditional=True).row(ci) for q in names}).T.rename_axis("quantity")
        out.attrs["interval"] = f"{ci:.0%} equal-tailed credible interval, among the models that include it"
        return out

    def prob(self, expression: str, conditional: bool = False) -> float:
        """Model-averaged posterior probability of an event on mu or tau, e.g. 'mu < 0', '-0.5 < mu < -0.2',
        'tau > 0.1' (conditional=True: among the models with the parameter). Bounds are strict: the point mass
        at mu = 0 of the models without an effect is neither in 'mu < 0' nor in 'mu > 0'."""
        text, lower, upper = parse_event(expression, "write e.g. 'mu < 0' or 'tau > 0.1' (quantities mu, tau)")
        mix = self._mixture(text.strip(), conditional)
        hi = float(mix.cdf(upper, strict=True)[0]) if upper is not None else 1.0
        return float(min(max(hi - (float(mix.cdf(lower)[0]) if lower is not None else 0.0), 0.0), 1.0))

    # ---------------------------------------------------------------- words
    def describe(self) -> str:
        """The inclusion Bayes factors and the model-averaged effect in words."""
        words = {"effect": "an effect", "heterogeneity": "heterogeneity between studies",
                 "bias": "publication bias"}
        sentences = []
        for row, r in self.inclusion.iterrows():
            bf = r["BF"]
            more, ratio = ("with", bf) if bf >= 1 else ("without", 1 / bf if bf > 0 else math.inf)
            sentences.append(f"The data are {_times(ratio)} more likely under models {more} {words[row]} than "
                             f"under models {'without' if more == 'with' else 'with'} it (posterior probability "
                             f"{r['post_prob']:.3f}, prior {r['prior_prob']:.3f}).")
        s = self.summary()
        op = benefit_operator(self.data.benefit) if self.data.benefit else "<"
        p = self.prob(f"mu {op} 0")
        direction = {"<": "below", ">": "above"}[op]
        sentences.append(f"Averaged over all {len(self.results)} models, mu has median {s.loc['mu', 'median']:.3f} "
                         f"(95% credible interval {s.loc['mu', 'lower']:.3f} to {s.loc['mu', 'upper']:.3f}); "
                         f"the probability that it lies {direction} 0 is {p:.3f} (models without an effect put "
                         f"mu at exactly 0).")
        return " ".join(sentences)

    def __repr__(self):
        head = (f"Bayesian model average of {len(self.results)} models, k = {self.data.k}; priors mu ~ "
                f"{self.priors['mu']}, tau ~ {self.priors['tau']}"
                + (f", PET ~ {self.priors['PET']}, PEESE ~ {self.priors['PEESE']} (b >= 0)" if self.has_bias else ""))
        return "\n".join([head, "Inclusion:", self.inclusion.to_string(float_format=lambda v: f"{v:.4g}"),
                          "Model-averaged (95% equal-tailed credible intervals):",
                          self.summary().to_string(float_format=lambda v: f"{v:.4f}")])


def _times(ratio: float) -> str:
    if not math.isfinite(ratio):
        return "infinitely many times"
    return f"{ratio:.3g} times" if ratio < 1000 else f"{ratio:.3g} times".replace("e+0", "e").replace("e+", "e")
