"""A hostile new user on the bias, sensitivity and summary-of-findings wave: degenerate data (k = 1, 2, 3,
identical effects or SEs, huge or tiny SEs), malformed options and labels. Each either gives finite numbers or
one clear DataError / ValueError naming the argument; never a raw exception, NaN result or partial file."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bayesmeta as bm
from bayesmeta.effects import EffectData


def data(y, se, n=None):
    return EffectData(y=np.asarray(y, float), se=np.asarray(se, float), study=[f"s{i + 1}" for i in range(len(y))],
                      n=n)


D5 = data([0.3, 0.1, 0.5, 0.2, 0.4], [0.1, 0.2, 0.15, 0.3, 0.25])
SAME_SE = data([0.3, 0.1, 0.5, 0.2], [0.1] * 4)


# ------------------------------------------------------------------------------------------ bm.average
@pytest.mark.parametrize("bias", [["PET"], "PEESE", ["PET", "PEESE"]])
def test_average_with_pet_or_peese_alone(bias):
    """Without any weight function the prior split used to divide by zero (ZeroDivisionError)."""
    avg = bm.average(D5, bias=bias)
    assert np.isclose(avg.models["prior_prob"].sum(), 1.0)
    assert np.all(np.isfinite(avg.models["post_prob"]))
    assert avg.inclusion.loc["bias", "prior_prob"] == pytest.approx(0.5)


def test_average_improper_slope_prior_refused():
    with pytest.raises(ValueError, match="pet_prior must be proper"):
        bm.average(D5, bias=["PET"], pet_prior="jeffreys")


@pytest.mark.parametrize("workers", [0, -1, "2", 1.5, True])
def test_average_workers_checked(workers):
    with pytest.raises(ValueError, match="workers must be a whole number"):
        bm.average(D5, workers=workers)


@pytest.mark.parametrize("call, match", [(lambda: bm.average(SAME_SE, bias=["PET"]), "same standard error"),
                                         (lambda: bm.fit(SAME_SE, bias="PEESE"), "same standard error"),
                                         (lambda: bm.fit(data([0.3], [0.1]), bias="PET"), r"at least 2 studies.*k = 1"),
                                         (lambda: bm.fit(data([0.3, 0.1, 0.5], [0.1, 0.2, 0.15]), bias="PET")
                                          .cumulative(), r"at least 2 studies.*k = 1")])
def test_pet_peese_with_one_standard_error_refused(call, match):
    """Was a LinAlgError from the exact engine (fit, and fit.cumulative's first step) or a meaningless 'PET'
    model weight (average)."""
    with pytest.raises(bm.DataError, match=match):
        call()


# ------------------------------------------------------------------------------------------ frequentist twins
SAME_Y = data([0.3] * 5, [0.1, 0.2, 0.15, 0.3, 0.25])


@pytest.mark.parametrize("d, what", [(SAME_Y, "same effect"), (data([0.3, 0.1, 0.5, 0.2], [0.1] * 4),
                                                                "same standard error")])
def test_ranktest_undefined_tau_refused(d, what):
    """Kendall's tau against a constant is 0/0: was 'tau = nan, p = nan'."""
    with pytest.raises(bm.DataError, match=what):
        bm.ranktest(d)


@pytest.mark.parametrize("call", [lambda: bm.regtest(SAME_Y, model="lm"), lambda: bm.pet(SAME_Y), bm.pet_peese])
def test_lm_regtest_perfect_fit_refused(call):
    """Identical effects: the WLS residuals are rounding noise and the t-test of the slope was computed from it
    (t = 0.60, p = 0.59 from nothing, and PET-PEESE 'chose' PEESE with p = 1e-48)."""
    with pytest.raises(bm.DataError, match="residual variance is 0"):
        call(SAME_Y) if call is bm.pet_peese else call()


def test_trimfill_unestimable_k0_se_says_so():
    text = repr(bm.trimfill(SAME_Y))
    assert "nan" not in text.lower() and "SE not estimable" in text


def test_selmodel_singular_hessian_warns_and_prints_no_nan():
    """Every study with one SE under the beta selection model: the Hessian is singular. Was printed as
    'SE nan, 95% CI [nan, nan], z = nan' with no warning, the free deltas labelled '(fixed)'."""
    with pytest.warns(bm.EstimationWarning, match="Hessian could not be inverted"):
        res = bm.selmodel(data([0.3, 0.1, 0.5, 0.2, 0.4], [0.1] * 5), type="beta")
    text = repr(res)
    assert "nan" not in text.lower() and "(fixed)" not in text
    assert np.isnan(res.se) and np.isfinite(res.mu)


def test_selmodel_no_numpy_runtime_warnings_leak():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", bm.EstimationWarning)
        bm.selmodel(data([0.3, 0.1, 0.5, 0.2, 0.4], [1e6, 1e5, 1e7, 1e6, 1e5]), type="beta")


@pytest.mark.parametrize("y, se", [(np.linspace(0.1, 0.6, 12), [0.1] * 12),
                                   ([0.3] * 12, np.linspace(0.1, 0.3, 12))])
def test_report_small_study_section_survives_degenerate_data(y, se):
    """fit.report() on 12 studies with one SE for all raised regtest's DataError; now the methods the data
    cannot support get a 'not estimable' row naming why, and the others still run."""
    from bayesmeta.reports.small_study import small_study_section

    table = small_study_section(data(y, se)).tables[0][1]
    assert table["test"].str.contains("not estimable").any()
    assert table["test"].str.contains("Trim and fill|k0 =").any()
    assert "nan" not in " ".join(table["test"]).lower()


# ------------------------------------------------------------------------------------------ GOSH
D30 = data(np.random.default_rng(0).normal(0.3, 0.2, 30), np.random.default_rng(1).uniform(0.1, 0.3, 30))


@pytest.mark.parametrize("gosh", [bm.gosh, lambda d, **kw: bm.fit(d).gosh(**kw)])
def test_gosh_huge_max_subsets_refused_before_allocating(gosh):
    """k = 30 with max_subsets=1e12 asked for all 2^30 subsets: a 240 GiB MemoryError (frequentist) or an 8 GiB
    arange (Bayesian) on a shared machine."""
    with pytest.raises(bm.DataError, match=r"would not fit in memory; give at most max_subsets="):
        gosh(D30, max_subsets=10**12)


@pytest.mark.parametrize("kw, match", [(dict(max_subsets=0), "max_subsets must be"),
                                       (dict(max_subsets=-5), "max_subsets must be"),
                                       (dict(max_subsets="100"), "max_subsets must be"),
                                       (dict(max_subsets=100, seed="x"), "seed must be")])
def test_gosh_bad_arguments_one_line(kw, match):
    with pytest.raises(bm.DataError, match=match):
        bm.gosh(D30, **kw)


# ------------------------------------------------------------------------------------------ options
@pytest.mark.parametrize("call, match", [
    (lambda: bm.regtest(D5, level=95), "level must be a probability"),  # printed '9500% CI nan to nan'
    (lambda: bm.regtest(D5, level="0.9"), "level must be a probability"),  # TypeError
    (lambda: bm.pet(D5, level=2), "level must be a probability"),
    (lambda: bm.regtest(D5, ci="t"), "ci must be 'z' or 'hksj'"),  # silently a z test
    (lambda: bm.regtest(D5, model="lm", ci="hksj"), "applies to model='rma' only"),  # silently ignored
    (lambda: bm.regtest(D5, control={"bogus": 1}), "unknown setting"),  # silently ignored
    (lambda: bm.frequentist(D5, control={"treshold": 1e-9}), "unknown setting"),
    (lambda: bm.regtest(D5, method="XYZ"), "unknown method"),
    (lambda: bm.ranktest(D5, exact="no"), "exact must be True or False"),  # 'no' was truthy: exact
    (lambda: bm.pet_peese(D5, alpha="0.05"), "alpha must be between 0 and 1"),  # TypeError
    (lambda: bm.selmodel(D5, steps=(0.1, 1), level=95), "level must be a probability"),  # CI [nan, nan]
    (lambda: bm.selmodel(D5, steps=(0, 1)), r"steps must be p-values in \(0, 1\]"),  # zero-width interval
])
def test_bad_options_one_line(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_selmodel_prints_its_own_level():
    res = bm.selmodel(D5, steps=(0.1, 1), level=0.9)
    assert "90% CI" in repr(res) and "95% CI" not in repr(res)


# ------------------------------------------------------------------------------------------ robustness
@pytest.fixture(scope="module")
def fit5():
    return bm.fit(D5)


def test_sensitivity_one_prior_string_is_a_list_of_one(fit5):
    """A bare string was read letter by letter: "tau prior 'h': unknown tau prior"."""
    table = fit5.sensitivity(tau_priors="halfnormal(0.5)", mu_priors="normal(0, 1)")
    assert list(table["tau_prior"]) == ["halfnormal(0.5)"] and list(table["mu_prior"]) == ["normal(0, 1)"]


@pytest.mark.parametrize("kw, match", [(dict(tau_priors=[]), "tau_priors is empty"),  # was an empty table
                                       (dict(tau_priors={"a": "halfnormal(1)"}), "tau_priors must be a list"),
                                       (dict(mu_priors=0.5), "mu_priors must be a list"),
                                       (dict(tau_priors=["halfnormal(-1)"]), "scale must be a positive"),
                                       (dict(mu_priors=["normal(0)"]), "needs 2 argument")])
def test_sensitivity_bad_priors_one_line(fit5, kw, match):
    with pytest.raises(ValueError, match=match):
        fit5.sensitivity(**kw)


def test_compare_models_names_the_entry_that_is_not_a_fit(fit5):
    with pytest.raises(ValueError, match="'b' is not a fit"):  # was AttributeError: 'int' object has no 'idata'
        bm.compare_models({"a": fit5, "b": 3})


# ------------------------------------------------------------------------------------------ summary of findings
@pytest.fixture(scope="module")
def fit_higher():
    return bm.fit(EffectData(y=D5.y, se=D5.se, study=D5.study, benefit="higher"))


@pytest.mark.parametrize("kw, match", [
    (dict(reasons=["few events"]), "reasons must map domains to text"),  # AttributeError: 'list' has no 'items'
    (dict(control_risk=0.2, smd_as_risk="yes"), "smd_as_risk must be True or False"),  # 'yes' was truthy
    (dict(optimal_information_size=2.7), "whole number"),  # silently truncated to 2
    (dict(follow_up="12\x00 weeks"), r"control character '\\x00' at position 3"),  # NUL reached every exporter
    (dict(units="points\x1b[31m"), "control character"),
])
def test_outcome_bad_arguments_one_line(fit_higher, kw, match):
    with pytest.raises(bm.DataError, match=match):
        bm.Outcome("Pain", fit_higher, **kw)


def test_outcome_of_a_bias_adjusted_fit_says_why():
    """The message said 'none or several pooled effects (fit each subgroup as an outcome of its own)' for a
    PET fit, which has one: the bias-corrected effect at se = 0."""
    with pytest.raises(bm.DataError, match="effect at se = 0.*publication_bias"):
        bm.Outcome("Pain", bm.fit(D5, bias="PET"))


HOSTILE = ["<script>alert(1)</script>", "a | b | c", "line1\nline2", "=cmd|' /C calc'!A0", "@SUM(A1)", "+1+1",
           "**bold** [l](http://x)", "\r\n=evil"]


@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_labels_through_every_exporter(fit_higher, label, tmp_path):
    import csv

    sof = bm.summary_of_findings([bm.Outcome(label, fit_higher, mid=0.2, follow_up=label,
                                             reasons={"imprecision": label}, certainty={"imprecision": "serious"})],
                                 intervention=label, comparison=label)
    assert "<script>" not in sof.to_html()
    rows = [line for line in sof.to_markdown().splitlines() if line.startswith("|")]
    assert len(rows) == 3 and all(line.count(" | ") + line.count("|---") >= 6 for line in rows)  # header, rule, row
    sof.to_csv(tmp_path / "sof.csv")
    with open(tmp_path / "sof.csv", newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    for c in cells:  # a cell a spreadsheet would run as a formula, unless it is a plain number
        if c[:1] in ("=", "+", "-", "@", "\t", "\r"):
            float(c)
    sof.to_docx(tmp_path / "sof.docx")
    assert (tmp_path / "sof.docx").stat().st_size > 0


# ------------------------------------------------------------------------------------------ review files
REVIEW = '[review]\nintervention = "X"\ncomparison = "Y"\n'
OUTCOME_BODY = 'name = "Pain"\nfile = "data.csv"\ncolumns = { y = "yi", se = "sei", study = "study" }\n'


def _review(tmp_path, text):
    (tmp_path / "data.csv").write_text("study,yi,sei\nA,0.3,0.1\nB,0.1,0.2\nC,0.5,0.15\n", encoding="utf-8")
    path = tmp_path / "review.toml"
    path.write_text(REVIEW + text, encoding="utf-8")
    return path


def test_review_file_with_outcome_table_not_list_says_so(tmp_path):
    """[outcome] instead of [[outcome]] was read as an analysis file: 'unknown section [review] (allowed:
    analysis, data, model, ...)'."""
    from bayesmeta.analysis import AnalysisError, run_analysis

    path = _review(tmp_path, "[outcome]\n" + OUTCOME_BODY)
    with pytest.raises((bm.DataError, AnalysisError), match=r"list the outcomes as \[\[outcome\]\] tables"):
        run_analysis(path, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_review_file_select_with_a_table_value_refused(tmp_path):
    """select = { study = { a = 1 } } said "'select' keeps no rows"."""
    from bayesmeta.findings.review_file import summary_of_findings_from_file

    path = _review(tmp_path, "[[outcome]]\n" + OUTCOME_BODY + "select = { study = { a = 1 } }\n")
    with pytest.raises(bm.DataError, match=r"'select.study' must be a value or a list of values"):
        summary_of_findings_from_file(path)


# ------------------------------------------------------------------------------------------ random inputs
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("selction()PETS-0123456789.,; eE+-inftwod")), max_size=30))
def test_random_bias_strings_parse_or_one_line(spec):
    """Any bias string gives PET, PEESE, a WeightFunction with cut points strictly inside (0, 1), or a
    ValueError that says what a bias string looks like."""
    from bayesmeta.families.bias import WeightFunction, parse_bias

    try:
        out = parse_bias(spec)
    except ValueError as err:
        assert "\n" not in str(err) and ("bias" in str(err) or "cut points" in str(err))
        return
    assert out in ("PET", "PEESE") or (isinstance(out, WeightFunction)
                                       and all(0 < c < 1 for c in out.cuts) and np.isfinite(out.edges([1.0])[:, 1:-1]).all())


effects = st.floats(-3, 3, allow_nan=False)
ses = st.floats(1e-3, 10, allow_nan=False)
datasets_ = st.integers(3, 8).flatmap(lambda k: st.tuples(st.lists(effects, min_size=k, max_size=k),
                                                          st.lists(ses, min_size=k, max_size=k)))


def _finite_numbers(obj, names):
    for name in names:
        value = getattr(obj, name)
        assert np.isfinite(value), f"{name} = {value}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets_)
def test_random_small_data_through_regtest_and_trimfill(ys):
    """Every printed number finite, or one clear DataError (identical effects or SEs), or metafor's own stop
    (EstimationError: Fisher scoring did not converge, e.g. y = 0,0,1,0,0,0,-1 with se = 2,2,1,2,2,3,1, where
    metafor 3.8-1's regtest stops with the same message)."""
    from bayesmeta.frequentist_methods.wls import EstimationError

    d = data(*ys)
    for call, names in ((lambda: bm.regtest(d), ("statistic", "pvalue", "limit_estimate", "limit_lower")),
                        (lambda: bm.regtest(d, model="lm"), ("statistic", "pvalue", "limit_estimate")),
                        (lambda: bm.trimfill(d), ("mu", "se", "lower", "upper", "tau2")),
                        (lambda: bm.ranktest(d), ("tau", "pvalue"))):
        try:
            res = call()
        except (bm.DataError, EstimationError) as err:
            assert "\n" not in str(err)
            continue
        _finite_numbers(res, names)
        assert "nan" not in repr(res).lower()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 5).flatmap(lambda k: st.tuples(st.lists(st.floats(-2, 2), min_size=k, max_size=k),
                                                     st.lists(st.floats(0.05, 2), min_size=k, max_size=k))),
       st.sampled_from([None, ["PET"], ["PEESE"], ["PET", "PEESE"]]))
