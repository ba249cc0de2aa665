"""Meta-regression: y_i ~ N(x_i' beta, v_i + tau^2), x_i from a model formula (formulaic), flat or normal
priors on the coefficients (the intercept takes the prior on mu, the other coefficients `beta_prior`).
Quantities: beta[term], tau, tau2, I2 (residual heterogeneity), theta[study]; `predictions(newdata)` gives
the mean effect x0' beta and the effect of a new study x0' beta + e, e ~ N(0, tau^2), at given values."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .base import Linear, LinearFamily


@dataclass
class MetaRegression(LinearFamily):
    formula: str = ""
    drop_missing: bool = False
    name = "meta-regression"
    display = "regression"
    coef_name = "beta"
    coef_dim = "term"

    def __post_init__(self):
        from ..design import design_matrix

        self.design = design_matrix(self.data, self.formula, drop_missing=self.drop_missing)
        self._leave_out_missing(self.design)
        self.terms = tuple(self.design.terms)
        self.coef_priors = [self.mu_prior if t == "intercept" else self.beta_prior for t in self.terms]
        self.blocks = [self._block(np.arange(self.data.k), self.design.X, slice(0, self.p))]

    def _quantity(self, base, arg, name):
        if base == "beta" and arg is not None:
            if arg.strip() not in self.terms:
                raise ValueError(f"no coefficient {arg.strip()!r}; the coefficients are {list(self.terms)}")
            return Linear(self.unit(self.terms.index(arg.strip())))
        if arg is None and base in ("tau", "tau2", "I2"):
            return self.heterogeneity(base)
        if base in ("mu", "theta_new"):
            raise ValueError(f"a meta-regression has no single {base}: use beta[term] for a coefficient, or "
                             "fit.predict({...}) for the mean and new-study effect at given moderator values")
        raise self.unknown(name, [f"beta[{t}]" for t in self.terms] + ["tau", "tau2", "I2", "theta[study]"])

    def cache_key(self):
        return self.shape_free_key()

    def summary_rows(self):
        return [f"beta[{t}]" for t in self.terms] + ["tau", "tau2", "I2"]

    def arguments(self):
        return dict(model=self.effects, moderators=self.formula, drop_missing=self.drop_missing)

    def continuous_moderators(self):
        return [c for c in self.design.columns if c not in self.design.levels]

    def comparisons(self):
        out = []
        for t in self.terms:
            if t == "intercept":
                continue
            m = re.fullmatch(r"(?:C\()?([^()\[]+)\)?\[T\.(.+)\]", t)
            ref = self.design.levels.get(m.group(1), [None])[0] if m else None
            words = (f"{m.group(1)} {m.group(2)} rather than {ref}" if m and ref is not None
                     else f"each unit more of {t}")
            out.append((f"beta[{t}]", words))
        return out

    def predictions(self, newdata) -> list[tuple[Linear, Linear]]:
        """(mean effect, new-study effect) at each row of moderator values `newdata`."""
        X0 = np.atleast_2d(self.design.matrix(newdata))
        return [(Linear(x), Linear(x, ((0, r, 1.0),))) for r, x in enumerate(X0)]

    def describe(self) -> str:
        priors = "; ".join(dict.fromkeys(p.describe() for p in self.coef_priors))
        model = ("Common-effect meta-regression {f}: y_i ~ N(x_i' beta, se_i^2)" if self.effects == "common" else
                 "Random-effects meta-regression {f}: y_i ~ N(x_i' beta, se_i^2 + tau^2)").format(f=self.formula)
        return (f"{model} with "
                f"coefficients {', '.join(self.terms)}; {priors}")
