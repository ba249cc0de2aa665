"""A PyMC model made ready for nutpie in two tiers, as a JIT compiler does.

Quick (the first fits of a model in a process): the log density, its gradient and the expansion to the model's
variables are compiled by PyTensor's numba backend, whose compiled functions PyTensor caches on disk
(`~/.pytensor/numba`), and nutpie calls them from Python (`nutpie.from_pyfunc`). The first process on a machine
compiles (about 5 s); every later one loads the cache (about 0.5 s). The price is a Python call per gradient
(about 3 us) under the GIL, so the chains run one after the other in one thread: about 0.6 s for 4 chains.

Fast (from fit QUICK_FITS + 1 of the same model on): nutpie's own `compile_pymc_model`, which wraps the same
functions in `numba.cfunc`s that run without Python, chains in parallel (about 0.08 s a refit), but which numba
cannot cache, so it costs 5-13 s in every process; worth it only where a script refits one model many times
(leave-one-out, sensitivity grids, many analyses). Both tiers give the same draws for the same seed (same
functions, same sampler), so results do not depend on which tier ran (tests/test_bayes_mcmc.py).

The quick tier's steps are nutpie's (`nutpie.compile_pymc._make_functions`: the same raveling of the free
variables, initial points and trace layout as `compile_pymc_model`); only the callables differ.
benchmarks/mcmc_cold_start.py times both.
"""

from __future__ import annotations

import numpy as np

# Fits of one model in a process through the quick tier before the fast tier is compiled: the rent-or-buy rule
# (rent until the rent paid equals the price): the fast tier's compile (about 4.5 s) over what it saves a fit
# (about 0.5 s), so that a script never spends more than twice what the better choice in hindsight would.
QUICK_FITS = 8


class PreparedModel:
    """One PyMC model for nutpie: the quick tier at once, the fast tier once the model has been fitted QUICK_FITS
    times in this process."""

    def __init__(self, model):
        self.model, self.quick, self.fast, self.fits = model, compile_model(model), None, 0

    def with_data(self, say, **arrays):
        """(compiled nutpie model with these data, cores for nutpie.sample); `say` announces a compile."""
        self.fits += 1
        if self.fast is None and self.fits > QUICK_FITS:
            import nutpie

            say("compiling the model for repeated fits (once in this session; 5-15 s)...")
            self.fast = nutpie.compile_pymc_model(self.model)
        if self.fast is not None:
            return self.fast.with_data(**arrays), None  # nutpie's default: a thread per core
        return with_data(self.quick, **arrays), 1  # Python callbacks under the GIL: one thread, no hand-offs


def compile_model(model):
    """The quick tier: the PyMC `model` as a nutpie model whose data `with_data` replaces."""
    from nutpie.compile_pymc import _make_functions, _prepare_dims_and_coords, _wrap_with_lock
    from nutpie.compiled_pyfunc import from_pyfunc
    from pymc.initial_point import make_initial_point_fn

    start = make_initial_point_fn(model=model, default_strategy="support_point", jitter_rvs=set(model.free_RVs),
                                  return_transformed=True)
    n_dim, _, logp_pt, expand_pt, initial_point, layout, reparameterized = _make_functions(
        model, mode="NUMBA", compute_grad=True, join_expanded=False, pymc_initial_point_fn=_wrap_with_lock(start))
    names, _, shapes = layout
    logp_jit, expand_jit = logp_pt.vm.jit_fn, expand_pt.vm.jit_fn
    logp_names = [v.name for v in logp_pt.get_shared()]
    expand_names = [v.name for v in expand_pt.get_shared()]
    shared = {v.name: _array(v.get_value(), np.asarray(v.get_value()).dtype)
              for v in [*logp_pt.get_shared(), *expand_pt.get_shared()]}

    def make_logp():
        def logp(x, **data):
            value, grad = logp_jit(x, *[data[n] for n in logp_names])
            return float(value), grad
        return logp

    def make_expand(seed1, seed2, chain):
        def expand(x, **data):
            values = expand_jit(x, *[data[n] for n in expand_names])
            return {n: np.asarray(v, dtype="float64", order="C").reshape(s)
                    for n, v, s in zip(names, values, shapes)}
        return expand

    dims, coords = _prepare_dims_and_coords(model, layout, reparameterized)
    return from_pyfunc(ndim=n_dim, make_logp_fn=make_logp, make_expand_fn=make_expand,
                       make_initial_point_fn=initial_point, expanded_dtypes=[np.dtype("float64")] * len(names),
                       expanded_shapes=shapes, expanded_names=names, shared_data=shared, dims=dims, coords=coords,
                       reparameterized_names=reparameterized)


def with_data(compiled, **arrays):
    """The compiled model with other data (of any length where the model's shapes allow it), each array in the
    dtype the compiled functions were made for (numba compiles again for another dtype or layout)."""
    old = compiled._shared_data
    return compiled.with_data(**{name: _array(value, old[name].dtype) for name, value in arrays.items()})


def _array(value, dtype):
    """A C-contiguous, writeable copy: the array type numba compiled the functions for."""
    return np.array(value, dtype=dtype, order="C", copy=True)