def test_random_small_data_through_average(ys, bias):
    """Posterior model probabilities sum to 1 and the averaged summary is finite (or one clear error)."""
    try:
        avg = bm.average(data(*ys), bias=bias)
    except bm.DataError as err:
        assert "same standard error" in str(err)
        return
    assert np.isclose(avg.models["post_prob"].sum(), 1.0) and np.isfinite(avg.models["log_marginal"]).all()
    assert np.isfinite(avg.summary().to_numpy()).all()
    assert np.isfinite(avg.inclusion[["prior_prob", "post_prob"]].to_numpy()).all()


def test_tiny_selection_cut_point_keeps_a_finite_threshold():
    """'selection(1e-20)': the threshold was ndtri(1 - 1e-20) = ndtri(1) = inf, an interval no study can reach."""
    from bayesmeta.families.bias import parse_bias

    edges = parse_bias("selection(1e-20)").edges([1.0])
    assert edges[0, 1] == pytest.approx(9.262340089798408, rel=1e-12)  # scipy.stats.norm.isf(1e-20)


@pytest.mark.parametrize("kw, match", [
    (dict(mu_prior="normal(0, 1e-300)"), "mu_prior normal.*a point mass"),  # ZeroDivisionError
    (dict(bias=["PET"], pet_prior="halfnormal(1e-12)"), "pet_prior.*model without bias"),  # log marginal -4087
    (dict(bias=["PEESE"], peese_prior="halfnormal(1e-9)"), "peese_prior.*model without bias"),
])
def test_average_point_mass_priors_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        bm.average(D5, **kw)


