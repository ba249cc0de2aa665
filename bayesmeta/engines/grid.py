"""Tensor-product Gauss-Legendre integration of a low-dimensional posterior: the marginal likelihood
Z = integral of f(x) dx, f = prior x likelihood (with the Jacobians of any transformation), for models that
are not Gaussian given tau (selection models, bias slopes with truncated priors, non-normal priors on mu).

A first product rule of `coarse` nodes per dimension over the given box cuts each dimension to where the
marginal density (log f summed over the other dimensions by the rule) lies within DROP = 35 of its largest
value (one node of margin on each side): the outer box. Further passes zoom into the bulk, where the marginal
is within BULK = 12 of its largest value, until no dimension shrinks by more than a fifth. The last rule is
composite in each dimension: `final` nodes on the bulk and `tail` nodes on each of the two tails between the
bulk and the outer box (their mass is below e^-12 of the bulk's per unit length, so a coarse rule there is
accurate to far below 1e-6 of the total). Dimensions with tail = 0 are cut at DROP only. log f is given on a
tensor grid: log_f([x_1 (n_1,), ..., x_D (n_D,)]) -> (n_1, ..., n_D); a zero-dimensional integral is the
value of log_f([]).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import logsumexp

DROP = 35.0
BULK = 12.0
MAX_PASSES = 6


@lru_cache(maxsize=64)
def _rule(n: int):
    return leggauss(n)


def _nodes(lo, hi, sizes):
    """Gauss-Legendre nodes and log weights of each dimension on [lo_d, hi_d]."""
    out = []
    for a, b, n in zip(lo, hi, sizes):
        x, w = _rule(int(n))
        out.append(((a + b) / 2 + (b - a) / 2 * x, np.log((b - a) / 2 * w)))
    return out


def _composite(outer, bulk, final, tail):
    """Nodes and log weights of one dimension: `tail` nodes on each side of the bulk, `final` on it."""
    pieces = [(outer[0], bulk[0], tail), (bulk[0], bulk[1], final), (bulk[1], outer[1], tail)]
    rules = [_nodes([a], [b], [n])[0] for a, b, n in pieces if n > 0 and b > a]
    return np.concatenate([x for x, _ in rules]), np.concatenate([w for _, w in rules])


@dataclass
class Grid:
    """A product rule and the log integrand on it: nodes (per dimension), log_w (per dimension), log_f
    (tensor), log_z (log of the integral)."""

    nodes: list
    log_w: list
    log_f: np.ndarray
    log_z: float

    def mass(self) -> np.ndarray:
        """Posterior probability of each grid point (sums to 1)."""
        if not self.nodes:
            return np.ones(())
        lw = sum(np.expand_dims(w, [j for j in range(len(self.nodes)) if j != d]) for d, w in enumerate(self.log_w))
        return np.exp(self.log_f + lw - self.log_z)

    def marginal(self, d: int) -> np.ndarray:
        """Posterior probability of each node of dimension d (summed over the others)."""
        m = self.mass()
        return m.sum(axis=tuple(j for j in range(m.ndim) if j != d))


def _shrink(nodes, log_w, log_f, lo, hi, drop):
    """The box cut, dimension by dimension, to the nodes where the marginal density (log f integrated over the
    other dimensions by the rule) is within drop[d] of its largest value, with one node of margin."""
    new_lo, new_hi = lo.copy(), hi.copy()
    dim = log_f.ndim
    for d, x in enumerate(nodes):
        others = [j for j in range(dim) if j != d]
        lw = sum((np.expand_dims(log_w[j], [i for i in range(dim) if i != j]) for j in others), np.zeros(()))
        marginal = logsumexp(log_f + lw, axis=tuple(others)) if others else log_f
        keep = np.flatnonzero(marginal > np.max(marginal) - drop[d])
        i0, i1 = keep[0], keep[-1]
        new_lo[d] = x[i0 - 1] if i0 > 0 else lo[d]
        new_hi[d] = x[i1 + 1] if i1 < len(x) - 1 else hi[d]
    return new_lo, new_hi


def _evaluate(log_f, rule):
    values = np.nan_to_num(np.asarray(log_f([x for x, _ in rule]), float), nan=-np.inf)
    if not np.isfinite(np.max(values)):
        raise FloatingPointError("the integrand is zero on the whole box (check the data's scale against the priors)")
    return values


def integrate(log_f, lo, hi, final, coarse=16, tail=8) -> Grid:
    """The integral of exp(log_f) over the box [lo, hi] (see the module docstring); final, coarse and tail are
    node counts per dimension (sequences, or one number for all)."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    dim = len(lo)
    if dim == 0:
        value = np.asarray(log_f([]), float)
        return Grid([], [], value, float(value))
    final, coarse, tail = (np.broadcast_to(n, dim) for n in (final, coarse, tail))
    rule = _nodes(lo, hi, coarse)
    out_lo, out_hi = _shrink([x for x, _ in rule], [w for _, w in rule], _evaluate(log_f, rule), lo, hi,
                             np.full(dim, DROP))
    lo, hi = out_lo.copy(), out_hi.copy()
    drop = np.where(tail > 0, BULK, DROP)
    for _ in range(MAX_PASSES):
        rule = _nodes(lo, hi, coarse)
        new_lo, new_hi = _shrink([x for x, _ in rule], [w for _, w in rule], _evaluate(log_f, rule), lo, hi, drop)
        shrunk = np.any((new_hi - new_lo) < 0.8 * (hi - lo))
        lo, hi = new_lo, new_hi
        if not shrunk:
            break
    rule = [_composite((out_lo[d], out_hi[d]), (lo[d], hi[d]), final[d], tail[d]) for d in range(dim)]
    nodes, log_w = [x for x, _ in rule], [w for _, w in rule]
    values = _evaluate(log_f, rule)
    lw = sum(np.expand_dims(w, [j for j in range(dim) if j != d]) for d, w in enumerate(log_w))
    return Grid(nodes, log_w, values, float(logsumexp(values + lw)))
