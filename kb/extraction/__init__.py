"""Extraction: what kind of file an upload is (``detect``) and the text of its pages (``extract``).

No Flask and no database here: the publishing code stores what these functions return.
"""

from kb.extraction.result import Extraction, Page
from kb.extraction.run import MAX_TEXT_CHARS, extract, extract_isolated
from kb.extraction.types import ACCEPTED, FileType, RejectedFile, detect

__all__ = [
    "ACCEPTED",
    "MAX_TEXT_CHARS",
    "Extraction",
    "FileType",
    "Page",
    "RejectedFile",
    "detect",
    "extract",
    "extract_isolated",
]
