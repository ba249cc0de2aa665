"""Formulas are data, not code: every route by which a moderator formula reaches formulaic (the API, the
frequentist twin, `--moderators` on the command line, an analysis file) refuses anything beyond column names,
numbers, arithmetic and the allowed transforms, and nothing in the formula runs (a side effect on a file is
the witness)."""


import numpy as np
import pytest
from typer.testing import CliRunner

import bayesmeta as bm
from bayesmeta.cli import app
from bayesmeta.design import design_matrix


def thirdwave():
    df = bm.datasets.load("thirdwave").assign(weeks=lambda d: 4.0 + np.arange(len(d)) % 5)
    return bm.EffectData.from_dataframe(df, y="TE", se="seTE", study="Author",
                                        moderators=["InterventionDuration", "ModeOfDelivery", "weeks"])


def escapes(path):
    """Formulas that would write `path` if any part of them were run as Python."""
    w = f"open({str(path)!r}, 'w').write('ran')"
    return [
        f"~ I(__import__('os').system('touch {path}'))",                       # __import__
        f"~ {{{w}}}",                                                            # formulaic's {python}
        f"~ I({w})",                                                             # a builtin call
        "~ InterventionDuration.__class__.__base__.__subclasses__()",           # dunder attributes
        f"~ I((lambda: {w})())",                                                 # lambda
        f"~ I(getattr(__builtins__, 'open')({str(path)!r}, 'w'))",              # getattr
        f"~ I([{w} for _ in [1]])",                                              # comprehension
        f"~ I(f'{{{w}}}')",                                                      # f-string
        "~ I('{0.__class__}'.format(InterventionDuration))",                    # format string
        f"~ `{w}`",                                                              # backtick name
        f"~ I((x := {w}))",                                                      # walrus
        f"~ I(np.save({str(path)!r}, 1))",                                       # numpy beyond the transforms
        f"~ C(ModeOfDelivery, {w})",                                             # inside an allowed transform
        f"~ I(InterventionDuration[{w}])",                                       # subscript
    ]


@pytest.mark.parametrize("index", range(14))
def test_api_refuses_code_and_runs_nothing(tmp_path, index):
    path = tmp_path / "witness.txt"
    formula = escapes(path)[index]
    data = thirdwave()
    for call in (lambda: design_matrix(data, formula), lambda: bm.fit(data, moderators=formula),
                 lambda: bm.frequentist(data, moderators=formula)):
        with pytest.raises(bm.DataError, match="formula") as err:
            call()
        assert "\n" not in str(err.value) and formula[:10] in str(err.value)
    assert not path.exists()


def test_command_line_and_analysis_file_refuse_code(tmp_path):
    path = tmp_path / "witness.txt"
    formula = escapes(path)[0]
    csv = tmp_path / "tw.csv"
    bm.datasets.load("thirdwave").to_csv(csv, index=False)
    runner = CliRunner()
    for command in ("fit", "freq"):
        res = runner.invoke(app, [command, str(csv), "--y", "TE", "--se", "seTE", "--study", "Author",
                                  "--moderators", formula])
        assert res.exit_code != 0 and "not allowed in a formula" in res.output
    toml = tmp_path / "a.toml"
    toml.write_text(f'[analysis]\ntitle = "t"\n[data]\nfile = "{csv}"\ncolumns = {{ y = "TE", se = "seTE", study = "Author" }}\n'
                    f'moderators = ["InterventionDuration"]\nbenefit = "higher"\n[model]\nmoderators = "{formula}"\n')
    res = runner.invoke(app, ["run", str(toml), "--out", str(tmp_path / "out")])
    assert res.exit_code != 0 and "not allowed in a formula" in res.output
    assert not path.exists()


@pytest.mark.parametrize("formula", ["~ weeks + C(ModeOfDelivery)", "~ np.log(weeks)",
                                     "~ log(weeks) + sqrt(weeks)",
                                     "~ center(weeks)", "~ scale(weeks)",
                                     "~ poly(weeks, 2)", "~ I(weeks ** 2 / 10)",
                                     "~ exp(weeks / 10)", "~ C(ModeOfDelivery, contr.sum)",
                                     "~ weeks:C(ModeOfDelivery) - 1"])
def test_allowed_transforms_still_work(formula):
    design = design_matrix(thirdwave(), formula)
    assert np.all(np.isfinite(design.X)) and design.p >= 1


def test_names_resolve_to_columns_only():
    """The caller's variables are not a namespace: a name that is not a column is a DataError."""
    formula = "~ formula"  # a local variable of design_matrix, reachable before through formulaic's frame capture
    with pytest.raises(bm.DataError, match="no column 'formula'"):
        design_matrix(thirdwave(), formula)
