"""The exact engine: quadrature over tau for each block of the family (`exact.quadrature_of`), or over the two
heterogeneity parameters of a three-level model (`multilevel.two_level_quadrature`); the posterior is a
QuadratureBackend of normal mixtures."""

from __future__ import annotations

from ..backends import QuadratureBackend
from .exact import quadrature_of
from .multilevel import two_level_quadrature


class ExactEngine:
    """Quadrature over tau for each block; the posterior is a QuadratureBackend (normal mixtures)."""

    name = "exact"
    # For many analyses at once (bayesmeta.many): the vectorised kernels first (`fit_batch`), this engine for the
    # groups they hand back; no sampler, so no seed is needed and threads share the groups.
    batch, sampled, group_label, chunk = True, False, "exact (adaptive)", 2000

    @staticmethod
    def check_mu_prior(mu_prior):
        if mu_prior.kind == "student_t":
            raise ValueError("the exact engine takes a flat or normal prior on mu; use engine='mcmc' for a Student-t "
                             "prior")

    @staticmethod
    def fit_batch(y, vi, offsets, tau_priors, mu_prior, ci, events):
        """Many normal-normal analyses at once (`engines.batch.exact_many`): values (G, C) and which groups are done."""
        from .batch import exact_many

        return exact_many(y, vi, offsets, tau_priors, mu_prior, ci, events)

    def __init__(self, draws=1000, chains=4, **_sampler_settings):
        self.draws, self.chains = draws, chains  # of the i.i.d. draws for figures and the DataTree

    @classmethod
    def restore(cls, spec, tree, settings, seed):
        """A saved fit's posterior: the quadrature again (milliseconds; the same numbers and seeded draws)."""
        return cls(draws=settings["draws"], chains=settings["chains"]).run(spec, seed)[0]

    def run(self, spec, seed):
        family = spec.family
        family.check_exact()
        if family.exact_integrator == "two-level":
            factors = [two_level_quadrature(family, spec)]
        else:
            factors = [quadrature_of(block, spec.tau_prior) for block in family.blocks]
        backend = QuadratureBackend(family, factors, seed=seed, draws=self.draws, chains=self.chains)
        return backend, dict(draws=self.draws, chains=self.chains, nodes=int(sum(len(f.tau) for f in factors)))
