"""Command line: `bayesmeta fit`, `bayesmeta freq`, `bayesmeta run`, `bayesmeta datasets`.

`--json` prints one JSON object and nothing else on stdout. Bad input prints one line
("error: ...") on stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Bayesian meta-analysis of standardised mean differences, beside its frequentist twin.")

Col = Annotated[Optional[str], typer.Option(help="column name")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def read_table(path: str):
    """A CSV file, or the name of a bundled data set."""
    import pandas as pd

    from . import datasets

    p = Path(path)
    if not p.exists():
        if path in datasets.REGISTRY:
            return datasets.load(path)
        _fail(f"no file {path!r} (and no bundled data set of that name)")
    try:
        return pd.read_csv(p)
    except Exception as err:  # noqa: BLE001 - any parser failure is reported as one line
        _fail(f"cannot read {path!r} as CSV: {err}")


def load_effects(path, columns: dict):
    from .effects import EffectData

    df = read_table(path)
    if not columns.get("y") and not any(columns.get(k) for k in ("n1", "mean1", "sd1", "n2", "mean2", "sd2")):
        meta = df.attrs.get("columns")
        if meta:  # a bundled data set: its recorded columns and direction
            from . import datasets
            return datasets.effect_data(df.attrs["name"], **{k: v for k, v in columns.items() if v})
    return EffectData.from_table(df, **columns)


def _columns(y, se, vi, n1, mean1, sd1, n2, mean2, sd2, study, measure, benefit):
    return dict(y=y, se=se, vi=vi, n1=n1, mean1=mean1, sd1=sd1, n2=n2, mean2=mean2, sd2=sd2, study=study,
                measure=measure, benefit=benefit)


def _clean(obj):
    """JSON-safe: NaN and infinities become null, numpy scalars become floats."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def run_guarded(func):
    """Run `func`, turning expected errors into one line on stderr and exit status 2."""
    from .errors import DataError

    try:
        return func()
    except typer.Exit:
        raise
    except (DataError, ValueError, KeyError, TypeError, FileNotFoundError) as err:
        _fail(str(err).strip("'\""))
    except RuntimeError as err:
        _fail(str(err))


@app.command()
def fit(
    file: Annotated[str, typer.Argument(help="CSV file (or a bundled data set name)")],
    y: Col = None, se: Col = None, vi: Col = None, n1: Col = None, mean1: Col = None, sd1: Col = None,
    n2: Col = None, mean2: Col = None, sd2: Col = None, study: Col = None,
    measure: Annotated[Optional[str], typer.Option(help="SMD, SMD_RevMan, d or MD for arm summaries")] = None,
    benefit: Annotated[Optional[str], typer.Option(help="direction of benefit: lower or higher")] = None,
    tau_prior: Annotated[Optional[str], typer.Option(help="prior on tau, e.g. 'halfnormal(0.5)'")] = None,
    mu_prior: Annotated[str, typer.Option(help="prior on mu: flat or 'normal(m, s)'")] = "flat",
    engine: Annotated[str, typer.Option(help="exact or mcmc")] = "exact",
    seed: Annotated[Optional[int], typer.Option(help="random seed (recorded in the output)")] = None,
    prob: Annotated[Optional[list[str]], typer.Option(help="probability to report, e.g. 'mu<0'")] = None,
    ci: Annotated[float, typer.Option(help="credible interval probability")] = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
):
    """Bayesian random-effects meta-analysis (normal-normal model)."""
    from . import model

    def go():
        data = load_effects(file, _columns(y, se, vi, n1, mean1, sd1, n2, mean2, sd2, study, measure, benefit))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = model.fit(data, tau_prior=tau_prior, mu_prior=mu_prior, engine=engine, seed=seed)
            probs = {expr: result.prob(expr) for expr in (prob or [])}
            summary = result.summary(ci=ci)
            shrink = result.shrinkage(ci=ci)
        for w in caught:
            typer.echo(f"warning: {w.message}", err=True)
        return data, result, probs, summary, shrink

    data, result, probs, summary, shrink = run_guarded(go)
    if as_json:
        out = dict(k=data.k, engine=result.engine, tau_prior=str(result.spec.tau_prior),
                   mu_prior=str(result.spec.mu_prior), seed=result.seed, interval=summary.attrs["interval"],
                   measure=data.measure, benefit=data.benefit)
        for q in ("mu", "tau", "tau2", "theta_new", "I2"):
            out[q] = summary.loc[q].to_dict()
        out["prob"] = probs
        out["studies"] = [dict(study=label, **row) for label, row in shrink.to_dict(orient="index").items()]
        typer.echo(json.dumps(_clean(out)))
        return
    _print_fit(data, result, summary, probs)


