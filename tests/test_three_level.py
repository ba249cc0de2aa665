"""The three-level model: frequentist twin against metafor's rma.mv and robust(), the exact engine against an
independent two-dimensional integral, MCMC against exact, and its input checks."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import bayesmeta as bm
from bayesmeta.errors import DataError

from .conftest import DATA


def depression(rows=None):
    df = bm.datasets.load("internet_depression_selfguided")
    df = df if rows is None else df.iloc[:rows]
    return bm.EffectData.from_dataframe(df, y="g", se="se_g", cluster="study", benefit="higher")


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_frequentist_three_level_equals_rma_mv_and_robust(method):
    """metafor 3.8 rma.mv(yi, vi, random = ~ 1 | study/es) and robust(cluster = study): 1e-5 relative
    (observed <= 1.1e-6: both sides stop their optimisers at about that accuracy)."""
    ref = pd.read_csv(DATA / "metafor_three_level_reference.csv").set_index("method").loc[method]
    data = depression()
    fit = bm.frequentist(data, method=method, model="three-level")
    rob = bm.frequentist(data, method=method, model="three-level", robust=True)
    pairs = [(fit.mu, ref.mu), (fit.se, ref.se), (fit.lower, ref.ci_lb), (fit.upper, ref.ci_ub),
             (fit.tau2, ref.sigma2_between), (fit.tau2_within, ref.sigma2_within), (fit.QE, ref.QE),
             (rob.se, ref.robust_se), (rob.lower, ref.robust_ci_lb), (rob.upper, ref.robust_ci_ub)]
    for got, want in pairs:
        assert got == pytest.approx(want, rel=1e-5)
    assert (fit.k, fit.clusters) == (78, 48) and "cluster-robust" in repr(rob)


def brute_force(data, tau_prior="halfnormal(0.5)", upper=1.5, n=401):
    """Joint posterior of (tau, tau_w) with a flat prior on mu, from full covariance matrices (no
    Sherman-Morrison) on a Simpson grid in (tau, tau_w) itself; returns a function giving the posterior
    expectation of g(tau, tau_w, m, V), (m, V) the normal posterior of mu given both."""
    prior = bm.priors.tau_prior(tau_prior)
    t = np.linspace(0, upper, n)
    tb, tw = np.meshgrid(t, t, indexing="ij")
    A = np.zeros(tb.shape)  # 1' S^-1 1
    B = np.zeros(tb.shape)  # 1' S^-1 y
    Cq = np.zeros(tb.shape)  # y' S^-1 y
    logdet = np.zeros(tb.shape)
    for c in np.unique(data.cluster):
        idx = np.flatnonzero(data.cluster == c)
        y, v = data.y[idx], data.vi[idx]
        S = (np.eye(len(idx)) * (v[None, None, :] + tw[..., None] ** 2)[..., None, :]
             + tb[..., None, None] ** 2 * np.ones((len(idx), len(idx))))
        inv = np.linalg.inv(S)
        one = np.ones(len(idx))
        A += np.einsum("i,...ij,j->...", one, inv, one)
        B += np.einsum("i,...ij,j->...", one, inv, y)
        Cq += np.einsum("i,...ij,j->...", y, inv, y)
        logdet += np.linalg.slogdet(S)[1]
    logf = prior.logpdf(tb) + prior.logpdf(tw) - 0.5 * (logdet + np.log(A) + Cq - B**2 / A)
    f = np.exp(logf - logf.max())
    m, V = B / A, 1 / A

    z = integrate.simpson(integrate.simpson(f, x=t), x=t)

    def expect(g):
        return integrate.simpson(integrate.simpson(f * g(tb, tw, m, V), x=t), x=t) / z

    expect.grid = t
    expect.marginals = (integrate.simpson(f, x=t, axis=1) / z, integrate.simpson(f, x=t, axis=0) / z)
    return expect


def test_exact_three_level_against_an_independent_two_dimensional_integral():
    """24 effects in 12 clusters: the CDFs of mu, theta_new, tau and tau_within at the exact engine's
    2.5/50/97.5% quantiles equal the brute-force integral's to 1e-6."""
    data = depression(24)
    fit = bm.fit(data, model="three-level", tau_prior="halfnormal(0.5)", seed=1)
    expect = brute_force(data)
    for p in (0.025, 0.5, 0.975):
        x = fit.ppf("mu", [p])[0]
        assert expect(lambda b, w, m, V: stats.norm.cdf(x, m, np.sqrt(V))) == pytest.approx(p, abs=1e-6)
        x = fit.ppf("theta_new", [p])[0]
        assert expect(lambda b, w, m, V: stats.norm.cdf(x, m, np.sqrt(V + b**2 + w**2))) == pytest.approx(p, abs=1e-6)
    # the SDs: exact marginal densities on the grid, means, and CDFs at the medians
    t = expect.grid
    for name, axis in (("tau", 0), ("tau_within", 1)):
        dens = expect.marginals[axis]
        assert np.max(np.abs(fit.density(name, t[1:]) - dens[1:])) < 1e-6 * dens.max()
        assert fit.moments(name)[0] == pytest.approx(expect(lambda b, w, m, V: b if axis == 0 else w), abs=1e-6)
        x = float(fit.ppf(name, [0.5])[0])
        below = t <= x
        cdf = integrate.simpson(np.append(dens[below], np.interp(x, t, dens)), x=np.append(t[below], x))
        assert cdf == pytest.approx(0.5, abs=1e-5)
    assert fit.moments("mu")[0] == pytest.approx(expect(lambda b, w, m, V: m), abs=1e-7)
    i2 = expect(lambda b, w, m, V: 100 * b**2 / (b**2 + w**2 + fit.family.s2))
    assert fit.moments("I2_between")[0] == pytest.approx(i2, abs=1e-5)
    # the I2s (functions of both SDs): the exact CDF at its quantiles is the probability to 1e-9, and the
    # brute-force integral of the indicator agrees to 3e-3 (an indicator on a 401-point Simpson grid is
    # accurate only to about one grid cell's mass)
    s2 = fit.family.s2
    shares = {"I2": lambda b, w: b**2 + w**2, "I2_between": lambda b, w: b**2, "I2_within": lambda b, w: w**2}
    for name, share in shares.items():
        for p in (0.1, 0.5, 0.9):
            x = float(fit.ppf(name, [p])[0])
            assert fit.cdf(name, x) == pytest.approx(p, abs=1e-9)
            below = expect(lambda b, w, m, V: (100 * share(b, w) / (b**2 + w**2 + s2) <= x).astype(float))
            assert below == pytest.approx(p, abs=3e-3), (name, p)


