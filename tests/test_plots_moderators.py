"""Figures of subgroup and meta-regression fits: the forest plot in subgroup blocks with RevMan's test for subgroup
differences and the Bayesian differences, the forest plot of a meta-regression, the bubble plot, and densities,
prior against posterior and benefit curves per subgroup / per coefficient."""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.image import imread
from matplotlib.patches import Polygon

import bayesmeta as bm
from bayesmeta import formatting, plots

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plots._plt().close("all")


@pytest.fixture(scope="module")
def thirdwave():
    data = bm.datasets.effect_data("thirdwave")
    freq = bm.frequentist(data, method="DL", subgroup="ModeOfDelivery")
    common = bm.fit(data, subgroup="ModeOfDelivery", seed=1)
    separate = bm.fit(data, subgroup="ModeOfDelivery", subgroup_tau="separate", seed=1)
    return data, freq, common, separate


@pytest.fixture(scope="module")
def raudenbush():
    df = pd.read_csv(DATA / "raudenbush1985_mods.csv")
    data = bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study", benefit="higher")
    return data, bm.fit(data, moderators="~ weeks", seed=1), bm.fit(data, moderators="~ weeks + C(tester)", seed=1)


def texts_of(fig):
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text)]


def shown(p):
    """A probability as the figures print it: three decimals, '< 0.001' and '> 0.999' at the ends."""
    return "< 0.001" if p < 0.001 else "> 0.999" if p > 0.999 else f"= {p:.3f}"


def ytick_labels(fig):
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


# --------------------------------------------------------------------------- forest plot by subgroup
@pytest.mark.parametrize("tau", ["common", "separate"])
def test_forest_in_subgroup_blocks(thirdwave, tau):
    data, freq, common, separate = thirdwave
    fit = common if tau == "common" else separate
    fig = plots.forest(fit, freq=freq)
    labels = ytick_labels(fig)
    groups = fit.family.groups
    member = np.asarray(data.moderators["ModeOfDelivery"].astype(str))
    expected = []
    for g in groups:  # heading, the subgroup's studies in input order, then its pooled rows
        expected += [f"{g} (k = {int((member == g).sum())})"]
        expected += [s for s, m in zip(data.study, member) if m == g]
        expected += [f"Pooled effect in {g} (95% CrI)", f"New study in {g} (95% predictive interval)",
                     f"DL, {g} (95% CI)"]
    assert labels == expected
    bold = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_fontweight() == "bold"]
    assert bold == [f"{g} (k = {fit.family.sizes[g]})" for g in groups]
    texts = texts_of(fig)
    summ = fit.summary()
    for g in groups:  # the numbers beside each subgroup's diamond and predictive bar, and RevMan's subgroup row
        for q in (f"mu[{g}]", f"theta_new[{g}]"):
            r = summ.loc[q]
            assert f"{r['median']:.2f} [{r['lower']:.2f}, {r['upper']:.2f}]" in texts  # medians, as the tables
        row = freq.subgroups.loc[g]
        assert f"{row['mu']:.2f} [{row['lower']:.2f}, {row['upper']:.2f}]" in texts
        if tau == "separate":
            t = summ.loc[f"tau[{g}]"]
            assert f"tau = {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}]" in texts
    assert (sum(isinstance(p, Polygon) for p in fig.axes[0].patches) == 2 * len(groups))  # Bayesian + DL diamonds
    # RevMan's test for subgroup differences, rounded as printed, with I² = max(0, (Q - df) / Q)
    q, df = freq.Q_between, freq.Q_between_df
    i2 = 100 * max(0.0, (q - df) / q)
    line = [t for t in texts if t.startswith("Test for subgroup differences")]
    assert line == [f"Test for subgroup differences (DL): Chi\u00b2 = {q:.2f}, df = {df} "
                    f"(P = {freq.Q_between_pvalue:.2f}), I\u00b2 = {i2:.1f}%"]
    # one line per pair: P(later - earlier > 0), higher is better here
    for a, b in itertools.combinations(groups, 2):
        p = fit.prob(f"mu[{b}] - mu[{a}] > 0")
        assert sum(f"P({b} \u2212 {a} > 0) = {p:.2f};" in t for t in texts) == 1
    assert any(("tau common to all subgroups" if tau == "common" else "Each subgroup has its own tau") in t
               for t in texts)


