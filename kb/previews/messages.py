"""Why a version has no preview, or no text read from its scans: the reasons kb stores (in English) and shows in
the reader's language (``kb.web.templating.extraction_message`` knows them)."""

from __future__ import annotations

from kb.errors import N_

NO_LIBREOFFICE = N_("LibreOffice is not installed on the server, so this file has no preview.")
TIMED_OUT = N_("Making the preview took longer than %(seconds)s s.")
CONVERT_FAILED = N_("LibreOffice could not convert the file for its preview (%(detail)s).")
UNREADABLE = N_("The file cannot be shown as pages (%(detail)s).")
IMAGE_TOO_LARGE = N_("The image is too large to show (more than %(pixels)s pixels).")
NO_TESSERACT = N_("Tesseract is not installed on the server, so scans cannot be read.")
OCR_FAILED = N_("Text could not be recognised on page %(page)s (%(detail)s).")
OUT_OF_MEMORY = N_("Making the preview needed more memory than it may use.")
CRASHED = N_("Making the preview stopped unexpectedly (%(detail)s).")
MISSING = N_("The stored file is missing.")

MESSAGES: tuple[str, ...] = (
    NO_LIBREOFFICE,
    TIMED_OUT,
    CONVERT_FAILED,
    UNREADABLE,
    IMAGE_TOO_LARGE,
    NO_TESSERACT,
    OCR_FAILED,
    OUT_OF_MEMORY,
    CRASHED,
    MISSING,
)
