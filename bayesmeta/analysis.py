"""Analysis files: a complete, reproducible Bayesian meta-analysis of one evidence base in TOML.

    [analysis]  title, intervention, description
    [data]      dataset (bundled name) or file (CSV, relative to the TOML file; sep, decimal, encoding when
                the detection needs help); measure; benefit ("lower" or "higher"); outcome; moderators;
                columns = {role = column}; select = {column = value} (keep matching rows);
                per_study = "first" (keep the first remaining row of each study label)
    [model]     effects ("random" or "common"), engine ("exact" or "mcmc"), seed, draws, chains, tune,
                target_accept
    [priors]    tau, mu (prior strings), sensitivity (list of other tau priors to refit with)
    [report]    thresholds (effects in the benefit direction, e.g. [0, -0.2]), ci, frequentist (methods or
                presets, e.g. ["revman5", "cochrane"]), figures ("forest" draws the forest plot in RevMan's layout,
                where the model has one, and the Bayesian forest plot; "forest_revman" RevMan's alone), forest_order

Every key is checked before anything runs (one message naming the file and the key). `run_analysis`
writes report.html, report.md, summary.csv, shrinkage.csv, probabilities.csv, comparison.csv,
sensitivity.csv, figures/*.png|svg and posterior.nc into a staging folder beside the output folder and moves
them into place only when everything succeeded: a failed or stopped run leaves no partial output, and a folder
that is not empty is written into only with overwrite=True (`--overwrite`), replacing only the files an earlier
run wrote (see bayesmeta.output_folder).
"""

from __future__ import annotations

import math
import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import pandas as pd

from .effects import benefit_operator, benefit_sign
from .errors import DataError
from .findings.output import run_review_file
from .findings.review_file import is_review_file
from .formatting import benefit_thresholds, default_thresholds
from .output_folder import OutputFolder, display_path

FIGURES = ("forest_revman", "forest", "density", "prior_posterior", "benefit", "funnel", "trace", "rank", "leave_one_out",
           "baujat", "sensitivity_grid", "loo_pit", "gosh", "average")
SCHEMA = {
    "analysis": {"title": str, "intervention": str, "description": str},
    "data": {"dataset": str, "file": str, "measure": str, "benefit": str, "outcome": str, "moderators": list,
             "cluster": str,
             "columns": dict, "select": dict, "per_study": str, "sep": str, "decimal": str, "encoding": str},
    "model": {"effects": str, "engine": str, "seed": int, "draws": int, "chains": int, "tune": int,
              "target_accept": float, "moderators": str, "subgroup": str, "subgroup_tau": str, "drop_missing": bool,
              "study_effects": str, "bias": str},
    "priors": {"tau": str, "mu": str, "beta": str, "tau_within": str, "nu": str, "sensitivity": list},
    "report": {"thresholds": list, "ci": float, "frequentist": list, "figures": list, "forest_order": str,
               "robust": bool, "average": bool},
    "pooled": {"estimate": str, "lower": str, "upper": str, "label": list, "benefit_from": str,
               "important": float, "level": float},
}
REQUIRED = {("analysis", "title")}
FAMILY_KEYS = ("moderators", "subgroup", "subgroup_tau", "drop_missing", "bias")  # [model] keys passed on to bm.fit
CHOICES = {("data", "benefit"): ("lower", "higher"), ("model", "effects"): ("random", "common", "three-level"),
           ("model", "subgroup_tau"): ("common", "separate"), ("model", "study_effects"): ("normal", "t"),
           ("model", "engine"): ("exact", "mcmc"), ("data", "per_study"): ("first",),
           ("data", "measure"): ("SMD", "SMD_RevMan", "d", "MD", "generic"), ("data", "decimal"): (".", ","),
           ("report", "forest_order"): ("input", "effect", "weight")}
