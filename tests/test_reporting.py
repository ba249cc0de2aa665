"""Reports, figures, analysis files and the re-analyses."""

import re
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta import plots
from bayesmeta.analysis import AnalysisError, load_analysis, load_table, run_analysis, sensitivity_table
from bayesmeta.findings.review_file import is_review_file
from bayesmeta.cli import app
from bayesmeta.formatting import pct
from bayesmeta.reports import build_report, event_label, fit_events

ROOT = Path(__file__).resolve().parent.parent
MODELS = [m for m in sorted((ROOT / "models").glob("*.toml")) if not is_review_file(m)]  # analysis files
EXACT_MODELS = [m for m in MODELS if load_analysis(m).get("model", "engine", "exact") == "exact"]


@pytest.fixture(scope="module")
def clbp():
    data = bm.datasets.effect_data("clbp_digital_pain")
    return data, bm.fit(data, seed=1), [bm.frequentist(data, method="revman5"), bm.frequentist(data, method="cochrane")]


def test_probability_statements_are_the_fits_numbers(clbp):
    data, fit, freq = clbp
    text = build_report(fit, freq=freq, thresholds=[0, -0.2], intervention="digital self-management").render("text")
    p0, p2 = fit.prob("mu < 0"), fit.prob("mu <= -0.2")
    assert (f"There is a {pct(p0)} probability that digital self-management reduces pain intensity on average "
            f"(SMD < 0), and a {pct(p2)} probability that the reduction is at least small (SMD <= -0.2).") in text
    assert f"{pct(fit.prob('theta_new < 0'))} probability that digital self-management reduces pain intensity in a new study" in text
    assert "half-normal prior on tau with scale 0.5" in text and "flat (improper uniform) prior on mu" in text
    assert "RevMan 5 (DL)" in text and "Cochrane (REML + HKSJ)" in text and "Seed 1." in text
    assert "pymc" not in text  # exact engine: versions of what made the numbers


def test_compare_table(clbp):
    data, fit, freq = clbp
    table = bm.compare(fit, freq)
    assert len(table) == 3 and table.iloc[1]["estimate"] == freq[0].mu
    assert table.iloc[0]["estimate"] == pytest.approx(fit.summary().loc["mu", "median"])
    assert "credible" in table.iloc[0]["interval"] and "Knapp-Hartung" in table.iloc[2]["interval"]


def test_from_estimate_and_reference_priors():
    # Eccleston 2014: -0.37 [-0.59, -0.15]; flat prior: P(mu < 0) = Phi(0.37 / se), se = 0.44 / (2 z).
    se = 0.44 / (2 * NormalDist().inv_cdf(0.975))
    flat = bm.from_estimate(-0.37, -0.59, -0.15)
    assert flat.prob("mu < 0") == pytest.approx(NormalDist(-0.37, se).cdf(0), rel=1e-12)
    priors = bm.reference_priors(0.2, "lower")
    sc = bm.from_estimate(-0.37, -0.59, -0.15, prior=priors["sceptical"])
    s0 = 0.2 / NormalDist().inv_cdf(0.95)
    prec = 1 / se**2 + 1 / s0**2
    assert sc.post_mean == pytest.approx((-0.37 / se**2) / prec) and sc.post_sd == pytest.approx(prec**-0.5)
    assert NormalDist(0, s0).cdf(-0.2) == pytest.approx(0.05)  # sceptical: 5% prior mass beyond -0.2
    assert NormalDist(-0.2, s0).cdf(0) == pytest.approx(0.95)  # enthusiastic: 5% prior mass on harm
    with pytest.raises(ValueError, match="does not contain"):
        bm.from_estimate(0.5, 0.6, 0.9)


def test_figures_have_the_promised_content(clbp):
    data, fit, freq = clbp
    fig = plots.forest(fit, freq=freq)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[: data.k] == list(data.study) and "RevMan 5 (DL) (95% CI)" in labels
    assert any("predictive" in lab for lab in labels)
    assert "< 0 favours the intervention" in fig.axes[0].get_xlabel()
    plots._plt().close(fig)
    fig = plots.forest(fit, order="effect", columns=("weight", "observed"))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[: data.k] == [data.study[i] for i in np.argsort(data.y)]
    headers = [t.get_text() for t in fig.axes[1].texts[:2]]
    assert headers == ["Weight (REML)", "Observed [95% CI]"]
    plots._plt().close(fig)
    with pytest.raises(ValueError, match="unknown forest plot column"):
        plots.forest(fit, columns=("pvalue",))
    fig = plots.density(fit, thresholds=(0, -0.2))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(f"P(favours the intervention) = {fit.prob('mu < 0'):.3f}" in t for t in texts)  # mu < 0, in words
    assert any(f"P(at least 0.2 SD in favour) = {fit.prob('theta_new <= -0.2'):.3f}" in t for t in texts)
    plots._plt().close(fig)
    fig = plots.benefit_curves(fit)
    x, y = fig.axes[0].lines[0].get_data()
    assert y[0] == pytest.approx(fit.prob("mu < 0")) and np.all(np.diff(y) <= 1e-12)
    plots._plt().close(fig)


