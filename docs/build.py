"""Build the documentation: run every analysis file in models/ (their reports become the re-analysis
pages' results), then `mkdocs build --strict`. Usage: python docs/build.py [--no-run]"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "pages"


def run_models():
    from bayesmeta.analysis import run_analysis
    from bayesmeta.findings.review_file import is_review_file, summary_of_findings_from_file

    for model in sorted((ROOT / "models").glob("*.toml")):
        out = PAGES / "reanalyses" / model.stem
        if is_review_file(model):  # a summary of findings across outcomes: the page shows the table
            out.mkdir(parents=True, exist_ok=True)
            md = summary_of_findings_from_file(model).to_markdown().split("\n", 1)[1]
            (out / "results.snippet").write_text(md, encoding="utf-8")
            continue
        run_analysis(model, out, overwrite=True)  # a rebuild replaces what the last build wrote
        md = (out / "report.md").read_text(encoding="utf-8")
        md = md.split("\n", 1)[1]  # the page has its own title
        md = re.sub(r"^## ", "### ", md, flags=re.M)
        md = md.replace("](figures/", f"]({model.stem}/figures/")
        (out / "results.snippet").write_text(md, encoding="utf-8")
        for name in ("report.md", "posterior.nc"):  # the page holds the report; keep the site small
            (out / name).unlink(missing_ok=True)


if __name__ == "__main__":
    if "--no-run" not in sys.argv:
        run_models()
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    sys.exit(subprocess.call([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f",
                              str(ROOT / "docs" / "mkdocs.yml")], cwd=ROOT, env=env))
