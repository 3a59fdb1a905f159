"""Renderers from the neutral document model to PDF, DOCX, PPTX, XLSX and Markdown bytes, reproducibly.

Every timestamp a format carries is set from the version's publication date, and every ZIP container (DOCX, PPTX,
XLSX) is rewritten with fixed member dates, so the same input always gives byte-identical output.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import docx
import docx.shared
import openpyxl
import openpyxl.styles
import openpyxl.utils
import pptx
import pptx.util
from docx.document import Document as WordDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl.worksheet.worksheet import Worksheet
from pptx.presentation import Presentation
from pptx.slide import Slide
from pptx.text.text import TextFrame

from .model import Block, Bullets, Cell, Document, Heading, Section, Table

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = "DejaVu"
ACCENT = (22, 78, 140)  # NordTech blue
HEADER_FILL = (221, 231, 242)
ZIP_DATE = (2025, 1, 1, 0, 0, 0)


# --- cells ------------------------------------------------------------------------------------------------------


def format_cell(value: Cell, lang: str) -> str:
    """Numbers as readers write them: ``1 480 000`` and ``18,5`` in Russian, ``1,480,000`` in English."""
    if isinstance(value, str):
        return value
    english = lang == "en"
    if isinstance(value, int):
        text = f"{value:,}"
        return text if english else text.replace(",", " ")
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text if english else text.replace(",", " ").replace(".", ",")


def _numeric_columns(table: Table) -> list[bool]:
    """Columns whose every body cell is a number (right-aligned in print)."""
    columns = range(len(table.header))
    return [all(not isinstance(row[c], str) for row in table.rows) and bool(table.rows) for c in columns]


def _widths(table: Table) -> list[float]:
    if table.widths:
        return list(table.widths)
    longest = [len(h) for h in table.header]
    for row in table.rows:
        for c, cell in enumerate(row):
            longest[c] = max(longest[c], min(len(format_cell(cell, "ru")), 40))
    return [max(7.0, float(n)) for n in longest]


# --- PDF --------------------------------------------------------------------------------------------------------


class _Pdf(FPDF):
    """A4 page with a running header (company and title) and a page footer in the document's language."""

    def __init__(self, doc: Document) -> None:
        super().__init__(format="A4")
        self.doc = doc

    def header(self) -> None:
        self.set_font(FONT, "", 7.5)
        self.set_text_color(120, 120, 120)
        self.cell(0, 5, f"NordTech Industries · {self.doc.title}", new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(*ACCENT)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(4)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(120, 120, 120)
        label = "Page {n} of {{nb}}" if self.doc.lang == "en" else "Стр. {n} из {{nb}}"
        self.cell(0, 5, label.format(n=self.page_no()), align="R")


def _pdf_paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 5, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _pdf_heading(pdf: FPDF, text: str) -> None:
    pdf.ln(1)
    pdf.set_font(FONT, "B", 11)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(0, 6, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(1)


def _pdf_bullets(pdf: FPDF, bullets: Bullets) -> None:
    pdf.set_font(FONT, "", 10)
    for number, item in enumerate(bullets.items, start=1):
        pdf.set_x(pdf.l_margin + 3)
        pdf.cell(6, 5, f"{number}." if bullets.numbered else "•")
        pdf.multi_cell(0, 5, item, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(0.8)
    pdf.ln(1.5)


def _pdf_table(pdf: FPDF, table: Table, lang: str) -> None:
    numeric = _numeric_columns(table)
    align = tuple("RIGHT" if n else "LEFT" for n in numeric)
    pdf.set_font(FONT, "", 8.5)
    style = FontFace(emphasis="BOLD", fill_color=HEADER_FILL)
    with pdf.table(
        col_widths=tuple(_widths(table)),
        text_align=align,
        line_height=4.6,
        headings_style=style,
        padding=1.2,
    ) as grid:
        head = grid.row()
        for title in table.header:
            head.cell(title, align="LEFT")
        for values in table.rows:
            row = grid.row()
            for value in values:
                row.cell(format_cell(value, lang))
    pdf.ln(3)


def _pdf_block(pdf: FPDF, block: Block, lang: str) -> None:
    if isinstance(block, str):
        _pdf_paragraph(pdf, block)
    elif isinstance(block, Heading):
        _pdf_heading(pdf, block.text)
    elif isinstance(block, Bullets):
        _pdf_bullets(pdf, block)
    else:
        _pdf_table(pdf, block, lang)


def render_pdf(doc: Document, stamp: datetime) -> bytes:
    """One A4 page per section; the first page also carries the document title."""
    pdf = _Pdf(doc)
    pdf.add_font(FONT, "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_creation_date(stamp.replace(tzinfo=UTC))  # naive dates would take the machine's time zone
    pdf.set_title(doc.title)
    pdf.set_author(doc.author)
    pdf.set_subject(doc.subtitle)
    pdf.set_creator("NordTech demo library build")
    pdf.set_producer("NordTech demo library build")
    pdf.set_lang("en" if doc.lang == "en" else "ru")
    pdf.set_margins(16, 12, 16)
    pdf.set_auto_page_break(True, margin=16)
    for index, section in enumerate(doc.sections):
        pdf.add_page()
        if index == 0:
            pdf.set_font(FONT, "B", 19)
            pdf.set_text_color(*ACCENT)
            pdf.multi_cell(0, 9, doc.title, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font(FONT, "", 11)
            pdf.set_text_color(80, 80, 80)
            pdf.multi_cell(0, 6, doc.subtitle, align="L", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(5)
        pdf.set_font(FONT, "B", 14)
        pdf.set_text_color(*ACCENT)
        pdf.multi_cell(0, 7, section.title, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)
        for block in section.blocks:
            _pdf_block(pdf, block, doc.lang)
    return bytes(pdf.output())


# --- DOCX -------------------------------------------------------------------------------------------------------


def _docx_table(document: WordDocument, table: Table, lang: str) -> None:
    grid = document.add_table(rows=1, cols=len(table.header))
    grid.style = "Table Grid"
    numeric = _numeric_columns(table)
    for cell, title in zip(grid.rows[0].cells, table.header, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(title).bold = True
    for values in table.rows:
        cells = grid.add_row().cells
        for column, (cell, value) in enumerate(zip(cells, values, strict=True)):
            cell.text = format_cell(value, lang)
            if numeric[column]:
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    widths = _widths(table)
    total = sum(widths)
    for column, width in enumerate(widths):
        for cell in grid.columns[column].cells:
            cell.width = docx.shared.Cm(17 * width / total)
    document.add_paragraph()


def _docx_block(document: WordDocument, block: Block, lang: str) -> None:
    if isinstance(block, str):
        document.add_paragraph(block)
    elif isinstance(block, Heading):
        document.add_heading(block.text, level=2)
    elif isinstance(block, Bullets):
        style = "List Number" if block.numbered else "List Bullet"
        for item in block.items:
            document.add_paragraph(item, style=style)
    else:
        _docx_table(document, block, lang)


def render_docx(doc: Document, stamp: datetime) -> bytes:
    """Title, subtitle, then one ``Heading 1`` per section."""
    document = docx.Document()
    document.styles["Normal"].font.name = "Calibri"
    document.styles["Normal"].font.size = docx.shared.Pt(10.5)
    document.add_heading(doc.title, level=0)
    document.add_paragraph().add_run(doc.subtitle).italic = True
    for section in doc.sections:
        document.add_heading(section.title, level=1)
        for block in section.blocks:
            _docx_block(document, block, doc.lang)
    props = document.core_properties
    props.title = doc.title
    props.subject = doc.subtitle
    props.author = doc.author
    props.last_modified_by = doc.author
    props.language = "en-US" if doc.lang == "en" else "ru-RU"
    props.revision = 1
    props.created = props.modified = props.last_printed = stamp
    buffer = io.BytesIO()
    document.save(buffer)
    return normalise_zip(buffer.getvalue(), stamp)


# --- PPTX -------------------------------------------------------------------------------------------------------

_SLIDE_W = pptx.util.Inches(13.333)
_SLIDE_H = pptx.util.Inches(7.5)
_LEFT = pptx.util.Inches(0.6)
_WIDTH = pptx.util.Inches(12.1)
_BODY_TOP = pptx.util.Inches(1.55)


def _style_runs(frame: TextFrame, size: int, bold: bool = False) -> None:
    for paragraph in frame.paragraphs:
        for run in paragraph.runs:
            run.font.size = pptx.util.Pt(size)
            run.font.bold = bold


def _text_lines(section: Section) -> list[tuple[str, bool]]:
    """The text blocks of a slide as (line, is_heading) pairs; tables are placed separately."""
    lines: list[tuple[str, bool]] = []
    for block in section.blocks:
        if isinstance(block, str):
            lines.append((block, False))
        elif isinstance(block, Heading):
            lines.append((block.text, True))
        elif isinstance(block, Bullets):
            marks = (f"{n}. " if block.numbered else "• " for n in range(1, len(block.items) + 1))
            lines.extend((mark + item, False) for mark, item in zip(marks, block.items, strict=True))
    return lines


def _slide_text(slide: Slide, lines: list[tuple[str, bool]], size: int) -> int:
    """Write the text box and return its estimated height in EMU, so a table can go below it."""
    if not lines:
        return 0
    per_line = int(12.1 * 72 / (size * 0.52))
    rows = sum(math.ceil(len(text) / per_line) for text, _ in lines) + 0.3 * len(lines)
    height = int(pptx.util.Pt(size * 1.25) * rows)
    box = slide.shapes.add_textbox(_LEFT, _BODY_TOP, _WIDTH, height)
    frame = box.text_frame
    frame.word_wrap = True
    for index, (text, heading) in enumerate(lines):
        paragraph = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = text
        run.font.size = pptx.util.Pt(size + 2 if heading else size)
        run.font.bold = heading
        paragraph.space_after = pptx.util.Pt(6)
    return height


def _slide_table(slide: Slide, table: Table, top: int, lang: str) -> int:
    rows = len(table.rows) + 1
    size = 12 if rows > 7 or len(table.header) > 5 else 14
    row_height = pptx.util.Pt(size * 2.1)
    shape = slide.shapes.add_table(rows, len(table.header), _LEFT, top, _WIDTH, row_height * rows)
    grid = shape.table
    widths = _widths(table)
    total = sum(widths)
    for column, width in enumerate(widths):
        grid.columns[column].width = int(_WIDTH * width / total)
    for column, title in enumerate(table.header):
        grid.cell(0, column).text = title
        _style_runs(grid.cell(0, column).text_frame, size, bold=True)
    for row_index, values in enumerate(table.rows, start=1):
        for column, value in enumerate(values):
            grid.cell(row_index, column).text = format_cell(value, lang)
            _style_runs(grid.cell(row_index, column).text_frame, size)
    return row_height * rows


def _content_slide(prs: Presentation, section: Section, number: int, lang: str) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[5])
    title = slide.shapes.title
    title.left, title.top, title.width, title.height = _LEFT, pptx.util.Inches(0.35), _WIDTH, pptx.util.Inches(1.0)
    title.text = section.title
    _style_runs(title.text_frame, 28, bold=True)
    lines = _text_lines(section)
    size = 18 if sum(len(t) for t, _ in lines) < 600 else 15
    top = _BODY_TOP + _slide_text(slide, lines, size) + pptx.util.Inches(0.15)
    for block in section.blocks:
        if isinstance(block, Table):
            top += _slide_table(slide, block, top, lang) + pptx.util.Inches(0.2)
    badge = slide.shapes.add_textbox(pptx.util.Inches(12.3), pptx.util.Inches(7.0), pptx.util.Inches(0.8), 300000)
    badge.text_frame.text = str(number)
    _style_runs(badge.text_frame, 11)
    if section.notes:
        slide.notes_slide.notes_text_frame.text = section.notes


def render_pptx(doc: Document, stamp: datetime) -> bytes:
    """A 16:9 deck: a title slide, then one titled slide per section, with speaker notes where given."""
    prs = pptx.Presentation()
    prs.slide_width, prs.slide_height = _SLIDE_W, _SLIDE_H
    cover = prs.slides.add_slide(prs.slide_layouts[0])
    cover.shapes.title.text = doc.title
    cover.placeholders[1].text = doc.subtitle
    for shape in cover.placeholders:
        shape.left, shape.width = pptx.util.Inches(0.8), pptx.util.Inches(11.7)
    _style_runs(cover.shapes.title.text_frame, 38, bold=True)
    _style_runs(cover.placeholders[1].text_frame, 20)
    for number, section in enumerate(doc.sections, start=2):
        _content_slide(prs, section, number, doc.lang)
    props = prs.core_properties
    props.title = doc.title
    props.subject = doc.subtitle
    props.author = doc.author
    props.last_modified_by = doc.author
    props.language = "en-US" if doc.lang == "en" else "ru-RU"
    props.revision = 1
    props.created = props.modified = props.last_printed = stamp
    buffer = io.BytesIO()
    prs.save(buffer)
    return normalise_zip(buffer.getvalue(), stamp)


# --- XLSX -------------------------------------------------------------------------------------------------------

_BOLD = openpyxl.styles.Font(bold=True)
_FILL = openpyxl.styles.PatternFill("solid", fgColor="DDE7F2")


def _sheet_table(sheet: Worksheet, table: Table, row: int) -> int:
    for column, title in enumerate(table.header, start=1):
        cell = sheet.cell(row=row, column=column, value=title)
        cell.font, cell.fill = _BOLD, _FILL
    if sheet.freeze_panes is None:
        sheet.freeze_panes = sheet.cell(row=row + 1, column=1)
    for values in table.rows:
        row += 1
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column, value=value)
            if isinstance(value, int):
                cell.number_format = "#,##0"
            elif isinstance(value, float):
                cell.number_format = "#,##0.00"
    for column, title in enumerate(table.header, start=1):
        longest = max([len(title)] + [len(format_cell(r[column - 1], "ru")) for r in table.rows])
        letter = openpyxl.utils.get_column_letter(column)
        current = sheet.column_dimensions[letter].width or 0
        sheet.column_dimensions[letter].width = max(current, min(longest + 2, 60))
    return row + 2


def _fill_sheet(sheet: Worksheet, section: Section, row: int) -> None:
    sheet.cell(row=row, column=1, value=section.title).font = openpyxl.styles.Font(bold=True, size=13)
    row += 2
    for block in section.blocks:
        if isinstance(block, str):
            sheet.cell(row=row, column=1, value=block)
            row += 1
        elif isinstance(block, Heading):
            sheet.cell(row=row, column=1, value=block.text).font = _BOLD
            row += 1
        elif isinstance(block, Bullets):
            for item in block.items:
                sheet.cell(row=row, column=1, value=f"• {item}")
                row += 1
        else:
            row = _sheet_table(sheet, block, row + 1)


def render_xlsx(doc: Document, stamp: datetime) -> bytes:
    """One worksheet per section; the first sheet also carries the document title."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for index, section in enumerate(doc.sections):
        sheet = book.create_sheet(section.sheet or section.title[:31])
        row = 1
        if index == 0:
            sheet.cell(row=1, column=1, value=doc.title).font = openpyxl.styles.Font(bold=True, size=15)
            sheet.cell(row=2, column=1, value=doc.subtitle)
            row = 4
        _fill_sheet(sheet, section, row)
    props = book.properties
    props.title, props.subject, props.creator, props.lastModifiedBy = doc.title, doc.subtitle, doc.author, doc.author
    props.language = "en-US" if doc.lang == "en" else "ru-RU"
    props.created = props.modified = stamp
    buffer = io.BytesIO()
    book.save(buffer)
    return normalise_zip(buffer.getvalue(), stamp)


# --- Markdown ---------------------------------------------------------------------------------------------------


def _md_table(table: Table, lang: str) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    numeric = _numeric_columns(table)
    rule = ["---:" if n else "---" for n in numeric]
    body = [line([format_cell(v, lang) for v in row]) for row in table.rows]
    return [line(list(table.header)), line(rule), *body, ""]


def _md_block(block: Block, lang: str) -> list[str]:
    if isinstance(block, str):
        return [block, ""]
    if isinstance(block, Heading):
        return [f"### {block.text}", ""]
    if isinstance(block, Bullets):
        marks = (f"{n}." if block.numbered else "-" for n in range(1, len(block.items) + 1))
        return [f"{mark} {item}" for mark, item in zip(marks, block.items, strict=True)] + [""]
    return _md_table(block, lang)


def render_md(doc: Document, stamp: datetime) -> bytes:
    """``#`` title, italic subtitle, one ``##`` per section; the stamp is not written (text has no metadata)."""
    del stamp
    lines = [f"# {doc.title}", "", f"*{doc.subtitle}*", ""]
    for section in doc.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _md_block(block, doc.lang)
    return ("\n".join(lines).rstrip() + "\n").encode("utf-8")


# --- ZIP normalisation ------------------------------------------------------------------------------------------

_CORE_DATE = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")


def normalise_zip(data: bytes, stamp: datetime) -> bytes:
    """Rewrite an OOXML package with fixed member dates and attributes, keeping member order and content.

    openpyxl stamps ``dcterms:modified`` with the current time while saving, so the core properties part is
    patched here to the version's own stamp.
    """
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            payload = source.read(member.filename)
            if member.filename == "docProps/core.xml":
                payload = _CORE_DATE.sub(lambda m: m.group(1) + iso + m.group(3), payload)
            info = zipfile.ZipInfo(member.filename, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            target.writestr(info, payload, compresslevel=9)
    return out.getvalue()


RENDERERS: dict[str, Callable[[Document, datetime], bytes]] = {
    "pdf": render_pdf,
    "docx": render_docx,
    "pptx": render_pptx,
    "xlsx": render_xlsx,
    "md": render_md,
}
