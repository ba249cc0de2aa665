"""Model averaging (bm.average) and the bias models' marginal likelihoods against an independent brute-force
integration: scipy.integrate.nquad of likelihood x prior written here from the definitions (p-values from
the normal CDF, weights looked up per study), not from the package's kernels.

Tolerance: 1e-6 relative in the marginal likelihood (= 1e-6 absolute in its log), the accuracy asked of the
quadrature; nquad runs at epsrel 1e-10 so that its own error is far below that."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import bayesmeta as bm
from bayesmeta.averaging import Mixture, _proper_priors
from bayesmeta.engines.evidence import Atoms, Component, Setup, evidence
from bayesmeta.families.bias import WeightFunction, parse_bias

# six small trials (SMD, se), larger effects in the smaller ones; made up for the test
Y = np.array([0.62, 0.45, 0.18, 0.35, 0.05, 0.71])
SE = np.array([0.30, 0.22, 0.10, 0.18, 0.08, 0.35])
OPTS = dict(epsrel=1e-10, epsabs=0, limit=200)


def _data(benefit=None):
    return bm.EffectData.from_dataframe(pd.DataFrame(dict(y=Y, se=SE)), y="y", se="se", benefit=benefit)


def _setup(data=None):
    mu, tau, slopes = _proper_priors("normal(0, 1)", "invgamma_tau(1, 0.15)", "halfcauchy(1)", "halfcauchy(5)")
    return Setup.of(data or _data(), mu, tau, slopes)


def _prior_tau(t):
    return stats.invgamma.pdf(t, 1, scale=0.15)


def _selection_lik(mu, tau, omega, cuts, two_sided=False, y=Y, se=SE):
    """prod_i N(y_i; mu, s_i) w(p_i) / sum_j w_j P(p_i in j), p one-sided (upper tail) or two-sided."""
    s = math.sqrt(0) if False else np.sqrt(se**2 + tau**2)
    p = 2 * stats.norm.sf(np.abs(y) / se) if two_sided else stats.norm.sf(y / se)
    bounds = np.concatenate([[0.0], cuts, [1.0]])
    j = np.searchsorted(cuts, p, side="right")
    dens = stats.norm.pdf(y, mu, s) * np.asarray(omega)[j]
    norm = np.zeros(len(y))
    for m in range(len(omega)):  # P(p in [b_m, b_{m+1}]) from the y thresholds of the p bounds
        if two_sided:
            hi_y, lo_y = se * stats.norm.isf(bounds[m] / 2), se * stats.norm.isf(bounds[m + 1] / 2)
            prob = (stats.norm.cdf(hi_y, mu, s) - stats.norm.cdf(lo_y, mu, s)
                    + stats.norm.cdf(-lo_y, mu, s) - stats.norm.cdf(-hi_y, mu, s))
        else:
            hi_y, lo_y = se * stats.norm.isf(bounds[m]), se * stats.norm.isf(bounds[m + 1])
            prob = stats.norm.cdf(hi_y, mu, s) - stats.norm.cdf(lo_y, mu, s)
        norm += omega[m] * prob
    return float(np.prod(dens / norm))


def _log_ml(c):
    return evidence(c, _setup()).log_marginal


def _mu_lik(b, x, t):
    return lambda mu: np.prod(stats.norm.pdf(Y, mu + b * x, np.sqrt(SE**2 + t**2)))


# log marginal likelihoods by scipy.integrate.nquad (epsrel 1e-10) of the integrands in `_references`, stored
# because nquad takes minutes here; test_references_by_nquad (slow) recomputes them.
REFERENCE = {
    "no bias, effect, heterogeneity": -2.661086490361547,
    "no bias, no effect, heterogeneity": -3.9516746531864886,
    "PET, no effect, heterogeneity": 0.9410588133230996,
    "PET, effect, no heterogeneity": 0.22452628765633686,
    "PEESE, no effect, heterogeneity": 0.753500328250672,
    "PEESE, effect, no heterogeneity": 0.06742873597449152,
    "one-sided (0.05), no effect, heterogeneity": 2.251610373473047,
    "one-sided (0.05), effect, no heterogeneity": 1.4717771507364916,
    "two-sided (0.05), no effect, heterogeneity": -2.86452664421717,
    "two-sided (0.05), effect, no heterogeneity": -1.8376737089172202,
}
COMPONENTS = {
    "no bias, effect, heterogeneity": Component(True, True),
    "no bias, no effect, heterogeneity": Component(False, True),
    "PET, no effect, heterogeneity": Component(False, True, "PET"),
    "PET, effect, no heterogeneity": Component(True, False, "PET"),
    "PEESE, no effect, heterogeneity": Component(False, True, "PEESE"),
    "PEESE, effect, no heterogeneity": Component(True, False, "PEESE"),
    "one-sided (0.05), no effect, heterogeneity": Component(False, True, WeightFunction((0.05,))),
    "one-sided (0.05), effect, no heterogeneity": Component(True, False, WeightFunction((0.05,))),
    "two-sided (0.05), no effect, heterogeneity": Component(False, True, WeightFunction((0.05,), two_sided=True)),
    "two-sided (0.05), effect, no heterogeneity": Component(True, False, WeightFunction((0.05,), two_sided=True)),
}


THREE_INTERVALS = 4.18359442018201  # nquad; see test_three_interval_reference_by_nquad


def _references() -> dict:
    """The integrals behind REFERENCE, written from the definitions."""
    inf, out = np.inf, {}
    both = lambda mu, t: _mu_lik(0, 0, t)(mu) * stats.norm.pdf(mu) * _prior_tau(t)  # noqa: E731
    out["no bias, effect, heterogeneity"] = integrate.nquad(both, [[-inf, inf], [0, inf]], opts=OPTS)[0]
    out["no bias, no effect, heterogeneity"] = integrate.quad(lambda t: _mu_lik(0, 0, t)(0.0) * _prior_tau(t), 0,
                                                              inf, **OPTS)[0]
    for kind, scale in (("PET", 1.0), ("PEESE", 5.0)):
        x = SE if kind == "PET" else SE**2
        slope = lambda b, scale=scale: 2 * stats.cauchy.pdf(b, 0, scale)  # noqa: E731
        f = lambda b, t, x=x, slope=slope: _mu_lik(b, x, t)(0.0) * _prior_tau(t) * slope(b)  # noqa: E731
        out[f"{kind}, no effect, heterogeneity"] = integrate.nquad(f, [[0, inf], [0, inf]], opts=OPTS)[0]
        g = lambda mu, b, x=x, slope=slope: _mu_lik(b, x, 0)(mu) * stats.norm.pdf(mu) * slope(b)  # noqa: E731
        out[f"{kind}, effect, no heterogeneity"] = integrate.nquad(g, [[-inf, inf], [0, inf]], opts=OPTS)[0]
    for side, two in (("one-sided", False), ("two-sided", True)):
        f = lambda w, t, two=two: _selection_lik(0.0, t, [1.0, w], (0.05,), two) * _prior_tau(t)  # noqa: E731
        out[f"{side} (0.05), no effect, heterogeneity"] = integrate.nquad(f, [[0, 1], [0, inf]], opts=OPTS)[0]
        g = lambda w, mu, two=two: _selection_lik(mu, 0.0, [1.0, w], (0.05,), two) * stats.norm.pdf(mu)  # noqa: E731
        out[f"{side} (0.05), effect, no heterogeneity"] = integrate.nquad(g, [[0, 1], [-inf, inf]], opts=OPTS)[0]
    return {k: math.log(v) for k, v in out.items()}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_marginal_likelihoods_match_nquad(name):
    assert _log_ml(COMPONENTS[name]) == pytest.approx(REFERENCE[name], abs=1e-6)


@pytest.mark.slow
def test_references_by_nquad():
    refs = _references()
    for name, value in REFERENCE.items():
        assert refs[name] == pytest.approx(value, abs=1e-8)


def test_common_effect_and_null_models_in_closed_form():
    assert _log_ml(Component(False, False)) == pytest.approx(np.sum(stats.norm.logpdf(Y, 0, SE)), abs=1e-10)
    w = 1 / SE**2  # y ~ N(mu 1, V), mu ~ N(0, 1): y ~ N(0, V + 1 1')
    assert _log_ml(Component(True, False)) == pytest.approx(
        stats.multivariate_normal.logpdf(Y, np.zeros(6), np.diag(1 / w) + 1), abs=1e-10)


def test_three_interval_selection_with_ordered_weights_matches_nquad():
    """mu = 0, tau = 0, cut points (0.025, 0.05): omega_2 >= omega_3 uniform on the ordered triangle (density 2,
    cumulative Dirichlet(1, 1, 1)); nquad at epsrel 1e-10 (stored; recomputed in the slow test). Tolerance 1e-4:
    with three intervals the product rule has fewer nodes per dimension (speed of the 36-model ensemble)."""
    assert _log_ml(Component(False, False, WeightFunction((0.025, 0.05)))) == pytest.approx(THREE_INTERVALS, abs=1e-4)


@pytest.mark.slow
def test_three_interval_reference_by_nquad():
    f = lambda w3, w2: 2 * _selection_lik(0.0, 0.0, [1.0, w2, w3], (0.025, 0.05))  # noqa: E731
    ref = integrate.nquad(f, [lambda w2: [0, w2], [0, 1]], opts=OPTS)[0]
    assert math.log(ref) == pytest.approx(THREE_INTERVALS, abs=1e-8)


@pytest.mark.slow
def test_mcmc_selection_fit_matches_the_quadrature_posterior():
    """bm.fit(bias='selection(0.05)', engine='mcmc') against the product-rule posterior of mu and tau (whose
    marginal likelihood matches nquad above): within 4 Monte Carlo standard errors."""
    fit = bm.fit(_data(), bias="selection(0.05)", engine="mcmc", mu_prior="normal(0, 1)",
                 tau_prior="invgamma_tau(1, 0.15)", seed=1)
    grid = evidence(Component(True, True, WeightFunction((0.05,))), _setup())
    for name, atoms in (("mu", grid.mu), ("tau", grid.tau)):
        mean, _ = Mixture([(1.0, atoms)]).moments()
        mcse = fit.diagnostics().loc[name, "mcse_mean"]
        assert fit.moments(name)[0] == pytest.approx(mean, abs=4 * float(mcse))
    assert "omega[2]" in fit.summary().index


def test_benefit_lower_flips_the_direction_of_selection():
    """Data with benefit='lower' and negated effects give the same evidence as the original data."""
    wf = WeightFunction((0.025, 0.05))
    flipped = bm.EffectData.from_dataframe(pd.DataFrame(dict(y=-Y, se=SE)), y="y", se="se", benefit="lower")
    for c in (Component(True, True, wf), Component(True, True, "PET")):
        a, b = evidence(c, _setup()), evidence(c, _setup(flipped))
        assert a.log_marginal == pytest.approx(b.log_marginal, abs=1e-9)


def test_four_model_average_probabilities_and_inclusion():
    avg = bm.average(_data())
    m = avg.models
    assert list(m.columns) == ["prior_prob", "log_marginal", "post_prob"] and len(m) == 4
    odds = np.exp(m["log_marginal"] - m["log_marginal"].max())
    assert np.allclose(m["post_prob"], odds / odds.sum(), atol=1e-14)  # equal prior probabilities
    row = avg.inclusion.loc["effect"]
    with_effect = m.index.str.startswith("effect")
    bf = np.exp(m["log_marginal"])[with_effect].sum() / np.exp(m["log_marginal"])[~with_effect].sum()
    assert row["BF"] == pytest.approx(bf, rel=1e-10)
    assert list(avg.inclusion.index) == ["effect", "heterogeneity"]


def test_robma_ensemble_has_36_models_and_its_prior_probabilities():
    avg = bm.average(_data(), bias="RoBMA")
    prior = avg.models["prior_prob"]
    assert len(prior) == 36 and prior.sum() == pytest.approx(1.0)
    assert prior[prior.index.str.endswith("no bias")].sum() == pytest.approx(0.5)
    assert prior[prior.index.str.endswith(", PET")].sum() == pytest.approx(0.125)
    assert prior[prior.index.str.contains("selection")].sum() == pytest.approx(0.25)
    assert avg.inclusion.loc["bias", "prior_prob"] == pytest.approx(0.5)
    assert "times more likely under models" in avg.describe()
    assert set(avg.conditional().index) == {"mu", "tau", "PET", "PEESE"}


def test_model_averaged_mu_is_the_mixture_of_the_model_posteriors():
    """P(mu < 0.3) by hand: sum over models of P(m | y) P(mu < 0.3 | m, y) (exact normal mixtures here)."""
    avg = bm.average(_data())
    total = 0.0
    for r, p in zip(avg.results, avg.models["post_prob"]):
        a = r.mu
        inside = (np.sum(a.weight * stats.norm.cdf(0.3, a.loc, a.scale)) if a.kind == "normal"
                  else float(a.loc[0] < 0.3))
        total += p * inside
    assert avg.prob("mu < 0.3") == pytest.approx(total, abs=1e-12)
    s = avg.summary()
    assert list(s.columns) == ["mean", "sd", "median", "lower", "upper"] and list(s.index) == ["mu", "tau"]
    assert avg.prob("mu < 0.3") == pytest.approx(1 - avg.prob("mu > 0.3"), abs=1e-12)
    null = avg.models["post_prob"][~avg.models.index.str.startswith("effect")].sum()  # the point mass at 0
    assert avg.prob("mu < 0") + avg.prob("mu > 0") == pytest.approx(1 - null, abs=1e-12)


def test_mixture_quantiles_invert_its_cdf_with_a_point_mass():
    mix = Mixture([(0.3, Atoms.point()), (0.7, Atoms("normal", np.array([1.0]), np.array([1.0]), np.array([0.5])))])
    q = mix.ppf([0.01, 0.25, 0.6])  # P(X < 0) = 0.7 Phi(-2) = 0.016; the jump at 0 covers 0.016 to 0.316
    assert q[0] < 0 and q[1] == pytest.approx(0.0, abs=1e-9)  # inside the jump at 0
    assert mix.cdf(q[2])[0] == pytest.approx(0.6, abs=1e-12)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="mu_prior must be proper"):
        bm.average(_data(), mu_prior="flat")
    with pytest.raises(ValueError, match="bias must be"):
        bm.average(_data(), bias=["egger"])
    with pytest.raises(ValueError, match="cut points"):
        parse_bias("selection(0.5, 0.05)")
    assert parse_bias("selection(0.05, 0.1, two-sided)") == WeightFunction((0.05, 0.1), two_sided=True)


def test_metabma_cauchy_prior_on_the_effect():
    """metaBMA's default prior d ~ Cauchy(0, 0.707) (not Gaussian: mu on the product rule). References: nquad
    (epsrel 1e-9) of likelihood x Cauchy x InvGamma(1, 0.15), and quad for tau = 0, computed once."""
    avg = bm.average(_data(), mu_prior="student_t(1, 0, 0.707)")  # Cauchy = Student-t with 1 df
    log_m = avg.models["log_marginal"]
    assert log_m["effect, heterogeneity, no bias"] == pytest.approx(-2.641657282658471, abs=1e-6)
    assert log_m["effect, no heterogeneity, no bias"] == pytest.approx(-2.784672940938101, abs=1e-6)
