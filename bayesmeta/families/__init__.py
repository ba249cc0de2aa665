"""Model families as plug-ins: each declares its coefficients, quantities and blocks, builds its PyMC
model (bayesmeta.engines.mcmc builds it generically from the blocks) and gives the exact engine its
kernel. `build_family` picks the family from the arguments of `bm.fit`."""

from __future__ import annotations

from .bias import PETPEESE, StepSelection, WeightFunction, parse_bias
from .base import Block, Heterogeneity, Linear, LinearFamily, PooledEffect, Shrunken, typical_variance
from .normal import NormalNormal
from .regression import MetaRegression
from .subgroups import Subgroups
from .student_t import StudentTEffects
from .three_level import ThreeLevel

MODELS = ("random", "common", "three-level")


def build_family(data, model="random", moderators=None, subgroup=None, subgroup_tau="common", drop_missing=False,
                 mu_prior=None, beta_prior=None, effects="normal", nu_prior=None, bias=None) -> LinearFamily:
    """The family for `bm.fit(data, model=..., moderators=..., subgroup=..., effects=..., bias=...)`."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
    if effects not in ("normal", "t"):
        raise ValueError(f"effects must be 'normal' or 't' (Student-t study effects), not {effects!r}")
    if bias is not None:
        return _bias_family(data, model, moderators, subgroup, effects, mu_prior, beta_prior, bias)
    if effects == "t":
        if model != "random" or moderators is not None or subgroup is not None:
            raise ValueError("Student-t study effects are built for the plain random-effects model only")
        return StudentTEffects(data=data, mu_prior=mu_prior, beta_prior=beta_prior, nu_prior=nu_prior)
    if nu_prior is not None:
        raise ValueError("nu_prior is the prior of the degrees of freedom of Student-t effects (effects='t')")
    if subgroup is None and subgroup_tau != "common":
        raise ValueError("subgroup_tau is for subgroup analyses: give subgroup= too")
    if moderators is None and beta_prior is not None and beta_prior.kind != "flat":
        raise ValueError("beta_prior is the prior of the moderators' coefficients: give moderators= too")
    if moderators is not None and subgroup is not None:
        raise ValueError("give moderators= or subgroup=, not both (a subgroup is the moderator '~ C(column)')")
    if model == "three-level":
        if moderators is not None or subgroup is not None:
            raise ValueError("the three-level model takes no moderators or subgroups yet; fit them without "
                             "model='three-level'")
        return ThreeLevel(data=data, mu_prior=mu_prior, beta_prior=beta_prior)
    common = dict(data=data, mu_prior=mu_prior, beta_prior=beta_prior, effects=model)
    if moderators is not None:
        if not isinstance(moderators, str):
            raise ValueError(f"moderators must be a formula string such as '~ weeks + C(setting)', not "
                             f"{type(moderators).__name__}")
        return MetaRegression(**common, formula=moderators, drop_missing=drop_missing)
    if subgroup is not None:
        return Subgroups(**common, column=subgroup, tau_mode=subgroup_tau, drop_missing=drop_missing)
    return NormalNormal(**common)


def _bias_family(data, model, moderators, subgroup, effects, mu_prior, beta_prior, bias):
    """PET, PEESE (beta_prior the slope's) or a step-function selection model (random effects)."""
    if moderators is not None or subgroup is not None or effects != "normal" or model == "three-level":
        raise ValueError("bias models are built for the plain normal-normal model: no moderators, subgroups, "
                         "t effects or three levels")
    kind = parse_bias(bias)
    if isinstance(kind, WeightFunction):
        if model != "random":
            raise ValueError("the selection model is a random-effects model: leave model='random'")
        return StepSelection(data=data, mu_prior=mu_prior, weights=kind)
    return PETPEESE(data=data, mu_prior=mu_prior, beta_prior=beta_prior, effects=model, kind=kind)


__all__ = ["Block", "Heterogeneity", "Linear", "LinearFamily", "MetaRegression", "NormalNormal", "PETPEESE",
           "PooledEffect", "Shrunken", "StepSelection", "StudentTEffects", "Subgroups", "ThreeLevel", "WeightFunction",
           "build_family", "parse_bias", "typical_variance"]