# (section, key): (lowest, highest, inclusive?) for numbers; the messages say what the number means.
RANGES = {("model", "seed"): (0, 2**32 - 1, True, "a whole number from 0 to 4294967295"),
          ("model", "draws"): (10, 10**7, True, "the number of draws per chain, at least 10"),
          ("model", "chains"): (1, 64, True, "the number of chains, 1 to 64"),
          ("model", "tune"): (0, 10**7, True, "the number of tuning steps, 0 or more"),
          ("model", "target_accept"): (0, 1, False, "a probability between 0 and 1, such as 0.9"),
          ("report", "ci"): (0, 1, False, "a probability between 0 and 1, such as 0.95"),
          ("pooled", "level"): (0, 1, False, "a probability between 0 and 1, such as 0.95"),
          ("pooled", "important"): (0, math.inf, False, "a positive effect size, such as 0.2")}
COLUMN_ROLES = ("study", "y", "se", "vi", "n", "n1", "mean1", "sd1", "n2", "mean2", "sd2")


class AnalysisError(ValueError):
    """A bad analysis file; the message names the file and the key."""


@dataclass
class Analysis:
    path: Path
    spec: dict

    def get(self, section, key, default=None):
        return self.spec.get(section, {}).get(key, default)


def load_analysis(path) -> Analysis:
    """Read and validate an analysis file (unknown sections or keys, wrong types, bad choices, numbers out of
    range, bad priors, thresholds or methods, missing data files are errors naming the file and the key)."""
    path = Path(path)
    if not path.exists():
        raise AnalysisError(f"{path}: no such analysis file")
    if path.is_dir():
        raise AnalysisError(f"{path}: is a folder, not an analysis file (give a file such as models/NAME.toml)")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a byte-order mark, as some editors write, is fine
    except UnicodeDecodeError as err:
        raise AnalysisError(f"{path}: not UTF-8 text (byte {err.start}); TOML files are UTF-8") from None
    except OSError as err:
        raise AnalysisError(f"{path}: cannot be read ({err.strerror or err})") from None
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise AnalysisError(f"{path}: not valid TOML ({err})") from None
    _check_schema(path, spec)
    data = spec.get("data", {})
    if "pooled" not in spec and "benefit" not in data:
        raise AnalysisError(f"{path}: 'data.benefit' is required (\"lower\" or \"higher\": which direction is benefit)")
    if ("dataset" in data) == ("file" in data):
        raise AnalysisError(f"{path}: give exactly one of 'data.dataset' (a bundled data set) or 'data.file' (a CSV)")
    if "dataset" in data and data["dataset"] not in _bundled():
        raise AnalysisError(f"{path}: 'data.dataset' {data['dataset']!r} is not a bundled data set "
                            f"({', '.join(_bundled())})")
    if "file" in data:
        target = path.parent / data["file"]
        if not target.exists():
            raise AnalysisError(f"{path}: 'data.file' {data['file']!r} not found (looked for {target.resolve()})")
        if target.is_dir():
            raise AnalysisError(f"{path}: 'data.file' {data['file']!r} is a folder, not a data file")
    for role, column in data.get("columns", {}).items():
        if role not in COLUMN_ROLES:
            raise AnalysisError(f"{path}: unknown column role 'data.columns.{role}' "
                                f"(allowed: {', '.join(COLUMN_ROLES)})")
        if not isinstance(column, str) or not column:
            raise AnalysisError(f"{path}: 'data.columns.{role}' must be a column name, got {column!r}")
    for column, value in data.get("select", {}).items():
        if isinstance(value, (list, dict)):
            raise AnalysisError(f"{path}: 'data.select.{column}' must be one value (text or a number), got {value!r}")
    for i, m in enumerate(data.get("moderators", [])):
        if not isinstance(m, str):
            raise AnalysisError(f"{path}: 'data.moderators[{i}]' must be a column name, got {m!r}")
    if "sep" in data and (len(data["sep"]) != 1 or data["sep"] in "\"'\r\n"):
        raise AnalysisError(f"{path}: 'data.sep' must be one character such as ',' ';' or '\\t', got {data['sep']!r}")
    report = spec.get("report", {})
    for fig in report.get("figures", []):
        if fig not in FIGURES:
            raise AnalysisError(f"{path}: unknown figure {fig!r} in 'report.figures' (allowed: {', '.join(FIGURES)})")
    _check_methods(path, report.get("frequentist", []), spec.get("model", {}).get("effects") == "three-level")
    if "thresholds" in report:
        try:
            benefit_thresholds(report["thresholds"], data.get("benefit"), "report.thresholds")
        except ValueError as err:
            raise AnalysisError(f"{path}: {err}") from None
    _check_priors(path, spec.get("priors", {}))
    return Analysis(path, spec)


