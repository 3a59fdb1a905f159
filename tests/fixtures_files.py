"""Builders of test files in every format kb accepts (and some it refuses), made with the real libraries.

Each ``make_*`` writes a file at ``path`` and returns ``path``; nothing binary is committed. Other tests (the
publishing ones) import these too. Cyrillic PDFs need the DejaVu font: ``cyrillic_font()`` skips the calling
test when it is missing, or fails it when ``CI`` is set, because CI must run everything.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pptx
import pytest
from docx.enum.text import WD_BREAK
from fpdf import FPDF
from odf import draw, presentation, style, table, text
from odf.namespaces import PRESENTATIONNS
from odf.opendocument import OpenDocumentPresentation, OpenDocumentSpreadsheet, OpenDocumentText
from PIL import Image
from pptx.util import Inches, Pt
from pypdf import PdfReader, PdfWriter

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
HEAD_BYTES = 64 * 1024

# Mixed Russian and English sales text, the kind kb holds.
RU_OFFER = "Коммерческое предложение: сервер «Атлас-2» — 1 250 000 руб. Delivery in 14 days."
RU_PRICE = "Прайс-лист на 2025 год для B2B-клиентов, price list"
RU_TERMS = "Условия оплаты: 50% предоплата, остаток — по факту поставки. Payment terms apply."
RU_LETTER = (
    "Уважаемые коллеги!\n"
    "Направляем вам коммерческое предложение на поставку оборудования для складского комплекса. "
    "Цены указаны с учётом НДС, срок действия предложения - тридцать календарных дней. "
    "Просим подтвердить заказ до конца месяца.\n"
    "С уважением, отдел продаж."
)


def head(path: Path) -> bytes:
    """The first bytes of a file, as the upload code hands them to ``detect``."""
    with path.open("rb") as handle:
        return handle.read(HEAD_BYTES)


def cyrillic_font() -> Path:
    """The TTF font for Cyrillic PDFs; skips the test without it (fails it under CI)."""
    if not FONT_PATH.is_file():
        message = "install fonts-dejavu-core for Cyrillic PDF fixtures"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return FONT_PATH


# --- PDF ----------------------------------------------------------------------------------------------------


def make_pdf(path: Path, pages: Sequence[str], password: str | None = None, owner_password: str | None = None) -> Path:
    """A PDF with one page per string (DejaVu Sans, so Cyrillic works).

    With ``password`` the PDF is AES-256 encrypted with that user password (``""`` makes a PDF that opens
    without one); ``owner_password`` defaults to a different secret.
    """
    document = FPDF()
    document.add_font("DejaVu", "", str(cyrillic_font()))
    document.set_font("DejaVu", size=12)
    for page_text in pages:
        document.add_page()
        if page_text:
            document.multi_cell(0, 8, page_text)
    data = bytes(document.output())
    if password is not None:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        writer.encrypt(user_password=password, owner_password=owner_password or "owner-secret", algorithm="AES-256")
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    path.write_bytes(data)
    return path


def make_scanned_pdf(path: Path, page_count: int = 2) -> Path:
    """A PDF whose pages hold only an image, like a scan without OCR."""
    document = FPDF()
    picture = Image.new("RGB", (60, 40), (200, 200, 200))
    for _ in range(page_count):
        document.add_page()
        document.image(picture, x=10, y=10, w=60)
    path.write_bytes(bytes(document.output()))
    return path


# --- Word ---------------------------------------------------------------------------------------------------


def make_docx(
    path: Path,
    paragraphs: Sequence[str],
    table: Sequence[Sequence[str]] | None = None,
    header: str | None = None,
    footer: str | None = None,
    *,
    sections: int = 1,
) -> Path:
    """A DOCX with the paragraphs, then the table (rows of cells), and the header and footer on every section.

    With ``sections`` > 1 the paragraphs continue in new sections that repeat the same header and footer text
    (not linked to the previous one), so extraction has duplicates to drop.
    """
    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=max(len(row) for row in table))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    for _ in range(sections - 1):
        document.add_section()
    for section in document.sections:
        if header is not None:
            section.header.is_linked_to_previous = False
            section.header.paragraphs[0].text = header
        if footer is not None:
            section.footer.is_linked_to_previous = False
            section.footer.paragraphs[0].text = footer
    document.save(str(path))
    return path


def make_docx_with_page_break(path: Path, before: str, after: str) -> Path:
    """A DOCX with an explicit page break between two paragraphs."""
    document = docx.Document()
    document.add_paragraph(before).add_run().add_break(WD_BREAK.PAGE)
    document.add_paragraph(after)
    document.save(str(path))
    return path


def make_docx_with_controls(path: Path, intro: str, control_text: str, box_text: str) -> Path:
    """A DOCX with a paragraph, a content control (``w:sdt``) holding a paragraph, and a text box stored the way
    Word stores it: as DrawingML in ``mc:Choice`` and again as VML in ``mc:Fallback``."""
    make_docx(path, [intro])
    control = (
        '<w:sdt><w:sdtPr><w:alias w:val="Customer"/></w:sdtPr><w:sdtContent>'
        f"<w:p><w:r><w:t>{control_text}</w:t></w:r></w:p></w:sdtContent></w:sdt>"
    )
    box = f"<w:txbxContent><w:p><w:r><w:t>{box_text}</w:t></w:r></w:p></w:txbxContent>"
    drawing = (
        '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wp:inline>'
        '<a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
        '<a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">'
        f"<wps:wsp><wps:txbx>{box}</wps:txbx></wps:wsp></a:graphicData></a:graphic></wp:inline></w:drawing>"
        f"</mc:Choice><mc:Fallback><w:pict><v:shape><v:textbox>{box}</v:textbox></v:shape></w:pict>"
        "</mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )

    def insert(xml: bytes) -> bytes:
        at = xml.rindex(b"<w:sectPr")
        return xml[:at] + (control + drawing).encode("utf-8") + xml[at:]

    return rewrite_zip_member(path, "word/document.xml", insert)


# --- PowerPoint ---------------------------------------------------------------------------------------------


def make_pptx(
    path: Path,
    slides: Sequence[tuple[str, str, str]],
    *,
    group_texts: Sequence[str] = (),
    table: Sequence[Sequence[str]] | None = None,
) -> Path:
    """A PPTX with a slide per (title, body, notes); the first slide also gets a group of text boxes (one
    nested a group deeper) with ``group_texts`` and a table with ``table``."""
    deck = pptx.Presentation()
    layout = deck.slide_layouts[1]  # title and content
    for number, (title, body, notes) in enumerate(slides, start=1):
        slide = deck.slides.add_slide(layout)
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
        if number == 1 and group_texts:
            _add_group(slide.shapes, group_texts)
        if number == 1 and table:
            frame = slide.shapes.add_table(len(table), len(table[0]), Inches(1), Inches(5), Inches(6), Inches(1))
            for r, row in enumerate(table):
                for c, value in enumerate(row):
                    frame.table.cell(r, c).text = value
    deck.save(str(path))
    return path


def _add_group(shapes: Any, texts: Sequence[str]) -> None:
    group = shapes.add_group_shape()
    inner = group.shapes.add_group_shape()
    for index, value in enumerate(texts):
        target = inner.shapes if index % 2 else group.shapes
        box = target.add_textbox(Inches(1 + index), Inches(1), Inches(1), Inches(0.5))
        box.text_frame.text = value
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(12)


# --- Excel --------------------------------------------------------------------------------------------------


def make_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[object]]]) -> Path:
    """An XLSX with a sheet per name, holding the rows given."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    workbook.save(str(path))
    return path


