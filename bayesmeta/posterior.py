"""The posterior of a fit, the same for both engines: summaries, probabilities, shrinkage, draws.

For the exact engine every summary is computed from the quadrature (normal mixtures over tau; tau,
tau^2 and I^2 through the CDF of tau); the draws in `idata` are i.i.d. and serve plots. For MCMC
every summary comes from the draws. I^2 is in percent: I^2 = 100 tau^2 / (tau^2 + s^2), with s^2
the Higgins-Thompson typical within-study variance (as metafor).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from scipy import optimize

from .frequentist_methods import typical_variance

QUANTITIES = ("mu", "tau", "tau2", "I2", "theta_new")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_QUANT = r"mu|tau2|tau|I2|theta_new|theta\[[^\]]+\]"
_SINGLE = re.compile(rf"^\s*({_QUANT})\s*(<=|>=|<|>)\s*({_NUMBER})\s*$")
_RANGE = re.compile(rf"^\s*({_NUMBER})\s*(<=|<)\s*({_QUANT})\s*(<=|<)\s*({_NUMBER})\s*$")


class Fit:
    """A fitted normal-normal model. Build with `bm.fit(...)`."""

    def __init__(self, spec, engine, idata, seed, exact=None, settings=None):
        self.spec, self.engine, self.seed = spec, engine, seed
        self._idata = idata  # a DataTree, or a function that makes it on first use
        self.exact = exact
        self.settings = settings or {}
        self._s2 = typical_variance(spec.data.vi) if spec.data.k > 1 else float(spec.data.vi[0])
        self._tau_quantiles = {}

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_exact(cls, spec, exact, seed, draws=1000, chains=4):
        """Exact summaries at once; `idata` (i.i.d. draws, seeded) is made when first used."""
        from .exact import conditional_mu

        def make_tree():
            rng = np.random.default_rng(seed)
            tau = exact.sample_tau(draws * chains, rng)
            m, var, _ = conditional_mu(tau, spec.data.y, spec.data.vi, spec.mu_prior)
            mu = rng.normal(m, np.sqrt(var))
            return _datatree(spec, mu.reshape(chains, draws), tau.reshape(chains, draws), rng)

        return cls(spec, "exact", make_tree, seed, exact=exact, settings=dict(draws=draws, chains=chains))

    @property
    def idata(self):
        """ArviZ DataTree: posterior, prior, posterior/prior predictive, observed and constant data."""
        if callable(self._idata):
            self._idata = self._idata()
        return self._idata

    @classmethod
    def from_mcmc(cls, spec, draws, seed, settings):
        rng = np.random.default_rng([seed, 1])
        stats_ = {"diverging": draws["diverging"]}
        if draws.get("tree_depth") is not None:
            stats_["tree_depth"] = draws["tree_depth"]
        tree = _datatree(spec, draws["mu"], draws["tau"], rng, sample_stats=stats_)
        return cls(spec, "mcmc", tree, seed, settings=settings)

    # ---------------------------------------------------------------- basic accessors
    @property
    def data(self):
        return self.spec.data

    def draws(self, quantity: str) -> np.ndarray:
        """All posterior draws of a quantity, flattened over chains ('theta[label]' for one study)."""
        post = self.idata["posterior"]
        if quantity.startswith("theta["):
            return post["theta"].sel(study=self._study(quantity)).values.ravel()
        return post[quantity].values.ravel()

    def _study(self, quantity):
        label = quantity[6:-1].strip().strip("'\"")
        labels = list(self.data.study)
        if label in labels:
            return label
        if label.isdigit() and 1 <= int(label) <= len(labels):
            return labels[int(label) - 1]
        raise ValueError(f"no study {label!r}; studies are {labels}")

    # ---------------------------------------------------------------- distributions of quantities
    def cdf(self, quantity: str, x: float) -> float:
        """P(quantity <= x | y)."""
        if self.exact is None:
            return float(np.mean(self.draws(quantity) <= x))
        ex = self.exact
        if quantity == "tau":
            return ex.tau_cdf(x)
        if quantity == "tau2":
            return ex.tau_cdf(math.sqrt(x)) if x > 0 else 0.0
        if quantity == "I2":
            return ex.tau_cdf(math.sqrt(self._s2 * x / (100 - x))) if 0 < x < 100 else float(x >= 100)
        means, sds = self._components(quantity)
        return float(ex.mixture_cdf(x, means, sds))

    def ppf(self, quantity: str, q) -> np.ndarray:
        """Posterior quantiles of a quantity at probabilities q."""
        q = np.atleast_1d(np.asarray(q, float))
        if self.exact is None:
            return np.quantile(self.draws(quantity), q)
        if quantity in ("tau", "tau2", "I2"):
            key = q.tobytes()
            if key not in self._tau_quantiles:  # tau, tau2 and I2 share the quantiles of tau
                self._tau_quantiles[key] = self.exact.tau_ppf(q)
            tau = self._tau_quantiles[key]
            return {"tau": tau, "tau2": tau**2, "I2": 100 * tau**2 / (tau**2 + self._s2)}[quantity]
        means, sds = self._components(quantity)
        return self.exact.mixture_ppf(q, np.broadcast_to(means, (len(q), len(means))),
                                      np.broadcast_to(sds, (len(q), len(sds))))

    def moments(self, quantity: str) -> tuple[float, float]:
        """Posterior mean and SD."""
        if self.exact is None:
            d = self.draws(quantity)
            return float(d.mean()), float(d.std(ddof=1))
        ex = self.exact
        if quantity in ("tau", "tau2", "I2"):
            t = ex.tau
            x = {"tau": t, "tau2": t**2, "I2": 100 * t**2 / (t**2 + self._s2)}[quantity]
            mean = float(np.sum(ex.weight * x))
            return mean, float(math.sqrt(max(np.sum(ex.weight * x**2) - mean**2, 0.0)))
        mean, sd = ex.mixture_moments(*self._components(quantity))
        return float(mean), float(sd)

    def _components(self, quantity):
        if quantity.startswith("theta["):
            return self.exact.components("theta", list(self.data.study).index(self._study(quantity)))
        return self.exact.components(quantity)

    def interval(self, quantity: str, ci: float = 0.95, kind: str = "eti") -> tuple[float, float]:
        """Equal-tailed (eti) or highest-density (hdi) interval with probability ci."""
        if kind == "eti":
            lo, hi = self.ppf(quantity, [(1 - ci) / 2, (1 + ci) / 2])
            return float(lo), float(hi)
        if kind != "hdi":
            raise ValueError(f"kind must be 'eti' or 'hdi', not {kind!r}")
        if self.exact is None:
            return _hdi_of_draws(self.draws(quantity), ci)
        edge = 1e-12  # stay inside (0, 1): the mixture quantiles at 0 and 1 are infinite
        width = lambda p: float(np.diff(self.ppf(quantity, [p, p + ci]))[0])  # noqa: E731
        res = optimize.minimize_scalar(width, bounds=(edge, 1 - ci - edge), method="bounded",
                                       options={"xatol": 1e-9})
        p = 0.0 if quantity in ("tau", "tau2", "I2") and width(0.0) <= res.fun else res.x
        lo, hi = self.ppf(quantity, [p, p + ci])
        return float(lo), float(hi)

    # ---------------------------------------------------------------- the public summaries
    def summary(self, ci: float = 0.95, kind: str = "eti") -> pd.DataFrame:
        """Rows mu, tau, tau2, I2, theta_new; columns mean, sd, median, lower, upper (a `ci` interval)."""
        rows = [self._row(q, ci, kind) for q in QUANTITIES]
        out = pd.DataFrame(rows, index=pd.Index(QUANTITIES, name="quantity"))
        out.attrs["interval"] = f"{ci:.0%} {'equal-tailed' if kind == 'eti' else 'highest-density'} credible interval"
        return out

    def _row(self, quantity, ci, kind):
        mean, sd = self.moments(quantity)
        if kind == "eti":
            lo, median, hi = self.ppf(quantity, [(1 - ci) / 2, 0.5, (1 + ci) / 2])
        else:
            (lo, hi), median = self.interval(quantity, ci, kind), self.ppf(quantity, [0.5])[0]
        return dict(mean=mean, sd=sd, median=float(median), lower=float(lo), upper=float(hi))

    def shrinkage(self, ci: float = 0.95, kind: str = "eti") -> pd.DataFrame:
        """Per study: observed y and se, and the posterior mean, sd and interval of its effect theta_i."""
        data = self.data
        table = pd.DataFrame({"y": data.y, "se": data.se}, index=pd.Index(data.study, name="study"))
        if self.exact is not None and kind == "eti":  # all studies in one vectorised mixture solve
            means, sds = self.exact.components("theta")
            table["mean"], table["sd"] = self.exact.mixture_moments(means, sds)
            k = data.k
            q = np.repeat([(1 - ci) / 2, (1 + ci) / 2], k)
            bounds = self.exact.mixture_ppf(q, np.tile(means, (2, 1)), np.tile(sds, (2, 1)))
            table["lower"], table["upper"] = bounds[:k], bounds[k:]
            return table
        rows = [self._row(f"theta[{label}]", ci, kind) for label in data.study]
        for col in ("mean", "sd", "lower", "upper"):
            table[col] = [r[col] for r in rows]
        return table

    def prob(self, expression: str) -> float:
        """Posterior probability of 'mu < 0', 'theta_new <= -0.2', 'tau > 0.5', '-0.5 < mu < 0' ..."""
        m = _SINGLE.match(expression)
        if m:
            quantity, op, value = m.group(1), m.group(2), float(m.group(3))
            below = self.cdf(quantity, value)
            return float(below if op in ("<", "<=") else 1 - below)
        m = _RANGE.match(expression)
        if m:
            lo, quantity, hi = float(m.group(1)), m.group(3), float(m.group(5))
            return float(self.cdf(quantity, hi) - self.cdf(quantity, lo))
        raise ValueError(f"cannot read {expression!r}: write e.g. 'mu < 0', 'theta_new <= -0.2', 'tau > 0.5' or "
                         "'-0.5 < mu < 0' (quantities: mu, tau, tau2, I2, theta_new, theta[study])")

    def bayes_factors(self) -> pd.DataFrame:
        """Exact Bayes factors: BF01 and BF10 for tau = 0 (common effect) and for mu = 0.

        tau = 0: BF01 = L(tau = 0) / integral p(tau) L(tau) dtau (needs a proper tau prior).
        mu = 0: Savage-Dickey, BF01 = p(mu = 0 | y) / p(mu = 0) (needs a proper normal prior on mu).
        Computed by the exact engine also for MCMC fits (the model is the same).
        """
        from .exact import ExactPosterior

        ex = self.exact or ExactPosterior(self.data.y, self.data.vi, self.spec.tau_prior, self.spec.mu_prior)
        rows = {}
        if self.spec.model == "random" and self.spec.tau_prior.proper:
            rows["tau = 0"] = math.exp(ex.log_likelihood_tau0() - ex.log_evidence)
        if self.spec.mu_prior.kind == "normal":
            rows["mu = 0"] = ex.mu_density(0.0) / math.exp(self.spec.mu_prior.logpdf(0.0))
        if not rows:
            raise ValueError("Bayes factors need proper priors: a proper tau prior (for tau = 0) or a normal prior "
                             "on mu (for mu = 0)")
        out = pd.DataFrame({"BF01": rows}).rename_axis("null hypothesis")
        out["BF10"] = 1 / out["BF01"]
        return out

    def diagnostics(self) -> pd.DataFrame:
        """R-hat, bulk and tail ESS, MCSE of mean and SD for mu and tau, and divergences (ArviZ)."""
        import arviz_stats as azs

        names = ["mu", "tau"] if self.spec.model == "random" else ["mu"]
        table = azs.summary(self.idata, var_names=names, kind="diagnostics")
        table["divergences"] = self.settings.get("divergences", 0)
        return table

    # ---------------------------------------------------------------- reporting
    def report(self, format: str = "text", **kwargs) -> str:  # noqa: A002
        """Plain-language report; see bayesmeta.report."""
        from .report import render_report

        return render_report(self, format=format, **kwargs)

    def __repr__(self):
        s = self.summary()
        lines = [f"Bayesian meta-analysis ({self.engine} engine), k = {self.data.k}; {s.attrs['interval']}s",
                 f"  priors: tau ~ {self.spec.tau_prior}, mu ~ {self.spec.mu_prior}"]
        for q, r in s.iterrows():
            lines.append(f"  {q:9s} mean {r['mean']:8.4f}  sd {r['sd']:7.4f}  [{r['lower']:.4f}, {r['upper']:.4f}]")
        return "\n".join(lines)


def _hdi_of_draws(x, ci):
    """Narrowest interval containing a fraction ci of the sorted draws."""
    x = np.sort(np.asarray(x))
    n_in = int(math.ceil(ci * len(x)))
    widths = x[n_in - 1:] - x[: len(x) - n_in + 1]
    i = int(np.argmin(widths))
    return float(x[i]), float(x[i + n_in - 1])


def _datatree(spec, mu, tau, rng, sample_stats=None):
    """ArviZ DataTree: posterior (mu, tau, tau2, I2, theta[study], theta_new), prior, predictive groups,
    observed and constant data. mu, tau are (chains, draws); theta_i and theta_new are drawn from their
    exact conditionals given (mu, tau)."""
    import arviz_base as azb

    data = spec.data
    y, se, v = data.y, data.se, data.vi
    s2 = typical_variance(v) if data.k > 1 else float(v[0])
    shrink = v / (v + tau[..., None] ** 2)
    theta = rng.normal(shrink * mu[..., None] + (1 - shrink) * y, np.sqrt(v * (1 - shrink)))
    posterior = dict(mu=mu, tau=tau, tau2=tau**2, I2=100 * tau**2 / (tau**2 + s2), theta=theta,
                     theta_new=rng.normal(mu, tau))
    groups = {"posterior": posterior,
              "posterior_predictive": {"y_rep": rng.normal(theta, se)},
              "observed_data": {"y": y}, "constant_data": {"se": se}}
    prior = _prior_draws(spec, mu.shape, rng)
    if prior:
        groups["prior"] = prior
        if "mu" in prior:
            groups["prior_predictive"] = {"y_rep": rng.normal(prior["theta_new"][..., None], se)}
    if sample_stats is not None:
        groups["sample_stats"] = sample_stats
    dims = {"theta": ["study"], "y_rep": ["study"], "y": ["study"], "se": ["study"]}
    return azb.from_dict(groups, dims=dims, coords={"study": [str(s) for s in data.study]})


def _prior_draws(spec, shape, rng):
    """Draws from the priors of tau (and mu and theta_new where the mu prior is proper)."""
    out = {}
    if spec.model == "random" and spec.tau_prior.proper:
        out["tau"] = np.asarray(spec.tau_prior.rvs(int(np.prod(shape)), rng)).reshape(shape)
    if spec.mu_prior.proper:
        out["mu"] = spec.mu_prior.rvs(int(np.prod(shape)), rng).reshape(shape)
        out["theta_new"] = rng.normal(out["mu"], out.get("tau", 0.0))
    return out
