"""How a version's text shows on the asset page: a sheet's rows as a table, and the words of the search the
page was opened from marked wherever they stand (the same matching as the search's snippets)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from markupsafe import Markup, escape

from kb.search import marked_spans

#: A sheet shows at most this many rows on the page; the file has them all.
MAX_SHEET_ROWS = 1000
_TAG = re.compile(r"(<[^>]*>)")
#: Elements whose text is not shown as text, so it is never marked.
_RAW = {"script", "style", "code", "pre"}


def marked(text: str, terms: frozenset[str]) -> Markup:
    """``text`` escaped, with each word that one of ``terms`` matches in ``<mark>``."""
    if not terms:
        return escape(text)
    out: list[str] = []
    at = 0
    for start, end in marked_spans(text, terms):
        out += [str(escape(text[at:start])), "<mark>", str(escape(text[start:end])), "</mark>"]
        at = end
    out.append(str(escape(text[at:])))
    return Markup("".join(out))


def marked_html(fragment: str, terms: frozenset[str]) -> Markup:
    """Safe HTML (rendered Markdown) with the searched words marked in its text, never inside a tag or an
    attribute, nor in code."""
    if not terms:
        return Markup(fragment)
    out: list[str] = []
    raw_depth = 0
    for part in _TAG.split(str(fragment)):
        if part.startswith("<"):
            name = part.strip("</>").split()[0].lower() if part.strip("</>").split() else ""
            if name in _RAW:
                raw_depth += -1 if part.startswith("</") else 1
            out.append(part)
        elif part:
            out.append(part if raw_depth > 0 else str(marked(html.unescape(part), terms)))
    return Markup("".join(out))


@dataclass(frozen=True)
class SheetTable:
    """A sheet's non-empty rows cut into cells (extraction writes them tab-separated), as wide as the widest."""

    rows: list[list[Markup]]
    width: int
    more_rows: int


def sheet_table(text: str, terms: frozenset[str] = frozenset()) -> SheetTable:
    lines = [line for line in text.split("\n") if line.strip()]
    shown = lines[:MAX_SHEET_ROWS]
    cells = [line.split("\t") for line in shown]
    width = max((len(row) for row in cells), default=0)
    rows = [[marked(cell, terms) for cell in row] + [Markup("")] * (width - len(row)) for row in cells]
    return SheetTable(rows, width, len(lines) - len(shown))