def test_three_level_input_and_results():
    data = depression()
    fit = bm.fit(data, model="three-level", seed=1)
    s = fit.summary()
    assert list(s.index) == ["mu", "tau", "tau_within", "tau2", "tau2_within", "I2", "I2_between", "I2_within",
                             "theta_new"]
    freq = bm.frequentist(data, method="REML", model="three-level")
    assert abs(s.loc["mu", "median"] - freq.mu) < 0.01 and s.loc["tau", "lower"] > 0.1
    assert fit.prob("mu > 0") > 0.999 and len(fit.shrinkage()) == 78
    with pytest.raises(DataError, match="needs clusters"):
        bm.fit(bm.datasets.effect_data("thirdwave"), model="three-level")
    with pytest.raises(ValueError, match="tau_within_prior is for the three-level model"):
        bm.fit(bm.datasets.effect_data("thirdwave"), tau_within_prior="halfnormal(0.5)")
    df = bm.datasets.load("internet_depression_selfguided").copy()
    df.loc[4, "study"] = None
    with pytest.raises(DataError, match="row 5, column 'study': the cluster label is missing"):
        bm.EffectData.from_dataframe(df, y="g", se="se_g", cluster="study")


def test_saved_three_level_fit_loads(tmp_path):
    fit = bm.fit(depression(24), model="three-level", tau_within_prior="halfcauchy(0.3)", seed=2)
    fit.save(tmp_path / "fit.nc")
    back = bm.load(tmp_path / "fit.nc")
    pd.testing.assert_frame_equal(back.summary(), fit.summary())
    assert str(back.spec.tau_within_prior) == "halfcauchy(0.3)"


@pytest.mark.slow
def test_mcmc_three_level_agrees_with_exact():
    import arviz_stats as azs

    data = depression()
    exact = bm.fit(data, model="three-level", seed=1)
    with np.errstate(all="ignore"):
        mc = bm.fit(data, model="three-level", engine="mcmc", seed=1)
    post = mc.idata["posterior"]
    for name in ("mu", "tau", "tau_within"):
        draws = mc.draws(name)
        assert abs(draws.mean() - exact.moments(name)[0]) < 4 * float(azs.mcse(post[name], method="mean")), name
        for p in (0.025, 0.5, 0.975):
            err = abs(np.quantile(draws, p) - float(exact.ppf(name, [p])[0]))
            assert err < 4 * float(azs.mcse(post[name], method="quantile", prob=p)), (name, p)


def test_forest_plot_groups_effects_by_cluster():
    from bayesmeta import plots

    data = depression(24)
    fit = bm.fit(data, model="three-level", seed=1)
    fig = plots.forest(fit, freq=bm.frequentist(data, model="three-level"))
    texts = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert "Addington, 2019 (4 effects)" in texts and "All clusters" in texts and "Berger, 2011 (1 effect)" in texts