def test_average_tiny_but_accepted_slope_prior_is_the_no_bias_model():
    """At the smallest accepted scale the PET models' evidence equals the no-bias models' (bias BF 1, to 1e-3:
    the quadrature's relative accuracy at this scale, measured 7e-5)."""
    avg = bm.average(D5, bias=["PET"], pet_prior="halfnormal(1e-5)")
    assert avg.inclusion.loc["bias", "BF"] == pytest.approx(1.0, abs=1e-3)


def test_analysis_model_average_skipped_when_every_se_is_the_same():
    """`bayesmeta run` on 12 studies with one SE stopped with regtest's error on main, then with PEESE's: the
    RoBMA ensemble needs PET and PEESE. Now the averaging is left out (the small-study section says why)."""
    from bayesmeta.analysis import _model_average

    fit = bm.fit(EffectData(y=np.linspace(0.05, 0.6, 12), se=[0.1] * 12, study=[f"S{i}" for i in range(12)],
                            benefit="higher"))
    assert _model_average(fit, {}) is None


def test_average_quantile_at_a_point_mass_is_exactly_there():
    """k = 2: the 2.5% quantiles of mu and tau sit on the point masses at 0 of the models without them; they
    printed as 2.6e-24 and 2.8e-19 (the bisection's last step)."""
    s = bm.average(data([0.3, 0.1], [0.1, 0.2])).summary()
    assert s.loc["mu", "lower"] == 0.0 and s.loc["tau", "lower"] == 0.0
    assert s.loc["mu", "upper"] > 0.1