def _print_fit(data, result, summary, probs):
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Bayesian meta-analysis, k = {data.k} ({result.engine} engine); {summary.attrs['interval']}")
    for col in ("", "mean", "sd", "median", "lower", "upper"):
        table.add_column(col, justify="right" if col else "left")
    for q, row in summary.iterrows():
        table.add_row(q, *(f"{row[c]:.4f}" for c in ("mean", "sd", "median", "lower", "upper")))
    console.print(table)
    console.print(f"priors: tau ~ {result.spec.tau_prior}; mu ~ {result.spec.mu_prior}; seed {result.seed}")
    for expr, p in probs.items():
        console.print(f"P({expr}) = {p:.4f}")


@app.command()
def freq(
    file: Annotated[str, typer.Argument(help="CSV file (or a bundled data set name)")],
    y: Col = None, se: Col = None, vi: Col = None, n1: Col = None, mean1: Col = None, sd1: Col = None,
    n2: Col = None, mean2: Col = None, sd2: Col = None, study: Col = None,
    measure: Annotated[Optional[str], typer.Option(help="SMD, SMD_RevMan, d or MD for arm summaries")] = None,
    benefit: Annotated[Optional[str], typer.Option(help="direction of benefit: lower or higher")] = None,
    method: Annotated[str, typer.Option(help="FE DL REML ML PM SJ HS HE EB, or revman5 / cochrane")] = "REML",
    ci: Annotated[str, typer.Option(help="z or hksj (Knapp-Hartung)")] = "z",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
):
    """Frequentist random-effects meta-analysis, as metafor's rma() and RevMan."""
    from .frequentist_methods import frequentist

    def go():
        data = load_effects(file, _columns(y, se, vi, n1, mean1, sd1, n2, mean2, sd2, study, measure, benefit))
        return frequentist(data, method=method, ci=ci)

    result = run_guarded(go)
    if as_json:
        typer.echo(json.dumps(_clean(result.to_dict())))
    else:
        typer.echo(repr(result))


@app.command()
def run(
    analysis: Annotated[str, typer.Argument(help="analysis file, e.g. models/clbp_digital_pain.toml")],
    out: Annotated[Optional[str], typer.Option(help="output folder (default output/NAME)")] = None,
):
    """Fit an analysis file and write report.html, report.md, tables, figures and the posterior."""
    from rich.console import Console

    from .analysis import run_analysis

    console = Console(stderr=True)
    with console.status(f"running {analysis} ..."):
        result = run_guarded(lambda: run_analysis(analysis, out, progressbar=sys.stderr.isatty()))
    console.print(f"wrote {len(result['files'])} files to {result['out']}/")
    fit = result["fit"]
    if fit is not None:
        s = fit.summary()
        typer.echo(f"mu {s.loc['mu', 'median']:.3f} [{s.loc['mu', 'lower']:.3f}, {s.loc['mu', 'upper']:.3f}], "
                   f"tau {s.loc['tau', 'median']:.3f}; {s.attrs['interval']}")
    typer.echo(f"report: {result['files']['report_html']}")


@app.command()
def datasets():
    """List the bundled data sets."""
    from . import datasets as ds

    for _, row in ds.list().iterrows():
        typer.echo(f"{row['name']:32s} {row['rows']:3d} rows  {row['description']}")


def main():  # pragma: no cover - the console script
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
