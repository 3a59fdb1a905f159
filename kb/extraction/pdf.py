"""Extracts the text of each page of a PDF with pypdf, and tells whether a PDF needs a password to open."""

from __future__ import annotations

import re
from pathlib import Path

from pypdf import PasswordType, PdfReader

from kb.extraction.result import Document, ExtractionFailed, Page
from kb.extraction.text import TextBudget
from kb.extraction.types import PDF_PASSWORD

#: The trailer naming the encryption dictionary sits at the end of the file, or at the start when linearized.
_SCAN_BYTES = 64 * 1024
_ENCRYPT_KEY = b"/Encrypt"
# pypdf adds a space for a wide gap between glyphs even when the gap is itself a space character.
_SPACE_RUN = re.compile(r"[ \u00a0]{2,}")


def needs_password(path: Path) -> bool:
    """Whether the PDF is encrypted with a user password other than the empty one.

    Only a file whose start or end names an encryption dictionary is opened, and then only its trailer and
    encryption dictionary are read. A file pypdf cannot open at all is damaged, not password-protected.
    """
    if not _mentions_encryption(path):
        return False
    try:
        reader = PdfReader(path)
        encrypted = reader.is_encrypted
    except Exception:  # pypdf raises many types on damaged files; extraction reports those
        return False
    if not encrypted:
        return False
    try:
        return reader.decrypt("") == PasswordType.NOT_DECRYPTED
    except Exception:  # an encryption pypdf cannot undo keeps the file as closed as a password
        return True


def _mentions_encryption(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(_SCAN_BYTES)
        size = handle.seek(0, 2)
        handle.seek(max(size - _SCAN_BYTES, 0))
        tail = handle.read(_SCAN_BYTES)
    return _ENCRYPT_KEY in head or _ENCRYPT_KEY in tail


def extract(path: Path, budget: TextBudget) -> Document:
    """One Page per PDF page; an encrypted PDF opens only if its user password is empty."""
    reader = PdfReader(path)
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise ExtractionFailed(PDF_PASSWORD)
    page_count = len(reader.pages)
    pages = []
    for number, page in enumerate(reader.pages, start=1):
        if not budget.next_page(number - 1):
            break
        pages.append(Page(number, "", budget.collect([_SPACE_RUN.sub(" ", page.extract_text())])))
    return Document(pages, page_count)
