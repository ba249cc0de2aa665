"""Many meta-analyses at once (bm.fit_many, bm.frequentist_many, `bayesmeta batch`): every row equals the
single-analysis result on that group alone, on real groups (the bodily distress data) and on a simulated
Cochrane-like corpus with k = 1, k = 2, a long tail and extreme groups."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta import many as B
from bayesmeta.cli import app
from bayesmeta.engines import batch as engine

from .conftest import DATA

QUANTITIES = ("mu", "tau", "tau2", "I2", "theta_new")
STATS = ("mean", "sd", "median", "lower", "upper")
PROBS = ["mu < 0", "theta_new < -0.2", "tau > 0.3", "-0.5 < mu < 0", "I2 > 50", "tau2 <= 0.04"]


def bodily_distress() -> pd.DataFrame:
    """Every effect against a control condition (not another psychological treatment), with g oriented so that
    negative values favour the treatment in every domain (physical health status: higher is better)."""
    df = bm.read_table(DATA / "bodily_distress_batch.csv")
    df = df[~df["condition_arm2"].isin(["cbt", "cb", "psy"])].copy()
    df["g_benefit"] = np.where(df["outcome_domain"] == "phs", -df[".g"], df[".g"])
    df["diagnosis_which"] = df["diagnosis_which"].str.lower()
    return df


def corpus(seed=7, n=60) -> pd.DataFrame:
    """Cochrane-like: k = 1 + negative binomial (median about 5, a long tail), with k = 1 and k = 2 groups and
    extreme ones (a precise study among imprecise ones, effects in other units, an outlier, equal effects)."""
    rng = np.random.default_rng(seed)
    ks = list(1 + rng.negative_binomial(1.2, 0.2, size=n)) + [1, 1, 2, 2, 3, 80]
    parts = []
    for g, k in enumerate(ks):
        size = rng.integers(10, 400, size=k)
        se = np.sqrt(4 / size)
        tau = rng.choice([0.0, 0.1, 0.3, 0.8])
        y = rng.normal(rng.normal(-0.25, tau, size=k), se)
        parts.append(pd.DataFrame({"review": f"R{g // 10}", "analysis": g % 10, "yi": y, "sei": se}))
    extreme = [
        (np.array([0.1, -0.2, 0.05, 0.3]), np.array([1e-3, 0.3, 0.25, 0.4])),  # one study dominates
        (np.array([120.0, 95.0, 140.0]), np.array([20.0, 25.0, 30.0])),  # raw units
        (np.array([-0.3, -0.2, 5.0, -0.25]), np.array([0.1, 0.12, 0.1, 0.15])),  # an outlier
        (np.array([-0.2, -0.2, -0.2]), np.array([0.2, 0.2, 0.2])),  # equal effects
        (np.array([1e-3, 2e-3]), np.array([1e-4, 2e-4])),  # small units
    ]
    for j, (y, se) in enumerate(extreme):
        parts.append(pd.DataFrame({"review": "extreme", "analysis": j, "yi": y, "sei": se}))
    return pd.concat(parts, ignore_index=True)


def assert_same_as_fit(table, df, by, columns, probs=(), tol=1e-7, **fit_args):
    """Every row of `table` against bm.fit on its group alone; returns the largest scaled difference."""
    worst = 0.0
    for _, row in table.iterrows():
        mask = np.ones(len(df), bool)
        for c in by:
            mask &= (df[c] == row[c]).to_numpy()
        data = bm.EffectData.from_table(df[mask], **columns)
        fit = bm.fit(data, **fit_args)
        s = fit.summary()
        got = np.array([row[f"{q}_{st}"] for q in QUANTITIES for st in STATS])
        want = np.array([s.loc[q, st] for q in QUANTITIES for st in STATS])
        if probs:
            got = np.append(got, [row[p] for p in probs])
            want = np.append(want, [fit.prob(p) for p in probs])
        diff = np.abs(got - want) / np.maximum(1.0, np.abs(want))
        assert row["k"] == data.k
        assert np.all(diff <= tol), (row[by].to_dict(), got[diff > tol], want[diff > tol])
        worst = max(worst, float(diff.max()))
    return worst


# --------------------------------------------------------------------------- real groups
@pytest.mark.parametrize("tau_prior", ["halfnormal(0.5)", "rhodes(subjectively, non-pharmacological)"])
def test_bodily_distress_every_domain_time_diagnosis_equals_fit(tau_prior):
    df = bodily_distress()
    df["label"] = df["row"].astype(str)
    by = ["outcome_domain", "time", "diagnosis_which"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Rhodes' flagged cells are not used here
        table = bm.fit_many(df, by=by, y="g_benefit", se=".g_se", study="label", tau_prior=tau_prior, probs=PROBS)
    assert len(table) == df.groupby(by, dropna=False).ngroups
    assert set(table["k"]) >= {1, 2}
    assert_same_as_fit(table, df, by, dict(y="g_benefit", se=".g_se", study="label"), PROBS, tau_prior=tau_prior)


def test_bodily_distress_from_arm_summaries():
    """Hedges' g from the arms' means, SDs and sizes, per group as EffectData.from_table computes it."""
    df = bodily_distress()
    df = df[df["outcome_domain"].isin(["som", "depr"])].copy()
    df["label"] = df["row"].astype(str)
    arms = dict(n1="n_arm1", mean1="mean_arm1", sd1="sd_arm1", n2="n_arm2", mean2="mean_arm2", sd2="sd_arm2")
    by = ["outcome_domain", "time"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bm.DataWarning)  # |g| > 3 in one trial: from_summary says so
        table = bm.fit_many(df, by=by, study="label", **arms)
        assert_same_as_fit(table, df, by, dict(study="label", **arms))


# --------------------------------------------------------------------------- a simulated corpus
@pytest.mark.parametrize("tau_prior, mu_prior", [
    ("halfnormal(0.5)", "flat"), ("halfcauchy(1)", "normal(0, 1)"), ("logt_tau2(-2.62, 2.41, 5)", "flat"),
    ("uniform(0, 3)", "flat"), ("invgamma_tau(1.71, 0.4)", "normal(-0.2, 0.5)")])
def test_corpus_equals_fit(tau_prior, mu_prior):
    df = corpus()
    table = bm.fit_many(df, by=["review", "analysis"], tau_prior=tau_prior, mu_prior=mu_prior, probs=PROBS)
    assert table["k"].min() == 1 and table["k"].max() == 80
    assert_same_as_fit(table, df, ["review", "analysis"], {}, PROBS, tau_prior=tau_prior, mu_prior=mu_prior)


def test_jeffreys_prior_skips_single_study_groups_with_the_reason():
    df = corpus(seed=3, n=25)
    table = bm.fit_many(df, by=["review", "analysis"], tau_prior="jeffreys", errors="skip")
    skipped = pd.DataFrame(table.attrs["skipped"])
    assert len(skipped) == int((df.groupby(["review", "analysis"]).size() == 1).sum()) > 0
    assert skipped["reason"].str.contains("improper prior on tau needs at least 2 studies").all()
    assert_same_as_fit(table, df, ["review", "analysis"], {}, tau_prior="jeffreys")


def test_default_tau_prior_by_measure_per_group():
    """No tau prior: half-normal(0.5) for SMDs; for mean differences a quarter of each group's own
    unit-information SD (from its sizes), as bm.fit chooses it for that group alone."""
    rng = np.random.default_rng(2)
    parts = []
    for g in range(6):
        k = 2 + g
        n = rng.integers(20, 200, size=k)
        parts.append(pd.DataFrame({"analysis": g, "yi": rng.normal(5, 2 + g, k), "sei": (3 + g) * np.sqrt(4 / n),
                                   "ni": n}))
    df = pd.concat(parts, ignore_index=True)
    table = bm.fit_many(df, by="analysis", measure="MD")
    assert_same_as_fit(table, df, ["analysis"], dict(measure="MD"))


# --------------------------------------------------------------------------- the engine's own checks
def test_groups_that_fail_the_check_go_to_the_adaptive_engine(monkeypatch):
    df = corpus(seed=5, n=15)
    monkeypatch.setattr(engine, "REFINEMENTS", 0)
    monkeypatch.setattr(engine, "REL_TOL", 1e-16)  # nothing passes: every group through bm.fit
    table = bm.fit_many(df, by=["review", "analysis"], probs=["mu < 0"])
    assert set(table["engine"]) == {"exact (adaptive)"}
    assert_same_as_fit(table, df, ["review", "analysis"], {}, ["mu < 0"])


def test_same_numbers_whatever_the_chunks_and_threads():
    df = corpus(seed=11, n=40)
    whole = bm.fit_many(df, by=["review", "analysis"], probs=PROBS, chunk_size=10_000, threads=1)
    pieces = bm.fit_many(df, by=["review", "analysis"], probs=PROBS, chunk_size=7, threads=3)
    pd.testing.assert_frame_equal(whole, pieces, check_exact=True)


def test_k_buckets_pad_by_at_most_a_quarter():
    for k in range(1, 2000):
        K = engine.k_bucket(k)
        assert K >= k and (k <= 16 and K == k or K <= 1.25 * k + 4)


def test_typical_variances_are_the_families():
    from bayesmeta.families.base import typical_variance

    rng = np.random.default_rng(0)
    for k in (1, 2, 5, 30):
        v = rng.uniform(0.01, 1, size=(4, k))
        v[0, 0] = 1e-14  # one study with almost all the weight
        got = engine.typical_variances(v, np.full(4, k))
        assert np.allclose(got, [typical_variance(row) for row in v], rtol=1e-13, atol=0)


# --------------------------------------------------------------------------- groups, order and errors
def test_rows_in_order_of_first_appearance_with_several_by_columns():
    df = pd.DataFrame({"outcome": ["pain", "sleep", "pain", "mood", "sleep", "pain"],
                       "time": ["post", "post", "post", "fu", "post", "fu"],
                       "yi": [-0.3, -0.1, -0.4, 0.1, -0.2, -0.5], "sei": [0.2, 0.15, 0.25, 0.3, 0.2, 0.3]})
    table = bm.fit_many(df, by=["outcome", "time"])
    assert table[["outcome", "time"]].values.tolist() == [["pain", "post"], ["sleep", "post"], ["mood", "fu"],
                                                          ["pain", "fu"]]
    assert table["k"].tolist() == [2, 2, 1, 1]
    assert table.attrs["interval"] == "95% equal-tailed credible interval"


def test_bad_value_names_group_row_and_column():
    df = corpus(seed=1, n=12)
    df["sei"] = df["sei"].astype(object)
    df.loc[17, "sei"] = "n/a"
    key = df.loc[17, ["review", "analysis"]]
    with pytest.raises(bm.DataError) as err:
        bm.fit_many(df, by=["review", "analysis"])
    message = str(err.value)
    assert f"review='{key['review']}'" in message and f"analysis={key['analysis']}" in message
    assert "row 18 of the table" in message and "'sei'" in message and "'n/a' is not a number" in message


def test_skip_lists_bad_groups_and_fits_the_rest():
    df = corpus(seed=1, n=12)
    df.loc[3, "sei"] = -0.2
    df.loc[30, "yi"] = np.nan
    table = bm.fit_many(df, by=["review", "analysis"], errors="skip")
    skipped = pd.DataFrame(table.attrs["skipped"])
    assert len(skipped) == 2 and list(skipped.columns) == ["review", "analysis", "reason"]
    assert "row 4 of the table" in skipped["reason"].iloc[0] and "'sei'" in skipped["reason"].iloc[0]
    assert "row 31 of the table" in skipped["reason"].iloc[1] and "missing" in skipped["reason"].iloc[1]
    assert len(table) == df.groupby(["review", "analysis"]).ngroups - 2
    assert table.notna().all().all()


def test_duplicate_study_labels_within_a_group_are_refused():
    df = pd.DataFrame({"a": [1, 1, 2, 2], "study": ["x", "x", "x", "y"], "yi": [0.1, 0.2, 0.3, 0.4],
                       "sei": [0.1] * 4})
    with pytest.raises(bm.DataError, match=r"group a=1: row 2 of the table .*duplicated study label"):
        bm.fit_many(df, by="a")
    table = bm.fit_many(df, by="a", errors="skip")
    assert table["a"].tolist() == [2]  # the same label in another group is fine


@pytest.mark.parametrize("kwargs, message", [
    (dict(by="nope"), "by: column"), (dict(by=[]), "by must name"), (dict(by="a", errors="ignore"), "errors must"),
    (dict(by="a", probs=["theta[1] < 0"]), "probabilities of mu"), (dict(by="a", probs=["mu <"]), "cannot read"),
    (dict(by="a", ci=95), "ci must be"), (dict(by="a", engine="fast"), "engine must"),
    (dict(by="a", mu_prior="student_t(3, 0, 1)"), "flat or normal prior on mu"),
    (dict(by="a", tau_prior="halfnormal(-1)"), "halfnormal"), (dict(by="a", measure="OR"), "measure must"),
    (dict(by="a", chunk_size=0), "chunk_size"), (dict(by="a", scheduler=3), "scheduler must")])
def test_options_are_checked(kwargs, message):
    df = pd.DataFrame({"a": [1, 1], "yi": [0.1, 0.2], "sei": [0.1, 0.2]})
    with pytest.raises((ValueError, TypeError), match=message):
        bm.fit_many(df, **kwargs)


def test_prior_below_the_data_resolution_is_a_group_error():
    df = pd.DataFrame({"a": [1, 1, 2, 2], "yi": [0.1, 0.2, 100.0, 130.0], "sei": [0.1, 0.2, 1e5, 2e5]})
    table = bm.fit_many(df, by="a", tau_prior="halfnormal(0.01)", errors="skip")
    assert table["a"].tolist() == [1]
    assert "a millionth of the smallest standard error" in table.attrs["skipped"][0]["reason"]


# --------------------------------------------------------------------------- frequentist twin
@pytest.mark.parametrize("method, ci", [("REML", "z"), ("DL", "hksj"), ("revman5", "z")])
def test_frequentist_many_equals_frequentist(method, ci):
    df = corpus(seed=4, n=30)
    df = df[df["review"] != "extreme"]
    table = bm.frequentist_many(df, by=["review", "analysis"], method=method, ci=ci, errors="skip")
    assert len(table) + len(table.attrs["skipped"]) == df.groupby(["review", "analysis"]).ngroups
    for _, row in table.iterrows():
        part = df[(df["review"] == row["review"]) & (df["analysis"] == row["analysis"])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = bm.frequentist(bm.EffectData.from_table(part), method=method, ci=ci)
        for f in B.FREQ_FIELDS:
            want, got = getattr(ref, f), row[f]
            assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want, rel=1e-12, abs=1e-14), f
        assert row["notes"] == "; ".join(dict.fromkeys(ref.notes))


@pytest.mark.parametrize("method, ci, prediction", [("REML", "z", "default"), ("DL", "z", "z"), ("REML", "hksj", "t"),
                                                    ("DL", "hksj", "hts"), ("cochrane", "z", "default")])
def test_rma_many_equals_rma_group_by_group(method, ci, prediction):
    """The vectorised DL/REML (rma_many) against bm.frequentist on every group it takes, including k = 1,
    k = 2 (one study always has most of the weight) and a study with almost all of it."""
    df = corpus(seed=6, n=120)
    parts = [g for _, g in df.groupby(["review", "analysis"], sort=False)]
    ys, ses = [p["yi"].to_numpy() for p in parts], [p["sei"].to_numpy() for p in parts]
    values, notes, done = B.rma_many(ys, ses, method=method, ci=ci, prediction=prediction)
    assert done.mean() > (0.5 if prediction == "hts" else 0.75)  # k = 1 (and 2) go the single way there
    for j in np.flatnonzero(done):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = bm.frequentist(bm.EffectData(ys[j], ses[j], [str(i) for i in range(len(ys[j]))]), method=method,
                                 ci=ci, prediction=prediction)
        want = np.array([getattr(ref, f) for f in B.FREQ_FIELDS], float)
        assert np.allclose(values[j], want, rtol=1e-10, atol=1e-13, equal_nan=True), (j, values[j] - want)
        assert notes[j] == "; ".join(dict.fromkeys(ref.notes))


# --------------------------------------------------------------------------- command line
def test_cli_batch_writes_csv_and_parquet(tmp_path):
    df = corpus(seed=9, n=12)
    path = tmp_path / "corpus.csv"
    df.to_csv(path, index=False)
    runner = CliRunner()
    out = tmp_path / "res.csv"
    res = runner.invoke(app, ["batch", str(path), "--by", "review,analysis", "--out", str(out), "--prob", "mu<0",
                              "--tau-prior", "halfcauchy(0.5)"])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output
    table = pd.read_csv(out)
    api = bm.fit_many(df, by=["review", "analysis"], tau_prior="halfcauchy(0.5)", probs=["mu<0"])
    assert np.allclose(table["mu_median"], api["mu_median"], rtol=1e-14)
    assert np.allclose(table["mu<0"], api["mu<0"], rtol=1e-14)
    api.to_parquet(tmp_path / "api.parquet")  # the attrs (skipped groups ...) are JSON-safe
    res = runner.invoke(app, ["batch", str(path), "--by", "review,analysis", "--out", str(tmp_path / "f.parquet"),
                              "--method", "DL"])
    assert res.exit_code == 0, res.output
    freq = pd.read_parquet(tmp_path / "f.parquet")
    assert list(freq.columns[:4]) == ["review", "analysis", "k", "method"] and (freq["method"] == "DL").all()


def test_cli_batch_bodily_distress_file_and_one_line_errors(tmp_path):
    runner = CliRunner()
    out = tmp_path / "bd.csv"
    res = runner.invoke(app, ["batch", str(DATA / "bodily_distress_batch.csv"), "--by",
                              "outcome_domain,time,diagnosis_which", "--y", ".g", "--se", ".g_se", "--study", "row",
                              "--out", str(out), "--skip-bad"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(out)) > 50
    for args, text in [(["--by", "nope"], "by: column"), (["--by", "time", "--out", str(tmp_path / "x.txt")], "--out"),
                       (["--by", "time", "--prob", "mu <"], "cannot read"),
                       (["--by", "time", "--y", ".g", "--se", ".g_se"], "duplicated study label")]:
        full = ["batch", str(DATA / "bodily_distress_batch.csv"), "--out", str(tmp_path / "other.csv"), *args]
        if "--out" in args:
            full = ["batch", str(DATA / "bodily_distress_batch.csv"), *args]
        res = runner.invoke(app, full)
        assert res.exit_code == 2, res.output
        assert text in res.output and res.output.count("error:") == 1


# --------------------------------------------------------------------------- dask.distributed
@pytest.mark.slow
def test_local_cluster_gives_the_same_table():
    from dask.distributed import Client, LocalCluster

    df = corpus(seed=13, n=80)
    here = bm.fit_many(df, by=["review", "analysis"], probs=PROBS)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        there = bm.fit_many(df, by=["review", "analysis"], probs=PROBS, scheduler=client, chunk_size=9)
        freq_here = bm.frequentist_many(df, by=["review", "analysis"], method="DL")
        freq_there = bm.frequentist_many(df, by=["review", "analysis"], method="DL", scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(here, there, check_exact=True)
    pd.testing.assert_frame_equal(freq_here, freq_there, check_exact=True)


@pytest.mark.slow
def test_mcmc_engine_per_group_equals_fit_with_the_same_seed():
    df = pd.DataFrame({"a": [1, 1, 1, 2, 2, 2, 2], "yi": [-0.3, -0.1, -0.5, 0.2, 0.1, 0.4, 0.0],
                       "sei": [0.1, 0.2, 0.15, 0.2, 0.1, 0.3, 0.2]})
    settings = dict(seed=3, draws=300, tune=300, chains=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = bm.fit_many(df, by="a", engine="mcmc", probs=["mu < 0"], **settings)
    assert set(table["engine"]) == {"mcmc"} and table.attrs["seed"] == 3
    assert all(str(w.message).startswith("group a=") for w in caught if issubclass(w.category, bm.ConvergenceWarning))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.fit(bm.EffectData.from_table(df[df["a"] == 2]), engine="mcmc", **settings)
    assert table.loc[1, "mu_median"] == fit.summary().loc["mu", "median"]
    assert table.loc[1, "mu < 0"] == fit.prob("mu < 0")


def test_progress_bar_only_on_a_terminal(capfd):
    df = corpus(seed=2, n=20)
    bm.fit_many(df, by=["review", "analysis"], chunk_size=5)  # stderr is not a terminal here: nothing shown
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    table = bm.fit_many(df, by=["review", "analysis"], chunk_size=5, progress=True)
    assert len(table) == df.groupby(["review", "analysis"]).ngroups


def test_fit_many_asks_the_engine_registry_how_to_batch(monkeypatch):
    """fit_many holds no engine names: each engine declares whether it has vectorised kernels (batch), whether it
    samples (a seed, one thread), its label and chunk size. An exact engine without its kernels fits every group
    through bm.fit, to the same numbers (1e-6: the adaptive quadrature against the vectorised one)."""
    from bayesmeta.engines import ENGINES, get_engine
    from bayesmeta.engines.exact_engine import ExactEngine

    for name in ENGINES:
        eng = get_engine(name)
        assert isinstance(eng.batch, bool) and isinstance(eng.sampled, bool) and eng.chunk >= 1 and eng.group_label
    df = corpus(seed=5, n=6)
    fast = bm.fit_many(df, by=["review", "analysis"], probs=["mu < 0"])
    monkeypatch.setattr(ExactEngine, "batch", False)
    slow = bm.fit_many(df, by=["review", "analysis"], probs=["mu < 0"])
    assert set(fast["engine"]) == {"exact (vectorised)"} and set(slow["engine"]) == {"exact (adaptive)"}
    numbers = [c for c in fast.columns if c.startswith(("mu_", "tau_", "mu <"))]
    assert np.allclose(fast[numbers].to_numpy(float), slow[numbers].to_numpy(float), atol=1e-6)
