"""Subgroup analysis: theta_i ~ N(mu_g, tau^2) for the studies of subgroup g, with one tau common to all
subgroups (borrowing strength: what a subgroup of two studies needs) or a tau per subgroup (each subgroup
its own normal-normal model, as RevMan's separate analyses). Quantities: mu[g], theta_new[g], tau (or
tau[g]), tau2, I2, theta[study], and any difference such as mu[a] - mu[b]."""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import EstimationWarning, user_stacklevel
from .base import Linear, LinearFamily

TAU_MODES = ("common", "separate")


@dataclass
class Subgroups(LinearFamily):
    column: str = ""
    tau_mode: str = "common"
    drop_missing: bool = False
    name = "subgroups"
    display = "subgroups"
    revman_forest = True
    coef_name = "mu"
    coef_dim = "group"

    def __post_init__(self):
        from ..design import subgroup_labels

        if self.tau_mode not in TAU_MODES:
            raise ValueError(f"subgroup_tau must be 'common' or 'separate', not {self.tau_mode!r}")
        if self.drop_missing:  # the formula code drops (and lists) rows where the column is missing
            from ..design import design_matrix

            self._leave_out_missing(design_matrix(self.data, f"~ 0 + C(Q('{self.column}'))", drop_missing=True))
        labels, groups = subgroup_labels(self.data, self.column)
        self.groups = [str(g) for g in groups]
        labels = np.array([str(g) for g in labels])
        self.terms = tuple(self.groups)
        self.coef_priors = [self.mu_prior] * len(self.groups)
        G = len(self.groups)
        if self.tau_mode == "common":
            X = (labels[:, None] == np.array(self.groups)[None, :]).astype(float)
            self.blocks = [self._block(np.arange(self.data.k), X, slice(0, G))]
        else:
            self.tau_dim = "group"
            self.blocks = [self._block(np.flatnonzero(labels == g), np.ones(((labels == g).sum(), 1)),
                                       slice(j, j + 1)) for j, g in enumerate(self.groups)]
        self.sizes = {g: int((labels == g).sum()) for g in self.groups}
        for g, n in self.sizes.items():
            if n == 1:
                how = ("it borrows tau from the other subgroups" if self.tau_mode == "common" else
                       "its tau is learned from the prior alone")
                warnings.warn(f"subgroup {g!r} of {self.column!r} has one study: it is still analysed ({how})",
                              EstimationWarning, stacklevel=user_stacklevel())

    def _group(self, arg):
        g = arg if arg in self.groups else arg.strip().strip("'\"")
        if g not in self.groups:
            raise ValueError(f"no subgroup {g!r}; the subgroups of {self.column!r} are {self.groups}")
        return self.groups.index(g)

    def _tau_block(self, arg, base):
        if self.tau_mode == "common":
            if arg is not None:
                raise ValueError(f"{base} is common to all subgroups here: write {base}, not {base}[{arg}]")
            return 0
        if arg is None:
            raise ValueError(f"each subgroup has its own {base}: write {base}[group] (groups {self.groups})")
        return self._group(arg)

    def _quantity(self, base, arg, name):
        if base == "mu" and arg is not None:
            return Linear(self.unit(self._group(arg)))
        if base == "theta_new" and arg is not None:
            g = self._group(arg)
            return Linear(self.unit(g), ((0 if self.tau_mode == "common" else g, g, 1.0),))
        if base in ("tau", "tau2", "I2"):
            return self.heterogeneity(base, self._tau_block(arg, base))
        raise self.unknown(name, ["mu[group]", "theta_new[group]", "tau", "tau2", "I2", "theta[study]"])

    def _each(self, base):
        return [f"{base}[{g}]" for g in self.groups]

    def summary_rows(self):
        het = ["tau", "tau2", "I2"] if self.tau_mode == "common" else [
            f"{t}[{g}]" for t in ("tau", "tau2", "I2") for g in self.groups]
        return self._each("mu") + self._each("theta_new") + het

    def contrasts(self) -> list[str]:
        """Every pairwise difference of subgroup means, later group minus earlier."""
        return [f"mu[{b}] - mu[{a}]" for a, b in itertools.combinations(self.groups, 2)]

    def derived_draws(self) -> list[str]:
        return self._each("theta_new")

    def arguments(self):
        return dict(model=self.effects, subgroup=self.column, subgroup_tau=self.tau_mode, drop_missing=self.drop_missing)

    def pooled(self):
        return [(f"in subgroup {g}", f"mu[{g}]", f"theta_new[{g}]") for g in self.groups]

    def comparisons(self):
        pairs = itertools.combinations(self.groups, 2)
        return [(c, f"{self.column} {b} rather than {a}") for c, (a, b) in zip(self.contrasts(), pairs)]

    def describe(self) -> str:
        how = ("one heterogeneity SD tau common to all subgroups (borrowing strength across subgroups, which "
               "small subgroups need)" if self.tau_mode == "common" else
               "a separate heterogeneity SD tau for each subgroup (each subgroup analysed on its own)")
        sizes = ", ".join(f"{g} (k = {n})" for g, n in self.sizes.items())
        return (f"Subgroup model by {self.column!r}: theta_i ~ N(mu_g, tau^2) within subgroup g, with {how}; "
                f"subgroups {sizes}; {self.coef_priors[0].describe()} for each subgroup mean")
