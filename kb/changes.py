"""What changed between two versions: a line diff of their extracted text, page by page, for people to read."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.models import ExtractedPage

#: Lines compared per version; the diff is fast up to here (popular lines are treated as junk).
MAX_LINES = 5_000


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same" | "added" | "removed" | "gap" | "page"
    text: str


def version_lines(session: Session, version_id: int) -> list[str]:
    """The extracted text of a version as lines, each page introduced by a marker line."""
    lines: list[str] = []
    pages = session.scalars(
        select(ExtractedPage).where(ExtractedPage.version_id == version_id).order_by(ExtractedPage.number)
    )
    for page in pages:
        lines.append(f"§ {page.number}" + (f" · {page.title}" if page.title else ""))
        lines.extend(line.rstrip() for line in page.text.splitlines() if line.strip())
        if len(lines) > MAX_LINES:
            break
    return lines[:MAX_LINES]


def diff(old: list[str], new: list[str], context: int = 2) -> list[DiffLine]:
    """Changed lines with a little context around them; long unchanged stretches become one gap line."""
    out: list[DiffLine] = []
    # autojunk: lines that repeat a lot (table rows, separators) are not used as anchors; without it a
    # repetitive document makes the matcher quadratic (minutes for a few thousand lines).
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=True)
    for group in matcher.get_grouped_opcodes(context):
        if out:
            out.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine("page" if line.startswith("§ ") else "same", line) for line in old[i1:i2])
                continue
            out.extend(DiffLine("removed", line) for line in old[i1:i2])
            out.extend(DiffLine("added", line) for line in new[j1:j2])
    return out
