"""What extraction hands back: the pages of text of one file, or the reason there are none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kb.errors import N_
from kb.extraction.text import clean_title, has_text

# The values of kb.models.ExtractionStatus, spelled out so that the extraction child process does not import
# SQLAlchemy (a third of a second per file); a test keeps the two in step.
DONE, EMPTY, FAILED = "done", "empty", "failed"
STATUSES = (DONE, EMPTY, FAILED)

#: Notes on a text read only in part, by the unit of the format: past the time extraction may take, the pages
#: read so far are kept.
PARTIAL = {
    "page": N_(
        "Only pages 1–%(read)s of %(total)s were read: reading more took too long. Search finds the text of these "
        "pages."
    ),
    "slide": N_(
        "Only slides 1–%(read)s of %(total)s were read: reading more took too long. Search finds the text of "
        "these slides."
    ),
    "sheet": N_(
        "Only sheets 1–%(read)s of %(total)s were read: reading more took too long. Search finds the text of "
        "these sheets."
    ),
}
CUT = N_("The text was cut at %(limit)s characters: search finds the text before the cut.")


@dataclass(frozen=True)
class Page:
    """One page, slide or sheet: ``number`` is its 1-based place in the document, ``title`` at most 300 chars."""

    number: int
    title: str
    text: str


@dataclass(frozen=True)
class Document:
    """What a format's extractor read: its pages (blank ones included) and how many the document has."""

    pages: list[Page]
    page_count: int | None


class ExtractionFailed(Exception):
    """A file that cannot be read, with ``reason`` for the uploader (e.g. it is password-protected)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Extraction:
    """The outcome of extracting one file.

    ``status`` is ``done`` (some page has text), ``empty`` (the file was read but holds no text, e.g. a scanned
    PDF) or ``failed`` (``error`` says why, for the uploader). ``pages`` holds only the pages with text, so
    numbers may skip; it is empty unless done. ``page_count`` counts the pages, slides or sheets in the
    document when the format knows it, also when the text is empty. ``truncated`` means the text was cut at
    ``MAX_TEXT_CHARS``; ``pages_read``, that reading stopped after that many pages, slides or sheets because it
    took too long. ``note`` then says so for the uploader (``PARTIAL``, ``CUT``).
    """

    status: str
    pages: list[Page] = field(default_factory=list)
    page_count: int | None = None
    error: str | None = None
    truncated: bool = False
    pages_read: int | None = None
    note: str | None = None
    #: Failed for a reason outside the file (the process was killed from outside): worth another try.
    retryable: bool = False

    @classmethod
    def failed(cls, reason: str, page_count: int | None = None, *, retryable: bool = False) -> Extraction:
        return cls(status=FAILED, pages=[], page_count=page_count, error=reason, retryable=retryable)

    @classmethod
    def of_pages(
        cls,
        pages: Sequence[Page],
        page_count: int | None,
        *,
        truncated: bool = False,
        pages_read: int | None = None,
        note: str | None = None,
    ) -> Extraction:
        """``done`` with the pages that have text, or ``empty`` when none has."""
        kept = [Page(p.number, clean_title(p.title), p.text) for p in pages if has_text(p.text)]
        status = DONE if kept else EMPTY
        return cls(status, kept, page_count, truncated=truncated and bool(kept), pages_read=pages_read, note=note)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, the one the extraction sandbox prints."""
        return {
            "status": str(self.status),
            "pages": [{"number": p.number, "title": p.title, "text": p.text} for p in self.pages],
            "page_count": self.page_count,
            "error": self.error,
            "truncated": self.truncated,
            "pages_read": self.pages_read,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Extraction:
        """The inverse of ``to_dict``; raises ``ValueError``, ``KeyError`` or ``TypeError`` on malformed data."""
        status = str(data["status"])
        if status not in STATUSES:
            raise ValueError(f"unknown extraction status {status!r}")
        pages = [Page(int(p["number"]), str(p["title"]), str(p["text"])) for p in data["pages"]]
        page_count = data["page_count"]
        if page_count is not None and not isinstance(page_count, int):
            raise TypeError("page_count must be an integer or null")
        error, note, pages_read = data["error"], data["note"], data["pages_read"]
        if error is not None and not isinstance(error, str):
            raise TypeError("error must be a string or null")
        if note is not None and not isinstance(note, str):
            raise TypeError("note must be a string or null")
        if pages_read is not None and not isinstance(pages_read, int):
            raise TypeError("pages_read must be an integer or null")
        return cls(status, pages, page_count, error, bool(data["truncated"]), pages_read, note)
