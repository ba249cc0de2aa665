"""Student-t study effects (MCMC only): input checks, and the fit on data with an outlying trial."""

import numpy as np
import pandas as pd
import pytest

import bayesmeta as bm


def test_student_t_effects_need_mcmc_and_refuse_other_combinations():
    data = bm.datasets.effect_data("thirdwave")
    with pytest.raises(ValueError, match="use engine='mcmc'"):
        bm.fit(data, effects="t")
    with pytest.raises(ValueError, match="effects must be 'normal' or 't'"):
        bm.fit(data, effects="cauchy")
    with pytest.raises(ValueError, match="nu_prior is the prior"):
        bm.fit(data, nu_prior="exponential(0.1)")
    with pytest.raises(ValueError, match="plain random-effects model only"):
        bm.fit(data, effects="t", subgroup="ModeOfDelivery", engine="mcmc")


@pytest.mark.slow
def test_student_t_effects_are_robust_to_an_outlying_trial(tmp_path):
    """ThirdWave has two studies far above the others (g 1.79 and 1.48): with t effects they are shrunk less
    (the heavy tails accommodate them) and mu moves towards the bulk; the fit saves and loads."""
    data = bm.datasets.effect_data("thirdwave")
    with np.errstate(all="ignore"):
        t = bm.fit(data, effects="t", engine="mcmc", seed=1)
    normal = bm.fit(data, seed=1)
    st = t.summary()
    assert t.settings["divergences"] == 0 and list(st.index) == ["mu", "tau", "nu", "theta_new"]
    assert st.loc["mu", "median"] < normal.summary().loc["mu", "median"] + 0.02
    sh_t, sh_n = t.shrinkage(), normal.shrinkage()
    assert sh_t.loc["DanitzOrsillo", "mean"] > sh_n.loc["DanitzOrsillo", "mean"] - 0.05
    assert 1 < st.loc["nu", "lower"] and st.loc["nu", "median"] < 60
    t.save(tmp_path / "t.nc")
    back = bm.load(tmp_path / "t.nc")
    pd.testing.assert_frame_equal(back.summary(), t.summary())
    assert back.prob("theta_new > 0") == t.prob("theta_new > 0")


@pytest.mark.slow
def test_analysis_file_asks_for_student_t_effects(tmp_path):
    from bayesmeta.analysis import run_analysis

    toml = tmp_path / "t.toml"
    toml.write_text('[analysis]\ntitle = "t effects"\n[data]\ndataset = "thirdwave"\nbenefit = "higher"\n'
                    '[model]\nengine = "mcmc"\nstudy_effects = "t"\nseed = 2\n[priors]\nnu = "exponential(0.1)"\n'
                    '[report]\nfigures = ["forest"]\nfrequentist = ["REML"]\n', encoding="utf-8")
    with np.errstate(all="ignore"):
        result = run_analysis(toml, tmp_path / "out")
    assert result["fit"].family.name == "t random effects" and "nu" in result["fit"].summary().index
    assert "exponential" in result["fit"].spec.describe()
