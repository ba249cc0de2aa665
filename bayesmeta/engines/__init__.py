"""Engines behind one registry: each turns a Model into a posterior backend (bayesmeta.backends).

    exact  quadrature over tau (families that are Gaussian given tau): exact summaries
    mcmc   the family's PyMC model sampled by nutpie (or PyMC's NUTS)
"""

from __future__ import annotations

from importlib import import_module

ENGINES = {"exact": ("bayesmeta.engines.exact_engine", "ExactEngine"), "mcmc": ("bayesmeta.engines.mcmc", "MCMCEngine")}


def get_engine(name: str):
    """The engine class registered as `name`."""
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {name!r}")
    module, cls = ENGINES[name]
    return getattr(import_module(module), cls)