@pytest.mark.parametrize("model", EXACT_MODELS, ids=[m.stem for m in EXACT_MODELS])
def test_every_model_file_runs(model, tmp_path):
    """Every exact-engine model file (the MCMC ones run in the slow test below)."""
    result = run_analysis(model, tmp_path)
    files = result["files"]
    assert files["report_html"].exists() and files["report_md"].exists()
    html = files["report_html"].read_text()
    assert "probability" in html and "<svg" in html and "<img" not in html  # figures inlined as SVG
    if result["fit"] is not None:
        assert (tmp_path / "posterior.nc").exists() and (tmp_path / "figures" / "forest.png").exists()
        summary = pd.read_csv(tmp_path / "summary.csv", index_col=0)
        first = result["fit"].family.coefficient_rows()[0]  # mu, or mu[g] / beta[term] for other families
        assert summary.loc[first, "lower"] == pytest.approx(result["fit"].summary().loc[first, "lower"], rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("model", [m for m in MODELS if m not in EXACT_MODELS], ids=lambda m: m.stem)
def test_mcmc_model_file_runs(model, tmp_path):
    result = run_analysis(model, tmp_path)
    assert result["fit"].engine == "mcmc" and (tmp_path / "figures" / "trace.png").exists()
    assert "divergent transitions" in (tmp_path / "report.md").read_text()


def test_depression_selection_is_reported(tmp_path):
    result = run_analysis(ROOT / "models" / "internet_depression_selfguided.toml", tmp_path)
    md = (tmp_path / "report.md").read_text()
    m = re.search(r"Selection: (\d+) of 78 rows kept", md)
    assert m and int(m.group(1)) == result["fit"].data.k
    assert len(set(result["fit"].data.study)) == result["fit"].data.k
    assert "flagged as suspect" in md  # the Rhodes cell used in the sensitivity analysis


BAD = {
    "unknown section": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[prios]\ntau='x'\n",
                        "unknown section [prios]"),
    "unknown key": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[priors]\ntua='x'\n",
                    "unknown key 'priors.tua'"),
    "bad choice": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='up'\n", "'data.benefit' must be one of"),
    "wrong type": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[model]\nseed='one'\n",
                   "'model.seed' must be a whole number"),
    "missing title": ("[data]\ndataset='thirdwave'\nbenefit='higher'\n", "'analysis.title' is required"),
    "bad prior": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[priors]\ntau='halfnormal(-2)'\n",
                  "[priors] tau prior 'halfnormal(-2)': scale must be a positive finite number"),
    "no data": ("[analysis]\ntitle='x'\n[data]\nbenefit='higher'\n", "give exactly one of 'data.dataset'"),
    "missing file": ("[analysis]\ntitle='x'\n[data]\nfile='nope.csv'\nbenefit='higher'\n", "'data.file' 'nope.csv' not found"),
    "not toml": ("[analysis\ntitle=", "not valid TOML"),
    "unknown dataset": ("[analysis]\ntitle='x'\n[data]\ndataset='nope'\nbenefit='higher'\n",
                        "'data.dataset' 'nope' is not a bundled data set"),
    "bad figure": ("[analysis]\ntitle='x'\n[data]\ndataset='thirdwave'\nbenefit='higher'\n[report]\nfigures=['pie']\n",
                   "unknown figure 'pie'"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_analysis_files_give_one_clear_message(name, tmp_path):
    text, message = BAD[name]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(AnalysisError, match=re.escape(message)):
        load_analysis(path)
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and message in res.stderr and "Traceback" not in res.output + res.stderr
    assert res.stderr.count("\n") == 1


def test_bad_csv_through_an_analysis_file(tmp_path):
    (tmp_path / "d.csv").write_text("study,yi,vi\nA,0.1,0.02\nB,0.3,-1\n")
    path = tmp_path / "a.toml"
    path.write_text("[analysis]\ntitle='x'\n[data]\nfile='d.csv'\nbenefit='higher'\n")
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "row 2 ('B'), column 'vi'" in res.stderr and "Traceback" not in res.stderr


# --------------------------------------------------------------------------- the report a review author publishes
from bayesmeta.formatting import (  # noqa: E402
    decimals_for,
    display_table,
    format_number,
    format_probability,
    format_pvalue,
)
from bayesmeta.reports import quantity_label  # noqa: E402


@pytest.fixture(scope="module")
def clbp_report(clbp):
    data, fit, freq = clbp
    figures = {"forest_revman": ("RevMan layout", plots.forest(fit, freq=freq, style="revman")),
               "forest": ("Bayesian forest plot", plots.forest(fit, freq=freq)),
               "density": ("Densities", plots.density(fit, thresholds=(0, -0.2, -0.8))),
               "funnel": ("Funnel", plots.funnel(data))}
    report = build_report(fit, freq=freq, thresholds=[0, -0.2, -0.8], intervention="digital self-management",
                          figures=figures)
    yield report
    plots._plt().close("all")


def test_report_opens_with_the_answer(clbp, clbp_report):
    data, fit, freq = clbp
    titles = [s.title for s in clbp_report.sections]
    assert titles[:3] == ["Summary", "Forest plots", "Data"] and titles[-1] == "Reproducibility"
    assert titles.index("Posterior") < titles.index("Frequentist results beside the Bayesian") < titles.index(
        "Diagnostics")
    items = clbp_report.sections[0].items
    s = fit.summary()
    mu, new, tau, i2 = s.loc["mu"], s.loc["theta_new"], s.loc["tau"], s.loc["I2"]
    assert items[0] == (f"Pooled effect: SMD {mu['median']:.2f} (95% CrI {mu['lower']:.2f} to {mu['upper']:.2f}); in a "
                        f"new study {new['median']:.2f} (95% predictive interval {new['lower']:.2f} to "
                        f"{new['upper']:.2f}). Posterior medians; negative values favour digital self-management.")
    assert items[1].startswith(f"There is a {pct(fit.prob('mu < 0'))} probability that digital self-management "
                               "reduces pain intensity on average")
    het = next(i for i in items if i.startswith("Heterogeneity"))
    assert f"tau = {tau['median']:.2f} (95% CrI {tau['lower']:.2f} to {tau['upper']:.2f})" in het
    assert f"I\u00b2 = {i2['median']:.0f}%" in het and "moderate" in het  # 30%: the Handbook's 'moderate'
    r = freq[0]
    assert (f"RevMan 5 (DL): {r.mu:.2f} (95% CI {r.lower:.2f} to {r.upper:.2f}), {format_pvalue(r.pvalue)}; tau\u00b2 = "
            f"{r.tau2:.3f}, I\u00b2 = {r.I2:.0f}%.") in items
    assert items[-1].startswith("Priors: flat (improper uniform) prior on mu, and a half-normal prior on tau")
    text = clbp_report.render("text")
    assert text.index("Summary") < text.index("Figure 1: RevMan layout") < text.index("Studies (observed")
    assert "Figure 3: Densities" in text and text.index("Posterior summaries") < text.index("Figure 3: Densities")
    assert text.index("Small-study effects") < text.index("Figure 4: Funnel") < text.index("Diagnostics")


def test_tables_print_the_fits_numbers_alike_in_every_format(clbp, clbp_report):
    data, fit, freq = clbp
    post = next(s for s in clbp_report.sections if s.title == "Posterior")
    tables = dict(post.tables)
    summary = display_table(tables["Posterior summaries"])
    assert summary.header == ["Quantity", "Mean", "SD", "Median", "95% CrI"]
    assert summary.align == ["l", "r", "r", "r", "r"]
    s = fit.summary()
    effect_decimals = decimals_for(s.loc[["mu", "theta_new"], ["mean", "sd", "median", "lower", "upper"]].to_numpy()
                                   .ravel())
    for row in summary.rows:
        q = next(q for q in s.index if row[0] == quantity_label(q))
        d = effect_decimals if q in ("mu", "theta_new") else decimals_for(s.loc[q, ["mean", "sd", "median", "lower",
                                                                                   "upper"]])
        r = s.loc[q]
        assert row[1:] == [format_number(r["mean"], d), format_number(r["sd"], d), format_number(r["median"], d),
                           f"{format_number(r['lower'], d)} to {format_number(r['upper'], d)}"], q
    probs = display_table(tables["Posterior probabilities"])
    assert probs.header == ["Event", "Posterior probability"]
    events = fit_events(fit, [0, -0.2, -0.8])
    assert [r[0] for r in probs.rows] == [event_label(fit, e) for e in events]  # words, the code in the appendix
    for event, (_, shown) in zip(events, probs.rows):
        assert shown == format_probability(fit.prob(event))
    assert ["P(the pooled effect is at least 0.8 SD in favour)", "< 0.001"] in probs.rows  # not 1.2e-05
    assert [r[3] for r in display_table(tables["Study effects after shrinkage"]).rows] == [
        format_number(v, decimals_for(fit.shrinkage()["median"])) for v in fit.shrinkage()["median"]]
    shrink = display_table(tables["Study effects after shrinkage"])
    assert [r[0] for r in shrink.rows] == list(data.study)
    sh = fit.shrinkage()
    d = decimals_for(sh["mean"])
    assert [r[4] for r in shrink.rows] == [format_number(v, d) for v in sh["mean"]]
    text, md, page = (clbp_report.render(f) for f in ("text", "markdown", "html"))
    for row in summary.rows + shrink.rows:  # the same cells in the three formats
        for cell in row[1:]:
            assert cell in text and cell in md and f">{cell}</td>" in page
    for sec in clbp_report.sections:  # no scientific notation in any table
        for _, table in sec.all_tables():
            assert not any(re.search(r"\de[-+]\d", cell) for row in display_table(table).rows for cell in row)
    # no index-name rows: one header row per table, its first cell naming the rows
    assert page.count("<thead><tr>") == page.count("<table>") and "<thead><tr><th scope='col'>Quantity</th>" in page
    assert "| Quantity | Mean | SD | Median | 95% CrI |\n|---|---:|---:|---:|---:|" in md
    assert "Quantity                             Mean     SD  Median           95% CrI\n" in text


def test_markdown_tables_keep_their_columns_with_hostile_labels():
    labels = ["A | B", "two\nlines", "<b>x</b>", "# h", "x*y_z", "- item"]
    data = bm.EffectData([0.1, 0.3, -0.1, 0.2, 0.4, 0.0], [0.1, 0.15, 0.2, 0.12, 0.3, 0.1], labels, benefit="higher")
    md = build_report(bm.fit(data, seed=1), thresholds=[0]).render("markdown")
    blocks = re.findall(r"(\|[^\n]*\|\n\|[-:|]+\|\n(?:\|[^\n]*\|\n?)+)", md)
    assert len(blocks) >= 5
    for block in blocks:
        rows = [r for r in block.strip().split("\n") if not re.fullmatch(r"\|[-:|]+\|", r)]
        assert len({len(re.split(r"(?<!\\)\|", r.strip())) for r in rows}) == 1, block


def test_html_report_inlines_svg_with_unique_ids_a_contents_list_and_print_rules(clbp_report):
    page = clbp_report.render("html")
    assert page.count("<svg") == 4 and "<img" not in page and "<!--" not in page and "<?xml" not in page
    ids = re.findall(r"""\bid=['"]([^'"]+)['"]""", page)
    assert len(ids) == len(set(ids))  # each figure's ids prefixed: no clash between figures
    refs = set(re.findall(r'href="#([^"]+)"', page)) | set(re.findall(r"url\(#([^)]+)\)", page))
    assert refs <= set(ids)
    toc = re.findall(r"<li><a href='#([^']+)'>", page)
    assert toc[:2] == ["summary", "forest-plots"] and set(toc) <= set(ids)
    assert "@media print" in page and "name='viewport'" in page and "class='table-wrap'" in page
    assert "aria-label=\"Figure 1: RevMan layout\"" in page


def test_subgroup_report_answers_by_subgroup_first():
    data = bm.datasets.effect_data("thirdwave")
    fit = bm.fit(data, subgroup="ModeOfDelivery", seed=1)
    freq = [bm.frequentist(data, method="revman5", subgroup="ModeOfDelivery")]
    report = build_report(fit, freq=freq, thresholds=[0, 0.2])
    summary = report.sections[0]
    caption, table = summary.key_tables[0]
    t = display_table(table)
    assert [r[0] for r in t.rows] == fit.family.groups
    assert t.header[:4] == ["Subgroup", "Pooled effect (median)", "95% CrI", "New study: 95% PrI"]
    assert t.header[4:] == ["P(the pooled effect favours the intervention)", "P(the pooled effect is at least 0.2 SD in "
                            "favour)", "P(the effect in a new study favours the intervention)",
                            "P(the effect in a new study is at least 0.2 SD in favour)"]  # words, not code
    group = dict((r[0], r) for r in t.rows)["group"]
    assert group[4] == "> 0.999" == format_probability(fit.prob("mu[group] > 0"))
    assert any("test for subgroup differences Chi\u00b2 = " in i for i in summary.items)
    assert not any(i.startswith("There is a") and "on average in subgroup" in i for i in summary.items)
    text = report.render("text")
    assert text.index("The answer by subgroup") < text.index("- There is a")  # the table before the points


def test_regression_report_prints_small_coefficients_with_enough_digits():
    df = pd.read_csv(Path(__file__).parent / "data" / "raudenbush1985_mods.csv")
    data = bm.EffectData.from_dataframe(df, y="yi", vi="vi", study="study", benefit="higher")
    fit = bm.fit(data, moderators="~ weeks", seed=1)
    items = build_report(fit).sections[0].items
    w = fit.summary().loc["beta[weeks]"]
    d = max(2, decimals_for([w["median"], w["lower"], w["upper"]]))
    assert items[0] == (f"beta[weeks] (each unit more of weeks): {format_number(w['median'], d)} (95% CrI "
                        f"{format_number(w['lower'], d)} to {format_number(w['upper'], d)}); posterior median, SMD "
                        "units; positive values favour the intervention.")
    assert not re.search(r"-0\.0+(?!\d)", items[0])  # the upper bound -0.004, not -0.00


# --------------------------------------------------------------------------- exact figures
def test_density_and_prior_posterior_are_the_exact_densities(clbp):
    data, fit, _ = clbp
    fig = plots.density(fit, thresholds=(0, -0.2))
    mu_ax, new_ax = [ax for ax in fig.axes if ax.get_visible()]
    for ax, q in ((mu_ax, "mu"), (new_ax, "theta_new")):
        x, y = ax.get_lines()[0].get_data()
        assert y == pytest.approx(fit.density(q, x), rel=1e-12)  # no kernel density estimate of draws
        assert ax.get_xlim() == mu_ax.get_xlim() and "favours the intervention" in ax.get_xlabel()
    assert mu_ax.get_ylabel() == "posterior density"
    fig = plots.prior_posterior(fit)
    ax = fig.axes[0]
    prior, post = ax.get_lines()[:2]
    x, y = post.get_data()
    assert x[0] > 0 and x[0] < 1e-6 and ax.get_xlim()[0] == 0  # from the boundary tau = 0
    assert y == pytest.approx(fit.density("tau", x), rel=1e-12) and y[0] > 1  # the density's limit at 0, not 0
    assert prior.get_ydata() == pytest.approx(np.exp(fit.spec.tau_prior.logpdf(x)), rel=1e-12)
    assert x[-1] > fit.ppf("tau", 0.999)[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["prior density (halfnormal(0.5))",
                                                                  "posterior density"]
    assert ax.get_legend().get_title().get_text() == "" and "tau" in ax.get_xlabel()
    assert ax.get_ylabel() == "density"
    plots._plt().close("all")


@pytest.mark.slow
def test_mcmc_figures_use_the_draws_reflected_at_zero():
    data = bm.datasets.effect_data("clbp_digital_pain")
    fit = bm.fit(data, engine="mcmc", seed=1, draws=500, tune=500)
    assert not fit.backend.exact
    x = np.linspace(0, 0.6, 50)
    y = plots.posterior_curve(fit, "tau", x)
    assert y[1:] == pytest.approx(fit.density("tau", x[1:]) + fit.density("tau", -x[1:]), rel=1e-12)
    assert np.trapezoid(plots.posterior_curve(fit, "tau", np.linspace(0, 3, 3000)), dx=3 / 2999) == pytest.approx(
        1, abs=0.02)
    assert "kernel density estimates" in plots.density(fit)._suptitle.get_text()
    plots._plt().close("all")


# --------------------------------------------------------------------------- RevMan's forest plot
def texts(fig):
    from matplotlib.text import Text

    return [t.get_text() for t in fig.findobj(Text)]


def annotation_x(fig, text):
    return next(a.xy[0] for a in fig.axes[1].texts if a.get_text() == text)


def test_revman_forest_prints_revmans_numbers(clbp):
    data, fit, freq = clbp
    fig = plots.forest(fit, freq=freq, style="revman")
    shown = texts(fig)
    r = freq[0]  # the first result: RevMan 5's DerSimonian-Laird
    for header in ("Study or Subgroup", "Experimental", "Control", "Mean", "SD", "Total", "Weight",
                   "Std. Mean Difference", "IV, Random, 95% CI", "Total (95% CI)"):
        assert header in shown, header
    z = NormalDist().inv_cdf(0.975)
    for i, study in enumerate(data.study):
        assert study in shown and f"{r.weights.iloc[i]:.1f}%" in shown
        assert f"{data.y[i]:.2f}" in shown and f"[{data.y[i] - z * data.se[i]:.2f}, {data.y[i] + z * data.se[i]:.2f}]" in shown
    arms = data.arms
    assert f"{int(arms['n1'].sum())}" in shown and f"{int(arms['n2'].sum())}" in shown and "100.0%" in shown
    assert f"{r.mu:.2f}" in shown and f"[{r.lower:.2f}, {r.upper:.2f}]" in shown
    assert (f"Heterogeneity: Tau\u00b2 = {r.tau2:.2f}; Chi\u00b2 = {r.Q:.2f}, df = {r.k - 1} "
            f"({format_pvalue(r.Q_pvalue)}); I\u00b2 = {r.I2:.0f}%") in shown
    assert f"Test for overall effect: Z = {abs(r.mu / r.se):.2f} ({format_pvalue(r.pvalue)})" in shown
    s = fit.summary()
    for q in ("mu", "theta_new"):  # the Bayesian rows: posterior mean and interval
        assert f"{s.loc[q, 'mean']:.2f}" in shown and f"[{s.loc[q, 'lower']:.2f}, {s.loc[q, 'upper']:.2f}]" in shown
    assert "Bayesian: pooled effect (95% CrI)" in shown and "Bayesian: new study (95% PrI)" in shown
    # lower is better here: experimental on the left of the axis
    assert annotation_x(fig, "Favours experimental") < 0.5 < annotation_x(fig, "Favours control")
    assert "Std. Mean Difference" in shown and "Zheng, 2022a" in shown  # arm data missing there: blank cells
    plots._plt().close("all")


def test_revman_forest_by_subgroup_with_effects_given_directly():
    data = bm.datasets.effect_data("thirdwave")  # estimates and SEs: RevMan's generic inverse-variance columns
    fit = bm.fit(data, subgroup="ModeOfDelivery", seed=1)
    freq = bm.frequentist(data, method="revman5", subgroup="ModeOfDelivery")
    fig = plots.forest(fit, freq=freq, style="revman")
    shown = texts(fig)
    assert "SE" in shown and "Experimental" not in shown
    assert shown.count("Subtotal (95% CI)") == 3 and shown.count("Total (95% CI)") == 1
    for g, row in freq.subgroups.iterrows():
        assert g in shown and f"[{row['lower']:.2f}, {row['upper']:.2f}]" in shown
        assert f"Test for overall effect: Z = {abs(row['mu'] / row['se']):.2f} ({format_pvalue(row['pvalue'])})" in shown
        member = data.moderators["ModeOfDelivery"].to_numpy() == g
        assert f"{freq.weights.to_numpy()[member].sum():.1f}%" in shown  # subtotal: its share of the overall weights
        m = fit.summary().loc[f"mu[{g}]"]
        assert f"Bayesian: pooled effect in {g} (95% CrI)" in shown and f"[{m['lower']:.2f}, {m['upper']:.2f}]" in shown
    q, df = freq.Q_between, freq.Q_between_df
    assert (f"Test for subgroup differences: Chi\u00b2 = {q:.2f}, df = {df} ({format_pvalue(freq.Q_between_pvalue)}), "
            f"I\u00b2 = {100 * max(0, (q - df) / q):.1f}%") in shown
    assert annotation_x(fig, "Favours control") < 0.5 < annotation_x(fig, "Favours experimental")  # higher is better
    reg = bm.fit(data, moderators="~ C(ModeOfDelivery)", seed=1)
    with pytest.raises(ValueError, match="RevMan draws no forest plot of a meta-regression"):
        plots.forest(reg, style="revman")
    with pytest.raises(ValueError, match="style must be"):
        plots.forest(fit, style="jasp")
    plots._plt().close("all")


def test_revman_forest_takes_the_arm_columns_the_data_hold():
    arms = pd.DataFrame({"events1": [12, 30, 7], "n1": [50, 120, 40], "events2": [20, 41, 9], "n2": [48, 118, 41]})
    assert plots.arm_columns(bm.EffectData([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], ["a", "b", "c"], arms=arms)) == [
        ("Experimental", [("events1", "Events"), ("n1", "Total")]), ("Control", [("events2", "Events"), ("n2", "Total")])]
    data = bm.EffectData([-0.4, -0.2, -0.3], [0.2, 0.15, 0.25], ["a", "b", "c"], benefit="lower", arms=arms,
                         measure="generic")
    fig = plots.forest(bm.fit(data, tau_prior="halfnormal(0.5)", seed=1), style="revman")
    shown = texts(fig)
    assert shown.count("Events") == 2 and "49" in shown and "207" in shown and "Mean" not in shown  # totals 12+30+7
    assert plots.arm_columns(bm.EffectData([0.1, 0.2], [0.1, 0.1], ["a", "b"])) == []
    plots._plt().close("all")


def test_revman_forest_of_100_studies_with_long_names_stays_clean():
    rng = np.random.default_rng(3)
    k = 100
    sd = rng.uniform(5, 20, k)
    m2 = rng.normal(50, 10, k)
    df = pd.DataFrame(dict(study=[f"A very long study label number {i} " + "with many words " * 6 for i in range(k)],
                           n1=rng.integers(10, 400, k), mean1=(m2 - 0.3 * sd + rng.normal(0, 0.25, k) * sd).round(2),
                           sd1=sd.round(2), n2=rng.integers(10, 400, k), mean2=m2.round(2), sd2=(sd * 1.1).round(2),
                           mode=rng.choice(["internet-delivered cognitive behavioural therapy with guidance " * 2,
                                            "face-to-face", "telephone"], k)))
    data = bm.EffectData.from_summary(df, study="study", benefit="lower", moderators=["mode"])
    for fit in (bm.fit(data, seed=1), bm.fit(data, subgroup="mode", seed=1)):
        fig = plots.forest(fit, style="revman")
        width, height = fig.get_size_inches()
        assert 9 < width < 14 and height < 0.25 * (k + 40)
        renderer = fig.canvas.get_renderer()
        table, plot = fig.axes
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in table.texts if t.get_text()]
        labels = [b for t, b in boxes if t.startswith("A very long")]
        assert len(labels) == k and all(len(t) <= 45 for t, _ in boxes if t.startswith("A very long"))
        first_column = min(b.x0 for t, b in boxes if t in ("Mean", "Events", "SE"))
        assert max(b.x1 for b in labels) < first_column  # labels end before the first number column
        left_of_plot = plot.get_window_extent(renderer).x0
        assert max(b.x1 for _, b in boxes if b.y1 < plot.get_window_extent(renderer).y1) < left_of_plot + 1
        rows = sorted(b.y0 for b in labels)
        assert min(np.diff(rows)) > 0.9 * labels[0].height  # one row each, no overlap
        plots._plt().close(fig)


# --------------------------------------------------------------------------- issue 22: what a review author reads
def figure_texts(fig) -> list:
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]


