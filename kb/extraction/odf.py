"""Extracts the text of OpenDocument text, presentations and spreadsheets (ODT, ODP, ODS) from their XML.

``content.xml`` (and ``styles.xml`` for ODT headers and footers, ``meta.xml`` for its page count) are parsed
with defusedxml. Spreadsheet tables honour the same row and column limits as XLSX, also when a row or cell
claims to repeat a million times (``table:number-rows-repeated``, ``table:number-columns-repeated``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET

from kb.extraction.result import Document, Page
from kb.extraction.text import TextBudget, distinct_texts
from kb.extraction.xlsx import MAX_COLUMNS, MAX_ROWS

_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_PRESENTATION = "{urn:oasis:names:tc:opendocument:xmlns:presentation:1.0}"
_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"

_PARAGRAPHS = {f"{_TEXT}p", f"{_TEXT}h"}
_TABLE_TABLE = f"{_TABLE}table"
_ROW_GROUPS = {f"{_TABLE}table-header-rows", f"{_TABLE}table-rows", f"{_TABLE}table-row-group"}
_CELLS = {f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"}
#: Parts of the tree that are not the document's visible text: comments, change tracking, declarations.
_SKIPPED = {
    f"{_OFFICE}annotation",
    f"{_OFFICE}annotation-end",
    f"{_TEXT}tracked-changes",
    f"{_TEXT}note-citation",
    f"{_TEXT}sequence-decls",
    f"{_TEXT}variable-decls",
    f"{_TEXT}user-field-decls",
    f"{_OFFICE}forms",
    f"{_TABLE}named-expressions",
}
#: Inside a paragraph: these hold paragraphs of their own (frames, text boxes, footnote bodies).
_NESTED_BLOCKS = {f"{_DRAW}frame", f"{_DRAW}custom-shape", f"{_DRAW}text-box", f"{_TEXT}note-body"}
_HEADERS_FOOTERS = {f"{_STYLE}{kind}{variant}" for kind in ("header", "footer") for variant in ("", "-left", "-first")}


def extract_text(path: Path, budget: TextBudget) -> Document:
    """ODT: one Page with headers, the body and footers; ``page_count`` from ``meta.xml`` when recorded."""
    with zipfile.ZipFile(path) as archive:
        body = _body(archive, "text")
        styles = _parse(archive, "styles.xml") if "styles.xml" in archive.namelist() else None
        page_count = _recorded_page_count(archive)
    margins = [el for el in styles.iter() if el.tag in _HEADERS_FOOTERS] if styles is not None else []
    heads = [m for m in margins if "header" in m.tag]
    feet = [m for m in margins if "footer" in m.tag]

    def pieces() -> Iterator[str]:
        yield from distinct_texts("\n".join(blocks(m)) for m in heads)
        yield from blocks(body)
        yield from distinct_texts("\n".join(blocks(m)) for m in feet)

    return Document([Page(1, "", budget.collect(pieces()))], page_count)


def extract_presentation(path: Path, budget: TextBudget) -> Document:
    """ODP: one Page per slide, titled with the text of its title frame, speaker notes included."""
    with zipfile.ZipFile(path) as archive:
        slides = [child for child in _body(archive, "presentation") if child.tag == f"{_DRAW}page"]
    pages = []
    for number, slide in enumerate(slides, start=1):
        if not budget.next_page(number - 1):
            break
        title_frame = next((f for f in slide if f.get(f"{_PRESENTATION}class") == "title"), None)
        title = "\n".join(blocks(title_frame)) if title_frame is not None else ""
        others = (child for child in slide if child is not title_frame)
        pages.append(Page(number, title, budget.collect(_chain([title], blocks(others)))))
    return Document(pages, len(slides))


def extract_spreadsheet(path: Path, budget: TextBudget) -> Document:
    """ODS: one Page per sheet, titled with the sheet name; rows tab-separated, within the row and column limits."""
    with zipfile.ZipFile(path) as archive:
        sheets = [t for t in _body(archive, "spreadsheet") if t.tag == _TABLE_TABLE]
    pages = []
    for number, sheet in enumerate(sheets, start=1):
        if not budget.next_page(number - 1):
            break
        pages.append(Page(number, sheet.get(f"{_TABLE}name", ""), budget.collect(table_rows(sheet, budget))))
    return Document(pages, len(sheets))


def _parse(archive: zipfile.ZipFile, name: str) -> Any:
    with archive.open(name) as stream:
        return SafeET.parse(stream).getroot()


def _body(archive: zipfile.ZipFile, kind: str) -> Any:
    body = _parse(archive, "content.xml").find(f"{_OFFICE}body/{_OFFICE}{kind}")
    if body is None:
        raise ValueError(f"content.xml has no office:{kind} body")
    return body


def _recorded_page_count(archive: zipfile.ZipFile) -> int | None:
    if "meta.xml" not in archive.namelist():
        return None
    statistic = _parse(archive, "meta.xml").find(f"{_OFFICE}meta/{_META}document-statistic")
    value = statistic.get(f"{_META}page-count", "") if statistic is not None else ""
    return int(value) if value.isdigit() and int(value) > 0 else None


def _chain(*parts: Iterable[str]) -> Iterator[str]:
    for part in parts:
        yield from part


def blocks(elements: Iterable[Any]) -> Iterator[str]:
    """The paragraphs (one string each) and table rows (tab-separated) in ``elements`` and below, in order."""
    for child in elements:
        tag = child.tag
        if tag in _PARAGRAPHS:
            yield from _paragraph(child)
        elif tag == _TABLE_TABLE:
            yield from table_rows(child, None)
        elif tag not in _SKIPPED:
            yield from blocks(child)


def _paragraph(paragraph: Any) -> Iterator[str]:
    parts: list[str] = []
    nested: list[Any] = []
    _inline(paragraph, parts, nested)
    yield "".join(parts)
    for element in nested:
        yield from blocks([element])


def _inline(element: Any, parts: list[str], nested: list[Any]) -> None:
    """Collects a paragraph's text: ``text:s`` is spaces, frames and footnote bodies follow it as paragraphs."""
    if element.text:
        parts.append(element.text)
    for child in element:
        tag = child.tag
        if tag == f"{_TEXT}s":
            parts.append(" " * min(_count(child.get(f"{_TEXT}c")), 100))
        elif tag == f"{_TEXT}tab":
            parts.append("\t")
        elif tag == f"{_TEXT}line-break":
            parts.append("\n")
        elif tag in _NESTED_BLOCKS:
            nested.append(child)
        elif tag not in _SKIPPED:
            _inline(child, parts, nested)
        if child.tail:
            parts.append(child.tail)


