"""Counts the pages (frames) of a picture: a scan has no text to read here; OCR reads it later (``kb.previews``)."""

from __future__ import annotations

import warnings
from pathlib import Path

from kb.errors import N_
from kb.extraction.result import Document, ExtractionFailed
from kb.extraction.text import TextBudget

#: More pixels than this is a decompression bomb, not a scan (a 600 dpi A3 page is about 70 million).
MAX_IMAGE_PIXELS = 80_000_000
TOO_LARGE = N_("The image is too large (more than %(pixels)s pixels).")


def extract(path: Path, budget: TextBudget) -> Document:
    """No pages with text, and the number of frames (pages of a multi-page TIFF) as the page count."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                frames = getattr(image, "n_frames", 1)
                image.load()  # the first frame decodes, or the file is damaged (raised as corrupt)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ExtractionFailed(TOO_LARGE % {"pixels": f"{MAX_IMAGE_PIXELS:,}"}) from None
    return Document(pages=[], page_count=frames)