def make_xlsx_with_huge_dimension(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    """An XLSX whose sheet declares the largest possible range (A1:XFD1048576) and stores a row at the very end,
    so a reader that trusts the dimension, or pads every gap, does a billion cells' work."""
    make_xlsx(path, {"Данные": rows})
    return rewrite_zip_member(path, "xl/worksheets/sheet1.xml", _huge_sheet)


def _huge_sheet(xml: bytes) -> bytes:
    xml = re.sub(rb'<dimension ref="[^"]*"\s*/>', b'<dimension ref="A1:XFD1048576"/>', xml)
    last_row = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>the end</t></is></c></row>'
    return xml.replace(b"</sheetData>", last_row + b"</sheetData>")


def rewrite_zip_member(path: Path, name: str, change: Callable[[bytes], bytes]) -> Path:
    """Rewrites one member of a ZIP container through ``change(bytes) -> bytes``, keeping the others."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info.filename)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            if info.filename == name:
                data = change(data)
            target.writestr(info.filename, data)
    return path


# --- OpenDocument -------------------------------------------------------------------------------------------


def make_odt(
    path: Path,
    paragraphs: Sequence[str],
    table: Sequence[Sequence[str]] | None = None,
    header: str | None = None,
    footer: str | None = None,
) -> Path:
    """An ODT with a heading-free body of paragraphs, an optional table, header and footer."""
    document = OpenDocumentText()
    if header is not None or footer is not None:
        layout = style.PageLayout(name="Layout1")
        document.automaticstyles.addElement(layout)
        master = style.MasterPage(name="Standard", pagelayoutname=layout)
        if header is not None:
            part = style.Header()
            part.addElement(text.P(text=header))
            master.addElement(part)
        if footer is not None:
            part = style.Footer()
            part.addElement(text.P(text=footer))
            master.addElement(part)
        document.masterstyles.addElement(master)
    for paragraph in paragraphs:
        document.text.addElement(text.P(text=paragraph))
    if table:
        document.text.addElement(_odf_table("Таблица1", table))
    document.save(str(path))
    return path


def make_odp(path: Path, slides: Sequence[tuple[str, str, str]]) -> Path:
    """An ODP with a slide per (title, body, notes)."""
    document = OpenDocumentPresentation()
    layout = style.PageLayout(name="Layout1")
    document.automaticstyles.addElement(layout)
    master = style.MasterPage(name="Default", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for title, body, notes in slides:
        page = draw.Page(masterpagename=master)
        page.addElement(_odp_frame(title, "title"))
        page.addElement(_odp_frame(body, "outline"))
        if notes:
            holder = presentation.Notes()
            holder.addElement(_odp_frame(notes, "notes"))
            page.addElement(holder)
        document.presentation.addElement(page)
    document.save(str(path))
    return path


def _odp_frame(value: str, kind: str) -> draw.Frame:
    frame = draw.Frame(width="20cm", height="3cm", x="2cm", y="2cm")
    frame.setAttrNS(PRESENTATIONNS, "class", kind)
    box = draw.TextBox()
    for line in value.split("\n"):
        box.addElement(text.P(text=line))
    frame.addElement(box)
    return frame


def make_ods(
    path: Path, sheets: dict[str, Sequence[Sequence[str]]], *, repeat_last_row: int = 1, empty_tail: bool = False
) -> Path:
    """An ODS with a sheet per name.

    ``repeat_last_row`` marks each sheet's last row as repeated that often. ``empty_tail`` ends each sheet
    the way LibreOffice does: an empty row repeated to row 1,048,576 whose empty cell repeats 16,384 columns
    (and each row's trailing empty cells repeated to the last column), which a naive reader expands.
    """
    document = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        document.spreadsheet.addElement(_odf_table(name, rows, repeat_last_row=repeat_last_row, empty_tail=empty_tail))
    document.save(str(path))
    return path


def _odf_table(
    name: str, rows: Sequence[Sequence[object]], *, repeat_last_row: int = 1, empty_tail: bool = False
) -> table.Table:
    grid = table.Table(name=name)
    for index, row in enumerate(rows):
        repeated = repeat_last_row if index == len(rows) - 1 and repeat_last_row > 1 else None
        line = table.TableRow(numberrowsrepeated=repeated) if repeated else table.TableRow()
        for value in row:
            cell = table.TableCell(valuetype="string")
            cell.addElement(text.P(text=str(value)))
            line.addElement(cell)
        if empty_tail:
            line.addElement(table.TableCell(numbercolumnsrepeated=16384 - len(row)))
        grid.addElement(line)
    if empty_tail:
        tail = table.TableRow(numberrowsrepeated=1048576 - len(rows))
        tail.addElement(table.TableCell(numbercolumnsrepeated=16384))
        grid.addElement(tail)
    return grid


# --- ZIP containers that fail the safety checks, and Office variants kb cannot read ---------------------------


def make_zip_bomb(path: Path, megabytes: int = 20) -> Path:
    """A DOCX-shaped ZIP whose document part is ``megabytes`` MiB of spaces, compressed about 1000:1."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _content_types("word/document.xml", _DOCX_MAIN))
        archive.writestr("word/document.xml", b"<w:document>" + b" " * (megabytes * 1024 * 1024))
    return path


def make_zip_with_entries(path: Path, count: int) -> Path:
    """A ZIP of ``count`` tiny entries (stored, so it is quick to write)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", _content_types("word/document.xml", _DOCX_MAIN))
        for index in range(count - 1):
            archive.writestr(f"p/{index}", b"")
    return path


def make_zip_declaring(path: Path, uncompressed: int, compressed: int, *, encrypted: bool = False) -> Path:
    """A DOCX-shaped ZIP whose central directory declares each of its three parts to have these sizes, and
    optionally the encryption flag: what a forged or truly huge container shows before it is opened."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _content_types("word/document.xml", _DOCX_MAIN))
        archive.writestr("word/document.xml", b"<w:document/>")
        archive.writestr("word/styles.xml", b"<w:styles/>")
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        struct.pack_into("<II", data, at + 20, compressed, uncompressed)
        if encrypted:
            (flags,) = struct.unpack_from("<H", data, at + 8)
            struct.pack_into("<H", data, at + 8, flags | 0x1)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


_DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def _content_types(part: str, content_type: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Override PartName="/{part}" ContentType="{content_type}"/></Types>'
    )


def make_strict_docx(path: Path, paragraphs: Sequence[str]) -> Path:
    """A DOCX rewritten to use the Strict Open XML namespaces (as Word's "Strict Open XML Document" saves)."""
    make_docx(path, paragraphs)
    transitional = {
        b"http://schemas.openxmlformats.org/wordprocessingml/2006/main": b"http://purl.oclc.org/ooxml/wordprocessingml/main",
        b"http://schemas.openxmlformats.org/officeDocument/2006/relationships": b"http://purl.oclc.org/ooxml/officeDocument/relationships",
    }  # fmt: skip

    def to_strict(xml: bytes) -> bytes:
        for old, new in transitional.items():
            xml = xml.replace(old, new)
        return xml

    rewrite_zip_member(path, "word/document.xml", to_strict)
    return rewrite_zip_member(path, "_rels/.rels", to_strict)


def make_xlsb(path: Path) -> Path:
    """The package skeleton of a binary Excel workbook (the binary parts are filler)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            _content_types("xl/workbook.bin", "application/vnd.ms-excel.sheet.binary.macroEnabled.main"),
        )
        archive.writestr("xl/workbook.bin", bytes(range(256)) * 4)
        archive.writestr("xl/worksheets/sheet1.bin", bytes(range(256)) * 4)
    return path


# --- OLE2 compound files --------------------------------------------------------------------------------------

_SECTOR = 512
_FREE, _END_OF_CHAIN, _FAT_SECTOR, _NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def make_cfb(path: Path, streams: dict[str, bytes]) -> Path:
    """A minimal valid compound file (version 3, 512-byte sectors) with these streams in its root storage.

    Streams are padded to 4096 bytes so that all live in regular sectors (no mini stream is needed).
    """
    names = sorted(streams, key=lambda n: (len(n), n.upper()))  # CFB directory order
    data = {name: streams[name].ljust(4096, b"\0") for name in names}
    directory_sectors = -(-(len(names) + 1) // 4)
    stream_sectors = {name: len(blob) // _SECTOR for name, blob in data.items()}
    total = 1 + directory_sectors + sum(stream_sectors.values())
    assert total <= _SECTOR // 4, "one FAT sector is enough for these fixtures"

    fat = [_FREE] * (_SECTOR // 4)
    fat[0] = _FAT_SECTOR
    next_free = 1

    def allocate(count: int) -> int:
        nonlocal next_free
        first = next_free
        for index in range(first, first + count):
            fat[index] = index + 1 if index < first + count - 1 else _END_OF_CHAIN
        next_free += count
        return first

    first_directory = allocate(directory_sectors)
    starts = {name: allocate(stream_sectors[name]) for name in names}

    entries = [_directory_entry("Root Entry", 5, child=1 if names else _NO_STREAM, start=_END_OF_CHAIN, size=0)]
    for index, name in enumerate(names, start=1):
        right = index + 1 if index < len(names) else _NO_STREAM
        entries.append(_directory_entry(name, 2, right=right, start=starts[name], size=len(data[name])))
    while len(entries) % 4:
        entries.append(b"\0" * 64 + struct.pack("<HBB3I", 0, 0, 0, _NO_STREAM, _NO_STREAM, _NO_STREAM) + b"\0" * 52)

    header = bytearray(_SECTOR)
    header[:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 0x18, 0x003E, 0x0003, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, 1, first_directory, 0, 4096, _END_OF_CHAIN, 0, _END_OF_CHAIN, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([_FREE] * 108))
    body = struct.pack(f"<{len(fat)}I", *fat) + b"".join(entries) + b"".join(data[name] for name in names)
    path.write_bytes(bytes(header) + body)
    return path


def _directory_entry(
    name: str, kind: int, *, child: int = _NO_STREAM, right: int = _NO_STREAM, start: int, size: int
) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1)
        + struct.pack("<III", _NO_STREAM, right, child)
        + b"\0" * 16  # CLSID
        + b"\0" * 4  # state bits
        + b"\0" * 16  # creation and modification times
        + struct.pack("<IQ", start, size)
    )


def make_encrypted_ooxml(path: Path) -> Path:
    """What Office writes for a password-protected .docx/.xlsx/.pptx: a compound file with the encrypted package."""
    info = struct.pack("<HHI", 4, 4, 0x40) + b'<?xml version="1.0"?><encryption/>'
    return make_cfb(path, {"EncryptionInfo": info, "EncryptedPackage": os.urandom(2048)})


def make_legacy_doc(path: Path) -> Path:
    """A compound file shaped like a Word 97-2003 document."""
    return make_cfb(path, {"WordDocument": b"\xec\xa5" + os.urandom(1024), "1Table": os.urandom(512)})


# --- Other bytes ------------------------------------------------------------------------------------------------

PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + bytes(range(256))


def make_gif(path: Path) -> Path:
    """A picture of a type kb does not accept (PNG, JPEG and TIFF are accepted: scans, read by OCR)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(buffer, format="GIF")
    path.write_bytes(buffer.getvalue())
    return path


def make_png(path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def write_text(path: Path, content: str, encoding: str) -> Path:
    path.write_bytes(content.encode(encoding))
    return path


def corrupt_copy(source: Path, target: Path, *, keep: int = 64) -> Path:
    """``source``'s first ``keep`` bytes (its signature), then garbage: a damaged file of the same type."""
    data = source.read_bytes()
    garbage = bytes((index * 131 + 7) % 256 for index in range(max(len(data) - keep, 2048)))
    target.write_bytes(data[:keep] + garbage)
    return target


def truncated_copy(source: Path, target: Path, fraction: float = 0.5) -> Path:
    """The first ``fraction`` of ``source``: a download that stopped half-way."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


# --- Text as other programs write it ---------------------------------------------------------------------------


def make_bcp_unicode_export(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    """A table as SQL Server's ``bcp ... -w`` exports it: UTF-16 LE without a byte-order mark, tab-separated
    fields, CRLF row ends (``Encoding.Unicode.GetBytes`` in .NET writes the same bytes)."""
    text = "".join("\t".join(row) + "\r\n" for row in rows)
    path.write_bytes(text.encode("utf-16-le"))
    return path


def make_nul_padded_log(path: Path, lines: Sequence[str], padding: int = 4096) -> Path:
    """A log a machine was switched off while writing: the file system had grown the file but not yet written
    its last block, which reads back as NULs after the text."""
    path.write_bytes("".join(line + "\n" for line in lines).encode() + b"\x00" * padding)
    return path


# --- Macro-enabled Office files -------------------------------------------------------------------------------

#: The main part, its relationships part and the macro-enabled content type of each Office format, as Office
#: saves a .docm, .pptm and .xlsm.
_MACRO_ENABLED = {
    "docx": ("word/document.xml", "word/_rels/document.xml.rels", "application/vnd.ms-word.document.macroEnabled"),
    "pptx": (
        "ppt/presentation.xml",
        "ppt/_rels/presentation.xml.rels",
        "application/vnd.ms-powerpoint.presentation.macroEnabled",
    ),
    "xlsx": ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "application/vnd.ms-excel.sheet.macroEnabled"),
}


def make_macro_enabled(path: Path, kind: str) -> Path:
    """Turns the DOCX, PPTX or XLSX at ``path`` into its macro-enabled form the way Office saves one: the main
    part's content type says so, and a VBA project (a compound file) is related to the main part.

    The project's streams are the ones a real one starts with; kb never opens it.
    """
    main, rels, content_type = _MACRO_ENABLED[kind]
    folder = main.rsplit("/", 1)[0]
    project = make_cfb(
        path.with_suffix(".vba"),
        {"PROJECT": b'ID="{3E9B3F2C-0C9B-4A57-9E0A-3F5F1B2C7D10}"\r\nModule=Module1\r\nName="VBAProject"\r\n',
         "PROJECTwm": b"Module1\x00M\x00o\x00d\x00u\x00l\x00e\x001\x00\x00\x00\x00\x00"},
    ).read_bytes()  # fmt: skip
    path.with_suffix(".vba").unlink()

    def macro_types(xml: bytes) -> bytes:
        xml = re.sub(
            rb'(PartName="/' + main.encode() + rb'" ContentType=")[^"]+"',
            rb"\g<1>" + content_type.encode() + b'.main+xml"',
            xml,
        )
        return xml.replace(
            b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>'
        )

    def relate_project(xml: bytes) -> bytes:
        relationship = (
            b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject"'
            b' Target="vbaProject.bin"/>'
        )
        return xml.replace(b"</Relationships>", relationship + b"</Relationships>")

    rewrite_zip_member(path, "[Content_Types].xml", macro_types)
    rewrite_zip_member(path, rels, relate_project)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/vbaProject.bin", project)
    return path


# --- Word documents that import other formats (altChunk) --------------------------------------------------------

_AF_CHUNK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk"
_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def make_html_docx_js(path: Path, html: str, *, version: str = "0.3") -> Path:
    """A DOCX as html-docx-js writes it in the browser (web applications export chat transcripts and reports
    with it): three parts, a ``word/document.xml`` whose body is one ``w:altChunk``, the HTML part and the
    relationship between them; no styles, no properties; stored, not deflated, with directory entries, as JSZip
    writes. Word converts the HTML when it opens the file.

    Version 0.3 stores the HTML as MHTML (``word/afchunk.mht``) and names the main part in an ``Override``; its
    "quoted-printable" only writes ``=`` as ``=3D``, leaving UTF-8 bytes and long lines as they are. Versions
    0.1 and 0.2 store the HTML as it is (``word/afchunk.htm``) and give content types by extension only
    (``Default``), the main part's included. The layouts follow the library's ``src/assets`` and
    ``src/templates`` at tags v0.2.2 and v0.3.1 (github.com/evidenceprime/html-docx-js, MIT licence).
    """
    modern = version == "0.3"
    chunk_name = "afchunk.mht" if modern else "afchunk.htm"
    if modern:
        types = (
            '  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />\n'
            f'  <Override PartName="/word/document.xml" ContentType="{_DOCX_MAIN}"/>\n'
            '  <Override PartName="/word/afchunk.mht" ContentType="message/rfc822"/>\n'
        )
        chunk = (
            'MIME-Version: 1.0\nContent-Type: multipart/related;\n    type="text/html";\n'
            '    boundary="----=mhtDocumentPart"\n\n\n------=mhtDocumentPart\nContent-Type: text/html;\n'
            '    charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n'
            "Content-Location: file:///C:/fake/document.html\n\n"
            f"{html.replace('=', '=3D')}\n\n\n\n------=mhtDocumentPart--\n"
        )
    else:
        types = (
            f'  <Default Extension="xml" ContentType="{_DOCX_MAIN}" />\n'
            '  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml" />\n'
            '  <Default Extension="htm" ContentType="text/html" />\n'
        )
        chunk = html
    content_types = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\n{types}</Types>\n'
    )
    package_rels = _relationships(
        [("R09c83fafc067488e", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument",
          "/word/document.xml")]
    )  # fmt: skip
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w:document xmlns:w="{_W_NS}" xmlns:r="{_R_NS}">\n'
        '  <w:body>\n    <w:altChunk r:id="htmlChunk" />\n'
        '    <w:sectPr><w:pgSz w:w="12240" w:h="15840" w:orient="portrait" />'
        '<w:pgMar w:top="1440" w:right="1440" w:bottom="1440" w:left="1440" w:header="720" w:footer="720"'
        ' w:gutter="0"/></w:sectPr>\n  </w:body>\n</w:document>\n'
    )
    document_rels = _relationships([("htmlChunk", _AF_CHUNK, f"/word/{chunk_name}")])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/", b"")
        archive.writestr("_rels/.rels", package_rels)
        archive.writestr("word/", b"")
        archive.writestr("word/document.xml", document)
        archive.writestr(f"word/{chunk_name}", chunk.encode("utf-8"))
        archive.writestr("word/_rels/", b"")
        archive.writestr("word/_rels/document.xml.rels", document_rels)
    return path


def make_docx_with_chunks(path: Path, before: str, chunks: Sequence[tuple[str, str, bytes]], after: str) -> Path:
    """A DOCX (python-docx) with a paragraph, then a ``w:altChunk`` per (part name, content type, bytes), then a
    paragraph: a document assembled from imported parts, as docx4j and the Open XML SDK merge documents."""
    make_docx(path, [before, after])
    relationships = [(f"rIdChunk{n}", _AF_CHUNK, name.rsplit("/", 1)[-1]) for n, (name, _, _) in enumerate(chunks)]
    overrides = "".join(f'<Override PartName="/{name}" ContentType="{kind}"/>' for name, kind, _ in chunks).encode()
    references = "".join(f'<w:altChunk r:id="{r_id}"/>' for r_id, _, _ in relationships).encode()
    rewrite_zip_member(path, "[Content_Types].xml", lambda xml: xml.replace(b"</Types>", overrides + b"</Types>"))
    rewrite_zip_member(
        path,
        "word/_rels/document.xml.rels",
        lambda xml: xml.replace(b"</Relationships>", _relationship_elements(relationships) + b"</Relationships>"),
    )

    def insert(xml: bytes) -> bytes:
        at = xml.index(b"<w:p>", xml.index(b"<w:p>") + 1)  # before the second paragraph
        return xml[:at] + references + xml[at:]

    rewrite_zip_member(path, "word/document.xml", insert)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        for name, _, data in chunks:
            archive.writestr(name, data)
    return path


def _relationships(relationships: Sequence[tuple[str, str, str]]) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + _relationship_elements(relationships).decode()
        + "</Relationships>"
    )


def _relationship_elements(relationships: Sequence[tuple[str, str, str]]) -> bytes:
    return "".join(
        f'<Relationship Id="{r_id}" Type="{kind}" Target="{target}"/>' for r_id, kind, target in relationships
    ).encode()


# --- ZIP structures office applications never write -----------------------------------------------------------


def add_zip_member(path: Path, info: zipfile.ZipInfo, data: bytes, *, force_zip64: bool = False) -> Path:
    """Adds a member with these header fields to the ZIP at ``path`` (``force_zip64``: with a ZIP64 extra field
    in its headers, as streaming writers such as Java's and .NET's add when they do not know the size ahead)."""
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open(info, "w", force_zip64=force_zip64) as out,
    ):
        out.write(data)
    return path


def make_zip64_end_record(path: Path) -> Path:
    """Rewrites the end of the ZIP at ``path`` in ZIP64 form, as writers that always use ZIP64 do (minizip-ng
    with ``MZ_ZIP64_AUTO``, SharpCompress before 0.28.3): a ZIP64 end record and its locator before the classic
    end record, whose counts and sizes say "see the ZIP64 record" (0xFFFF, 0xFFFFFFFF)."""
    data = path.read_bytes()
    at = data.rindex(b"PK\x05\x06")
    disk, start_disk, on_disk, total, size, offset, comment = struct.unpack_from("<HHHHIIH", data, at + 4)
    record = b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, disk, start_disk, on_disk, total, size, offset)
    locator = b"PK\x06\x07" + struct.pack("<IQI", 0, at, 1)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    path.write_bytes(data[:at] + record + locator + end)
    return path


def symlink_info(name: str) -> zipfile.ZipInfo:
    """The header of a symbolic link as Info-ZIP stores one (``zip --symlinks``): Unix mode S_IFLNK, the target
    as the content."""
    info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
    info.create_system = 3
    info.external_attr = (0o120777 << 16) | 0x20
    return info


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_long_pdf(path: Path, page_count: int) -> Path:
    """A PDF of ``page_count`` pages, each naming its number in a word of its own (``страница7``), so a test can
    tell which pages were read and indexed."""
    return make_pdf(
        path, [f"Раздел {n}. Каталог насосов, страница{n}. Pump catalogue, page{n}." for n in range(1, page_count + 1)]
    )


# --- Scans ------------------------------------------------------------------------------------------------------

#: A certificate of conformity as a Russian sales team would scan it (made up: no real company or number).
CERTIFICATE_LINES = (
    "СЕРТИФИКАТ СООТВЕТСТВИЯ",
    "№ РОСС RU.АБ12.В04567",
    "Срок действия с 01.02.2025 по 31.01.2028",
    "Продукция: насосы центробежные марки НВ-400",
    "Изготовитель: ООО Гидромаш, город Ливны",
    "Соответствует требованиям ГОСТ 31839-2012",
    "Орган по сертификации продукции Ростест",
    "Руководитель органа Петров Иван Сергеевич",
)


def make_scan(
    path: Path | None,
    lines: Sequence[str] = CERTIFICATE_LINES,
    *,
    rotation: float = 1.2,
    noise: float = 0.02,
    stamp: bool = True,
    seed: int = 7,
) -> Image.Image:
    """A page of ``lines`` as a scanner gives it: A4 at 200 dpi, grey paper speckled with noise, slightly rotated,
    with a round blue stamp over the last lines. Saved to ``path`` (PNG, JPEG or TIFF by its extension) when given."""
    import random

    from PIL import ImageDraw, ImageFilter, ImageFont

    rng = random.Random(seed)
    width, height = 1654, 2339
    page = Image.new("L", (width, height), 235)
    font = ImageFont.truetype(str(cyrillic_font()), 40)
    title = ImageFont.truetype(str(cyrillic_font().with_name("DejaVuSans-Bold.ttf")), 52)
    pen = ImageDraw.Draw(page)
    y = 260
    for index, line in enumerate(lines):
        pen.text((160, y), line, fill=25, font=title if index == 0 else font)
        y += 110 if index == 0 else 80
    pixels = page.load()
    for _ in range(int(width * height * noise)):
        x, y_ = rng.randrange(width), rng.randrange(height)
        pixels[x, y_] = rng.choice((40, 90, 255))
    page = page.filter(ImageFilter.GaussianBlur(0.6)).rotate(rotation, expand=False, fillcolor=235, resample=3)
    coloured = page.convert("RGB")
    if stamp:
        overlay = Image.new("RGBA", coloured.size, (0, 0, 0, 0))
        ink = ImageDraw.Draw(overlay)
        cx, cy, r = 1150, 260 + 80 * len(lines) - 60, 170
        for ring in (r, r - 14):
            ink.ellipse((cx - ring, cy - ring, cx + ring, cy + ring), outline=(40, 60, 200, 150), width=6)
        ink.text((cx - 100, cy - 20), "ПЕЧАТЬ", fill=(40, 60, 200, 150), font=font)
        coloured = Image.alpha_composite(coloured.convert("RGBA"), overlay).convert("RGB")
    if path is not None:
        coloured.save(path, dpi=(200, 200))
    return coloured


def make_image_pdf(path: Path, pages: Sequence[Image.Image]) -> Path:
    """A PDF whose pages are only the images given, as a scanner without OCR writes it."""
    document = FPDF(unit="pt", format="A4")
    for picture in pages:
        document.add_page()
        document.image(picture, x=0, y=0, w=document.w, h=document.h)
    path.write_bytes(bytes(document.output()))
    return path
