"""MCMC engine: any family's PyMC model in marginal form, sampled by nutpie (or PyMC's own NUTS).

y_i ~ N(x_i' beta, se_i^2 + tau_b(i)^2), the study effects integrated out: no funnel, so NUTS samples
(beta, tau) without divergences even where the centred model fails (eight schools, half-Cauchy(5)).
Study effects and new-study effects are drawn afterwards from their exact conditionals (DrawsBackend).
y, se and the design are `pm.Data`: a refit with other data of the same shape, family and priors reuses
the compiled model (nutpie `with_data`, or PyMC's compiled functions via `pm.set_data`).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ConvergenceWarning

_COMPILED: dict = {}  # (sampler, family layout, priors) -> compiled nutpie model or PyMC model
RETRY_TARGET_ACCEPT = (0.95, 0.99)


def design_arrays(family):
    """The full design (k, p) and each study's block index, in data order."""
    k = family.data.k
    X, block_of = np.zeros((k, family.p)), np.zeros(k, int)
    for j, block in enumerate(family.blocks):
        X[np.ix_(block.rows, np.arange(family.p)[block.coef])] = block.X
        block_of[block.rows] = j
    return X, block_of


def _coefficient(prior, name, dims=None):
    import pymc as pm

    if prior.kind == "normal":
        return pm.Normal(name, mu=prior.m, sigma=prior.s, dims=dims)
    if prior.kind == "student_t":
        return pm.StudentT(name, nu=prior.nu, mu=prior.m, sigma=prior.s, dims=dims)
    return pm.Flat(name, dims=dims)


def build_pymc_model(spec):
    """The PyMC model of `spec` (a bayesmeta.model.Model) with y, se and X as pm.Data."""
    import pymc as pm
    import pytensor.tensor as pt

    family = spec.family
    X, block_of = design_arrays(family)
    with pm.Model(coords=family.coords()) as model:
        y = pm.Data("y", family.data.y, dims="study")
        se = pm.Data("se", family.data.se, dims="study")
        Xd = pm.Data("X", X)
        priors = family.coef_priors
        if family.coef_dim is None:
            beta = pt.stack([_coefficient(priors[0], family.coef_name)])
        elif all(p == priors[0] for p in priors):
            beta = _coefficient(priors[0], family.coef_name, dims=family.coef_dim)
        else:
            beta = pm.Deterministic(family.coef_name, pt.stack(
                [_coefficient(p, f"{family.coef_name}_{j}") for j, p in enumerate(priors)]), dims=family.coef_dim)
        mean = pt.dot(Xd, beta)
        if family.random:
            taus = [spec.tau_prior.pymc("tau" if len(family.blocks) == 1 else f"tau_{j}", se=se[b.rows])
                    for j, b in enumerate(family.blocks)]
            tau = taus[0] if len(taus) == 1 else pm.Deterministic("tau", pt.stack(taus), dims=family.tau_dim)
            sd = pt.sqrt(se**2 + (tau[block_of] if len(taus) > 1 else tau) ** 2)
        else:
            sd = se
        pm.Normal("y_obs", mu=mean, sigma=sd, observed=y, dims="study")
    return model


def _nutpie():
    try:
        import nutpie
    except ImportError:
        return None
    return nutpie


class NutpieSampler:
    """nutpie: compiles the model once per (family layout, priors), refits with new data."""

    name = "nutpie"

    def __init__(self, nutpie):
        self.nutpie = nutpie

    def sample(self, spec, key, seed, draws, tune, chains, target_accept, progressbar):
        if key not in _COMPILED:
            _COMPILED[key] = self.nutpie.compile_pymc_model(build_pymc_model(spec))
        X, _ = design_arrays(spec.family)
        compiled = _COMPILED[key].with_data(y=spec.family.data.y, se=spec.family.data.se, X=X)
        tree = self.nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                                  progress_bar=progressbar, target_accept=target_accept, save_warmup=False)
        stats = tree["sample_stats"].to_dataset()
        return tree["posterior"].to_dataset(), stats["diverging"].values, stats.get("depth")