def _check_schema(path, spec):
    for section, body in spec.items():
        if section not in SCHEMA:
            raise AnalysisError(f"{path}: unknown section [{section}] (allowed: {', '.join(SCHEMA)})")
        if not isinstance(body, dict):
            raise AnalysisError(f"{path}: [{section}] must be a table")
        for key, value in body.items():
            if key not in SCHEMA[section]:
                raise AnalysisError(f"{path}: unknown key '{section}.{key}' (allowed: {', '.join(SCHEMA[section])})")
            want = SCHEMA[section][key]
            ok = isinstance(value, want) or (want is float and isinstance(value, int))
            if not ok or (isinstance(value, bool) and want is not bool):
                kind = {int: "whole number", float: "number", str: "text", list: "list", dict: "table",
                        bool: "true or false"}[want]
                raise AnalysisError(f"{path}: '{section}.{key}' must be a {kind}, got {value!r}")
            choices = CHOICES.get((section, key))
            if choices and value not in choices:
                raise AnalysisError(f"{path}: '{section}.{key}' must be one of {', '.join(choices)}, got {value!r}")
            limits = RANGES.get((section, key))
            if limits:
                lo, hi, inclusive, meaning = limits
                inside = lo <= value <= hi if inclusive else lo < value < hi
                if not inside or (isinstance(value, float) and math.isnan(value)):
                    hint = f" (did you mean {value / 100:g}?)" if hi == 1 and 1 < value <= 100 else ""
                    raise AnalysisError(f"{path}: '{section}.{key}' must be {meaning}, got {value!r}{hint}")
            if want is str and not value.strip() and key != "sep":
                raise AnalysisError(f"{path}: '{section}.{key}' is empty")
    for section, key in REQUIRED:
        if key not in spec.get(section, {}):
            raise AnalysisError(f"{path}: '{section}.{key}' is required")


def _check_methods(path, methods, three_level=False):
    from .frequentist_methods import METHODS, PRESETS
    from .frequentist_methods.multilevel import METHODS as MULTILEVEL

    allowed = MULTILEVEL if three_level else (*METHODS, *PRESETS)
    for i, meth in enumerate(methods):
        if meth not in allowed:
            what = " for the three-level model (rma.mv)" if three_level else ""
            raise AnalysisError(f"{path}: 'report.frequentist[{i}]' must be one of {', '.join(allowed)}{what}, "
                                f"got {meth!r}")


def _bundled():
    from .datasets import REGISTRY

    return REGISTRY


def _check_priors(path, priors_spec):
    from .priors import mu_prior, tau_prior

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # flags on empirical priors are reported when the analysis runs
            for s in [priors_spec.get("tau")] + list(priors_spec.get("sensitivity", [])):
                if s is not None:
                    tau_prior(s)
            for key in ("tau_within", "nu"):  # positive priors as tau's: on tau within clusters, on nu - 1
                if priors_spec.get(key) is not None:
                    tau_prior(priors_spec[key], f"'priors.{key}'")
            mu_prior(priors_spec.get("mu"))
            if priors_spec.get("beta") is not None:
                mu_prior(priors_spec["beta"], "'priors.beta' (the prior on the moderators' coefficients)")
    except (ValueError, TypeError) as err:
        raise AnalysisError(f"{path}: [priors] {err}") from None


