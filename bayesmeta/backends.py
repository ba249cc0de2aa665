"""The two ways a posterior is held, behind one interface (cdf, ppf, moments, hdi, pdf, draws) over the
quantity kinds of bayesmeta.families.base (Linear, Heterogeneity, Shrunken):

* QuadratureBackend (exact engine): p(tau | y) on quadrature nodes for each block; every Linear and
  Shrunken quantity is a normal mixture over the nodes (over pairs of nodes when it spans two blocks with
  their own tau), every Heterogeneity quantity a monotone function of tau. Draws (for figures and the
  DataTree) are i.i.d., made on first use from the seed.
* DrawsBackend (MCMC, and the i.i.d. draws of the exact engine): everything from draws of beta and tau;
  new-study deviations and shrunken study effects are drawn from their exact conditionals given them.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from .families.base import Heterogeneity, HyperFunction, Shrunken
from .numerics import mixture_cdf, mixture_moments, mixture_pdf, mixture_ppf

_EDGE = 1e-12  # HDI search stays inside (0, 1): the quantiles at 0 and 1 are infinite


def with_support_ends(q, probs, values) -> np.ndarray:
    """Quantiles with those at probability 0 and 1 set to the ends of the quantity's support (-inf and inf for
    effects, 0 and inf for tau, 100 for I2), not the smallest and largest node or draw."""
    values = np.array(values, float)
    lo, hi = getattr(q, "support", (-np.inf, np.inf))
    values[probs == 0], values[probs == 1] = lo, hi
    return values


class QuadratureBackend:
    """Exact posterior: `factors` are the TauQuadrature of each block of `family`."""

    exact = True

    def __init__(self, family, factors, seed, draws=1000, chains=4):
        self.family, self.factors, self.seed = family, factors, seed
        self.hyper = [m for f in factors for m in f.marginals()]  # posterior of each heterogeneity parameter
        self.shape = (chains, draws)
        self._sample = None
        self._tau_ppf_cache = {}

    # ---------------------------------------------------------------- normal mixtures
    def components(self, q):
        """(weight (N,), means (N,), sds (N,)) of the normal mixture of a Linear or Shrunken quantity."""
        if isinstance(q, Shrunken):
            j, pos = self.family.block_of(q.study)
            w, means, sds = self.family.shrunken_components(self.factors[j], j, np.array([pos]))
            return w, means[0], sds[0]
        parts = []
        new = q.new_terms()
        for j, (block, fac) in enumerate(zip(self.family.blocks, self.factors)):
            a = q.a[block.coef]
            extra = [m for (b, _), m in new.items() if b == j]
            if not a.any() and not extra:
                continue
            var = np.einsum("i,nij,j->n", a, fac.cov, a) + sum(m * m for m in extra) * fac.tau**2
            parts.append((fac.weight, fac.b @ a, var))
        if not parts:
            raise ValueError("this expression is a constant: it has no posterior distribution")
        if len(parts) > 2:
            raise ValueError("the exact engine combines quantities of at most two subgroups with separate taus; "
                             "use engine='mcmc' for more")
        w, m, var = parts[0]
        if len(parts) == 2:  # independent blocks: the mixture over all pairs of nodes
            w2, m2, var2 = parts[1]
            w, m, var = (np.outer(w, w2).ravel(), np.add.outer(m, m2).ravel(), np.add.outer(var, var2).ravel())
        return w, m, np.sqrt(var)

    def _hyper_nodes(self, q):
        """Weights and values of a HyperFunction at the joint nodes of the (single) quadrature."""
        fac = self.factors[0]
        return fac.weight, q.fn(fac.hyper)

    def cdf(self, q, x: float) -> float:
        if isinstance(q, Heterogeneity):
            t = q.to_tau(x)
            return 0.0 if np.isnan(t) else 1.0 if np.isinf(t) else self.hyper[q.block].tau_cdf(t)
        if isinstance(q, HyperFunction):
            return self.factors[0].function_cdf(q.fn, x)
        return float(mixture_cdf(x, *self.components(q)))

    def ppf(self, q, probs) -> np.ndarray:
        probs = np.atleast_1d(np.asarray(probs, float))
        return with_support_ends(q, probs, self._ppf(q, probs))

    def _ppf(self, q, probs) -> np.ndarray:
        if isinstance(q, Heterogeneity):
            key = (q.block, probs.tobytes())
            if key not in self._tau_ppf_cache:  # tau, tau2 and I2 share the quantiles of tau
                self._tau_ppf_cache[key] = self.hyper[q.block].tau_ppf(probs)
            return q.from_tau(self._tau_ppf_cache[key])
        if isinstance(q, HyperFunction):
            return self._function_ppf(q, probs)
        w, m, s = self.components(q)
        return mixture_ppf(probs, w, np.broadcast_to(m, (len(probs), len(m))), np.broadcast_to(s, (len(probs), len(s))))

    def _function_ppf(self, q, probs):
        """Quantiles of a function of both SDs: the root of its CDF (Brent) between the node values that bracket
        the probability, to 1e-10 of the value's scale."""
        w, values = self._hyper_nodes(q)
        order = np.argsort(values)
        cum = np.cumsum(w[order])
        out = np.empty(len(probs))
        for i, p in enumerate(probs):
            if not 0 < p < 1:
                out[i] = np.nan  # set to the ends of the support by ppf
                continue
            j = int(np.searchsorted(cum, p))
            a, b = values[order][max(j - 2, 0)], values[order][min(j + 2, len(cum) - 1)]
            f = lambda x, p=p: self.cdf(q, x) - p  # noqa: E731
            while f(a) > 0 and a > values[order][0]:
                a = values[order][0]
            while f(b) < 0 and b < values[order][-1]:
                b = values[order][-1]
            out[i] = optimize.brentq(f, a, b, xtol=1e-12 * max(abs(b), 1.0), rtol=1e-12) if f(a) * f(b) < 0 else a
        return out

    def moments(self, q) -> tuple[float, float]:
        if isinstance(q, (Heterogeneity, HyperFunction)):
            w, x = (self.hyper[q.block].weight, q.from_tau(self.hyper[q.block].tau)) \
                if isinstance(q, Heterogeneity) else self._hyper_nodes(q)
            mean = float(np.sum(w * x))
            return mean, float(math.sqrt(max(np.sum(w * (x - mean) ** 2), 0.0)))
        mean, sd = mixture_moments(*self.components(q))
        return float(mean), float(sd)

    def summaries(self, qs, probs) -> np.ndarray:
        """(len(qs), 2 + len(probs)): mean, SD and quantiles of each quantity; the normal mixtures that share
        their nodes are solved together in one vectorised Newton iteration."""
        probs = np.asarray(probs, float)
        out = np.empty((len(qs), 2 + len(probs)))
        groups, studies = {}, {}
        for i, q in enumerate(qs):
            if isinstance(q, (Heterogeneity, HyperFunction)):
                out[i] = [*self.moments(q), *self.ppf(q, probs)]
            elif isinstance(q, Shrunken):
                studies.setdefault(self.family.block_of(q.study)[0], []).append(i)
            else:
                w, m, s = self.components(q)
                groups.setdefault(id(w), (w, [], [], []))
                for part, value in zip(groups[id(w)][1:], (i, m, s)):
                    part.append(value)
        for j, rows in studies.items():  # shrunken study effects of one block: all at once
            pos = np.array([self.family.block_of(qs[i].study)[1] for i in rows])
            w, m, s = self.family.shrunken_components(self.factors[j], j, pos)
            groups[("block", j)] = (w, rows, m, s)
        for w, rows, means, sds in groups.values():
            means, sds = np.asarray(means), np.asarray(sds)
            out[rows, 0], out[rows, 1] = mixture_moments(w, means, sds)
            n = len(rows)
            qs_ = mixture_ppf(np.repeat(probs, n), w, np.tile(means, (len(probs), 1)), np.tile(sds, (len(probs), 1)))
            out[rows, 2:] = qs_.reshape(len(probs), n).T
        return out

    def pdf(self, q, x) -> np.ndarray:
        """Posterior density at x (array). For tau2 and I2 by the change of variables from tau."""
        x = np.asarray(x, float)
        if isinstance(q, HyperFunction):
            raise ValueError("no exact density for a function of both heterogeneity SDs; use fit.draws()")
        if isinstance(q, Heterogeneity):
            fac = self.hyper[q.block]
            if q.transform == "tau":
                return fac.tau_pdf(x)
            tau = np.array([q.to_tau(v) for v in np.atleast_1d(x)])
            h = 1e-6 * np.maximum(tau, 1e-12)
            jac = (q.from_tau(tau + h) - q.from_tau(np.maximum(tau - h, 0))) / (tau + h - np.maximum(tau - h, 0))
            return np.where(np.isfinite(tau), fac.tau_pdf(np.nan_to_num(tau)) / jac, 0.0)
        return mixture_pdf(x, *self.components(q))

    def hdi(self, q, ci) -> tuple[float, float]:
        """Narrowest interval with probability ci (a tau-type interval may start at 0)."""
        width = lambda p: float(np.diff(self.ppf(q, [p, p + ci]))[0])  # noqa: E731
        res = optimize.minimize_scalar(width, bounds=(_EDGE, 1 - ci - _EDGE), method="bounded",
                                       options={"xatol": 1e-9})
        p = 0.0 if isinstance(q, Heterogeneity) and width(0.0) <= res.fun else res.x
        lo, hi = self.ppf(q, [p, p + ci])
        return float(lo), float(hi)

    # ---------------------------------------------------------------- evidence
    @property
    def log_evidence(self) -> float:
        return float(sum(f.log_evidence for f in self.factors))

    def describe(self) -> str:
        nodes = sum(len(f.tau) for f in self.factors)
        return ("exact: p(tau | y) by adaptive Gauss-Legendre quadrature refined until the integral is stable to "
                f"1e-11 ({nodes} nodes); summaries are exact normal mixtures over tau (no Monte Carlo error); "
                "figures draw the exact densities; the DataTree holds i.i.d. posterior draws")

    def diagnostics(self, tree=None):
        import pandas as pd

        rows = {f"block {j + 1}" if len(self.factors) > 1 else "tau": dict(
            nodes=len(f.weight), log_evidence=f.log_evidence) for j, f in enumerate(self.factors)}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("quadrature")

    # ---------------------------------------------------------------- i.i.d. draws
    @property
    def sample(self) -> "DrawsBackend":
        """i.i.d. posterior draws (seeded): tau from each block's quadrature, beta | tau exactly."""
        if self._sample is None:
            rng = np.random.default_rng(self.seed)
            n = int(np.prod(self.shape))
            beta = np.empty((n, self.family.p))
            taus = []
            for block, fac in zip(self.family.blocks, self.factors):
                hyper, b, cov = fac.sample(n, rng)
                taus.append(hyper)
                z = rng.standard_normal(b.shape)
                beta[:, block.coef] = b + np.einsum("nij,nj->ni", np.linalg.cholesky(cov), z)
            tau = np.concatenate(taus, axis=1)
            self._sample = DrawsBackend(self.family, beta.reshape(*self.shape, -1), tau.reshape(*self.shape, -1),
                                        self.seed)
        return self._sample

    def draws(self, q) -> np.ndarray:
        return self.sample.draws(q)


