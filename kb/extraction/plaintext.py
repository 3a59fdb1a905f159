"""Extracts plain text and CSV files, whatever their encoding; CSV rows become tab-separated lines."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from kb.extraction.encoding import SAMPLE_BYTES, decode
from kb.extraction.result import Document, Page
from kb.extraction.text import TextBudget

#: No encoding takes more than four bytes a character, so this many bytes cover what the budget can hold.
_MAX_BYTES_PER_CHAR = 4
DELIMITERS = ",;\t"


def extract_text(path: Path, budget: TextBudget) -> Document:
    """One Page with the file's text."""
    return Document([Page(1, "", budget.collect([read_text(path, budget)]))], None)


def extract_csv(path: Path, budget: TextBudget) -> Document:
    """One Page with a line per row, cells separated by tabs; a file that is not valid CSV is kept as text."""
    text = read_text(path, budget).replace("\x00", "")
    try:
        lines = csv_lines(text)
    except csv.Error:
        lines = text.splitlines()
    return Document([Page(1, "", budget.collect(lines))], None)


def read_text(path: Path, budget: TextBudget) -> str:
    """As much of the file as the budget can hold, decoded; the budget is marked truncated if some is left."""
    limit = budget.remaining * _MAX_BYTES_PER_CHAR + _MAX_BYTES_PER_CHAR
    with path.open("rb") as handle:
        data = handle.read(limit)
        complete = not handle.read(1)
    if not complete:
        budget.stop()
    return decode(data, complete=complete)


def csv_lines(text: str) -> list[str]:
    """The rows of CSV ``text`` as tab-separated lines (empty rows left out); raises ``csv.Error`` if malformed."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    lines = []
    for row in reader:
        line = "\t".join(" ".join(cell.split()) for cell in row).rstrip("\t")
        if line:
            lines.append(line)
    return lines


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab, as ``csv.Sniffer`` finds in the first whole lines; comma when it cannot tell."""
    sample = text[:SAMPLE_BYTES]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