def test_subgroup_differences_follow_the_benefit_direction():
    rng = np.random.default_rng(2)
    df = pd.DataFrame(dict(study=[f"S{i}" for i in range(12)], yi=rng.normal(-0.3, 0.2, 12),
                           sei=rng.uniform(0.1, 0.3, 12), arm=["a", "b", "c"] * 4))
    data = bm.EffectData.from_dataframe(df, y="yi", se="sei", study="study", benefit="lower")
    fit = bm.fit(data, subgroup="arm", seed=1)
    lines = plots.subgroup_difference_lines(fit)
    assert [line.split(")")[0] for line in lines] == ["P(b \u2212 a < 0", "P(c \u2212 a < 0", "P(c \u2212 b < 0"]
    assert f"{fit.prob('mu[c] - mu[b] < 0'):.2f}" in lines[2] or "0.99" in lines[2] or "0.00" in lines[2]


@pytest.mark.filterwarnings("ignore:subgroup '3' of 'dose' has one study")
def test_a_subgroup_of_one_study_is_drawn():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(dict(study=[f"S{i}" for i in range(9)], yi=rng.normal(0.3, 0.2, 9), sei=rng.uniform(0.1, 0.3, 9),
                           dose=[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 2.0]))
    data = bm.EffectData.from_dataframe(df, y="yi", se="sei", study="study")
    freq = bm.frequentist(data, method="DL", subgroup="dose")
    for tau in ("common", "separate"):
        fit = bm.fit(data, subgroup="dose", subgroup_tau=tau, seed=1)
        fig = plots.forest(fit, freq=freq)
        assert "3 (k = 1)" in ytick_labels(fig) and "P(3 \u2212 2 > 0)" in " ".join(texts_of(fig))
        assert not any("nan" in t for t in texts_of(fig))
        for make in (plots.density, plots.benefit_curves, plots.prior_posterior):
            assert make(fit).axes


def test_subgroup_test_text_is_revmans():
    class Result:
        label, Q_between, Q_between_df, Q_between_pvalue = "DL", 2.25, 2, 0.3247

    assert plots.subgroup_test_text(Result) == ("Test for subgroup differences (DL): Chi\u00b2 = 2.25, df = 2 "
                                                "(P = 0.32), I\u00b2 = 11.1%")
    Result.Q_between, Result.Q_between_pvalue = 1.0, 0.61  # Q below df: I² is 0
    assert plots.subgroup_test_text(Result).endswith("(P = 0.61), I\u00b2 = 0.0%")
    assert [formatting.format_pvalue(p) for p in (0.32, 0.004, 0.0003, 1e-9)] == ["P = 0.32", "P = 0.004", "P = 0.0003",
                                                                            "P < 0.00001"]


def test_forest_subgroup_freq_options(thirdwave):
    data, freq, common, _ = thirdwave
    fig = plots.forest(common, freq=bm.frequentist(data, method="revman5"))  # recomputed by subgroup
    labels = ytick_labels(fig)
    assert "RevMan 5 (DL), online (95% CI)" in labels
    assert any(t.startswith("Test for subgroup differences (RevMan 5 (DL)): Chi\u00b2 = ") for t in texts_of(fig))
    fig = plots.forest(common, order="effect", columns=("weight", "observed"))  # no frequentist result
    labels = ytick_labels(fig)
    book = [s for s, m in zip(data.study, data.moderators["ModeOfDelivery"]) if m == "book"]
    assert labels[1:3] == sorted(book, key=lambda s: data.y[list(data.study).index(s)])
    assert not any(lab.startswith("DL") for lab in labels)
    assert [t.get_text() for t in fig.axes[1].texts[:2]] == ["Weight (REML)", "Observed [95% CI]"]
    other = bm.frequentist(data, method="DL", subgroup="RiskOfBias")
    with pytest.raises(ValueError, match="subgroup analysis by 'RiskOfBias'"):
        plots.forest(common, freq=other)


