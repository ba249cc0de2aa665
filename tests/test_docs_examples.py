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
    assert page.count("<img") == 6 and "probability that digital self-management reduces pain intensity" in page
    assert "bayesmeta.posterior.Fit" in (ROOT / "site" / "api" / "index.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_example_runs(example, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, str(example), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "P(" in out.stdout
