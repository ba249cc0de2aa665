"""Save and load keep everything: for every family (exact engine; MCMC draws are stored as they are), a loaded
fit gives the same summary(), coefficients(), differences(), prob(), shrinkage() and report text as the
original (a hypothesis property over the data); text moderators, labels like "007" and categorical level
orders survive; ppf at 0 and 1 gives the ends of the support; files that are not saved fits, labels netCDF
cannot store and the writer's own warnings give one clear line (or nothing)."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmeta as bm

FAMILIES = {
    "normal": {}, "common": {"model": "common"}, "regression": {"moderators": "~ dose + C(code)"},
    "subgroups": {"subgroup": "code"}, "separate": {"subgroup": "code", "subgroup_tau": "separate"},
    "three-level": {"model": "three-level"},
}


@st.composite
def frames(draw):
    k = draw(st.integers(8, 10))
    return pd.DataFrame({
        "study": [f"study {i}" for i in range(k)],
        "y": draw(st.lists(st.floats(-1, 1), min_size=k, max_size=k)),
        "se": draw(st.lists(st.floats(0.1, 0.5), min_size=k, max_size=k)),
        "dose": np.arange(k, dtype=float),
        "code": ["007", "010"] * (k // 2) + ["007"] * (k % 2),   # text that looks like numbers
        "trial": [f"{i // 2:03d}" for i in range(k)]})


def outputs(fit):
    out = {"summary": fit.summary(), "coefficients": fit.coefficients(), "shrinkage": fit.shrinkage()}
    if fit.family.contrasts():
        out["differences"] = fit.differences()
    rows = list(fit.summary().index)
    first, tau = rows[0], next(r for r in rows if r.startswith("tau"))
    out["prob"] = pd.Series({e: fit.prob(e) for e in (f"{first} < 0", f"{tau} > 0.1", f"-0.2 < {first} < 0.3")})
    out["report"] = fit.report()
    return out


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(df=frames())
def test_loaded_fit_gives_the_same_answers(family, df, tmp_path_factory):
    data = bm.EffectData.from_dataframe(df, y="y", se="se", study="study", moderators=["dose", "code"],
                                        cluster="trial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.fit(data, seed=5, **FAMILIES[family])
        path = tmp_path_factory.mktemp("fit") / "fit.nc"
        fit.save(path)
        loaded = bm.load(path)
    assert list(loaded.data.moderators["code"]) == list(df["code"])
    for name, want in outputs(fit).items():
        got = outputs(loaded)[name]
        if isinstance(want, str):
            assert got == want, name
        else:
            pd.testing.assert_frame_equal(pd.DataFrame(got), pd.DataFrame(want), rtol=1e-12, obj=name)


def test_text_moderator_and_categorical_levels_survive(tmp_path):
    df = bm.datasets.load("thirdwave").assign(
        grade=lambda d: pd.Categorical(["high", "low", "mid"] * 6, categories=["low", "mid", "high"]),
        arm=lambda d: ["1", "2"] * 9)
    data = bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author", moderators=["grade", "arm"])
    fit = bm.fit(data, moderators="~ grade + arm", seed=1)
    fit.save(tmp_path / "f.nc")
    loaded = bm.load(tmp_path / "f.nc")
    assert list(loaded.coefficients().index) == list(fit.coefficients().index) == [
        "intercept", "grade[T.mid]", "grade[T.high]", "arm[T.2]"]
    assert list(loaded.data.moderators["grade"].cat.categories) == ["low", "mid", "high"]


@pytest.mark.parametrize("kwargs", [{}, {"model": "three-level"}])
def test_ppf_at_0_and_1_are_the_ends_of_the_support(kwargs):
    df = bm.datasets.load("internet_depression_selfguided")
    data = bm.EffectData.from_dataframe(df, y="g", se="se_g", cluster="study", benefit="higher")
    fit = bm.fit(data, seed=1, **kwargs)
    ends = {"mu": (-np.inf, np.inf), "theta_new": (-np.inf, np.inf), "tau": (0, np.inf), "tau2": (0, np.inf),
            "I2": (0, 100)}
    for backend in (fit.backend, fit.backend.sample):  # exact and draws
        for name, (lo, hi) in ends.items():
            q = fit.quantity(name)
            assert list(backend.ppf(q, [0.0, 1.0])) == [lo, hi], name
            assert lo < backend.ppf(q, [0.5])[0] < hi


def test_load_of_a_netcdf_that_is_not_a_fit(tmp_path):
    plain = tmp_path / "plain.nc"
    xr.Dataset({"a": ("x", [1, 2])}).to_netcdf(plain)
    with pytest.raises(bm.DataError, match="not a saved bayesmeta fit"):
        bm.load(plain)
    fit = bm.fit(bm.datasets.effect_data("thirdwave"), seed=1)
    fit.save(tmp_path / "f.nc")
    tree = xr.open_datatree(tmp_path / "f.nc").load()
    tree.attrs["bayesmeta_fit"] = json.dumps({"format": "bayesmeta-fit/1"})
    tree.to_netcdf(tmp_path / "g.nc")
    with pytest.raises(bm.DataError, match=r"g.nc: not a saved bayesmeta fit \(its record lacks 'data'\)"):
        bm.load(tmp_path / "g.nc")


def test_nul_in_a_label_is_refused_and_save_prints_nothing(tmp_path):
    df = bm.datasets.load("thirdwave")
    df.loc[3, "Author"] = "Smith\x00 2010"
    fit = bm.fit(bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author"), seed=1)
    with pytest.raises(bm.DataError, match="NUL character"):
        fit.save(tmp_path / "f.nc")
    assert not list(tmp_path.iterdir())
    code = ("import bayesmeta as bm, pandas as pd; d = bm.datasets.load('thirdwave').assign(g=['a', 'b'] * 9);"
            "f = bm.fit(bm.EffectData.from_dataframe(d, y='TE', se='seTE', study='Author', moderators=['g']), "
            f"subgroup='g', seed=1); f.save({str(tmp_path / 'ok.nc')!r})")
    res = subprocess.run([sys.executable, "-W", "default", "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == "", res.stderr