def load_table(analysis: Analysis) -> tuple[pd.DataFrame, list[str]]:
    """The data table of an analysis file after its row selection, and notes saying what was selected."""
    from . import datasets
    from .tables import read_table

    d = analysis.spec["data"]
    notes = []
    study = d.get("columns", {}).get("study")
    if "dataset" in d:  # the name and the file were checked by load_analysis
        table = datasets.load(d["dataset"])
        notes.append(f"Data: bundled data set '{d['dataset']}' ({table.attrs['source']}).")
    else:
        try:
            table = read_table(analysis.path.parent / d["file"], sep=d.get("sep"), decimal=d.get("decimal"),
                               encoding=d.get("encoding"), labels=[study] if study else ())
        except DataError as err:
            raise AnalysisError(f"{analysis.path}: 'data.file': {err}") from None
        notes.append(f"Data: {d['file']}.")
    n_rows = len(table)
    for column, value in d.get("select", {}).items():
        if column not in table.columns:
            raise AnalysisError(f"{analysis.path}: 'data.select.{column}': no such column in the data")
        table = table[table[column] == value]
    if d.get("per_study") == "first":
        study = study or "study"
        if study not in table.columns:
            raise AnalysisError(f"{analysis.path}: 'data.per_study' needs the study column {study!r} "
                                "(set 'data.columns.study')")
        table = table.drop_duplicates(subset=study, keep="first")
    table = table.reset_index(drop=True)
    if len(table) == 0:
        raise AnalysisError(f"{analysis.path}: 'data.select' keeps none of the {n_rows} rows")
    if len(table) < n_rows:
        rule = ", ".join(f"{k} = {v!r}" for k, v in d.get("select", {}).items())
        per = " and the first remaining row of each study" if d.get("per_study") == "first" else ""
        notes.append(f"Selection: {len(table)} of {n_rows} rows kept ({rule or 'all'}{per}).")
    return table, notes


def load_effect_data(analysis: Analysis):
    """The EffectData an analysis file describes, and notes on any rows it selected."""
    from . import datasets
    from .effects import EffectData

    d = analysis.spec["data"]
    opts = dict(measure=d.get("measure"), benefit=d["benefit"], outcome=d.get("outcome"),
                moderators=d.get("moderators"), cluster=d.get("cluster"))
    table, notes = load_table(analysis)
    source = f"data set {d['dataset']!r}" if "dataset" in d else f"'data.file' {d['file']!r}"
    try:
        if "dataset" in d and not d.get("columns") and not d.get("select") and not d.get("per_study"):
            data = datasets.effect_data(d["dataset"], **{k: v for k, v in opts.items() if v is not None})
        else:
            columns = d.get("columns") or datasets.REGISTRY.get(d.get("dataset"), {}).get("columns", {})
            data = EffectData.from_table(table, **columns, **{k: v for k, v in opts.items() if v is not None})
    except DataError as err:
        raise DataError(f"{analysis.path}: {source}: {err}") from None
    return data, notes


# --------------------------------------------------------------------------- running
def run_analysis(path, out_dir=None, progressbar: bool = False, overwrite: bool = False) -> dict:
    """Fit an analysis file, or every outcome of a review file (an [[outcome]] list, see
    bayesmeta.findings.review_file), and write its outputs into `out_dir` (default output/NAME); returns what
    was fitted and {name: path} of what was written. A folder that is not empty is refused unless `overwrite`;
    then only the outputs an earlier run wrote are replaced (bayesmeta.output_folder). Nothing is left behind
    when it fails."""
    review = is_review_file(path)
    analysis = None if review else load_analysis(path)
    out = Path(out_dir or Path("output") / Path(path).stem)
    inputs = [Path(path)] + ([analysis.path.parent / analysis.spec["data"]["file"]]
                             if analysis is not None and "file" in analysis.spec.get("data", {}) else [])
    for item in inputs:
        if out.resolve() == item.resolve() or out.resolve() in item.resolve().parents:
            raise AnalysisError(f"--out {display_path(out)}: holds the input {display_path(item)}; give the outputs "
                                "a folder of their own")
    with OutputFolder(out, overwrite) as stage:
        (stage / "figures").mkdir()
        if review:
            result = run_review_file(path, stage)
        elif "pooled" in analysis.spec:
            result = run_pooled_analysis(analysis, stage)
        else:
            result = _run_model(analysis, stage, progressbar)
    result["files"] = {name: out / Path(p).relative_to(stage) for name, p in result["files"].items()}
    result["out"] = out
    return result


def _small_study_tests_apply(fit) -> bool:
    """Whether the report's small-study section shows its tests: one pooled effect over independent studies, at
    least reports.small_study.MIN_STUDIES of them (the Cochrane Handbook's rule of thumb)."""
    from .reports.small_study import MIN_STUDIES

    return len(fit.family.pooled()) == 1 and fit.data.cluster is None and fit.data.k >= MIN_STUDIES


