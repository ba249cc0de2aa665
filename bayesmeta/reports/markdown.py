"""Markdown rendering of a `Report` (every user text escaped with `formatting.md_escape`)."""

from __future__ import annotations

from pathlib import Path

from ..formatting import DisplayTable, display_table, md_escape
from .text import _figure_numbers


def _markdown(report, figure_paths: dict) -> str:
    lines = [f"# {md_escape(report.title, block=True)}", ""]
    numbers = _figure_numbers(report)
    for sec in report.sections:
        lines += [f"## {md_escape(sec.title, block=True)}", ""]
        for p in sec.paragraphs:
            lines += [md_escape(p, block=True), ""]
        for caption, table in sec.key_tables:
            lines += [f"**{md_escape(caption)}**", "", _md_table(display_table(table)), ""]
        if sec.items:
            lines += [f"- {md_escape(item, block=True)}" for item in sec.items] + [""]
        for caption, table in sec.tables:
            lines += [f"**{md_escape(caption)}**", "", _md_table(display_table(table)), ""]
        for fig in sec.figures:
            caption, obj = fig
            path = figure_paths.get(caption, obj if isinstance(obj, (str, Path)) else None)
            target = "<" + str(path).replace("<", "%3C").replace(">", "%3E") + ">" if path else None
            label = f"Figure {numbers[id(fig)]}: {caption}"
            lines += [f"![{md_escape(label)}]({target})" if target else f"*{md_escape(label)}*", "",
                      f"*{md_escape(label)}*" if target else "", ""]
            if not target:
                lines = lines[:-2]
    return "\n".join(lines)


def _md_table(t: DisplayTable) -> str:
    rows = ["| " + " | ".join(md_escape(h) for h in t.header) + " |",
            "|" + "".join("---:|" if a == "r" else "---|" for a in t.align)]
    rows += ["| " + " | ".join(md_escape(v) for v in r) + " |" for r in t.rows]
    return "\n".join(rows)
