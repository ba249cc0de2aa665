"""A summary of findings written into a folder, for `bayesmeta run REVIEW.toml` and `bayesmeta review FILE.rm5
--sof judgements.toml`: summary_of_findings.html / .md / .csv / .docx and each outcome's report
(outcomes/NN-name.html and .md, the package's report of that fit)."""

from __future__ import annotations

import re
from pathlib import Path


def _slug(i: int, name: str, follow_up: str | None, subgroup: str | None) -> str:
    words = " ".join(w for w in (name, subgroup, follow_up) if w)
    return f"{i:02d}-" + (re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:60] or "outcome")


def write_summary_of_findings(sof, out_dir, reports: bool = True) -> dict:
    """Write the table in every format (and each outcome's report) into `out_dir`; returns {name: path}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"sof_html": out / "summary_of_findings.html", "sof_md": out / "summary_of_findings.md",
             "sof_csv": out / "summary_of_findings.csv", "sof_docx": out / "summary_of_findings.docx"}
    sof.to_html(files["sof_html"])
    sof.to_markdown(files["sof_md"])
    sof.to_csv(files["sof_csv"])
    sof.to_docx(files["sof_docx"])
    if reports:
        (out / "outcomes").mkdir(exist_ok=True)
        for i, o in enumerate(sof.outcomes, 1):
            stem = _slug(i, o.name, o.follow_up, o.subgroup)
            title = " ".join(w for w in (o.name, f"({o.subgroup})" if o.subgroup else "",
                                         f"- {o.follow_up}" if o.follow_up else "") if w)
            for ext, fmt in (("html", "html"), ("md", "markdown")):
                path = out / "outcomes" / f"{stem}.{ext}"
                path.write_text(o.fit.report(format=fmt, intervention=sof.intervention, title=title),
                                encoding="utf-8")
                files[f"outcome_{i}_{ext}"] = path
    return files


def run_review_file(path, out_dir, reports: bool = True) -> dict:
    """Fit every outcome of a review file and write its summary of findings into `out_dir`: {"sof": the
    SummaryOfFindings, "files": {name: path}}."""
    from .review_file import summary_of_findings_from_file

    sof = summary_of_findings_from_file(path)
    return {"sof": sof, "files": write_summary_of_findings(sof, out_dir, reports)}
