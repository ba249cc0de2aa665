"""The documentation builds without warnings (mkdocs --strict, offline) and the examples run end to end."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


@pytest.mark.slow
def test_docs_build_strict():
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "build.py")], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    page = (ROOT / "site" / "reanalyses" / "clbp_digital_pain" / "index.html").read_text()
    assert page.count("<img") == 12 and "probability that digital self-management reduces pain intensity" in page
    assert "bayesmeta.posterior.Fit" in (ROOT / "site" / "api" / "index.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_example_runs(example, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, str(example), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "P(" in out.stdout


def test_readme_tables_are_read_by_the_command_line(tmp_path):
    """The README's minimal CSV files, each read by `bayesmeta fit` with the column names it recognises; the
    README states how long the tests take; no page tells to install an extra that pyproject.toml lacks."""
    import json
    import re
    import tomllib

    from typer.testing import CliRunner

    from bayesmeta.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tables = re.findall(r"```csv\n(.*?)```", readme, flags=re.S)
    assert len(tables) == 2
    for i, table in enumerate(tables):
        path = tmp_path / f"t{i}.csv"
        path.write_text(table, encoding="utf-8")
        res = CliRunner().invoke(app, ["fit", str(path), "--prob", "mu<0", "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["k"] == len(table.strip().splitlines()) - 1
    assert re.search(r"about \d+ minutes", readme)
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for extra in re.findall(r'pip install -e "\.\[(\w+)\]"', page.read_text(encoding="utf-8")):
            assert extra in extras, (page, extra)


def test_every_bundled_data_set_is_listed_in_the_docs():
    import bayesmeta as bm

    page = (ROOT / "docs" / "pages" / "datasets.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in page for name in bm.datasets.REGISTRY)


def test_api_page_reads_as_markdown():
    """The API page opens with a plain table of the public names (readable without building the docs)."""
    import bayesmeta as bm

    page = (ROOT / "docs" / "pages" / "api.md").read_text(encoding="utf-8")
    table = page.split(":::", 1)[0]
    for name in bm.__all__:
        assert f"bm.{name}" in table, name


@pytest.mark.slow
def test_readme_main_command_runs_twice(tmp_path):
    """`bash scripts/example.sh` (the README's main command) runs again over its own output: the rerun replaces
    what the first wrote and keeps a file of the user's."""
    out = tmp_path / "clbp"
    for _ in range(2):
        done = subprocess.run(["bash", str(ROOT / "scripts" / "example.sh"), str(out)], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert (out / "report.html").exists() and (out / "notes.txt").read_text(encoding="utf-8") == "mine"
