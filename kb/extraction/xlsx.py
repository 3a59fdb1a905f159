"""Extracts the cell text of each sheet of an Excel (XLSX) workbook with openpyxl in read-only mode, bounded.

The dimension a sheet declares is ignored (it may claim a million rows): rows are streamed as they are stored,
at most ``MAX_ROWS`` per sheet (gaps between stored rows count) and ``MAX_COLUMNS`` cells per row.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl

from kb.extraction.result import Document, Page
from kb.extraction.text import TextBudget

MAX_ROWS = 50_000
MAX_COLUMNS = 200


def extract(path: Path, budget: TextBudget) -> Document:
    """One Page per sheet (chart sheets included, without text), titled with the sheet name; rows tab-separated."""
    with warnings.catch_warnings():
        # openpyxl warns (UserWarning) about workbook features it drops, such as data-validation extensions or a
        # missing default style. They depend on the uploaded file, not on this code, and change nothing read here.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
        # A file object, not the path: openpyxl refuses paths without an .xlsx suffix, and stored blobs have none.
        with path.open("rb") as handle:
            workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True, keep_links=False)
            try:
                return _read(workbook, budget)
            finally:
                workbook.close()


def _read(workbook: Any, budget: TextBudget) -> Document:
    names = workbook.sheetnames
    pages = []
    for number, name in enumerate(names, start=1):
        if not budget.next_page(number - 1):
            break
        sheet = workbook[name]
        text = budget.collect(rows(sheet, budget)) if hasattr(sheet, "iter_rows") else ""
        pages.append(Page(number, name, text))
    return Document(pages, len(names))


def rows(sheet: Any, budget: TextBudget) -> Iterator[str]:
    """The non-empty rows of ``sheet`` as tab-separated cells, within the row and column limits.

    A sheet with stored rows past ``MAX_ROWS`` marks the extraction truncated (openpyxl only yields rows up
    to the last one stored, so more rows means more stored data, most likely with values).
    """
    sheet.reset_dimensions()
    for index, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)):
        if index >= MAX_ROWS:
            budget.stop()
            return
        if values.count(None) == len(values):
            continue  # cheap skip: gaps between stored rows come as rows of MAX_COLUMNS Nones
        cells = [cell_text(value) for value in values]
        while cells and not cells[-1]:
            cells.pop()
        if cells:
            yield "\t".join(cells)


def cell_text(value: object) -> str:
    """A cell value as text: whole floats without ``.0``, dates in ISO form, whitespace on one line."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return " ".join(str(value).split())