def test_one_summary_one_convention(clbp, clbp_report):
    """Forest plots, tables and sentences show the posterior median (the summary table's), and the sign convention
    is stated once (the data set's own note on its raw g column, the opposite sign, is not repeated)."""
    data, fit, freq = clbp
    s, sh = fit.summary(), fit.shrinkage()
    # the median of a study effect: its shrinkage column against the posterior CDF at it (exact, 1e-8)
    assert fit.cdf("theta[1]", sh["median"].iloc[0]) == pytest.approx(0.5, abs=1e-8)
    texts = [t.get_text() for t in figure_texts(plots.forest(fit, freq=freq))]
    mu, new = s.loc["mu"], s.loc["theta_new"]
    assert f"{mu['median']:.2f} [{mu['lower']:.2f}, {mu['upper']:.2f}]" in texts
    assert f"{new['median']:.2f} [{new['lower']:.2f}, {new['upper']:.2f}]" in texts
    assert all(f"{r['median']:.2f} [{r['lower']:.2f}, {r['upper']:.2f}]" in texts for _, r in sh.iterrows())
    assert not any(t.startswith(f"{new['mean']:.2f} [{new['lower']:.2f}") for t in texts)  # -0.24 (mean), not -0.23
    assert f"{new['mean']:.2f}" != f"{new['median']:.2f}"  # the case of the issue: they differ when printed
    revman = [t.get_text() for t in figure_texts(plots.forest(fit, freq=freq, style="revman"))]
    assert f"{new['median']:.2f}" in revman and any("posterior median [95% credible interval]" in t for t in revman)
    plots._plt().close("all")
    md = clbp_report.render("markdown")
    assert md.count("Sign convention") == 1 and md.count("intervention minus control") == 1
    assert "Sign convention: SMD = intervention minus control; negative values favour digital self-management." in md
    _, notes = load_table(load_analysis(ROOT / "models" / "clbp_digital_pain.toml"))
    assert not any("minus" in n or "favours" in n for n in notes)


