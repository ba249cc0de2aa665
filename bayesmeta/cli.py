"""Command line: `bayesmeta fit`, `bayesmeta freq`, `bayesmeta run`, `bayesmeta datasets`.

`--json` prints one JSON object and nothing else on stdout. Every failure, bad options included, prints
one line ("error: ...") on stderr and exits with status 2, without a traceback; every warning prints as
one line ("warning: ..."). Options are checked before any data are read or models fitted.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from .output_folder import check_target, display_path, write_file

try:  # typer >= 0.20 carries its own copy of click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, NoArgsIsHelpError

EXIT_ERROR = 2
SEED_MAX = 2**32 - 1


class _OneLineErrors(TyperGroup):
    """Click's usage errors (unknown option, a word where a number goes) as one `error:` line, like ours."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                                **extra)
        except NoArgsIsHelpError as err:
            typer.echo(err.format_message())
            code = 0
        except ClickException as err:
            hint = f" (see '{err.ctx.command_path} --help')" if getattr(err, "ctx", None) else ""
            typer.echo(f"error: {one_line(err.format_message())}{hint}", err=True)
            code = EXIT_ERROR
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            code = 1
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(cls=_OneLineErrors, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Bayesian meta-analysis of standardised mean differences, beside its frequentist twin.")

Col = Annotated[Optional[str], typer.Option(help="column name")]
Measure = Annotated[Optional[str], typer.Option(help="SMD, SMD_RevMan, d, MD or generic")]
Benefit = Annotated[Optional[str], typer.Option(help="direction of benefit: lower or higher")]
TauPrior = Annotated[Optional[str], typer.Option(help="prior on tau, e.g. 'halfnormal(0.5)'")]
MuPrior = Annotated[str, typer.Option(help="prior on mu: flat or 'normal(m, s)'")]
Moderators = Annotated[Optional[str], typer.Option(help="meta-regression formula, e.g. '~ weeks + C(setting)'")]
Subgroup = Annotated[Optional[str], typer.Option(help="column whose values are the subgroups")]
Cluster = Annotated[Optional[str], typer.Option(help="column grouping several effects of one trial")]
ModelName = Annotated[str, typer.Option("--model", help="random, common or three-level (needs --cluster)")]
Sep = Annotated[Optional[str], typer.Option(help="separator of the CSV file (default: detected), e.g. ';'")]
Decimal = Annotated[Optional[str], typer.Option(help="decimal mark, '.' or ',' (default: detected)")]
Encoding = Annotated[Optional[str], typer.Option(help="text encoding (default: UTF-8, else Windows-1252)")]
Overwrite = Annotated[bool, typer.Option(
    "--overwrite", help="write into an output that exists: replace only what bayesmeta wrote there before")]


def one_line(message) -> str:
    """A message as one line: its lines joined with '; '."""
    return "; ".join(part.strip() for part in str(message).splitlines() if part.strip())


def message_of(err: BaseException) -> str:
    """The text of an exception, without the quotes str(KeyError) adds, on one line."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return one_line(err.args[0])
    text = one_line(err)
    return text or type(err).__name__


def _fail(message: str) -> None:
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(EXIT_ERROR)


def print_warnings(caught) -> None:
    """Each distinct warning once, as one line 'warning: ...' on stderr."""
    seen = set()
    for w in caught:
        text = one_line(w.message)
        if text not in seen:
            seen.add(text)
            typer.echo(f"warning: {text}", err=True)


def run_guarded(func):
    """Run `func` with warnings printed as one line each; any failure becomes one `error:` line on stderr
    and exit status 2 (set BAYESMETA_TRACEBACK=1 to see the traceback of an unexpected error)."""
    from .errors import DataError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = func()
        except typer.Exit:
            print_warnings(caught)
            raise
        except (DataError, ValueError, KeyError, TypeError, OSError, RuntimeError) as err:
            print_warnings(caught)
            if os.environ.get("BAYESMETA_TRACEBACK"):
                raise
            _fail(message_of(err))
        except Exception as err:  # noqa: BLE001 - a bug: still one line, and how to see more
            print_warnings(caught)
            if os.environ.get("BAYESMETA_TRACEBACK"):
                raise
            _fail(f"unexpected {type(err).__name__}: {message_of(err)} (this is a bug in bayesmeta; rerun with "
                  "BAYESMETA_TRACEBACK=1 and report the traceback)")
    print_warnings(caught)
    return result


# --------------------------------------------------------------------------- option checks
def check_ci(value, option="--ci") -> float:
    """A credible/confidence level strictly between 0 and 1 (0.95, not 95)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1 or math.isnan(value):
        hint = f" (did you mean {value / 100:g}?)" if isinstance(value, (int, float)) and 1 < value < 100 else ""
        raise ValueError(f"{option} must be a probability between 0 and 1, such as 0.95, not {value!r}{hint}")
    return float(value)


def check_seed(value, option="--seed"):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ValueError(f"{option} must be a whole number from 0 to {SEED_MAX}, not {value!r}")
    return value


def check_choice(value, choices, option):
    if value is not None and value not in choices:
        raise ValueError(f"{option} must be one of {', '.join(map(str, choices))}, not {value!r}")
    return value


def check_method(value, option="--method"):
    from .frequentist_methods import METHODS, PRESETS

    return check_choice(value, (*METHODS, *PRESETS), option)


def _check_common(measure, benefit, sep, decimal):
    from .effects import MEASURES

    check_choice(measure, MEASURES, "--measure")
    check_choice(benefit, ("lower", "higher"), "--benefit")
    check_choice(decimal, (".", ","), "--decimal")
    if sep is not None and (len(sep) != 1 or sep in "\"'\r\n"):
        raise ValueError(f"--sep must be one character such as ',' ';' or '\\t', not {sep!r}")


# --------------------------------------------------------------------------- data
def read_table(path: str, sep=None, decimal=None, encoding=None, labels=()):
    """A table file (see bayesmeta.tables.read_table), or the name of a bundled data set."""
    from . import datasets
    from .errors import DataError
    from .tables import read_table as read_file

    if not Path(path).exists() and path in datasets.REGISTRY:
        return datasets.load(path)
    if not Path(path).exists():
        raise DataError(f"no file {path!r} (and no bundled data set of that name)")
    return read_file(path, sep=sep, decimal=decimal, encoding=encoding, labels=labels)


def load_effects(path, columns: dict, sep=None, decimal=None, encoding=None):
    from .effects import EffectData

    df = read_table(path, sep, decimal, encoding, labels=[c for c in [columns.get("study")] if c])
    if not columns.get("y") and not any(columns.get(k) for k in ("n1", "mean1", "sd1", "n2", "mean2", "sd2")):
        meta = df.attrs.get("columns")
        if meta:  # a bundled data set: its recorded columns and direction
            from . import datasets
            return datasets.effect_data(df.attrs["name"], **{k: v for k, v in columns.items() if v})
    return EffectData.from_table(df, **columns)


def _columns(y, se, vi, n1, mean1, sd1, n2, mean2, sd2, study, measure, benefit, cluster=None):
    return dict(y=y, se=se, vi=vi, n1=n1, mean1=mean1, sd1=sd1, n2=n2, mean2=mean2, sd2=sd2, study=study,
                measure=measure, benefit=benefit, cluster=cluster)


def _clean(obj):
    """JSON-safe: NaN and infinities become null, numpy scalars Python values."""
    from .frequentist_methods.result import json_safe

    return json_safe(obj)


# --------------------------------------------------------------------------- commands
@app.command()
def fit(
    file: Annotated[str, typer.Argument(help="CSV file (or a bundled data set name)")],
    y: Col = None, se: Col = None, vi: Col = None, n1: Col = None, mean1: Col = None, sd1: Col = None,
    n2: Col = None, mean2: Col = None, sd2: Col = None, study: Col = None,
    measure: Measure = None,
    benefit: Benefit = None,
    tau_prior: TauPrior = None,
    mu_prior: MuPrior = "flat",
    engine: Annotated[str, typer.Option(help="exact or mcmc")] = "exact",
    seed: Annotated[Optional[int], typer.Option(help="random seed (recorded in the output)")] = None,
    prob: Annotated[Optional[list[str]], typer.Option(help="probability to report, e.g. 'mu<0'")] = None,
    ci: Annotated[float, typer.Option(help="credible interval probability, e.g. 0.95")] = 0.95,
    moderators: Moderators = None, subgroup: Subgroup = None,
    subgroup_tau: Annotated[str, typer.Option(help="common (one tau) or separate (a tau per subgroup)")] = "common",
    cluster: Cluster = None, model_name: ModelName = "random",
    tau_within_prior: Annotated[Optional[str], typer.Option(help="three-level: prior on tau within clusters")] = None,
    effects: Annotated[str, typer.Option(help="normal or t (Student-t study effects, --engine mcmc)")] = "normal",
    nu_prior: Annotated[Optional[str], typer.Option(help="t effects: positive prior on nu - 1")] = None,
    beta_prior: Annotated[Optional[str], typer.Option(help="prior on the moderators' coefficients")] = None,
    drop_missing: Annotated[bool, typer.Option(help="drop rows with a missing moderator (listed)")] = False,
    bias: Annotated[Optional[str], typer.Option(help="bias-adjusted model: PET, PEESE or 'selection(0.025, 0.05)' "
                                                     "(selection models: --engine mcmc)")] = None,
    sep: Sep = None, decimal: Decimal = None, encoding: Encoding = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
):
    """Bayesian random-effects meta-analysis: normal-normal model, meta-regression (--moderators) or
    subgroups (--subgroup)."""

    def go():
        from . import fitting as model
        from . import priors

        check_ci(ci)
        check_seed(seed)
        check_choice(engine, ("exact", "mcmc"), "--engine")
        _check_common(measure, benefit, sep, decimal)
        if tau_prior is not None:
            priors.tau_prior(tau_prior)
        for option, value in (("--tau-within-prior", tau_within_prior), ("--nu-prior", nu_prior)):
            if value is not None:
                priors.tau_prior(value, option)
        priors.mu_prior(mu_prior)
        data = load_effects(file, _columns(y, se, vi, n1, mean1, sd1, n2, mean2, sd2, study, measure, benefit,
                                           cluster), sep, decimal, encoding)
        check_choice(subgroup_tau, ("common", "separate"), "--subgroup-tau")
        result = model.fit(data, tau_prior=tau_prior, mu_prior=mu_prior, engine=engine, seed=seed,
                           moderators=moderators, subgroup=subgroup, subgroup_tau=subgroup_tau, beta_prior=beta_prior,
                           drop_missing=drop_missing, model=model_name, tau_within_prior=tau_within_prior,
                           effects=effects, nu_prior=nu_prior, bias=bias)
        probs = {expr: result.prob(expr) for expr in (prob or [])}
        return data, result, probs, result.summary(ci=ci), result.shrinkage(ci=ci)

    data, result, probs, summary, shrink = run_guarded(go)
    data = result.data  # rows with a missing moderator dropped, where asked
    note = getattr(result.spec, "tau_prior_note", None)
    if as_json:
        out = dict(k=result.data.k, engine=result.engine, model=result.family.name,
                   tau_prior=str(result.spec.tau_prior), mu_prior=str(result.spec.mu_prior), tau_prior_note=note,
                   seed=result.seed, interval=summary.attrs["interval"], measure=data.measure, benefit=data.benefit)
        for q, row in summary.iterrows():
            out[q] = row.to_dict()
        if result.family.contrasts():
            out["differences"] = result.differences(ci=ci).to_dict(orient="index")
        out["dropped"] = [dict(row=r, study=s, column=c) for r, s, c in result.dropped]
        out["prob"] = probs
        out["studies"] = [dict(study=label, **row) for label, row in shrink.to_dict(orient="index").items()]
        typer.echo(json.dumps(_clean(out)))
        return
    _print_fit(data, result, summary, probs, note)


def _print_fit(data, result, summary, probs, note=None):
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    table = Table(title=f"Bayesian meta-analysis, k = {data.k} ({result.engine} engine); {summary.attrs['interval']}")
    for col in ("", "mean", "sd", "median", "lower", "upper"):
        table.add_column(col, justify="right" if col else "left")
    for q, row in summary.iterrows():
        table.add_row(escape(str(q)), *(f"{row[c]:.4f}" for c in ("mean", "sd", "median", "lower", "upper")))
    console.print(table)
    console.print(escape(f"priors: tau ~ {result.spec.tau_prior}; mu ~ {result.spec.mu_prior}; seed {result.seed}"))
    if note:
        console.print(escape(note))
    for r, s, c in result.dropped:
        console.print(escape(f"left out: row {r} ({s!r}), {c!r} is missing"))
    for expr, p in probs.items():
        console.print(escape(f"P({expr}) = {p:.4f}"))


@app.command()
def freq(
    file: Annotated[str, typer.Argument(help="CSV file (or a bundled data set name)")],
    y: Col = None, se: Col = None, vi: Col = None, n1: Col = None, mean1: Col = None, sd1: Col = None,
    n2: Col = None, mean2: Col = None, sd2: Col = None, study: Col = None,
    measure: Measure = None,
    benefit: Benefit = None,
    method: Annotated[str, typer.Option(help="FE DL REML ML PM SJ HS HE EB, or revman5 / cochrane")] = "REML",
    ci: Annotated[str, typer.Option(help="z or hksj (Knapp-Hartung)")] = "z",
    moderators: Moderators = None, subgroup: Subgroup = None,
    subgroup_tau: Annotated[str, typer.Option(help="separate (a tau2 per subgroup, as RevMan) or common")] = "separate",
    cluster: Cluster = None, model_name: ModelName = "random",
    robust: Annotated[bool, typer.Option(help="three-level: cluster-robust inference (metafor robust())")] = False,
    sep: Sep = None, decimal: Decimal = None, encoding: Encoding = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
):
    """Frequentist random-effects meta-analysis, as metafor's rma() (with --moderators: rma(mods=)) and RevMan
    (with --subgroup: separate subgroup analyses and the test for subgroup differences)."""

    def go():
        from .frequentist_methods import frequentist

        check_method(method)
        check_choice(ci, ("z", "hksj"), "--ci")
        _check_common(measure, benefit, sep, decimal)
        data = load_effects(file, _columns(y, se, vi, n1, mean1, sd1, n2, mean2, sd2, study, measure, benefit,
                                           cluster), sep, decimal, encoding)
        check_choice(subgroup_tau, ("common", "separate"), "--subgroup-tau")
        check_choice(model_name, ("random", "three-level"), "--model")
        if model_name == "three-level":
            return frequentist(data, method=method, model="three-level", robust=robust)
        if robust:
            raise ValueError("--robust (cluster-robust inference) is for --model three-level; it has no meaning for "
                             "the random-effects model")
        sub = dict(subgroup=subgroup, subgroup_tau=subgroup_tau) if subgroup else {}
        return frequentist(data, method=method, ci=ci, moderators=moderators, **sub)

    result = run_guarded(go)
    if as_json:
        typer.echo(json.dumps(_clean(result.to_dict())))
    else:
        typer.echo(repr(result))


@app.command()
def run(
    analysis: Annotated[str, typer.Argument(help="analysis file, e.g. models/clbp_digital_pain.toml")],
    out: Annotated[Optional[str], typer.Option(help="output folder (default output/NAME)")] = None,
    overwrite: Overwrite = False,
):
    """Fit an analysis file and write report.html, report.md, tables, figures and the posterior (a review file:
    each outcome's report and the summary of findings)."""
    from rich.console import Console

    from .analysis import run_analysis

    console = Console(stderr=True)
    with console.status(f"running {analysis} ..."):
        result = run_guarded(lambda: run_analysis(analysis, out, progressbar=sys.stderr.isatty(), overwrite=overwrite))
    console.print(f"wrote {len(result['files'])} files to {display_path(result['out'])}/", markup=False,
                  highlight=False)
    fit = result.get("fit")
    if "sof" in result:  # a review file: the summary of findings across its outcomes
        typer.echo(f"summary of findings: {display_path(result['files']['sof_html'])}")
        return
    if fit is not None:
        s = fit.summary(ci=result.get("ci", 0.95))
        shown = fit.family.coefficient_rows()[:4] + [q for q in s.index if q.startswith("tau")][:1]
        typer.echo("; ".join(f"{q} {s.loc[q, 'median']:.3f} [{s.loc[q, 'lower']:.3f}, {s.loc[q, 'upper']:.3f}]"
                             for q in shown) + f" (medians, {s.attrs['interval']}s)")
    typer.echo(f"report: {display_path(result['files']['report_html'])}")


@app.command()
def datasets():
    """List the bundled data sets."""
    from . import datasets as ds

    for _, row in ds.list().iterrows():
        typer.echo(f"{row['name']:32s} {row['rows']:3d} rows  {row['description']}")


@app.command()
def batch(
    file: Annotated[str, typer.Argument(help="table file (CSV, ';' and decimal commas detected) or a bundled data set")],
    by: Annotated[str, typer.Option(help="column(s) that make a group, comma-separated, e.g. 'analysis,outcome'")],
    out: Annotated[str, typer.Option(help="output table, one row per group: .csv or .parquet")],
    y: Col = None, se: Col = None, vi: Col = None, n1: Col = None, mean1: Col = None, sd1: Col = None,
    n2: Col = None, mean2: Col = None, sd2: Col = None, study: Col = None,
    measure: Measure = None,
    benefit: Benefit = None,
    tau_prior: TauPrior = None,
    mu_prior: MuPrior = "flat",
    prob: Annotated[Optional[list[str]], typer.Option(help="probability column, e.g. 'mu<0' (repeatable)")] = None,
    ci: Annotated[float, typer.Option(help="credible interval probability, e.g. 0.95")] = 0.95,
    method: Annotated[Optional[str], typer.Option(
        help="frequentist instead: FE DL REML ML PM SJ HS HE EB, or revman5 / cochrane")] = None,
    freq_ci: Annotated[str, typer.Option(help="with --method: z or hksj (Knapp-Hartung)")] = "z",
    engine: Annotated[str, typer.Option(help="exact or mcmc")] = "exact",
    seed: Annotated[Optional[int], typer.Option(help="random seed of --engine mcmc")] = None,
    skip_bad: Annotated[bool, typer.Option(help="skip groups with bad data (listed in OUT_skipped.csv)")] = False,
    scheduler: Annotated[Optional[str], typer.Option(help="dask.distributed scheduler address, e.g. tcp://host:8786")] = None,
    chunk_size: Annotated[Optional[int], typer.Option(help="analyses per chunk")] = None,
    sep: Sep = None, decimal: Decimal = None, encoding: Encoding = None,
    overwrite: Overwrite = False,
):
    """Many meta-analyses at once: one per group of the table (--by), Bayesian (exact engine, vectorised) or,
    with --method, frequentist; one row per group in --out."""
    import time

    from .many import parse_event

    def go():
        import pandas as pd

        from . import priors
        from .many import fit_many, frequentist_many

        groups = [c.strip() for c in by.split(",")]
        if not all(groups):
            raise ValueError(f"--by must name one or more columns separated by commas, not {by!r}")
        target = Path(out)
        if target.suffix.lower() not in (".csv", ".parquet"):
            raise ValueError(f"--out must end in .csv or .parquet, not {display_path(out)!r}")
        listing = target.with_name(f"{target.stem}_skipped.csv")
        for path in (target, listing):
            check_target(path, "--out", folder=False)
            if path.exists() and not overwrite:
                raise ValueError(f"--out: {display_path(path)!r} exists; give another name, or --overwrite to "
                                 "replace it")
        if Path(file).exists() and target.exists() and target.resolve() == Path(file).resolve():
            raise ValueError(f"--out {out!r} is the input table; choose another file")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"--chunk-size must be a whole number >= 1, not {chunk_size}")
        _check_common(measure, benefit, sep, decimal)
        columns = dict(y=y, se=se, vi=vi, n1=n1, mean1=mean1, sd1=sd1, n2=n2, mean2=mean2, sd2=sd2, study=study,
                       measure=measure, benefit=benefit)
        common = dict(errors="skip" if skip_bad else "raise", scheduler=scheduler, chunk_size=chunk_size)
        if method is not None:
            given = [name for name, value in (("--tau-prior", tau_prior), ("--prob", prob)) if value]
            if given:
                raise ValueError(f"{' and '.join(given)} are for the Bayesian fits; with --method the batch is "
                                 "frequentist (leave out --method, or those options)")
            check_method(method)
            check_choice(freq_ci, ("z", "hksj"), "--freq-ci")
            run = lambda df: frequentist_many(df, groups, method=method, ci=freq_ci, **columns, **common)  # noqa: E731
        else:
            check_ci(ci)
            check_seed(seed)
            check_choice(engine, ("exact", "mcmc"), "--engine")
            if tau_prior is not None:
                priors.tau_prior(tau_prior)
            priors.mu_prior(mu_prior)
            for expr in prob or []:
                parse_event(expr)
            run = lambda df: fit_many(df, groups, tau_prior=tau_prior, mu_prior=mu_prior, probs=prob or [],  # noqa: E731
                                      ci=ci, engine=engine, seed=seed, **columns, **common)
        df = read_table(file, sep, decimal, encoding, labels=[c for c in [study, *groups] if c])
        start = time.perf_counter()
        table = run(df)
        seconds = time.perf_counter() - start
        skipped = pd.DataFrame(table.attrs.get("skipped", []))
        if target.suffix.lower() == ".parquet":
            write_file(target, lambda p: table.to_parquet(p, index=False), overwrite)
        else:
            write_file(target, lambda p: table.to_csv(p, index=False), overwrite)
        extra = ""
        if len(skipped):
            write_file(listing, lambda p: skipped.to_csv(p, index=False), overwrite)
            extra = f"; {len(skipped)} skipped, listed in {display_path(listing)}"
        return table, seconds, extra

    table, seconds, extra = run_guarded(go)
    typer.echo(f"wrote {len(table)} analyses to {display_path(out)} in {seconds:.1f} s{extra}")