# --------------------------------------------------------------------------- forest plot of a meta-regression
def test_forest_of_a_meta_regression(raudenbush):
    data, _, fit = raudenbush
    freq = bm.frequentist(data, method="REML", moderators="~ weeks + C(tester)")
    for f in (None, freq, bm.frequentist(data, method="DL")):
        fig = plots.forest(fit, freq=f)
        assert ytick_labels(fig) == list(data.study)
        assert not fig.axes[0].patches  # no pooled diamond: there is no single mu
        texts = texts_of(fig)
        t = fit.summary().loc["tau"]
        assert any("~ weeks + C(tester)" in s for s in texts)
        assert any(f"tau = {t['median']:.2f} [{t['lower']:.2f}, {t['upper']:.2f}]" in s for s in texts)
        s = fit.shrinkage()
        assert f"{s['mean'].iloc[0]:.2f} [{s['lower'].iloc[0]:.2f}, {s['upper'].iloc[0]:.2f}]" in texts
    assert any(f"QM = {freq.QM:.2f}, df = {freq.QM_df}" in s for s in texts_of(plots.forest(fit, freq=freq)))
    with pytest.raises(ValueError, match="is not the fit's"):
        plots.forest(fit, freq=bm.frequentist(data, method="REML", moderators="~ weeks"))


# --------------------------------------------------------------------------- bubble plot
def subtitle(fig):
    return " ".join(fig.axes[0].get_title(loc="left").split())  # wrapped over lines


def mean_line(fig):
    return next(line for line in fig.axes[0].get_lines() if line.get_label() == "posterior mean effect")


@pytest.mark.parametrize("which", ["weeks", "weeks + C(tester)"])
def test_bubble_line_is_fit_predict(raudenbush, which):
    data, one, two = raudenbush
    fit = one if which == "weeks" else two
    fig = plots.bubble(fit, "weeks")
    x, y = mean_line(fig).get_data()
    weeks = data.moderators["weeks"].to_numpy(float)
    assert x[0] == weeks.min() and x[-1] == weeks.max() and len(x) == 101
    held = {} if which == "weeks" else {"tester": "aware"}
    for j in (0, 37, 100):
        pred = fit.predict({"weeks": x[j], **held})
        assert y[j] == pytest.approx(pred["mean"].iloc[0], rel=1e-10, abs=1e-12)
    # the bands: credible inside predictive, at the grid point
    bands = [c for c in fig.axes[0].collections if not isinstance(c, PathCollection)]
    assert len(bands) == 2
    # circle areas proportional to 1 / (se² + tau²), tau the posterior median
    tau = fit.ppf("tau", 0.5)[0]
    sizes = next(c for c in fig.axes[0].collections if isinstance(c, PathCollection)).get_sizes()
    w = 1 / (data.se**2 + tau**2)
    assert sizes / sizes.max() == pytest.approx(w / w.max(), rel=1e-10)
    assert fig.axes[0].get_xlabel() == "weeks"
    assert fig.axes[0].get_ylabel() == plots.direction_label(data)
    assert "favours the intervention" in fig.axes[0].get_ylabel()
    assert ("tester = aware (reference level)" in subtitle(fig)) == (which != "weeks")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[1:] == ["posterior mean effect", "95% credible band (mean effect)",
                          "95% predictive band (effect in a new study)"]
    assert any(line.get_ydata()[0] == 0 for line in fig.axes[0].get_lines())  # the 0 line


def test_bubble_holds_other_moderators_where_asked(raudenbush):
    _, _, fit = raudenbush
    fig = plots.bubble(fit, "weeks", at={"tester": "blind"}, ci=0.8)
    x, y = mean_line(fig).get_data()
    assert y[5] == pytest.approx(fit.predict({"weeks": x[5], "tester": "blind"})["mean"].iloc[0], rel=1e-10)
    assert "tester = blind" in subtitle(fig)
    assert "80% credible band (mean effect)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_bubble_with_a_numeric_covariate_held_at_its_mean():
    rng = np.random.default_rng(4)
    k = 30
    df = pd.DataFrame(dict(study=[f"S{i}" for i in range(k)], dose=rng.uniform(0, 10, k), age=rng.uniform(20, 60, k)))
    df["yi"] = -0.1 - 0.03 * df["dose"] + rng.normal(0, 0.15, k)
    df["sei"] = rng.uniform(0.1, 0.3, k)
    data = bm.EffectData.from_dataframe(df, y="yi", se="sei", study="study", benefit="lower")
    fit = bm.fit(data, moderators="~ np.log(dose + 1) + age", seed=1)
    fig = plots.bubble(fit, "dose")
    x, y = mean_line(fig).get_data()
    pred = fit.predict({"dose": x[50], "age": df["age"].mean()})
    assert y[50] == pytest.approx(pred["mean"].iloc[0], rel=1e-10)
    assert f"age = {df['age'].mean():.3g} (mean)" in subtitle(fig)