def test_words_not_code(clbp, clbp_report):
    """Tables and figures name priors and events in words; the code form is in the Reproduce appendix, and each of
    its lines computes the number shown (fit.prob of the code against the probability table, exactly)."""
    from bayesmeta.formatting import event_words
    from bayesmeta.priors import bartos, mu_prior, tau_prior

    data, fit, freq = clbp
    assert tau_prior("rhodes()").label() == "Empirical prior of Rhodes et al. 2015 (SMD, general)"
    assert bartos("Back and Neck").label() == "Empirical prior of Bartoš et al. 2021 (SMD, Back and Neck)"
    assert tau_prior("turner()").label() == "Empirical prior of Turner et al. 2015 (log OR, general)"
    assert tau_prior("halfnormal(0.5)").label() == "half-normal prior on tau (scale 0.5)"
    assert str(tau_prior("halfnormal(0.5)")) == "halfnormal(0.5)" and mu_prior("flat").label() == "flat prior on mu"
    assert event_words("theta_new <= -0.2", "SMD", "lower") == "the effect in a new study is at least 0.2 SD in favour"
    assert event_words("mu < 0", "SMD", "lower") == "the pooled effect favours the intervention"
    assert event_words("mu > 0", "SMD", "lower") == "the pooled effect is above 0"  # against benefit: plain words
    assert event_words("mu[a] - mu[b] < 0", "SMD", "lower") == "the effect is more favourable in a than in b"
    report = build_report(fit, freq=freq, thresholds=[0, -0.2], sensitivity=sensitivity_table(
        fit, ["halfnormal(0.5)", "rhodes()"], [0, -0.2]))
    body = report.render("markdown").split("## Reproducibility")[0]
    for code in ("P(mu", "P(theta_new", "halfnormal(", "logt\\_tau2(", "~ flat", "pooled mu"):
        assert code not in body, code
    assert "Empirical prior of Rhodes et al. 2015 (SMD, general)" in body
    assert "Bayesian: half-normal prior on tau (scale 0.5), flat prior on mu" in body
    repro = dict(display_table(report.sections[-1].tables[0][1]).rows)
    probs = dict(display_table(next(s for s in report.sections if s.title == "Posterior").tables[1][1]).rows)
    for words, shown in probs.items():
        event = re.fullmatch(r"fit\.prob\('(.+)'\)", repro[words]).group(1)
        assert format_probability(fit.prob(event)) == shown
    assert repro["Sensitivity: Empirical prior of Rhodes et al. 2015 (SMD, general)"] == \
        "tau_prior='logt_tau2(-3.44, 2.59, 5)'"
    assert repro["The model"] == "bm.fit(data, tau_prior='halfnormal(0.5)', mu_prior='flat', engine='exact', seed=1)"


