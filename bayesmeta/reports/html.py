"""Self-contained HTML rendering of a `Report`: a table of contents; tables that stack their rows on a phone (each
cell beside its column's name) and scroll where still too wide; figures as inline SVG scaled to the page, each with
a link to open it alone at full size; print CSS that keeps each heading with its first table or figure."""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

from ..formatting import DisplayTable, display_table, one_line
from .text import _figure_numbers


# --------------------------------------------------------------------------- HTML
def _png_base64(fig) -> str:
    if isinstance(fig, (str, Path)):
        with open(fig, "rb") as fh:
            return base64.b64encode(fh.read()).decode()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _svg_text(fig) -> str | None:
    """The SVG of a figure: the .svg beside a PNG path, or the Figure saved as SVG; None where there is none."""
    if isinstance(fig, (str, Path)):
        path = Path(fig)
        svg = path if path.suffix.lower() == ".svg" else path.with_suffix(".svg")
        return svg.read_text(encoding="utf-8") if svg.exists() else None
    from ..formatting import plain_text

    buf = io.StringIO()
    plain_text(fig)
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def inline_svg(svg: str, prefix: str, label: str) -> str:
    """Matplotlib's SVG made fit to sit inside an HTML page: no XML prolog, comments (which hold the figure's
    text as written) or metadata; its ids prefixed (several figures share glyph names); its global style rule
    moved onto the root; scaled to the width of the page (the viewBox keeps the shape); labelled for screen
    readers."""
    svg = re.sub(r"<\?xml.*?\?>|<!DOCTYPE.*?>|<!--.*?-->|<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r'(href=")#([^"]+)"', lambda m: f'{m.group(1)}#{prefix}-{m.group(2)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
    svg = re.sub(r"<svg\b", f'<svg role="img" aria-label="{html.escape(label, quote=True)}" '
                 'stroke-linejoin="round" stroke-linecap="butt"', svg, count=1)
    return svg.strip()


_CSS = """
:root{color-scheme:light}
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:0 auto;
padding:1em 1em 3em;color:#222;line-height:1.45;overflow-wrap:anywhere}
h1{font-size:1.6em;line-height:1.2}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
nav.toc{background:#f6f8fa;border:1px solid #e1e4e8;border-radius:6px;padding:.6em 1.2em;margin:1em 0}
nav.toc h2{font-size:1em;border:0;margin:.2em 0;padding:0}nav.toc ol{margin:.3em 0;padding-left:1.4em}
section.summary ul{padding-left:1.2em}section.summary li{margin:.35em 0}
.table-wrap{max-width:100%;overflow-x:auto;margin:.6em 0 1.4em;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.88em;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.3em 0;caption-side:top}
th,td{border-bottom:1px solid #ddd;padding:.3em .65em;vertical-align:top}
thead th{border-bottom:2px solid #888;text-align:left;vertical-align:bottom;white-space:normal;overflow-wrap:normal;min-width:3.5em}
th,td{white-space:nowrap}th.num,td.num{text-align:right}.long{white-space:normal;min-width:12em}
tbody th{text-align:left;font-weight:normal}tbody tr:nth-child(even){background:#fafafa}
figure{margin:1.2em 0}.fig-wrap{max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch}
figure svg,figure img{display:block;max-width:100%;height:auto}
figcaption{font-size:.9em;color:#444;margin-top:.3em}figcaption a{color:#555}.files{display:block}
@media (max-width:600px){body{padding:.6em;font-size:15px}
table,thead,tbody,tr,th,td,caption{display:block}thead{position:absolute;left:-9999px}
tbody tr{border-bottom:1px solid #bbb;padding:.3em 0}tbody tr:nth-child(even){background:none}
tbody th{font-weight:600;white-space:normal;border:0;padding:.2em 0}
td,td.num{display:flex;justify-content:space-between;gap:1em;white-space:normal;border:0;padding:.1em 0 .1em .8em;
text-align:right}td.num{white-space:nowrap}td::before{content:attr(data-label);text-align:left;color:#555;
white-space:normal;flex:1 1 auto;min-width:0}}
@media print{
@page{margin:16mm 14mm}
body{max-width:none;padding:0;font-size:10pt;color:#000}
nav.toc{background:none;border:0;padding:0}
h2,caption{break-after:avoid;page-break-after:avoid}p{orphans:3;widows:3}
.keep,figure,table,tr,li{break-inside:avoid;page-break-inside:avoid}figcaption{break-before:avoid}
.table-wrap,.fig-wrap{overflow:visible}table{font-size:7.5pt;max-width:100%}
th,td,thead th{white-space:normal;overflow-wrap:normal;padding:.15em .35em}.long{min-width:0}
.fig-wrap svg,.fig-wrap img{width:auto;max-width:100%}
thead{display:table-header-group}
a{color:inherit;text-decoration:none}
figcaption .files{display:none}
}
"""