def _trim_and_fill(fit):
    """The trim-and-fill result drawn hollow in the funnel plot, where the small-study tests are shown."""
    from .frequentist_methods import trimfill

    return trimfill(fit.data) if _small_study_tests_apply(fit) else None


def _model_average(fit, rep):
    """RoBMA-PSMA's 36-model ensemble (bm.average with RoBMA's priors), where the small-study tests are shown and
    `[report] average` is not false: the model-averaged answer on effect, heterogeneity and publication bias."""
    from .averaging import average

    if not (rep.get("average", True) and _small_study_tests_apply(fit)):
        return None
    try:
        return average(fit.data, bias="RoBMA")
    except DataError:  # e.g. one SE for every study: no PET / PEESE (the small-study section says why)
        return None


GOSH_MAX_K = 15  # the Bayesian GOSH plot of every subset (2^15 exact fits) in a report: up to 15 studies


CAPTIONS = {
    "forest_revman": "Forest plot in RevMan's layout (the frequentist analysis as RevMan prints it), with the Bayesian "
                     "posterior and predictive interval below",
    "forest": "Bayesian forest plot: observed and shrunken study effects, the pooled effect and the predictive interval",
    "forest_regression": "Bayesian forest plot: observed and shrunken study effects, given each study's moderator values",
    "density": "Posterior densities with the probability of benefit shaded",
    "prior_posterior": "Prior against posterior", "benefit": "Probability of benefit of at least c",
    "funnel": "Funnel plot", "trace": "MCMC trace", "rank": "MCMC rank plot",
    "bubble": "Bubble plot: effects against the moderator, with the posterior mean and predictive bands",
    "leave_one_out": "Leave-one-out: the pooled effect without each study (exact refits)",
    "average": "Model averaging (RoBMA-PSMA): prior and posterior inclusion probabilities, and the model-averaged and "
               "conditional posteriors of the effect",
    "baujat": "Baujat plot: each study's contribution to the heterogeneity (Q) against its influence on the pooled "
              "estimate (frequentist, REML)",
    "sensitivity_grid": "Prior sensitivity: the pooled effect under a grid of priors",
    "loo_pit": "LOO-PIT: each study's effect against the predictive distribution of the others",
    "gosh": "Bayesian GOSH plot: posterior medians of mu and tau on every subset of the studies",
}


def _wanted_figures(fit, rep, robust, averaged) -> list[str]:
    """The figures of a report: `[report] figures` or the defaults for the family, then those of the robustness
    and model-averaging sections where they are shown; "forest" brings RevMan's layout first."""
    sampled = "sampler" in fit.settings  # trace and rank plots need a sampler's chains
    pooled = bool(fit.family.pooled())  # benefit curves need a pooled effect (a meta-regression has none)
    wanted = list(rep.get("figures", ["forest", "density", "prior_posterior"] + (["benefit"] if pooled else [])
                          + ["funnel"] + (["bubble"] if fit.family.continuous_moderators() else [])
                          + (["trace", "rank"] if sampled else [])))
    extra = (["leave_one_out", "baujat", "sensitivity_grid", "loo_pit"] + (["gosh"] if fit.data.k <= GOSH_MAX_K else [])
             if robust else []) + (["average"] if averaged is not None else [])
    wanted += [f for f in extra if f not in wanted]
    if "forest" in wanted and "forest_revman" not in wanted and fit.family.revman_forest:
        wanted.insert(wanted.index("forest"), "forest_revman")
    return [f for f in wanted if sampled or f not in ("trace", "rank")]


