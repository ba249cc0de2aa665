"""The summary of findings as a Word document (python-docx): landscape A4, the question, a table a guideline
panel can paste (header row repeated on every page, rows kept whole), footnote marks as superscripts, the
footnotes and the GRADE legend. Characters XML cannot hold (control characters) are dropped; python-docx
escapes the rest."""

from __future__ import annotations

import re

from .layout import HEADERS, WIDTHS

TEXT_WIDTH_MM = 273  # landscape A4 less two 12 mm margins

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: str) -> str:
    """Text Word's XML can hold."""
    return _XML_INVALID.sub("", str(text))


def _landscape(document):
    from docx.enum.section import WD_ORIENT
    from docx.shared import Mm

    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(12))


def _repeat_header(row):
    from docx.oxml import OxmlElement

    props = row._tr.get_or_add_trPr()
    for tag in ("w:tblHeader", "w:cantSplit"):
        props.append(OxmlElement(tag))


def _fill(cell, lines, notes=(), bold=False):
    from docx.shared import Pt

    cell.text = ""
    for i, line in enumerate(lines):
        paragraph = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
        run = paragraph.add_run(clean(line))
        run.bold, run.font.size = bold, Pt(8.5)
        if i == 0 and notes:
            mark = paragraph.add_run(" " + ",".join(str(n) for n in notes))
            mark.font.superscript, mark.font.size = True, Pt(8.5)


def render_docx(sof, path) -> None:
    from docx import Document
    from docx.shared import Mm, Pt

    document = Document()
    _landscape(document)
    document.add_heading(clean(f"Summary of findings: {sof.title}"), level=1)
    for line in sof.legend()[:-2]:
        document.add_paragraph(clean(line))
    table = document.add_table(rows=1, cols=len(HEADERS))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, HEADERS):
        _fill(cell, [header], bold=True)
    _repeat_header(table.rows[0])
    for row in sof.cells():
        cells = table.add_row().cells
        for cell, content in zip(cells, row):
            _fill(cell, content.lines, content.notes)
    table.autofit = False
    for column, share in zip(table.columns, WIDTHS):  # Word reads the widths of the cells
        for cell in column.cells:
            cell.width = Mm(TEXT_WIDTH_MM * share / 100)
    if sof.footnotes:
        document.add_paragraph().add_run("Footnotes").bold = True
        for i, text in enumerate(sof.footnotes, 1):
            document.add_paragraph(clean(f"{i}. {text}")).runs[0].font.size = Pt(9)
    for line in sof.legend()[-2:]:
        document.add_paragraph(clean(line)).runs[0].font.size = Pt(9)
    document.save(str(path))
