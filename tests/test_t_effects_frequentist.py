"""Student-t random effects by maximum likelihood (metaplus): the likelihood against a direct convolution
integral, the maximum, and the normal model as the limit."""

import numpy as np
import pytest
from scipy import integrate, stats

import bayesmeta as bm
from bayesmeta.errors import DataError
from bayesmeta.frequentist_methods.t_effects import log_likelihood

DATA = bm.datasets.effect_data("thirdwave")


@pytest.mark.parametrize("nu", [1.0, 1.5, 4.0, 30.0, 999.0])
def test_likelihood_equals_the_convolution_of_normal_and_t(nu):
    """The scale-mixture quadrature against QUADPACK on int N(y | mu + tau s, v) t_nu(s) ds (1e-9)."""
    y, v = DATA.y, DATA.vi
    direct = sum(np.log(integrate.quad(lambda s: stats.norm.pdf(yi, 0.5 + 0.3 * s, np.sqrt(vi)) * stats.t.pdf(s, nu),
                                       -np.inf, np.inf, epsabs=0, epsrel=1e-13, limit=500)[0]) for yi, vi in zip(y, v))
    assert log_likelihood(0.5, 0.3, nu, y, v) == pytest.approx(direct, abs=1e-9)


def test_maximum_likelihood_with_t_effects():
    res = bm.frequentist(DATA, model="t")
    y, v = DATA.y, DATA.vi
    for d_mu, d_tau, d_nu in ((0.01, 0, 0), (-0.01, 0, 0), (0, 0.01, 0), (0, -0.01, 0), (0, 0, 0.2)):
        assert log_likelihood(res.mu + d_mu, res.tau + d_tau, res.nu + d_nu, y, v) < res.loglik + 1e-9
    normal = bm.frequentist(DATA, method="ML")
    assert res.loglik >= res.loglik_normal - 1e-9 and res.lr_statistic >= 0
    assert res.loglik_normal == pytest.approx(np.sum(stats.norm.logpdf(y, normal.mu, np.sqrt(v + normal.tau2))),
                                              abs=1e-6)
    assert res.lower < res.mu < res.upper and 1 <= res.nu <= 1000 and "Student-t distribution" in repr(res)
    with pytest.raises(DataError, match="at least 3 studies"):
        bm.frequentist(DATA.take([0, 1]), model="t")