def _draw_figures(fit, freq, rep, thresholds, ci, averaged, robust, out, notes) -> tuple[dict, dict]:
    """Draw and write each wanted figure: ({name: (caption, png path)}, {"figure_NAME": png path}); a figure that
    cannot be drawn (e.g. no proper prior) is a note in the report."""
    from . import plots

    order = rep.get("forest_order", "input")
    makers = {"forest_revman": lambda: plots.forest(fit, freq=freq, order=order, ci=ci, style="revman"),
              "forest": lambda: plots.forest(fit, freq=freq, order=order, ci=ci),
              "density": lambda: plots.density(fit, thresholds=thresholds, ci=ci),
              "prior_posterior": lambda: plots.prior_posterior(fit), "benefit": lambda: plots.benefit_curves(fit),
              "funnel": lambda: plots.funnel(fit.data, contours=True, filled=_trim_and_fill(fit)),
              "trace": lambda: plots.trace(fit), "rank": lambda: plots.rank(fit),
              "bubble": lambda: plots.bubble(fit, fit.family.continuous_moderators()[0]),
              "leave_one_out": lambda: plots.leave_one_out_plot(fit),
              "sensitivity_grid": lambda: plots.sensitivity_plot(fit), "loo_pit": lambda: plots.loo_pit_plot(fit),
              "baujat": lambda: plots.baujat(fit.data), "average": lambda: plots.model_average(averaged),
              "gosh": lambda: plots.gosh_plot(fit)}
    figures, written = {}, {}
    for name in _wanted_figures(fit, rep, robust, averaged):
        try:
            fig = makers[name]()
        except ValueError as err:  # e.g. no proper prior to draw
            notes.append(f"Figure '{name}' not drawn: {err}.")
            continue
        png = _write_figure(fig, out, name)
        caption = CAPTIONS["forest_regression" if name == "forest" and not fit.family.pooled() else name]
        figures[name] = (caption, str(png))
        written[f"figure_{name}"] = png
    return figures, written