def _count(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 1


def table_rows(table: Any, budget: TextBudget | None) -> Iterator[str]:
    """Non-empty rows of a table as tab-separated cells, repeats expanded up to ``MAX_ROWS`` and ``MAX_COLUMNS``.

    With a ``budget``, a non-empty row past ``MAX_ROWS`` marks the extraction truncated; the empty rows
    spreadsheet applications store at the end (repeated to the last row) do not.
    """
    index = 0
    for row in _rows(table):
        repeat = _count(row.get(f"{_TABLE}number-rows-repeated"))
        text = "\t".join(_cells(row))
        if text:
            kept = max(min(repeat, MAX_ROWS - index), 0)
            for _ in range(kept):
                yield text
            if kept < repeat:
                if budget is not None:
                    budget.stop()
                return
        index += repeat


def _rows(element: Any) -> Iterator[Any]:
    for child in element:
        if child.tag == f"{_TABLE}table-row":
            yield child
        elif child.tag in _ROW_GROUPS:
            yield from _rows(child)


def _cells(row: Any) -> list[str]:
    cells: list[str] = []
    for cell in row:
        if cell.tag not in _CELLS:
            continue
        text = " ".join(" ".join(blocks(cell)).split())
        cells.extend([text] * min(_count(cell.get(f"{_TABLE}number-columns-repeated")), MAX_COLUMNS - len(cells)))
        if len(cells) >= MAX_COLUMNS:
            break
    while cells and not cells[-1]:
        cells.pop()
    return cells
