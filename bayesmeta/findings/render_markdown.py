"""The summary of findings as a markdown table (GitHub / mkdocs flavour) with numbered footnotes and the legend.
Every text is escaped with md_escape (markdown's inline characters, and &, <, > as entities); lines within a
cell are joined by <br>."""

from __future__ import annotations

from .formatting import md_escape
from .layout import HEADERS


def _cell(cell) -> str:
    text = "<br>".join(md_escape(line) for line in cell.lines)
    return text + (f" [{','.join(map(str, cell.notes))}]" if cell.notes else "")


def render_markdown(sof) -> str:
    lines = [f"# Summary of findings: {md_escape(sof.title)}", ""]
    lines += [md_escape(line, block=True) + "  " for line in sof.legend()[:-2]] + [""]
    lines.append("| " + " | ".join(md_escape(h) for h in HEADERS) + " |")
    lines.append("|" + "---|" * len(HEADERS))
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in sof.cells()]
    if sof.footnotes:
        lines += ["", "Footnotes:", ""] + [f"{i}. {md_escape(t)}" for i, t in enumerate(sof.footnotes, 1)]
    lines += [""] + [md_escape(line, block=True) + "  " for line in sof.legend()[-2:]]
    return "\n".join(lines) + "\n"
