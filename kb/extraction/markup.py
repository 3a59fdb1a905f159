"""Extracts the visible text of HTML and Markdown files (Markdown is rendered to HTML first).

HTML is read with the standard library's ``html.parser``, which decodes character references from the HTML5
table only and never expands entities declared in a DTD. Script, style, template and head content, comments
and declarations are left out; block elements become line breaks and table cells become tabs.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import markdown

from kb.extraction.encoding import SAMPLE_BYTES, decode
from kb.extraction.result import Document, Page
from kb.extraction.text import TextBudget

#: HTML and Markdown sources are read up to this size; visible text is far smaller than its markup.
MAX_SOURCE_BYTES = 64 * 1024 * 1024

_HIDDEN = frozenset({"script", "style", "template", "head", "noscript", "iframe", "object"})
#: Elements that start a paragraph of their own (a blank line before and after) ...
_PARAGRAPHS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "details", "dialog", "dl", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "legend",
        "main", "nav", "ol", "p", "pre", "section", "summary", "table", "ul",
    }
)  # fmt: skip
#: ... and elements that start a new line.
_LINES = frozenset({"body", "br", "dd", "div", "dt", "li", "option", "title", "tr"})
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\n\r\f]+")
_CELL_GAP = re.compile(r" *\t *")
#: An internal DTD subset, which html.parser would end at its first ">" and show the rest as text.
_DOCTYPE_SUBSET = re.compile(r"\s*<!DOCTYPE[^\[>]*\[.*?\]\s*>", re.IGNORECASE | re.DOTALL)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_WINDOWS_1252_LABELS = frozenset({"iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii"})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class VisibleText(HTMLParser):
    """Collects the text a browser would show, and the document title apart from it.

    Line breaks are held back until the next visible text, so nested blocks and whitespace between tags
    give one line break (or one blank line between paragraphs), never a run of them.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self._hidden: list[str] = []
        self._pending_breaks = 0
        self._pre = 0
        self._in_title = False
        self._in_body = False
        self._cells_in_row = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._in_body = True
            self._hidden = [t for t in self._hidden if t != "head"]
        if tag == "title" and not self._in_body:
            self._in_title = True
        elif tag in _HIDDEN:
            self._hidden.append(tag)
        self._boundary(tag)
        if tag == "pre":
            self._pre += 1
        elif tag == "tr":
            self._cells_in_row = 0
        elif tag in _CELLS and not self._hidden:
            if self._cells_in_row:
                self._emit("\t")
            self._cells_in_row += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._boundary(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _HIDDEN and tag in self._hidden:
            while self._hidden and self._hidden.pop() != tag:
                continue  # pop hidden elements left open inside this one
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag != "br":
            self._boundary(tag)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_parts.append(data)
        elif self._hidden:
            return
        elif self._pre:
            self._emit(data)
        elif not data.isspace():
            self._emit(_SPACES.sub(" ", data))
        elif not self._pending_breaks:
            self.parts.append(" ")

    def _boundary(self, tag: str) -> None:
        if self._hidden:
            return
        if tag == "br":
            self._pending_breaks = min(self._pending_breaks + 1, 2)
        elif tag in _PARAGRAPHS:
            self._pending_breaks = 2
        elif tag in _LINES:
            self._pending_breaks = max(self._pending_breaks, 1)

    def _emit(self, text: str) -> None:
        if self._pending_breaks and self.parts:
            self.parts.append("\n" * self._pending_breaks)
        self._pending_breaks = 0
        self.parts.append(text)

    @property
    def text(self) -> str:
        lines = "".join(self.parts).split("\n")
        return "\n".join(_CELL_GAP.sub("\t", line).strip(" ") for line in lines)

    @property
    def title(self) -> str:
        return " ".join("".join(self.title_parts).split())


def html_text(source: str) -> tuple[str, str]:
    """The visible text and the title of an HTML document."""
    parser = VisibleText()
    subset = _DOCTYPE_SUBSET.match(source)
    parser.feed(source[subset.end() :] if subset else source)
    parser.close()
    return parser.text, parser.title


def extract_html(path: Path, budget: TextBudget) -> Document:
    """One Page with the visible text, titled with the document's ``<title>``."""
    text, title = html_text(_read(path, budget, html=True))
    return Document([Page(1, title, budget.collect([text]))], None)


def extract_markdown(path: Path, budget: TextBudget) -> Document:
    """One Page with the visible text of the rendered Markdown (raw HTML in it is treated as HTML)."""
    source = _read(path, budget, html=False)
    text, _ = html_text(markdown.markdown(source, extensions=["tables", "fenced_code", "sane_lists"]))
    return Document([Page(1, "", budget.collect([text]))], None)


def _read(path: Path, budget: TextBudget, *, html: bool) -> str:
    """The source as text: a BOM decides, then (for HTML) a ``<meta charset>`` the bytes fit, then detection."""
    with path.open("rb") as handle:
        data = handle.read(MAX_SOURCE_BYTES)
        complete = not handle.read(1)
    if not complete:
        budget.stop()
    if html and not data.startswith(_BOMS):
        declared = _META_CHARSET.search(data[:SAMPLE_BYTES])
        if declared is not None:
            text = _decode_declared(data, declared.group(1).decode("ascii"))
            if text is not None:
                return text
    return decode(data, complete=complete)


def _decode_declared(data: bytes, charset: str) -> str | None:
    """``data`` in the charset the page declares, if Python knows it and the bytes fit it.

    As in browsers, a page labelled Latin-1 or ASCII is read as windows-1252.
    """
    if charset.lower().replace("_", "-") in _WINDOWS_1252_LABELS:
        charset = "cp1252"
    try:
        return data.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return None