def test_bubble_refuses_what_it_cannot_draw(thirdwave, raudenbush):
    data, _, _, separate = raudenbush[0], None, None, thirdwave[3]
    _, _, fit = raudenbush
    with pytest.raises(ValueError, match="'tester' enters the formula .* as a factor"):
        plots.bubble(fit, "tester")
    with pytest.raises(ValueError, match="'setting' is not a column of the formula"):
        plots.bubble(fit, "setting")
    with pytest.raises(ValueError, match="not a column of the formula"):
        plots.bubble(fit, None)
    with pytest.raises(ValueError, match="needs a meta-regression fit"):
        plots.bubble(separate, "weeks")
    with pytest.raises(ValueError, match="needs a meta-regression fit"):
        plots.bubble(bm.fit(data, seed=1), "weeks")
    with pytest.raises(ValueError, match="'weeks' enters the formula .* as a factor"):
        plots.bubble(bm.fit(data, moderators="~ C(weeks)", seed=1), "weeks")
    with pytest.raises(ValueError, match="'setting' is not another moderator"):
        plots.bubble(fit, "weeks", at={"setting": "group"})
    with pytest.raises(ValueError, match="unknown level"):
        plots.bubble(fit, "weeks", at={"tester": "nobody"})
    with pytest.raises(ValueError, match="ci must be"):
        plots.bubble(fit, "weeks", ci=95)


# --------------------------------------------------------------------------- densities, priors, benefit curves
@pytest.mark.parametrize("tau", ["common", "separate"])
def test_density_per_subgroup_is_the_exact_density(thirdwave, tau):
    _, _, common, separate = thirdwave
    fit = common if tau == "common" else separate
    fig = plots.density(fit, thresholds=(0, 0.2))
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2 * len(fit.family.groups)
    x, y = axes[0].get_lines()[0].get_data()
    assert y == pytest.approx(fit.density("mu[book]", x), rel=1e-12)
    x, y = axes[3].get_lines()[0].get_data()  # group: theta_new
    assert y == pytest.approx(fit.density("theta_new[group]", x), rel=1e-12)
    assert axes[0].get_xlim() == axes[5].get_xlim()  # one x axis for all subgroups
    texts = texts_of(fig)
    for g in fit.family.groups:
        # in words (the panel's title names the subgroup): P(mu[g] > 0), P(theta_new[g] >= 0.2)
        assert any(f"P(favours the intervention) {shown(fit.prob(f'mu[{g}] > 0'))}" in t for t in texts)
        assert any(f"P(at least 0.2 SD in favour) {shown(fit.prob(f'theta_new[{g}] >= 0.2'))}" in t for t in texts)
    assert len(plots.density(fit, quantities=("mu",)).axes) == len(fit.family.groups)
    with pytest.raises(ValueError, match="'mu' and/or 'theta_new'"):
        plots.density(fit, quantities=("tau",))


def test_density_of_a_meta_regression_draws_the_coefficients(raudenbush):
    _, _, fit = raudenbush
    fig = plots.density(fit)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in axes] == [f"beta[{t}]" for t in fit.family.terms]
    x, y = axes[1].get_lines()[0].get_data()
    assert y == pytest.approx(fit.density("beta[weeks]", x), rel=1e-12)
    assert any(f"P(above 0, towards benefit) {shown(fit.prob('beta[weeks] > 0'))}" in t for t in texts_of(fig))
    assert len(plots.density(fit, quantities=["beta[weeks]"]).axes) == 1
    with pytest.raises(ValueError, match="no coefficient"):
        plots.density(fit, quantities=["beta[age]"])


