"""Analysis files: a complete, reproducible Bayesian meta-analysis of one evidence base in TOML.

    [analysis]  title, intervention, description
    [data]      dataset (bundled name) or file (CSV, relative to the TOML file); measure; benefit
                ("lower" or "higher"); outcome; moderators; columns = {role = column}; select = {column = value}
                (keep matching rows); per_study = "first" (keep the first remaining row of each study label)
    [model]     effects ("random" or "common"), engine ("exact" or "mcmc"), seed, draws, chains, tune,
                target_accept
    [priors]    tau, mu (prior strings), sensitivity (list of other tau priors to refit with)
    [report]    thresholds (effects in the benefit direction, e.g. [0, -0.2]), ci, frequentist (methods or
                presets, e.g. ["revman5", "cochrane"]), figures, forest_order

`run_analysis` writes report.html, report.md, summary.csv, shrinkage.csv, probabilities.csv,
comparison.csv, sensitivity.csv, figures/*.png and posterior.nc into the output folder.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from statistics import NormalDist
from pathlib import Path

import pandas as pd

from .effects import benefit_operator, benefit_sign

FIGURES = ("forest", "density", "prior_posterior", "benefit", "funnel", "trace", "rank")
SCHEMA = {
    "analysis": {"title": str, "intervention": str, "description": str},
    "data": {"dataset": str, "file": str, "measure": str, "benefit": str, "outcome": str, "moderators": list,
             "columns": dict, "select": dict, "per_study": str},
    "model": {"effects": str, "engine": str, "seed": int, "draws": int, "chains": int, "tune": int,
              "target_accept": float},
    "priors": {"tau": str, "mu": str, "sensitivity": list},
    "report": {"thresholds": list, "ci": float, "frequentist": list, "figures": list, "forest_order": str},
    "pooled": {"estimate": str, "lower": str, "upper": str, "label": list, "benefit_from": str,
               "important": float, "level": float},
}
REQUIRED = {("analysis", "title")}
CHOICES = {("data", "benefit"): ("lower", "higher"), ("model", "effects"): ("random", "common"),
           ("model", "engine"): ("exact", "mcmc"), ("data", "per_study"): ("first",),
           ("data", "measure"): ("SMD", "SMD_RevMan", "d", "MD", "generic"),
           ("report", "forest_order"): ("input", "effect", "weight")}
COLUMN_ROLES = ("study", "y", "se", "vi", "n1", "mean1", "sd1", "n2", "mean2", "sd2")


class AnalysisError(ValueError):
    """A bad analysis file; the message names the file and the key."""


@dataclass
class Analysis:
    path: Path
    spec: dict

    def get(self, section, key, default=None):
        return self.spec.get(section, {}).get(key, default)


def load_analysis(path) -> Analysis:
    """Read and validate an analysis file (unknown sections or keys, wrong types and bad choices are errors)."""
    path = Path(path)
    if not path.exists():
        raise AnalysisError(f"{path}: no such analysis file")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise AnalysisError(f"{path}: not valid TOML ({err})") from None
    for section, body in spec.items():
        if section not in SCHEMA:
            raise AnalysisError(f"{path}: unknown section [{section}] (allowed: {', '.join(SCHEMA)})")
        if not isinstance(body, dict):
            raise AnalysisError(f"{path}: [{section}] must be a table")
        for key, value in body.items():
            if key not in SCHEMA[section]:
                raise AnalysisError(f"{path}: unknown key '{section}.{key}' (allowed: {', '.join(SCHEMA[section])})")
            want = SCHEMA[section][key]
            ok = isinstance(value, want) or (want is float and isinstance(value, int) and not isinstance(value, bool))
            if not ok or (want is int and isinstance(value, bool)):
                raise AnalysisError(f"{path}: '{section}.{key}' must be a {want.__name__}, got {value!r}")
            choices = CHOICES.get((section, key))
            if choices and value not in choices:
                raise AnalysisError(f"{path}: '{section}.{key}' must be one of {', '.join(choices)}, got {value!r}")
    for section, key in REQUIRED:
        if key not in spec.get(section, {}):
            raise AnalysisError(f"{path}: '{section}.{key}' is required")
    data = spec.get("data", {})
    if "pooled" not in spec and "benefit" not in data:
        raise AnalysisError(f"{path}: 'data.benefit' is required (\"lower\" or \"higher\": which direction is benefit)")
    if ("dataset" in data) == ("file" in data):
        raise AnalysisError(f"{path}: give exactly one of 'data.dataset' (a bundled data set) or 'data.file' (a CSV)")
    if "dataset" in data and data["dataset"] not in _bundled():
        raise AnalysisError(f"{path}: 'data.dataset' {data['dataset']!r} is not a bundled data set "
                            f"({', '.join(_bundled())})")
    if "file" in data and not (path.parent / data["file"]).exists():
        raise AnalysisError(f"{path}: 'data.file' {data['file']!r} not found (looked for "
                            f"{(path.parent / data['file']).resolve()})")
    for role in data.get("columns", {}):
        if role not in COLUMN_ROLES:
            raise AnalysisError(f"{path}: unknown column role 'data.columns.{role}' (allowed: {', '.join(COLUMN_ROLES)})")
    for fig in spec.get("report", {}).get("figures", []):
        if fig not in FIGURES:
            raise AnalysisError(f"{path}: unknown figure {fig!r} in 'report.figures' (allowed: {', '.join(FIGURES)})")
    for i, c in enumerate(spec.get("report", {}).get("thresholds", [])):
        if not isinstance(c, (int, float)) or isinstance(c, bool):
            raise AnalysisError(f"{path}: 'report.thresholds[{i}]' must be a number, got {c!r}")
    _check_priors(path, spec.get("priors", {}))
    return Analysis(path, spec)


def _bundled():
    from .datasets import REGISTRY

    return REGISTRY


def _check_priors(path, priors_spec):
    import warnings

    from .priors import mu_prior, tau_prior

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # flags on empirical priors are reported when the analysis runs
            for s in [priors_spec.get("tau")] + list(priors_spec.get("sensitivity", [])):
                if s is not None:
                    tau_prior(s)
            mu_prior(priors_spec.get("mu"))
    except (ValueError, TypeError) as err:
        raise AnalysisError(f"{path}: [priors] {err}") from None


def load_table(analysis: Analysis) -> tuple[pd.DataFrame, list[str]]:
    """The data table of an analysis file after its row selection, and notes saying what was selected."""
    from . import datasets

    d = analysis.spec["data"]
    notes = []
    if "dataset" in d:  # the name and the file were checked by load_analysis
        table = datasets.load(d["dataset"])
        notes.append(f"Data: bundled data set '{d['dataset']}' ({table.attrs['source']}); {table.attrs['sign']}.")
    else:
        table = pd.read_csv(analysis.path.parent / d["file"])
        notes.append(f"Data: {d['file']}.")
    n_rows = len(table)
    for column, value in d.get("select", {}).items():
        if column not in table.columns:
            raise AnalysisError(f"{analysis.path}: 'data.select.{column}': no such column")
        table = table[table[column] == value]
    if d.get("per_study") == "first":
        study = d.get("columns", {}).get("study", "study")
        table = table.drop_duplicates(subset=study, keep="first")
    table = table.reset_index(drop=True)
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
                moderators=d.get("moderators"))
    table, notes = load_table(analysis)
    if "dataset" in d and not d.get("columns") and not d.get("select") and not d.get("per_study"):
        return datasets.effect_data(d["dataset"], **{k: v for k, v in opts.items() if v is not None}), notes
    columns = d.get("columns") or datasets.REGISTRY.get(d.get("dataset"), {}).get("columns", {})
    return EffectData.from_table(table, **columns, **{k: v for k, v in opts.items() if v is not None}), notes


def run_analysis(path, out_dir=None, progressbar: bool = False) -> dict:
    """Fit an analysis file and write its outputs; returns {name: path} of what was written."""
    import warnings

    from . import plots
    from .comparison import compare
    from .frequentist_methods import frequentist
    from .model import fit as fit_model
    from .report import build_report

    analysis = load_analysis(path)
    a, m, pr, rep = (analysis.spec.get(s, {}) for s in ("analysis", "model", "priors", "report"))
    out = Path(out_dir or Path("output") / analysis.path.stem)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    if "pooled" in analysis.spec:
        return run_pooled_analysis(analysis, out)
    data, notes = load_effect_data(analysis)
    settings = dict(tau_prior=pr.get("tau"), mu_prior=pr.get("mu"), engine=m.get("engine", "exact"),
                    seed=m.get("seed", 1), model=m.get("effects", "random"))
    sampler = {k: m[k] for k in ("draws", "chains", "tune", "target_accept") if k in m}
    ci = rep.get("ci", 0.95)
    thresholds = rep.get("thresholds", [0.0, -0.2] if data.benefit == "lower" else [0.0, 0.2])
    sensitivity = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_model(data, progressbar=progressbar, **settings, **sampler)
        if pr.get("sensitivity"):
            sensitivity = sensitivity_table(fit, [pr.get("tau") or str(fit.spec.tau_prior)] + pr["sensitivity"],
                                            thresholds, ci)
    notes += [f"Warning: {w.message}" for w in caught]
    freq = [frequentist(data, method=meth) for meth in rep.get("frequentist", ["revman5", "cochrane"])]
    written = {}
    figures = {}
    wanted = rep.get("figures", ["forest", "density", "prior_posterior", "benefit", "funnel"]
                     + (["trace", "rank"] if fit.engine == "mcmc" else []))
    makers = {"forest": lambda: plots.forest(fit, freq=freq, order=rep.get("forest_order", "input"), ci=ci),
              "density": lambda: plots.density(fit, thresholds=thresholds, ci=ci),
              "prior_posterior": lambda: plots.prior_posterior(fit), "benefit": lambda: plots.benefit_curves(fit),
              "funnel": lambda: plots.funnel(data), "trace": lambda: plots.trace(fit), "rank": lambda: plots.rank(fit)}
    captions = {"forest": "Forest plot: observed and shrunken study effects, pooled mu and the predictive interval",
                "density": "Posterior densities with the probability of benefit shaded",
                "prior_posterior": "Prior against posterior", "benefit": "Probability of benefit of at least c",
                "funnel": "Funnel plot", "trace": "MCMC trace", "rank": "MCMC rank plot"}
    for name in wanted:
        if name in ("trace", "rank") and fit.engine != "mcmc":
            continue
        try:
            fig = makers[name]()
        except ValueError as err:  # e.g. no proper prior to draw
            notes.append(f"Figure '{name}' not drawn: {err}.")
            continue
        png = _write_figure(fig, out, name)
        figures[captions[name]] = str(png)
        written[f"figure_{name}"] = png
    if sensitivity is not None:
        sensitivity.to_csv(out / "sensitivity.csv")
        written["sensitivity"] = out / "sensitivity.csv"
    report = build_report(fit, freq=freq, thresholds=thresholds, intervention=a.get("intervention", "the intervention"),
                          title=a["title"], figures=figures, ci=ci, notes=notes, sensitivity=sensitivity)
    _write_report(report, out, figures)
    fit.summary(ci=ci).to_csv(out / "summary.csv")
    fit.shrinkage(ci=ci).to_csv(out / "shrinkage.csv")
    compare(fit, freq, ci=ci).to_csv(out / "comparison.csv")
    probs = {expr: fit.prob(expr) for expr in _probability_expressions(data, thresholds)}
    pd.Series(probs, name="probability").rename_axis("event").to_csv(out / "probabilities.csv")
    fit.idata.to_netcdf(out / "posterior.nc")
    written.update(report_html=out / "report.html", report_md=out / "report.md", summary=out / "summary.csv",
                   shrinkage=out / "shrinkage.csv", comparison=out / "comparison.csv",
                   probabilities=out / "probabilities.csv", posterior=out / "posterior.nc")
    return {"fit": fit, "freq": freq, "files": written, "out": out}


def _probability_expressions(data, thresholds):
    op = benefit_operator(data.benefit)
    return [f"{q} {op} {c:g}" for q in ("mu", "theta_new") for c in thresholds]


def sensitivity_table(fit, tau_priors, thresholds, ci=0.95) -> pd.DataFrame:
    """The fit repeated with each tau prior (exact engine): mu and tau medians with intervals, P(benefit)."""
    from .model import fit as fit_model

    rows = {}
    for spec in dict.fromkeys(tau_priors):
        f = fit_model(fit.data, tau_prior=spec, mu_prior=fit.spec.mu_prior, seed=fit.seed, model=fit.spec.model)
        s = f.summary(ci=ci)
        row = {"mu": s.loc["mu", "median"], "mu_lower": s.loc["mu", "lower"], "mu_upper": s.loc["mu", "upper"],
               "tau": s.loc["tau", "median"], "tau_lower": s.loc["tau", "lower"], "tau_upper": s.loc["tau", "upper"],
               "pred_lower": s.loc["theta_new", "lower"], "pred_upper": s.loc["theta_new", "upper"]}
        for expr in _probability_expressions(fit.data, thresholds):
            row[f"P({expr})"] = f.prob(expr)
        rows[str(f.spec.tau_prior)] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("tau prior")


# --------------------------------------------------------------------------- published pooled estimates
def run_pooled_analysis(analysis: Analysis, out: Path) -> dict:
    """Bayesian reading of published pooled estimates (one per row): posterior probability of benefit and
    of an important benefit under sceptical, neutral and enthusiastic priors (`bm.reference_priors`)."""
    from . import plots
    from .comparison import from_estimate, reference_priors
    from .report import Report, Section, pct, versions

    p = analysis.spec["pooled"]
    table, notes = load_table(analysis)
    important = p.get("important", 0.2)
    level = p.get("level", 0.95)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    rows, lines = [], []
    for i, r in table.iterrows():
        label = " / ".join(str(r[c]) for c in p.get("label", []) if c in r) or f"row {i + 1}"
        try:
            est, lo, hi = (float(r[p.get(k, k)]) for k in ("estimate", "lower", "upper"))
        except KeyError as err:
            raise AnalysisError(f"{analysis.path}: [pooled] column {err} not found") from None
        text = str(r[p["benefit_from"]]).lower() if "benefit_from" in p else ""
        benefit = "lower" if text.startswith("negative") else "higher" if text.startswith("positive") else None
        if benefit is None:
            raise AnalysisError(f"{analysis.path}: row {i + 1} ({label!r}), column {p.get('benefit_from')!r}: "
                                "cannot tell the benefit direction (want text starting 'negative' or 'positive')")
        sign, op = benefit_sign(benefit), benefit_operator(benefit)
        for name, prior in reference_priors(important, benefit).items():
            post = from_estimate(est, lo, hi, level=level, prior=prior)
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
    return {"fit": None, "freq": [], "out": out, "table": result,
            "files": {"report_html": out / "report.html", "report_md": out / "report.md",
                      "probabilities": out / "probabilities.csv", "figure_pooled": png}}


def _write_figure(fig, out: Path, name: str) -> Path:
    """figures/NAME.svg and figures/NAME.png in the output folder; returns the PNG's path."""
    from . import plots

    fig.savefig(out / "figures" / f"{name}.svg", bbox_inches="tight")
    return plots.save(fig, out / "figures" / f"{name}.png")


def _write_report(report, out: Path, figures: dict) -> None:
    """report.html (figures embedded) and report.md (figures linked relative to the output folder)."""
    (out / "report.html").write_text(report.render("html"), encoding="utf-8")
    links = {caption: str(Path(png).relative_to(out)) for caption, png in figures.items()}
    (out / "report.md").write_text(report.to_markdown(links), encoding="utf-8")
