"""Extraction: what kind of file an upload is (``detect``) and the text of its pages (``extract``).

No Flask and no database here: the publishing code stores what these functions return.
"""

from kb.extraction import image, result, run, types, zipguard
from kb.extraction.result import Extraction, Page
from kb.extraction.run import MAX_TEXT_CHARS, extract, extract_isolated
from kb.extraction.types import ACCEPTED, FileType, RejectedFile, detect

#: Every reason or note extraction stores with a version (in English, as ``Extraction.error`` or ``note``), so
#: the pages can show a stored one in the reader's language.
MESSAGES: tuple[str, ...] = (
    run.CORRUPT,
    run.OUT_OF_MEMORY,
    run.TIMED_OUT,
    run.CRASHED,
    run.KILLED,
    types.PDF_PASSWORD,
    types.DOCUMENT_PASSWORD,
    types.STRICT_OOXML,
    *(t.problem for t in (types.XLSB,) if t.problem),
    *zipguard.MESSAGES,
    *result.PARTIAL.values(),
    result.CUT,
    image.TOO_LARGE,
)

__all__ = [
    "ACCEPTED",
    "MAX_TEXT_CHARS",
    "MESSAGES",
    "Extraction",
    "FileType",
    "Page",
    "RejectedFile",
    "detect",
    "extract",
    "extract_isolated",
]
