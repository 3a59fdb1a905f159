"""Format-neutral document model and the asset specifications that the build script renders and lists.

A :class:`Document` is a title plus a list of :class:`Section` objects. Every renderer maps one section onto one
addressable unit of its format: a PDF page, a slide, a worksheet, a Markdown ``##`` heading or a DOCX ``Heading 1``.
That is what lets a search test say "page 4 of the pump catalogue" and mean one topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Cell = str | int | float


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a section."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted (or numbered) list."""

    items: Sequence[str]
    numbered: bool = False


@dataclass(frozen=True)
class Table:
    """A table with one header row; numbers stay numbers so spreadsheets can compute with them."""

    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    widths: Sequence[float] | None = None  # relative column widths for PDF/DOCX/PPTX


Block = str | Heading | Bullets | Table


@dataclass(frozen=True)
class Section:
    """One page / slide / sheet / top-level heading about a single topic."""

    title: str
    blocks: Sequence[Block] = ()
    notes: str = ""  # speaker notes (decks only)
    sheet: str = ""  # short worksheet name (spreadsheets only, max 31 characters)


@dataclass(frozen=True)
class Document:
    """A whole file before it is rendered into a concrete format."""

    title: str
    subtitle: str
    sections: Sequence[Section]
    lang: str = "ru"  # "ru" | "en" | "mixed": drives number formatting and running headers
    author: str = "НордТех Индастриз"


@dataclass(frozen=True)
class Version:
    """One published version of an asset, as listed in the manifest."""

    filename: str
    change_note: str
    published_at: str
    published_by: str


@dataclass(frozen=True)
class Asset:
    """An asset of the library: metadata for the manifest plus a builder that returns the document of a version."""

    slug: str
    title: str
    description: str
    kind: str
    product: str
    segments: Sequence[str]
    region: str
    language: str
    owner: str
    review_interval_days: int
    tags: Sequence[str]
    fmt: str  # pdf | docx | pptx | xlsx | md
    versions: Sequence[Version]
    build: Callable[[int], Document] = field(repr=False)  # version index (0 = oldest) -> document