class PyMCSampler:
    """PyMC's own NUTS, where nutpie is not installed: the model is kept and its data swapped."""

    name = "pymc"

    def sample(self, spec, key, seed, draws, tune, chains, target_accept, progressbar):
        import pymc as pm

        if key not in _COMPILED:
            _COMPILED[key] = build_pymc_model(spec)
        X, _ = design_arrays(spec.family)
        with _COMPILED[key]:
            pm.set_data({"y": spec.family.data.y, "se": spec.family.data.se, "X": X})
            tree = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progressbar,
                             target_accept=target_accept, compute_convergence_checks=False)
        stats = tree["sample_stats"].to_dataset()
        return tree["posterior"].to_dataset(), stats["diverging"].values, stats.get("tree_depth")


def sampler():
    nutpie = _nutpie()
    return NutpieSampler(nutpie) if nutpie is not None else PyMCSampler()


def _diagnostics(backend, tree):
    """R-hat, bulk and tail ESS, MCSE of mean and SD, and divergences (ArviZ) of coefficients and tau."""
    import arviz_stats as azs

    fam = backend.family
    names = [fam.coef_name] + (["tau"] if fam.random else [])
    table = azs.summary(tree, var_names=names, kind="diagnostics")
    table["divergences"] = int(np.sum(backend.sample_stats["diverging"]))
    return table


def _warn_on_poor_mixing(beta, tau):
    """A ConvergenceWarning that says what to do when R-hat > 1.01 or bulk ESS < 400 for any coefficient or
    tau (Vehtari et al. 2021), or when there are too few draws to tell."""
    import arviz_stats as azs

    arrays = [beta[..., j] for j in range(beta.shape[-1])] + ([] if tau is None else
                                                             [tau[..., j] for j in range(tau.shape[-1])])
    varying = [a for a in arrays if np.ptp(a) > 0]
    worst_ess = min((float(azs.ess(a, method="bulk")) for a in varying), default=np.inf)
    single = beta.shape[0] < 2
    worst_rhat = 1.0 if single else max((float(azs.rhat(a)) for a in varying), default=1.0)
    if single or not (worst_rhat <= 1.01 and worst_ess >= 400):
        rhat = "R-hat needs at least 2 chains" if single else f"largest R-hat {worst_rhat:.3f}"
        warnings.warn(f"the chains may not have converged ({rhat}, smallest bulk ESS {worst_ess:.0f}; want R-hat "
                      "< 1.01 and ESS > 400): run more chains or draws (chains=4, draws=1000 or more), or use "
                      "engine='exact' where the model allows it", ConvergenceWarning, stacklevel=5)


class MCMCEngine:
    """Sample (beta, tau); retry with a higher target_accept while there are divergences."""

    name = "mcmc"

    def __init__(self, draws=1000, chains=4, tune=1000, target_accept=0.9, progressbar=False):
        self.draws, self.chains, self.tune = draws, chains, tune
        self.target_accept, self.progressbar = target_accept, progressbar

    def run(self, spec, seed):
        from ..backends import DrawsBackend

        family = spec.family
        smp = sampler()
        key = (smp.name, family.cache_key(), str(spec.tau_prior), tuple(str(p) for p in family.coef_priors))
        accepts = (self.target_accept, *[t for t in RETRY_TARGET_ACCEPT if t > self.target_accept])
        for attempt, accept in enumerate(accepts):
            post, diverging, depth = smp.sample(spec, key, seed + attempt, self.draws, self.tune, self.chains,
                                                accept, self.progressbar)
            n_div = int(np.sum(diverging))
            if n_div == 0:
                break
        if n_div:
            warnings.warn(f"{n_div} divergent transitions remain at target_accept = {accept}: the posterior may be "
                          "biased. Try engine='exact' (where the family allows it), a more informative tau prior, "
                          "or more tuning steps (tune=...)", ConvergenceWarning, stacklevel=4)
        coef = post[family.coef_name].values
        beta = coef[..., None] if family.coef_dim is None else coef
        if not family.random:
            tau = np.zeros((*beta.shape[:2], len(family.blocks)))
        else:
            t = post["tau"].values
            tau = t[..., None] if t.ndim == 2 else t
        stats_ = {"diverging": diverging}
        if depth is not None:
            stats_["tree_depth"] = depth.values
        backend = DrawsBackend(family, beta, tau, seed + attempt, sample_stats=stats_, diagnostics=_diagnostics)
        _warn_on_poor_mixing(beta, tau if family.random else None)
        settings = dict(sampler=smp.name, target_accept=accept, divergences=n_div, draws=self.draws,
                        chains=self.chains, tune=self.tune, seed=seed + attempt)
        return backend, settings
