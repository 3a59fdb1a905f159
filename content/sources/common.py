"""Shared facts of the fictional vendor (people, VAT, company data) and a tiny text markup for writing sections."""

from __future__ import annotations

import re
import textwrap

from .model import Block, Bullets, Heading, Version

VENDOR = "НордТех Индастриз / NordTech Industries"

MARIA = "marketing@demo.kb"
VOLKOV = "a.volkov@demo.kb"
ORLOVA = "e.orlova@demo.kb"
KIM = "d.kim@demo.kb"

PEOPLE = [
    {"email": MARIA, "name": "Мария Смирнова"},
    {"email": VOLKOV, "name": "Андрей Волков"},
    {"email": ORLOVA, "name": "Елена Орлова"},
    {"email": KIM, "name": "Дмитрий Ким"},
]

NAMES = {person["email"]: person["name"] for person in PEOPLE}

ALL_LINES = "Все линейки"


def vat_rate(date: str) -> int:
    """Russian VAT in percent on an ISO date: 20 % until the end of 2025, 22 % from 1 January 2026."""
    return 22 if date >= "2026-01-01" else 20


def with_vat(net: int, rate: int) -> int:
    """Gross price in whole roubles."""
    return round(net * (100 + rate) / 100)


def ru_date(iso: str) -> str:
    """``2025-09-15`` -> ``15.09.2025``."""
    year, month, day = iso.split("-")
    return f"{day}.{month}.{year}"


def version(filename: str, note: str, date: str, by: str) -> Version:
    return Version(filename=filename, change_note=note, published_at=date, published_by=by)


def txt(source: str) -> list[Block]:
    """Blocks from light markup, so long Russian prose stays readable in the source and within the line limit.

    Blank lines separate paragraphs; a ``## `` line is a sub-heading; ``- `` and ``1. `` lines start list items
    and indented lines continue the item above; other lines of a paragraph are joined with spaces.
    """
    blocks: list[Block] = []
    for chunk in textwrap.dedent(source).strip().split("\n\n"):
        paragraph: list[str] = []
        items: list[str] = []
        numbered = False
        for line in chunk.strip("\n").splitlines():
            stripped = line.strip()
            if stripped.startswith("## "):
                _flush(blocks, paragraph, items, numbered)
                blocks.append(Heading(stripped[3:]))
            elif _ITEM.match(stripped) and not line.startswith("  "):
                if paragraph:
                    _flush(blocks, paragraph, [], numbered)
                numbered = not stripped.startswith("- ")
                items.append(_ITEM.sub("", stripped, count=1))
            elif items:
                items[-1] += " " + stripped
            else:
                paragraph.append(stripped)
        _flush(blocks, paragraph, items, numbered)
    return blocks


_ITEM = re.compile(r"^(- |\d+[.)] )")


def _flush(blocks: list[Block], paragraph: list[str], items: list[str], numbered: bool) -> None:
    """Append the pending paragraph or list to ``blocks`` and empty the buffers."""
    if paragraph:
        blocks.append(" ".join(paragraph))
        paragraph.clear()
    if items:
        blocks.append(Bullets(list(items), numbered=numbered))
        items.clear()