def _slug(text: str, used: set) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, n = base, 2
    while slug in used:
        slug, n = f"{base}-{n}", n + 1
    used.add(slug)
    return slug


LONG_CELL = 28  # characters: a longer cell wraps in the HTML table (shorter ones stay on one line)


def _html_table(caption: str, t: DisplayTable, ident: str) -> str:
    esc = html.escape
    head = "".join(f"<th scope='col'{" class='num'" if a == 'r' and j else ''}>{esc(h)}</th>"
                   for j, (h, a) in enumerate(zip(t.header, t.align)))
    body = []

    def cls(text, align):  # numbers right-aligned; text on one line unless long (then it wraps)
        return " class='num'" if align == "r" else " class='long'" if len(text) > LONG_CELL else ""

    for r in t.rows:  # each cell names its column (data-label), shown beside it when a phone stacks the rows
        cells = [f"<th scope='row'{cls(r[0], 'l')}>{esc(r[0])}</th>"]
        cells += [f"<td{cls(v, a)} data-label='{esc(h, quote=True)}'>{esc(v)}</td>"
                  for v, a, h in zip(r[1:], t.align[1:], t.header[1:])]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='table-wrap' role='region' tabindex='0' aria-labelledby='{ident}'><table>"
            f"<caption id='{ident}'>{esc(caption)}</caption><thead><tr>{head}</tr></thead><tbody>"
            + "".join(body) + "</tbody></table></div>")


def _html_figure(caption: str, fig, number: int) -> str:
    esc = html.escape
    label = f"Figure {number}: {caption}"
    svg = _svg_text(fig)
    links = ""
    if isinstance(fig, (str, Path)):
        path = Path(fig)
        files = [(p.suffix[1:].upper(), p.name) for p in (path.with_suffix(".svg"), path.with_suffix(".png"))
                 if p.exists()]
        if files:
            links = "<span class='files'>Open the figure alone, full size: " + ", ".join(
                f"<a href='figures/{esc(n, quote=True)}' target='_blank'>{k}</a>" for k, n in files) + ".</span>"
    body = (inline_svg(svg, f"f{number}", label) if svg is not None else
            f"<img alt='{esc(label, quote=True)}' src='data:image/png;base64,{_png_base64(fig)}'>")
    return (f"<figure id='figure-{number}'><div class='fig-wrap' tabindex='0'>{body}</div>"
            f"<figcaption>{esc(label)}{links}</figcaption></figure>")


def _html(report) -> str:
    esc = html.escape
    used: set = set()
    ids = [_slug(sec.title, used) for sec in report.sections]
    numbers = _figure_numbers(report)
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           f"<title>{esc(one_line(report.title))}</title><style>{_CSS}</style></head><body>",
           f"<header><h1>{esc(one_line(report.title))}</h1></header>"]
    if len(report.sections) > 2:
        out.append("<nav class='toc' aria-label='Contents'><h2>Contents</h2><ol>" + "".join(
            f"<li><a href='#{i}'>{esc(sec.title)}</a></li>" for i, sec in zip(ids, report.sections)) + "</ol></nav>")
    out.append("<main>")
    table_no = 0
    for sec, ident in zip(report.sections, ids):
        cls = " class='summary'" if ident == "summary" else ""
        blocks = []
        for caption, table in sec.key_tables:
            table_no += 1
            blocks.append(_html_table(caption, display_table(table), f"table-{table_no}"))
        if sec.items:
            blocks.append("<ul>" + "".join(f"<li>{esc(one_line(item))}</li>" for item in sec.items) + "</ul>")
        for caption, table in sec.tables:
            table_no += 1
            blocks.append(_html_table(caption, display_table(table), f"table-{table_no}"))
        blocks += [_html_figure(fig[0], fig[1], numbers[id(fig)]) for fig in sec.figures]
        # In print the heading, its paragraphs and the first table or figure stay on one page.
        lead = [f"<h2>{esc(sec.title)}</h2>", *(f"<p>{esc(p)}</p>" for p in sec.paragraphs), *blocks[:1]]
        out.append(f"<section id='{ident}'{cls}><div class='keep'>" + "\n".join(lead) + "</div>")
        out += blocks[1:]
        out.append("</section>")
    out.append("</main></body></html>")
    return "\n".join(out)
