"""Marginal likelihoods and posteriors of the models of a Bayesian model average (metaBMA, RoBMA-PSMA):
effect mu = 0 or with its prior, tau = 0 or with its prior, and no bias, PET, PEESE or a step-function
selection model (bayesmeta.families.bias).

The data enter in the direction of benefit (y* = sign y, mu* = sign mu; sign = -1 where lower is better), so
that the PET/PEESE slope b >= 0 and one-sided p-values point the way publication favours.

* Gaussian in mu (no bias, PET, PEESE) with a normal prior on mu: mu is integrated in closed form given
  (tau, b) by the exact engine's kernel (mu = 0 by a zero column with a N(0, 1) prior, which integrates to
  one). No bias: the exact engine's adaptive quadrature over tau (`TauQuadrature`). PET/PEESE: a product
  Gauss-Legendre rule over (log tau, log b) (bayesmeta.engines.grid; log scales for the heavy right tails).
* Otherwise (selection models; any proper prior on mu): mu is one more dimension of the product rule, the
  weights omega as points u of the unit cube (omega_{j+1} = u_1 ... u_j, see WeightFunction.omega_from_cube),
  integrated over log u.

Each model's posterior of mu, tau and b is kept as atoms: normal components (mu given tau and b), grid
nodes with their mass, or a point (mu = 0, tau = 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..families.bias import WeightFunction, benefit_direction
from .exact import LOG_2PI, LinearKernel, TauQuadrature, prior_logpdf
from .grid import integrate

_CHUNK = 4_000_000  # elements of a (grid points x studies x weight points) block
_GROUP = 4  # studies whose normalising sums are multiplied before the log (each sum >= omega_J > e^-90)


@dataclass(frozen=True)
class Component:
    """One model of an ensemble: effect (mu free) or not, heterogeneity (tau free) or not, and its bias model
    (None, "PET", "PEESE" or a WeightFunction)."""

    effect: bool
    heterogeneity: bool
    bias: object = None

    @property
    def bias_label(self) -> str:
        if self.bias is None:
            return "no bias"
        return self.bias if isinstance(self.bias, str) else f"selection {self.bias.label}"

    @property
    def name(self) -> str:
        return (f"{'effect' if self.effect else 'no effect'}, "
                f"{'heterogeneity' if self.heterogeneity else 'no heterogeneity'}, {self.bias_label}")


@dataclass
class Atoms:
    """A posterior as a finite mixture: kind "normal" (weight, loc, scale), "grid" (nodes with their mass,
    spread between the nodes) or "point" (all mass at loc)."""

    kind: str
    weight: np.ndarray
    loc: np.ndarray
    scale: np.ndarray | None = None

    @classmethod
    def point(cls, value=0.0):
        return cls("point", np.ones(1), np.array([float(value)]))


@dataclass
class Evidence:
    component: Component
    log_marginal: float
    mu: Atoms
    tau: Atoms
    slope: Atoms | None = None
    nodes: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class Setup:
    """The data in the direction of benefit and the priors of an ensemble."""

    y: np.ndarray
    se: np.ndarray
    sign: int
    mu_prior: object
    tau_prior: object
    slope_priors: dict  # "PET" / "PEESE" -> a prior on b >= 0 (a TauPrior object)

    @classmethod
    def of(cls, data, mu_prior, tau_prior, slope_priors):
        sign = benefit_direction(data)
        return cls(sign * np.asarray(data.y, float), np.asarray(data.se, float), sign, mu_prior, tau_prior,
                   slope_priors)

    @property
    def v(self):
        return self.se**2

    def x(self, kind):
        return self.se if kind == "PET" else self.se**2

    def tau_box(self):
        """log tau from far below the smallest SE (mass below: < e^-25 relative) to well above the spread."""
        spread = float(np.ptp(self.y)) + 3 * float(self.se.max())
        return math.log(self.se.min()) - 25, math.log(spread) + 4

    def mu_box(self):
        half = float(np.ptp(self.y)) / 2 + 6 * float(self.se.max())
        return float(np.mean([self.y.min(), self.y.max()])) - half, float(np.mean([self.y.min(), self.y.max()])) + half

    def slope_box(self, kind):
        """log b (the slope's dimension is log b, as tau's is log tau: heavy right tails, mass near 0)."""
        x = self.x(kind)
        scale = (float(np.ptp(self.y)) + 3 * float(self.se.max())) / max(float(np.ptp(x)), 0.1 * float(x.mean()))
        return math.log(scale) - 25, math.log(scale) + 12


def evidence(c: Component, setup: Setup) -> Evidence:
    """The log marginal likelihood and posterior atoms of one model of the ensemble."""
    if setup.mu_prior.kind == "normal" and not isinstance(c.bias, WeightFunction):
        return _gaussian(c, setup)
    return _numeric(c, setup)


def _kernel(c, setup, y):
    """The exact engine's kernel: mu with its normal prior (in the direction of benefit), or mu = 0."""
    k = len(y)
    if c.effect:
        p = setup.mu_prior
        return LinearKernel(y, setup.v, np.ones((k, 1)), [setup.sign * p.m], [1 / p.s**2])
    return LinearKernel(y, setup.v, np.zeros((k, 1)), [0.0], [1.0])