@app.command()
def review(
    file: Annotated[str, typer.Argument(help="review file: RevMan 5 .rm5, RevMan 5 CSV export, RevMan Web data "
                                              "package (.zip or folder) or Metapsy table")],
    out: Annotated[Optional[str], typer.Option(help="output folder (default output/NAME)")] = None,
    file_format: Annotated[Optional[str], typer.Option(
        "--format", help="rm5, csv, data-package or metapsy (default: detected)")] = None,
    tau_prior: Annotated[Optional[str], typer.Option(
        help="prior on tau for every analysis (default by measure: Turner et al. for OR/RR)")] = None,
    seed: Annotated[int, typer.Option(help="random seed (recorded in the reports)")] = 1,
    mid: Annotated[Optional[list[str]], typer.Option(
        help="minimal important difference by measure, e.g. 'SMD=0.2', 'OR=0.8', 'MD=10' (repeatable)")] = None,
    figures: Annotated[bool, typer.Option(help="forest plots in the reports")] = True,
    benefit: Annotated[Optional[str], typer.Option(
        help="benefit direction (lower or higher) where the file does not state one (data packages, Metapsy)")] = None,
    benefit_map: Annotated[Optional[str], typer.Option(
        help="TOML file declaring the benefit direction per analysis, lines such as \"1.1\" = \"higher\"")] = None,
    sof: Annotated[Optional[str], typer.Option(
        help="judgements TOML (one [[outcome]] per analysis): also write the summary of findings")] = None,
    overwrite: Overwrite = False,
):
    """A whole review: read every analysis of a RevMan or Metapsy file, reproduce RevMan's pooled results (checked
    against the numbers the file stores), fit each analysis (exact engine) and write DIR/index.html with one row
    per analysis linked to its report."""

    def go():
        from . import priors
        from .reviews.output import write_review
        from .reviews.revman import read_revman

        check_seed(seed)
        check_choice(benefit, ("lower", "higher"), "--benefit")
        if tau_prior is not None:
            priors.tau_prior(tau_prior)
        mids = {}
        for item in mid or []:
            measure, sep_, value = item.partition("=")
            try:
                mids[measure.strip()] = float(value)
            except ValueError:
                sep_ = ""
            if not sep_ or not measure.strip():
                raise ValueError(f"--mid takes MEASURE=VALUE, e.g. 'SMD=0.2' or 'OR=0.8', not {item!r}")
            if not (math.isfinite(mids[measure.strip()]) and mids[measure.strip()] > 0):
                raise ValueError(f"--mid {item!r}: the minimal important difference must be a positive number")
        target = Path(out) if out else Path("output") / Path(file).stem
        if Path(file).exists() and target.resolve() == Path(file).resolve():
            raise ValueError(f"--out {display_path(target)!r} is the review itself; choose another folder")
        declared = None
        if benefit_map is not None:
            from .reviews.benefit import load_benefit_map

            declared = load_benefit_map(benefit_map)
        rv = read_revman(file, format=file_format, benefit=benefit)
        if declared:
            from .reviews.benefit import apply_benefit

            apply_benefit(rv, declared)
        return write_review(rv, target, seed=seed, mid=mids, tau_prior=tau_prior, figures=figures,
                            progress=sys.stderr.isatty(), overwrite=overwrite, sof=sof)

    result = run_guarded(go)
    table, check = result["table"], result["check"]
    failed = int((table["error"].fillna("") != "").sum()) if "error" in table else 0
    status = check.loc[check["where"] != "not analysed", "status"]
    typer.echo(f"{len(table) - failed} of {len(table)} analyses fitted"
               + (f" ({failed} not analysed, see the index)" if failed else "")
               + f"; RevMan vs ours: {int((status == 'agrees').sum())} of {len(status)} stored numbers reproduced, "
               f"{int((status == 'placeholder').sum())} RevMan placeholders, {int((status == 'differs').sum())} "
               "differ beyond the tolerance")
    typer.echo(f"index: {display_path(result['files']['index'])}")
    if "summary_of_findings" in result["files"]:
        typer.echo(f"summary of findings: {display_path(result['files']['summary_of_findings'])}")


def main():  # pragma: no cover - the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
