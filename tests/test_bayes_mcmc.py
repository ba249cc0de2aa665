"""PyMC engine against the exact engine (within Monte Carlo error), divergences, seeds, refits."""

import numpy as np
import pytest

import bayesmeta as bm
from bayesmeta.engines import mcmc

from .conftest import reference_data

pytestmark = pytest.mark.slow

CASES = [("thirdwave", "halfcauchy(0.5)", "normal(0, 1)"), ("fibromyalgia_pain", "halfnormal(0.5)", "flat"),
         ("eightschools", "halfcauchy(5)", "flat")]


def load(name):
    return reference_data(name) if name == "eightschools" else bm.datasets.effect_data(name)


def mcse(fit, quantity, stat):
    import arviz_stats as azs

    da = fit.idata["posterior"][quantity]
    if stat == "mean":
        return float(azs.mcse(da, method="mean"))
    return float(azs.mcse(da, method="quantile", prob=stat))


@pytest.mark.parametrize("name,tau_prior,mu_prior", CASES)
def test_mcmc_agrees_with_exact_within_monte_carlo_error(name, tau_prior, mu_prior):
    """Means, medians and 95% bounds of mu, tau and theta_new within 4 MCSE (ArviZ) of the exact values
    (a false alarm rate of ~6e-5 per comparison), with zero divergences at default settings."""
    data = load(name)
    exact = bm.fit(data, tau_prior=tau_prior, mu_prior=mu_prior, seed=1)
    with np.errstate(all="ignore"):
        fit = bm.fit(data, tau_prior=tau_prior, mu_prior=mu_prior, engine="mcmc", seed=1)
    assert fit.settings["divergences"] == 0 and fit.settings["target_accept"] == 0.9
    diag = fit.diagnostics()
    assert (diag["r_hat"] < 1.01).all() and (diag["ess_bulk"] > 400).all()
    for quantity in ("mu", "tau", "theta_new"):
        draws = fit.draws(quantity)
        checks = {"mean": (draws.mean(), exact.moments(quantity)[0])}
        for p in (0.025, 0.5, 0.975):
            checks[p] = (np.quantile(draws, p), float(exact.ppf(quantity, [p])[0]))
        for stat, (got, want) in checks.items():
            assert abs(got - want) < 4 * mcse(fit, quantity, stat), (quantity, stat, got, want)


def test_same_seed_same_draws_and_refit_reuses_compiled_model():
    data = bm.datasets.effect_data("thirdwave")
    a = bm.fit(data, engine="mcmc", seed=5)
    n_compiled = len(mcmc._COMPILED)
    b = bm.fit(data, engine="mcmc", seed=5)
    c = bm.fit(data, engine="mcmc", seed=6)
    assert np.array_equal(a.draws("mu"), b.draws("mu")) and not np.array_equal(a.draws("mu"), c.draws("mu"))
    shifted = bm.EffectData.from_dataframe(data.to_dataframe().assign(y=data.y + 1), y="y", se="se", study="study")
    d = bm.fit(shifted, engine="mcmc", seed=5)
    assert len(mcmc._COMPILED) == n_compiled  # same shape and priors: no new compilation
    assert d.summary().loc["mu", "mean"] == pytest.approx(a.summary().loc["mu", "mean"] + 1, abs=0.05)


def test_quick_and_fast_tiers_give_the_same_draws(monkeypatch):
    """The first fits of a model run through the quick tier (PyTensor's cached numba functions called from
    Python), later refits through nutpie's compiled cfuncs; the same seed gives the same draws either way, to the
    bit, and to data of another size (so a result does not depend on how many fits the script made before)."""
    from bayesmeta.engines import nutpie_model

    monkeypatch.setattr(mcmc, "_COMPILED", {})
    monkeypatch.setattr(nutpie_model, "QUICK_FITS", 1)
    data = bm.datasets.effect_data("thirdwave")
    small = bm.EffectData.from_dataframe(data.to_dataframe().iloc[:9], y="y", se="se", study="study")
    quick = bm.fit(data, engine="mcmc", seed=7, tau_prior="halfnormal(0.5)")
    (prepared,) = mcmc._COMPILED.values()
    assert prepared.fast is None and quick.settings["sampler"] == "nutpie"
    fast = bm.fit(data, engine="mcmc", seed=7, tau_prior="halfnormal(0.5)")
    assert prepared.fast is not None
    fast_small = bm.fit(small, engine="mcmc", seed=8, tau_prior="halfnormal(0.5)")
    monkeypatch.setattr(mcmc, "_COMPILED", {})
    quick_small = bm.fit(small, engine="mcmc", seed=8, tau_prior="halfnormal(0.5)")
    for a, b in ((quick, fast), (quick_small, fast_small)):
        for q in ("mu", "tau"):
            assert np.array_equal(a.draws(q), b.draws(q)), q


def test_mcmc_student_t_mu_prior_and_common_model():
    data = bm.datasets.effect_data("thirdwave")
    fit = bm.fit(data, tau_prior="bartos()", mu_prior="bartos()", engine="mcmc", seed=2)
    assert 0.4 < fit.summary().loc["mu", "mean"] < 0.7
    common = bm.fit(data, model="common", engine="mcmc", seed=2)
    fe = bm.frequentist(data, method="FE")
    assert abs(common.moments("mu")[0] - fe.mu) < 4 * mcse(common, "mu", "mean")


def test_pymc_sampler_without_nutpie(monkeypatch):
    """Where nutpie is not installed, PyMC's own NUTS runs the same model, with the same answer."""
    monkeypatch.setattr(mcmc, "_nutpie", lambda: None)
    monkeypatch.setattr(mcmc, "_COMPILED", {})
    data = bm.datasets.effect_data("fibromyalgia_pain")
    fit = bm.fit(data, engine="mcmc", seed=3)
    exact = bm.fit(data, seed=3)
    assert fit.settings["sampler"] == "pymc" and fit.settings["divergences"] == 0
    assert abs(fit.moments("mu")[0] - exact.moments("mu")[0]) < 4 * mcse(fit, "mu", "mean")
    assert abs(np.median(fit.draws("tau")) - float(exact.ppf("tau", [0.5])[0])) < 4 * mcse(fit, "tau", 0.5)
