"""Extracts the text of each slide of a PowerPoint file (PPTX, PPTM, PPSX, POTX ...) with python-pptx, and notes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pptx.package import Package
from pptx.parts.presentation import PresentationPart
from pptx.shapes.group import GroupShape

from kb.extraction.result import Document, Page
from kb.extraction.text import TextBudget


def extract(path: Path, budget: TextBudget) -> Document:
    """One Page per slide, titled with the slide title: the title, every shape's text, then the notes."""
    slides = list(_presentation(path).slides)
    pages = []
    for number, slide in enumerate(slides, start=1):
        if not budget.next_page(number - 1):
            break
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text if title_shape is not None and title_shape.has_text_frame else ""
        pages.append(Page(number, title, budget.collect(_slide_pieces(slide, title, title_shape))))
    return Document(pages, len(slides))


def _presentation(path: Path) -> Any:
    """The presentation of a PPTX, or of a macro-enabled presentation, slide show or template (``pptx.Presentation``
    opens only the first two, though the XML of all is the same; macros never run)."""
    main = Package.open(str(path)).main_document_part
    if not isinstance(main, PresentationPart):
        raise ValueError(f"the main part is {main.content_type}, not a presentation")
    return main.presentation


def _slide_pieces(slide: Any, title: str, title_shape: Any) -> Iterator[str]:
    yield title
    for shape in slide.shapes:
        if title_shape is None or shape.shape_id != title_shape.shape_id:
            yield from shape_text(shape)
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None:
            yield notes.text


def shape_text(shape: Any) -> Iterator[str]:
    """The text of a shape: its text frame, its table row by row (cells separated by tabs), or its members."""
    if isinstance(shape, GroupShape):
        for member in shape.shapes:
            yield from shape_text(member)
    elif shape.has_text_frame:
        yield shape.text_frame.text
    elif shape.has_table:
        for row in shape.table.rows:
            cells = [" ".join(cell.text.split()) for cell in row.cells if not cell.is_spanned]
            yield "\t".join(cells).rstrip("\t ")