def _mu_atoms(c, setup, weight, b, var):
    if not c.effect:
        return Atoms.point()
    return Atoms("normal", np.ravel(weight), setup.sign * np.ravel(b), np.sqrt(np.ravel(var)))


def _gaussian(c, setup) -> Evidence:
    """No bias, PET or PEESE with a normal prior on mu: mu in closed form given (tau, b)."""
    if c.bias is None:
        kernel = _kernel(c, setup, setup.y)
        if not c.heterogeneity:
            b, cov, ll = kernel.conditional(np.array([0.0]))
            return Evidence(c, float(ll[0]), _mu_atoms(c, setup, [1.0], b[:, 0], cov[:, 0, 0]), Atoms.point(), nodes=1)
        fac = TauQuadrature(kernel, setup.tau_prior)
        return Evidence(c, fac.log_evidence, _mu_atoms(c, setup, fac.weight, fac.b[:, 0], fac.cov[:, 0, 0]),
                        Atoms("grid", fac.weight, fac.tau), nodes=len(fac.tau))
    x, slope_prior = setup.x(c.bias), setup.slope_priors[c.bias]
    store = {}

    def log_f(nodes):
        u = nodes[0] if c.heterogeneity else np.array([-np.inf])
        tau, bs = np.exp(u), np.exp(nodes[-1])
        ll, mean, var = (np.empty((len(tau), len(bs))) for _ in range(3))
        for j, slope in enumerate(bs):
            b, cov, ll[:, j] = _kernel(c, setup, setup.y - slope * x).conditional(tau)
            mean[:, j], var[:, j] = b[:, 0], cov[:, 0, 0]
        out = ll + (prior_logpdf(slope_prior, bs) + nodes[-1])[None, :]
        if c.heterogeneity:
            out = out + (prior_logpdf(setup.tau_prior, tau) + u)[:, None]
        store.update(mean=mean, var=var)
        return out if c.heterogeneity else out[0]

    box = ([setup.tau_box()] if c.heterogeneity else []) + [setup.slope_box(c.bias)]
    grid = integrate(log_f, *zip(*box), final=64, coarse=16, tail=10)
    mass = grid.mass()
    mass2 = mass if c.heterogeneity else mass[None, :]
    return Evidence(c, grid.log_z, _mu_atoms(c, setup, mass2, store["mean"], store["var"]),
                    Atoms("grid", grid.marginal(0), np.exp(grid.nodes[0])) if c.heterogeneity else Atoms.point(),
                    Atoms("grid", grid.marginal(grid.log_f.ndim - 1), setup.sign * np.exp(grid.nodes[-1])),
                    nodes=mass.size)


def _numeric(c, setup) -> Evidence:
    """Any proper prior on mu, and selection models: mu, log tau, b or the weights all on the product rule."""
    wf = c.bias if isinstance(c.bias, WeightFunction) else None
    dims = (["mu"] if c.effect else []) + (["u"] if c.heterogeneity else [])
    dims += ["b"] if isinstance(c.bias, str) else [f"w{j}" for j in range(wf.J - 1)] if wf else []
    boxes = {"mu": setup.mu_box(), "u": setup.tau_box(), "b": setup.slope_box(c.bias) if isinstance(c.bias, str)
             else None}
    lo, hi = zip(*[boxes.get(d) or (-30.0, 0.0) for d in dims]) if dims else ((), ())  # log u of the cube
    J = wf.J if wf else 1  # (bulk, tail) nodes per dimension: fewer as the dimensions add up; mu has the most,
    # for its quantiles (the grid's marginal CDF is interpolated between nodes)
    sizes = {1: ((64, 10), (64, 10), None), 2: ((48, 8), (32, 8), (24, 6)), 3: ((32, 6), (20, 4), (16, 4)),
             4: ((16, 2), (12, 2), (8, 2))}[J]
    size = [sizes[0] if d == "mu" else sizes[1] if d in ("u", "b") else sizes[2] for d in dims]
    final, tail = [n for n, _ in size], [t for _, t in size]
    coarse = [14 if d in ("mu", "u", "b") else 8 for d in dims]
    grid = integrate(lambda nodes: _log_f_numeric(c, setup, dims, nodes, wf), lo, hi, final, coarse, tail)

    def atoms(name, transform):
        if name not in dims:
            return Atoms.point()
        d = dims.index(name)
        return Atoms("grid", grid.marginal(d), transform(grid.nodes[d]))

    return Evidence(c, grid.log_z, atoms("mu", lambda m: setup.sign * m), atoms("u", np.exp),
                    atoms("b", lambda b: setup.sign * np.exp(b)) if isinstance(c.bias, str) else None,
                    nodes=int(np.prod([len(n) for n in grid.nodes])) if dims else 1)


