"""Extracts the text of a Word (DOCX) document with python-docx: body, tables, text boxes, headers, footers, notes.

Parts of another format the document imports (``w:altChunk``: HTML, MHTML, plain text or WordprocessingML, as
web applications export chats and reports through html-docx-js and the like) are read where they stand; Word
converts them on opening. Other imported formats (RTF, a whole nested package) are left out.

A DOCX file has no pages until a word processor lays it out, and the page breaks it stores (explicit breaks,
``w:lastRenderedPageBreak`` from the last layout) do not match the printed pages reliably, so the whole text is
one Page numbered 1. ``page_count`` is the count the saving application recorded, when there is one.

The walk is over the XML python-docx parsed, so content controls (``w:sdt``), text boxes and nested tables are
read, which python-docx's paragraph and table objects skip.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.part import PartFactory
from docx.package import Package
from docx.parts.document import DocumentPart

from kb.extraction.encoding import decode
from kb.extraction.markup import html_text
from kb.extraction.ooxml import parse_blob, recorded_page_count
from kb.extraction.result import Document, Page
from kb.extraction.text import TextBudget, distinct_texts

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_PARAGRAPH, _TABLE, _ROW, _CELL = f"{_W}p", f"{_W}tbl", f"{_W}tr", f"{_W}tc"
_TEXT, _TEXT_BOX = f"{_W}t", f"{_W}txbxContent"
_ALT_CHUNK, _BODY = f"{_W}altChunk", f"{_W}body"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_HTML_CHUNKS = frozenset({"text/html", "application/xhtml+xml"})
_MHTML_CHUNKS = frozenset({"message/rfc822", "multipart/related", "application/x-mimearchive"})
_WORDML_CHUNKS = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "application/vnd.ms-word.document.macroenabled.main+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
        "application/vnd.ms-word.template.macroenabledtemplate.main+xml",
    }
)
_INLINE_CHARACTERS = {
    f"{_W}tab": "\t",
    f"{_W}ptab": "\t",
    f"{_W}br": "\n",
    f"{_W}cr": "\n",
    f"{_W}noBreakHyphen": "-",
}
#: Elements that may wrap rows or cells: content controls and custom XML.
_WRAPPERS = {f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"}
_NOTES = (CT.WML_FOOTNOTES, CT.WML_ENDNOTES)

# python-docx opens only the plain document type: its main part of a macro-enabled document or of a template
# would be an opaque blob. Their XML is the same, so they are read with the same part class (macros never run).
for _content_type in (
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
):
    PartFactory.part_type_for.setdefault(_content_type, DocumentPart)


def extract(path: Path, budget: TextBudget) -> Document:
    """One Page with headers, the body, footnotes and endnotes, then footers."""
    package = Package.open(str(path))
    main = package.main_document_part
    if not isinstance(main, DocumentPart):
        raise ValueError(f"the main part is {main.content_type}, not a Word document")
    parts = sorted(package.iter_parts(), key=lambda part: str(part.partname))
    headers = [p for p in parts if p.content_type == CT.WML_HEADER]
    footers = [p for p in parts if p.content_type == CT.WML_FOOTER]
    notes = [p for p in parts if p.content_type in _NOTES]

    def pieces() -> Iterator[str]:
        yield from distinct_texts(_part_text(p) for p in headers)
        yield from blocks(main.element.body, main)
        for part in notes:
            yield from blocks(_root(part), part)
        yield from distinct_texts(_part_text(p) for p in footers)

    text = budget.collect(pieces())
    return Document([Page(1, "", text)], recorded_page_count(package))


def _root(part: Any) -> Any:
    element = getattr(part, "element", None)
    return element if element is not None else parse_blob(part.blob)


def _part_text(part: Any) -> str:
    return "\n".join(blocks(_root(part), part))


def blocks(container: Any, part: Any = None) -> Iterator[str]:
    """The paragraphs (one string each) and table rows (cells separated by tabs) under ``container``, in order.

    ``part`` is the package part ``container`` belongs to, whose relationships lead to imported chunks.
    """
    for child in container:
        tag = child.tag
        if tag == _PARAGRAPH:
            yield from _paragraph(child)
        elif tag == _TABLE:
            yield from _table(child, part)
        elif tag == _ALT_CHUNK:
            yield from _alt_chunk(part, child.get(_R_ID))
        elif isinstance(tag, str) and tag != _MC_FALLBACK:
            yield from blocks(child, part)


def _alt_chunk(part: Any, r_id: str | None) -> Iterator[str]:
    """The text of the part a ``w:altChunk`` imports, by its content type."""
    chunk = part.related_parts.get(r_id) if part is not None and r_id else None
    if chunk is None:
        return
    content_type = chunk.content_type.lower()
    if content_type in _HTML_CHUNKS:
        yield html_text(decode(chunk.blob))[0]
    elif content_type in _MHTML_CHUNKS:
        yield from _mhtml_text(chunk.blob)
    elif content_type == "text/plain":
        yield decode(chunk.blob)
    elif content_type in _WORDML_CHUNKS:
        body = parse_blob(chunk.blob).find(_BODY)
        if body is not None:
            yield from blocks(body, chunk)


def _mhtml_text(blob: bytes) -> Iterator[str]:
    """The text of the HTML and plain-text parts of an MHTML archive (a web page saved as one file)."""
    archive = email.message_from_bytes(blob, policy=email.policy.default)
    for section in archive.walk():
        if section.is_multipart() or section.get_content_maintype() != "text":
            continue
        payload = section.get_payload(decode=True) or b""
        charset = section.get_content_charset()
        try:
            text = payload.decode(charset) if charset else decode(payload)
        except (LookupError, UnicodeDecodeError):
            text = decode(payload)
        yield html_text(text)[0] if section.get_content_subtype() == "html" else text


def _paragraph(paragraph: Any) -> Iterator[str]:
    parts: list[str] = []
    text_boxes: list[Any] = []
    _inline(paragraph, parts, text_boxes)
    yield "".join(parts)
    for box in text_boxes:
        yield from blocks(box)


def _inline(element: Any, parts: list[str], text_boxes: list[Any]) -> None:
    """Collects the run text of a paragraph; text boxes are set aside to follow it as paragraphs of their own.

    ``mc:Fallback`` repeats its ``mc:Choice`` (a text box is stored twice, as DrawingML and as VML): skipped.
    """
    for child in element:
        tag = child.tag
        if tag == _TEXT:
            parts.append(child.text or "")
        elif tag in _INLINE_CHARACTERS:
            parts.append(_INLINE_CHARACTERS[tag])
        elif tag == _TEXT_BOX:
            text_boxes.append(child)
        elif isinstance(tag, str) and tag != _MC_FALLBACK:
            _inline(child, parts, text_boxes)


def _table(table: Any, part: Any) -> Iterator[str]:
    for row in _children(table, _ROW):
        cells = [" ".join(" ".join(blocks(cell, part)).split()) for cell in _children(row, _CELL)]
        yield "\t".join(cells).rstrip("\t ")


def _children(element: Any, tag: str) -> Iterator[Any]:
    """Children with ``tag``, also those inside content controls and custom XML wrappers."""
    for child in element:
        if child.tag == tag:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _children(child, tag)