class DrawsBackend:
    """Posterior from draws: beta (chains, draws, p) and tau (chains, draws, blocks)."""

    exact = False

    def __init__(self, family, beta, tau, seed, sample_stats=None, diagnostics=None):
        self.family, self.seed = family, seed
        self.shape = beta.shape[:2]
        self.beta = np.asarray(beta, float).reshape(-1, beta.shape[-1])
        self.tau = np.asarray(tau, float).reshape(-1, tau.shape[-1])
        self.sample_stats = sample_stats
        self._diagnostics = diagnostics
        self._noise, self._theta = {}, None  # new-study deviations by slot, shrunken study effects

    @property
    def sample(self) -> "DrawsBackend":
        return self

    def _deviation(self, block, slot):
        """Draws of a new study's deviation from x'beta in `block` (the family's distribution; seeded by the
        slot, so the same new study gets the same draws on every call)."""
        if (block, slot) not in self._noise:
            rng = np.random.default_rng([self.seed, 7, slot])
            self._noise[(block, slot)] = self.family.new_study_deviation(self.tau, block, rng)
        return self._noise[(block, slot)]

    @property
    def theta(self) -> np.ndarray:
        """Shrunken study effects drawn from their exact conditionals given beta and tau (by the family)."""
        if self._theta is None:
            self._theta = self.family.draw_study_effects(self.beta, self.tau, np.random.default_rng([self.seed, 5]))
        return self._theta

    def draws(self, q) -> np.ndarray:
        if isinstance(q, Heterogeneity):
            return q.from_tau(self.tau[:, q.block])
        if isinstance(q, HyperFunction):
            return q.fn(self.tau)
        if isinstance(q, Shrunken):
            return self.theta[:, q.study]
        out = self.beta @ q.a
        for (b, slot), m in q.new_terms().items():
            out = out + m * self._deviation(b, slot)
        return out

    def cdf(self, q, x: float) -> float:
        return float(np.mean(self.draws(q) <= x))

    def ppf(self, q, probs) -> np.ndarray:
        probs = np.atleast_1d(np.asarray(probs, float))
        return with_support_ends(q, probs, np.quantile(self.draws(q), probs))

    def moments(self, q) -> tuple[float, float]:
        d = self.draws(q)
        return float(d.mean()), float(d.std(ddof=1))

    def summaries(self, qs, probs) -> np.ndarray:
        """(len(qs), 2 + len(probs)): mean, SD and quantiles of each quantity."""
        return np.array([[*self.moments(q), *self.ppf(q, probs)] for q in qs])

    def pdf(self, q, x) -> np.ndarray:
        return stats.gaussian_kde(self.draws(q))(np.asarray(x, float))

    def hdi(self, q, ci) -> tuple[float, float]:
        x = np.sort(self.draws(q))
        n_in = int(math.ceil(ci * len(x)))
        widths = x[n_in - 1:] - x[: len(x) - n_in + 1]
        i = int(np.argmin(widths))
        return float(x[i]), float(x[i + n_in - 1])

    def describe(self) -> str:
        return "MCMC (PyMC model, NUTS sampler): summaries from the draws, with Monte Carlo error"

    def diagnostics(self, tree):
        if self._diagnostics is None:
            raise ValueError("no sampler diagnostics: these draws are i.i.d.")
        return self._diagnostics(self, tree)

    # ---------------------------------------------------------------- DataTree
    def datatree(self, spec):
        """posterior, posterior_predictive, observed and constant data, prior, sample_stats."""
        import arviz_base as azb

        fam, data = self.family, spec.family.data
        shape = tuple(self.shape)
        posterior, dims = {}, {"theta": ["study"], "y_rep": ["study"], "y": ["study"], "se": ["study"]}
        for name, (values, vdims) in fam.coefficient_variables(self.beta, self.tau).items():
            posterior[name] = values.reshape(*shape, *values.shape[1:])
            dims[name] = vdims
        posterior["theta"] = self.theta.reshape(*shape, -1)
        derived = fam.derived_draws()
        if derived:
            base = derived[0].partition("[")[0]
            stacked = np.stack([self.draws(fam.quantity(n)) for n in derived], axis=-1)
            posterior[base] = stacked.reshape(*shape, -1) if "[" in derived[0] else stacked.reshape(shape)
            dims[base] = [fam.coef_dim] if "[" in derived[0] else []
        rng = np.random.default_rng([self.seed, 11])
        groups = {"posterior": posterior,
                  "posterior_predictive": {"y_rep": rng.normal(posterior["theta"], data.se)},
                  "observed_data": {"y": data.y}, "constant_data": {"se": data.se}}
        prior = spec.prior_draws(shape, rng)
        if prior:
            groups["prior"] = prior
            if "theta_new" in prior:
                groups["prior_predictive"] = {"y_rep": rng.normal(prior["theta_new"][..., None], data.se)}
        if self.sample_stats is not None:
            groups["sample_stats"] = self.sample_stats
        tree = azb.from_dict(groups, dims=dims, coords=fam.coords())
        loglik, obs_dim = fam.pointwise_log_likelihood(self.beta, self.tau)  # per study (per cluster if dependent)
        tree["log_likelihood"] = azb.dict_to_dataset({"y": loglik.reshape(*shape, -1)}, dims={"y": [obs_dim]},
                                                     coords={obs_dim: fam.coords()[obs_dim]})
        log_prior = spec.log_prior(self.beta, self.tau)  # summed over blocks: its own group, its own dims
        if log_prior:
            tree["log_prior"] = azb.dict_to_dataset({name: lp.reshape(shape) for name, lp in log_prior.items()})
        return tree
