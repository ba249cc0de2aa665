"""Plain-text rendering of a `Report`."""

from __future__ import annotations

from ..formatting import DisplayTable, display_table, one_line


# --------------------------------------------------------------------------- text
def _figure_numbers(report) -> dict[int, int]:
    numbers, n = {}, 0
    for sec in report.sections:
        for fig in sec.figures:
            n += 1
            numbers[id(fig)] = n
    return numbers


def _text_table(t: DisplayTable) -> list[str]:
    widths = [max(len(t.header[j]), *(len(r[j]) for r in t.rows)) if t.rows else len(t.header[j])
              for j in range(len(t.header))]

    def line(cells):
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, t.align)).rstrip()

    return [line(t.header), "  ".join("-" * w for w in widths)] + [line(r) for r in t.rows]


def _text(report) -> str:
    title = one_line(report.title)
    lines = [title, "=" * len(title), ""]
    numbers = _figure_numbers(report)
    for sec in report.sections:
        lines += [sec.title, "-" * len(sec.title)]
        lines += [*sec.paragraphs]
        for caption, table in sec.key_tables:
            lines += ["", caption + ":", *_text_table(display_table(table)), ""]
        lines += [f"- {one_line(item)}" for item in sec.items]
        for caption, table in sec.tables:
            lines += ["", caption + ":", *_text_table(display_table(table))]
        for fig in sec.figures:
            lines.append(f"[Figure {numbers[id(fig)]}: {fig[0]}]")
        lines.append("")
    return "\n".join(lines)