def test_prior_posterior_and_benefit_curves(thirdwave, raudenbush):
    data, _, common, separate = thirdwave
    fig = plots.prior_posterior(separate)
    assert [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()] == [
        f"tau[{g}]: prior halfnormal(0.5)" for g in separate.family.groups]
    x, y = fig.axes[1].get_lines()[1].get_data()
    assert y == pytest.approx(separate.density("tau[group]", x), rel=1e-12) and x[0] > 0
    informative = bm.fit(data, subgroup="ModeOfDelivery", mu_prior="normal(0, 1)", seed=1)
    titles = [ax.get_title(loc="left") for ax in plots.prior_posterior(informative).axes if ax.get_visible()]
    assert titles == ["tau: prior halfnormal(0.5)"] + [f"mu[{g}]: prior normal(0, 1)" for g in common.family.groups]
    assert len(plots.prior_posterior(raudenbush[2]).axes) == 1  # tau; the coefficients' priors are flat
    with pytest.raises(ValueError, match="no proper prior"):
        plots.prior_posterior(common, quantities=("mu",))
    fig = plots.benefit_curves(common)
    lines = fig.axes[0].get_lines()
    assert lines[0].get_ydata()[0] == pytest.approx(common.prob("mu[book] > 0"))
    assert lines[3].get_ydata()[0] == pytest.approx(common.prob("theta_new[book] > 0"))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][:2] == ["book: mean effect",
                                                                                "group: mean effect"]
    with pytest.raises(ValueError, match="pooled effects"):
        plots.benefit_curves(raudenbush[2])


# --------------------------------------------------------------------------- sizes with many studies
def test_figures_of_60_studies_with_long_labels_have_sane_sizes(tmp_path):
    rng = np.random.default_rng(3)
    k = 60
    modes = [("internet-delivered cognitive behavioural therapy with therapist guidance " * 2).strip(), "face-to-face",
             "telephone"]
    mode = rng.choice(modes, k)
    se = rng.uniform(0.08, 0.5, k)
    df = pd.DataFrame(dict(study=[f"A very long study label {i} " + "with many words " * 8 for i in range(k)],
                           yi=-0.3 + rng.normal(0, 0.2, k) + rng.normal(0, se), sei=se, mode=mode,
                           weeks=rng.uniform(1, 30, k)))
    data = bm.EffectData.from_dataframe(df, y="yi", se="sei", study="study", benefit="lower")
    sub = bm.fit(data, subgroup="mode", subgroup_tau="separate", seed=1)
    reg = bm.fit(data, moderators="~ weeks + C(mode)", seed=1)
    figures = {"forest": plots.forest(sub, freq=bm.frequentist(data, method="DL", subgroup="mode")),
               "forest_reg": plots.forest(reg), "bubble": plots.bubble(reg, "weeks"),
               "density": plots.density(sub), "benefit": plots.benefit_curves(sub),
               "prior": plots.prior_posterior(sub), "density_reg": plots.density(reg)}
    for name, fig in figures.items():
        height, width = imread(plots.save(fig, tmp_path / f"{name}.png")).shape[:2]
        assert 300 < width < 4000 and 200 < height <= plots.MAX_PIXELS, name


@pytest.mark.slow
def test_mcmc_subgroup_and_regression_figures(thirdwave, raudenbush):
    data, freq, _, _ = thirdwave
    fit = bm.fit(data, subgroup="ModeOfDelivery", engine="mcmc", seed=1, draws=1000, tune=1000)
    for fig in (plots.forest(fit, freq=freq), plots.density(fit), plots.benefit_curves(fit),
                plots.prior_posterior(fit), plots.trace(fit)):
        assert fig.axes
    reg = bm.fit(raudenbush[0], moderators="~ weeks", engine="mcmc", seed=1, draws=1000, tune=1000)
    x, y = mean_line(plots.bubble(reg, "weeks")).get_data()
    assert y[10] == pytest.approx(reg.predict({"weeks": x[10]})["mean"].iloc[0], rel=1e-10)
    assert plots.density(reg).axes and plots.forest(reg).axes