def test_bayesian_forest_plot_text_at_body_size_and_wide_intervals_clipped():
    """Every text of the Bayesian forest plot at the size of its labels (10 pt; the title 11), and a tiny trial
    with a very wide interval (more than 2.5 times the median width) clipped at the axis with arrows, so the axis
    spans the other studies and the diamonds keep their size."""
    from bayesmeta.plots.common import FONT

    y = [-0.3, -0.2, -0.4, -0.1, -0.25, -0.9]
    se = [0.12, 0.15, 0.1, 0.13, 0.11, 1.5]  # the last: a trial of a few patients
    data = bm.EffectData(y, se, [f"S{i}" for i in range(6)], benefit="lower")
    fit = bm.fit(data, seed=1)
    fig = plots.forest(fit, freq=bm.frequentist(data, method="REML"))
    sizes = {round(t.get_fontsize(), 1) for t in figure_texts(fig)}
    assert sizes <= {FONT, FONT + 1}, sizes
    lo, hi = fig.axes[0].get_xlim()
    assert lo > -0.9 - 1.96 * 1.5 and hi < -0.9 + 1.96 * 1.5  # the wide interval does not set the axis
    assert lo < min(y[:5]) - 1.96 * 0.15 and hi > 0  # every other interval and 0 are on it
    markers = [line.get_marker() for line in fig.axes[0].get_lines()]
    assert markers.count("<") == 1 and markers.count(">") == 1  # both ends of the clipped interval
    plots._plt().close(fig)
