"""Reads the small parts of an Office Open XML package that python-docx and python-pptx leave as plain bytes."""

from __future__ import annotations

from typing import Any

import defusedxml.ElementTree as SafeET

EXTENDED_PROPERTIES = "/docProps/app.xml"
_EXTENDED_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}"


def parse_blob(blob: bytes) -> Any:
    """The root element of an XML part, parsed with defusedxml (no entity expansion, no external resources)."""
    return SafeET.fromstring(blob)


def recorded_page_count(package: Any) -> int | None:
    """The page count the saving application recorded in ``docProps/app.xml``, if any.

    Word and LibreOffice update it on every save; files written by generators may carry a stale value.
    """
    for part in package.iter_parts():
        if str(part.partname) != EXTENDED_PROPERTIES:
            continue
        pages = parse_blob(part.blob).find(f"{_EXTENDED_NS}Pages")
        if pages is not None and (pages.text or "").strip().isdigit():
            count = int(pages.text.strip())
            return count if count > 0 else None
    return None