def _log_f_numeric(c, setup, dims, nodes, wf):
    """log prior + log likelihood on the tensor grid of `dims` (mu*, u = log tau, log b or the weights' cube)."""
    values = dict(zip(dims, nodes))
    mu = values.get("mu", np.zeros(1))
    u = values.get("u", np.array([-np.inf]))
    b = np.exp(values["b"]) if "b" in values else np.zeros(1)
    tau2 = np.exp(2 * u)
    lp = (setup.mu_prior.logpdf(setup.sign * mu)[:, None, None] if c.effect else 0.0) + (
        (prior_logpdf(setup.tau_prior, np.exp(u)) + u)[None, :, None] if c.heterogeneity else 0.0)
    if "b" in values:
        lp = lp + (prior_logpdf(setup.slope_priors[c.bias], b) + values["b"])[None, None, :]
    s2 = setup.v + tau2[None, :, None, None]  # (1, T, 1, k)
    x = setup.x(c.bias) if "b" in values else 0.0
    mean = mu[:, None, None, None] + b[None, None, :, None] * x  # (M, 1, B, k)
    ll = -0.5 * np.sum(LOG_2PI + np.log(s2) + (setup.y - mean) ** 2 / s2, axis=-1)  # (M, T, B)
    out = lp + ll
    if wf is None:
        return out.reshape([len(n) for n in nodes]) if nodes else out.reshape(())
    cube = [values[d] for d in dims if d.startswith("w")]
    return _selection_term(setup, wf, mu, tau2, out[:, :, 0], cube).reshape([len(n) for n in nodes])


def _selection_term(setup, wf, mu, tau2, base, cube):
    """base (M, T) plus sum_j n_j log omega_j - sum_i log(sum_j omega_j P_ij(mu, tau)) + log prior of omega,
    on the tensor grid (M, T, n_1, ..., n_{J-1}) of the weights' cube in log u (weights near 0 are a smooth
    bulk there, as tau near 0 is in log tau)."""
    log_u = np.stack(np.meshgrid(*cube, indexing="ij"), axis=-1).reshape(-1, wf.J - 1)
    omega, log_prior = wf.omega_from_cube(np.exp(log_u))  # (W, J), (W,)
    log_prior = log_prior + log_u.sum(axis=1)  # the Jacobian of u = exp(log u)
    edges = wf.edges(setup.se)
    index = wf.interval_index(setup.y, setup.se, 1)  # setup.y is already in the direction of benefit
    counts = np.bincount(index, minlength=wf.J)
    with np.errstate(divide="ignore"):
        numerator = np.log(omega) @ counts + log_prior  # (W,)
    s = np.sqrt(setup.v + tau2[None, :, None])  # (1, T, k)
    probs = wf.interval_probs(np.broadcast_to(mu[:, None, None], (len(mu), len(tau2), len(setup.y))),
                              np.broadcast_to(s, (len(mu), len(tau2), len(setup.y))), edges)  # (M, T, k, J)
    flat = probs.reshape(-1, len(setup.y), wf.J)
    denom = np.empty((len(flat), len(omega)))
    rows = max(1, _CHUNK // (len(setup.y) * len(omega)))
    k, pad = len(setup.y), -len(setup.y) % _GROUP
    for start in range(0, len(flat), rows):
        part = flat[start:start + rows]
        sums = (part.reshape(-1, wf.J) @ omega.T).reshape(len(part), k, len(omega))
        if pad:
            sums = np.concatenate([sums, np.ones((len(part), pad, len(omega)))], axis=1)  # products of _GROUP studies:
        grouped = np.prod(sums.reshape(len(part), -1, _GROUP, len(omega)), axis=2)  # a quarter of the logs
        denom[start:start + rows] = np.sum(np.log(grouped), axis=1)
    total = base.reshape(-1, 1) + numerator[None, :] - denom
    return total.reshape(*base.shape, *[len(c) for c in cube])
