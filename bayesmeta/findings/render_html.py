"""The summary of findings as one self-contained HTML page, laid out as Cochrane / GRADEpro tables are: the
question above, one row per outcome, certainty with footnote marks, footnotes and the GRADE legend below.
On narrow screens (phones) each outcome becomes a card with the column names as labels; print CSS keeps rows
whole. Every text is HTML-escaped.
"""

from __future__ import annotations

from html import escape

from .layout import HEADERS, WIDTHS

CSS = """
*{box-sizing:border-box}
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;padding:1rem;color:#1b1b1b;
 line-height:1.4;font-size:15px;background:#fff}
main{max-width:1400px;margin:0 auto}
h1{font-size:1.3rem;margin:.2rem 0 .6rem;overflow-wrap:anywhere}
.question{margin:0 0 1rem;padding:.6rem .8rem;background:#eef3f8;border-left:4px solid #2b5d8a}
.question p{margin:.15rem 0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;table-layout:fixed}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #9aa7b4;padding:.45rem .5rem;vertical-align:top;text-align:left;overflow-wrap:break-word;
 hyphens:auto}
thead th{background:#2b5d8a;color:#fff;font-weight:600}
td.outcome span{display:block}
td.outcome span+span{color:#444;font-size:.9em}
.symbols{letter-spacing:.05em}
sup{font-size:.75em}
sup a{color:#2b5d8a}
td p{margin:0 0 .25rem}
ol.footnotes li,ul.legend li{margin:.2rem 0;overflow-wrap:anywhere}
footer{margin-top:1rem;font-size:.9em}
@media screen and (max-width:760px){
 body{padding:.6rem;font-size:14px}
 thead,colgroup{display:none}
 table,tbody,tr,td{display:block;width:100%}
 tr{border:1px solid #9aa7b4;margin:0 0 .9rem;border-radius:4px}
 td{border:none;border-top:1px solid #dde3e9}
 td.outcome{background:#eef3f8;font-weight:600;border-top:none}
 td[data-label]:not(.outcome)::before{content:attr(data-label);display:block;font-size:.8em;color:#555;
  font-weight:600;margin-bottom:.1rem}
}
@media print{
 @page{size:A4 landscape;margin:12mm}
 body{font-size:9.5pt;padding:0}
 thead th{background:#fff;color:#000;border-bottom:2px solid #000}
 .question{background:none;border-left:2px solid #000}
 tr{break-inside:avoid;page-break-inside:avoid}
 thead{display:table-header-group}
 sup a{color:#000;text-decoration:none}
}
"""


def _cell_html(cell, column: int) -> str:
    if column == 0:
        body = "".join(f"<span>{escape(line)}</span>" for line in cell.lines)
    else:
        body = "".join(f"<p>{escape(line)}</p>" for line in cell.lines)
    if column == 4:
        text, _, word = cell.lines[0].partition(" ")
        body = f'<p><span class="symbols" aria-hidden="true">{escape(text)}</span> {escape(word)}'
        if cell.notes:
            body += "<sup>" + ",".join(f'<a href="#note-{n}">{n}</a>' for n in cell.notes) + "</sup>"
        body += "</p>"
    kind = {0: ' class="outcome"', 4: ' class="certainty"'}.get(column, "")
    return f'<td{kind} data-label="{escape(HEADERS[column])}">{body}</td>'


def render_html(sof) -> str:
    """The HTML page (UTF-8, no external resources)."""
    cols = "".join(f'<col style="width:{w}%">' for w in WIDTHS)
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in HEADERS)
    rows = "".join("<tr>" + "".join(_cell_html(c, i) for i, c in enumerate(row)) + "</tr>" for row in sof.cells())
    notes = "".join(f'<li id="note-{i}">{escape(t)}</li>' for i, t in enumerate(sof.footnotes, 1))
    question = "".join(f"<p>{escape(line)}</p>" for line in sof.legend()[:-2])
    legend = "".join(f"<li>{escape(line)}</li>" for line in sof.legend()[-2:])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(sof.title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>Summary of findings: {escape(sof.title)}</h1><div class=\"question\">{question}</div>"
            f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
            f"<footer>{'<h2>Footnotes</h2><ol class=\"footnotes\">' + notes + '</ol>' if notes else ''}"
            f'<ul class="legend">{legend}</ul></footer></main></body></html>\n')