def _run_model(analysis: Analysis, out: Path, progressbar: bool) -> dict:
    from .comparison import compare
    from .fitting import fit as fit_model
    from .frequentist_methods import frequentist
    from .reports import build_report, event_label, fit_events

    a, m, pr, rep = (analysis.spec.get(s, {}) for s in ("analysis", "model", "priors", "report"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data, notes = load_effect_data(analysis)
        settings = dict(tau_prior=pr.get("tau"), mu_prior=pr.get("mu"), beta_prior=pr.get("beta"),
                        tau_within_prior=pr.get("tau_within"), effects=m.get("study_effects", "normal"),
                        nu_prior=pr.get("nu"),
                        engine=m.get("engine", "exact"), seed=m.get("seed", 1), model=m.get("effects", "random"),
                        **{k: m[k] for k in FAMILY_KEYS if k in m})
        sampler = {k: m[k] for k in ("draws", "chains", "tune", "target_accept") if k in m}
        ci = rep.get("ci", 0.95)
        thresholds = benefit_thresholds(rep.get("thresholds", default_thresholds(data)), data.benefit)
        try:
            fit = fit_model(data, progressbar=progressbar, **settings, **sampler)
            notes += [f"Left out: row {r} ({s!r}), {c!r} is missing." for r, s, c in fit.dropped]
        except ValueError as err:  # DataError included: name the file, and the key where a prior is asked for
            hint = " (in an analysis file: 'priors.tau')" if "tau_prior" in str(err) else ""
            raise type(err)(f"{analysis.path}: {err}{hint}") from None
        sensitivity = None
        if pr.get("sensitivity"):
            sensitivity = sensitivity_table(fit, [pr.get("tau") or str(fit.spec.tau_prior)] + pr["sensitivity"],
                                            thresholds, ci)
    notes += [f"Warning: {w.message}" for w in caught]
    freq_keys = {k: m[k] for k in ("moderators", "subgroup") if k in m}
    if m.get("effects") == "three-level":  # rma.mv by REML, and with cluster-robust inference
        freq = [frequentist(fit.data, method=meth, model="three-level", robust=robust)
                for meth in rep.get("frequentist", ["REML"]) for robust in (False, True)]
    else:
        freq = [frequentist(fit.data, method=meth, **freq_keys)
                for meth in rep.get("frequentist", ["revman5", "cochrane"])]
    averaged = _model_average(fit, rep)
    robust = rep.get("robust", bool(fit.family.pooled()) and fit.family.batchable())  # exact refits
    figures, written = _draw_figures(fit, freq, rep, thresholds, ci, averaged, robust, out, notes)
    if sensitivity is not None:
        sensitivity.to_csv(out / "sensitivity.csv")
        written["sensitivity"] = out / "sensitivity.csv"
    report = build_report(fit, freq=freq, thresholds=thresholds, intervention=a.get("intervention", "the intervention"),
                          title=a["title"], figures=figures, ci=ci, notes=notes, sensitivity=sensitivity,
                          robust=bool(robust), average=averaged)
    _write_report(report, out, figures)
    fit.summary(ci=ci).to_csv(out / "summary.csv")
    fit.shrinkage(ci=ci).to_csv(out / "shrinkage.csv")
    compare(fit, freq, ci=ci).to_csv(out / "comparison.csv")
    events = fit_events(fit, thresholds)
    pd.DataFrame({"probability": [fit.prob(e) for e in events], "description": [event_label(fit, e) for e in events]},
                 index=pd.Index(events, name="event")).to_csv(out / "probabilities.csv")
    fit.save(out / "posterior.nc")
    written.update(report_html=out / "report.html", report_md=out / "report.md", summary=out / "summary.csv",
                   shrinkage=out / "shrinkage.csv", comparison=out / "comparison.csv",
                   probabilities=out / "probabilities.csv", posterior=out / "posterior.nc")
    for w in caught:  # once more, for the caller (the command line prints them)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return {"fit": fit, "freq": freq, "files": written, "ci": ci, "thresholds": thresholds}


def sensitivity_table(fit, tau_priors, thresholds, ci=0.95) -> pd.DataFrame:
    """The fit repeated with each tau prior (exact engine): medians and intervals of the pooled effects (or
    coefficients) and of tau, predictive intervals, and the probabilities of the report's events."""
    from .fitting import fit as fit_model
    from .reports import fit_events

    rows = {}
    for spec in dict.fromkeys(tau_priors):
        f = fit_model(fit.data, tau_prior=spec, mu_prior=fit.spec.mu_prior, beta_prior=fit.spec.beta_prior,
                      seed=fit.seed, **fit.family.arguments())
        s = f.summary(ci=ci)
        names = f.family.coefficient_rows() + [r for r in f.family.summary_rows() if r.startswith("tau")][:3]
        row = {"tau prior label": f.spec.tau_prior.label()}
        for q in names:
            row.update({q: s.loc[q, "median"], f"{q} lower": s.loc[q, "lower"], f"{q} upper": s.loc[q, "upper"]})
        for _, _, new_q in f.family.pooled():
            row.update({f"{new_q} lower": s.loc[new_q, "lower"], f"{new_q} upper": s.loc[new_q, "upper"]})
        for expr in fit_events(f, thresholds):
            row[f"P({expr})"] = f.prob(expr)
        rows[str(f.spec.tau_prior)] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("tau prior")


# --------------------------------------------------------------------------- published pooled estimates
def run_pooled_analysis(analysis: Analysis, out: Path) -> dict:
    """Bayesian reading of published pooled estimates (one per row): posterior probability of benefit and
    of an important benefit under sceptical, neutral and enthusiastic priors (`bm.reference_priors`)."""
    from . import plots
    from .comparison import from_estimate, reference_priors
    from .formatting import pct
    from .reports import Report, Section, versions

    p = analysis.spec["pooled"]
    table, notes = load_table(analysis)
    important = p.get("important", 0.2)
    level = p.get("level", 0.95)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    needed = [(k, p.get(k, k)) for k in ("estimate", "lower", "upper")]
    needed += [("benefit_from", p["benefit_from"])] if "benefit_from" in p else []
    needed += [(f"label[{i}]", column) for i, column in enumerate(p.get("label", []))]
    for key, column in needed:
        if column not in table.columns:
            raise AnalysisError(f"{analysis.path}: 'pooled.{key}': no column {column!r} in the data")
    rows, lines = [], []
    for i, r in table.iterrows():
        label = " / ".join(str(r[c]) for c in p.get("label", [])) or f"row {i + 1}"
        where = f"{analysis.path}: row {i + 1} ({label!r})"
        try:
            est, lo, hi = (float(r[p.get(k, k)]) for k in ("estimate", "lower", "upper"))
        except (TypeError, ValueError):
            raise AnalysisError(f"{where}: the estimate and its interval must be numbers") from None
        if not all(map(math.isfinite, (est, lo, hi))):
            raise AnalysisError(f"{where}: the estimate or its interval is missing")
        text = str(r[p["benefit_from"]]).lower() if "benefit_from" in p else ""
        benefit = "lower" if text.startswith("negative") else "higher" if text.startswith("positive") else None
        if benefit is None:
            raise AnalysisError(f"{where}, column {p.get('benefit_from')!r}: cannot tell the benefit direction "
                                "(want text starting 'negative' or 'positive')")
        sign, op = benefit_sign(benefit), benefit_operator(benefit)
        for name, prior in reference_priors(important, benefit).items():
            try:
                post = from_estimate(est, lo, hi, level=level, prior=prior)
            except ValueError as err:
                raise AnalysisError(f"{where}: {err}") from None
            c_lo, c_hi = post.interval(level)
            rows.append({"review": label, "prior": name, "published": f"{est:g} [{lo:g}, {hi:g}]",
                         "post_mean": post.post_mean, "lower": c_lo, "upper": c_hi,
                         "P(benefit)": post.prob(f"mu {op} 0"),
                         f"P(benefit >= {important:g})": post.prob(f"mu {op}= {sign * important:g}")})
        neutral = next(x for x in rows[::-1] if x["prior"] == "neutral")
        lines.append(f"{label}: published {est:g} ({level:.0%} CI {lo:g} to {hi:g}). With a flat prior, "
                     f"P(benefit) = {pct(neutral['P(benefit)'])} and P(benefit at least {important:g} SMD) = "
                     f"{pct(neutral[f'P(benefit >= {important:g})'])}.")
    result = pd.DataFrame(rows)
    result.to_csv(out / "probabilities.csv", index=False)
    png = _write_figure(plots.pooled_probabilities(result, important), out, "pooled_probabilities")
    caption = "Posterior probability of benefit under three priors"
    a = analysis.spec.get("analysis", {})
    s_priors = reference_priors(important)
    sections = [Section("Data", notes + [f"{len(table)} published pooled estimates; the standard error is recovered "
                                         f"from each {level:.0%} CI as (upper - lower) / (2 x {z:.3f})."]),
                Section("Priors on the pooled effect", [
                    f"Sceptical: {s_priors['sceptical'].describe()} (5% prior probability of a benefit beyond "
                    f"{important:g} SMD). Neutral: flat. Enthusiastic: normal centred on a benefit of {important:g} "
                    f"SMD with the same SD (5% prior probability of harm). Spiegelhalter, Abrams & Myles (2004)."]),
                Section("Probability statements", lines),
                Section("Posterior under each prior", tables=[("Posterior of the pooled effect", result.set_index(
                    ["review", "prior"]))]),
                Section("Figures", figures=[(caption, str(png))]),
                Section("Reproducibility", [", ".join(f"{k} {v}" for k, v in versions("exact").items()) + "."])]
    _write_report(Report(a["title"], sections), out, {caption: str(png)})
    return {"fit": None, "freq": [], "table": result, "ci": level,
            "files": {"report_html": out / "report.html", "report_md": out / "report.md",
                      "probabilities": out / "probabilities.csv", "figure_pooled": png}}


def _write_figure(fig, out: Path, name: str) -> Path:
    """figures/NAME.svg and figures/NAME.png in the output folder; returns the PNG's path."""
    from . import plots

    fig.savefig(out / "figures" / f"{name}.svg", bbox_inches="tight")
    return plots.save(fig, out / "figures" / f"{name}.png")


def _write_report(report, out: Path, figures: dict) -> None:
    """report.html (figures inlined as SVG) and report.md (figures linked relative to the output folder);
    `figures` maps names to (caption, PNG path), or captions to PNG paths."""
    (out / "report.html").write_text(report.render("html"), encoding="utf-8")
    pairs = [value if isinstance(value, tuple) else (key, value) for key, value in figures.items()]
    links = {caption: str(Path(png).relative_to(out)) for caption, png in pairs}
    (out / "report.md").write_text(report.to_markdown(links), encoding="utf-8")
