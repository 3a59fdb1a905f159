"""Decides what kind of file an upload is, from its content, and refuses the kinds kb does not take.

The content decides (magic bytes, the ZIP directory, the compound-file directory); the name's extension only
chooses among the text formats and catches names that contradict the content. ZIP containers pass the
zip-bomb checks before anything inside them is read.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import defusedxml.ElementTree as SafeET

from kb.errors import N_, ValidationError
from kb.extraction import cfb
from kb.extraction.encoding import charset_label, detect_encoding, utf16_without_bom
from kb.extraction.zipguard import CorruptZip, UnsafeZip, check_zip


@dataclass(frozen=True)
class FileType:
    """A kind of file kb accepts.

    ``name`` picks the extractor; ``unit`` says what one extracted Page is. ``problem`` is set for variants kb
    stores but cannot read (password-protected, Strict Open XML, binary Excel): it is the reason extraction
    fails. For text, ``media_type`` carries the charset found in the file.
    """

    name: str
    media_type: str
    extension: str
    label: str
    unit: str
    problem: str | None = None


PDF = FileType("pdf", "application/pdf", ".pdf", "PDF", "page")
DOCX = FileType(
    "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".docx",
    "Word (DOCX)",
    "page",
)
PPTX = FileType(
    "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".pptx",
    "PowerPoint (PPTX)",
    "slide",
)
XLSX = FileType(
    "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", "Excel (XLSX)", "sheet"
)
ODT = FileType("odt", "application/vnd.oasis.opendocument.text", ".odt", "OpenDocument text (ODT)", "page")
ODP = FileType(
    "odp", "application/vnd.oasis.opendocument.presentation", ".odp", "OpenDocument presentation (ODP)", "slide"
)
ODS = FileType(
    "ods", "application/vnd.oasis.opendocument.spreadsheet", ".ods", "OpenDocument spreadsheet (ODS)", "sheet"
)
MARKDOWN = FileType("markdown", "text/markdown; charset=utf-8", ".md", "Markdown", "page")
HTML = FileType("html", "text/html; charset=utf-8", ".html", "HTML", "page")
TXT = FileType("txt", "text/plain; charset=utf-8", ".txt", "Text", "page")
CSV = FileType("csv", "text/csv; charset=utf-8", ".csv", "CSV", "sheet")
#: Pictures (scans, photographed documents): their text is read by OCR (``kb.previews``), one page per frame.
PNG = FileType("png", "image/png", ".png", "PNG", "page")
JPEG = FileType("jpeg", "image/jpeg", ".jpg", "JPEG", "page")
TIFF = FileType("tiff", "image/tiff", ".tif", "TIFF", "page")

#: The accepted types, in the order the message listing them uses.
ACCEPTED: tuple[FileType, ...] = (PDF, DOCX, PPTX, XLSX, ODT, ODP, ODS, MARKDOWN, HTML, TXT, CSV, PNG, JPEG, TIFF)
BY_NAME = {t.name: t for t in ACCEPTED}

PDF_PASSWORD = N_("The PDF is password-protected.")
DOCUMENT_PASSWORD = N_("The document is password-protected.")
STRICT_OOXML = N_("Strict Open XML is not supported; save it as a regular .docx/.xlsx/.pptx.")
#: Binary Excel keeps the XLSX name (so it is an Excel workbook everywhere), with its own media type and problem.
XLSB = FileType(
    "xlsx",
    "application/vnd.ms-excel.sheet.binary.macroEnabled.12",
    ".xlsb",
    "Excel binary workbook (XLSB)",
    "sheet",
    problem=N_("Binary Excel workbooks (.xlsb) are not supported; save it as .xlsx."),
)

#: Macro-enabled files, templates and slide shows: read like the plain format (macros never run: kb reads only
#: the XML), stored with their own media type and extension.
DOCM = FileType("docx", "application/vnd.ms-word.document.macroEnabled.12", ".docm", "Word (DOCM)", "page")
DOTX = FileType(
    "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.template", ".dotx", "Word (DOTX)", "page"
)
DOTM = FileType("docx", "application/vnd.ms-word.template.macroEnabled.12", ".dotm", "Word (DOTM)", "page")
PPTM = FileType(
    "pptx", "application/vnd.ms-powerpoint.presentation.macroEnabled.12", ".pptm", "PowerPoint (PPTM)", "slide"
)
PPSX = FileType(
    "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
    ".ppsx",
    "PowerPoint (PPSX)",
    "slide",
)
PPSM = FileType(
    "pptx", "application/vnd.ms-powerpoint.slideshow.macroEnabled.12", ".ppsm", "PowerPoint (PPSM)", "slide"
)
POTX = FileType(
    "pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.template",
    ".potx",
    "PowerPoint (POTX)",
    "slide",
)
POTM = FileType("pptx", "application/vnd.ms-powerpoint.template.macroEnabled.12", ".potm", "PowerPoint (POTM)", "slide")
XLSM = FileType("xlsx", "application/vnd.ms-excel.sheet.macroEnabled.12", ".xlsm", "Excel (XLSM)", "sheet")
XLTX = FileType(
    "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.template", ".xltx", "Excel (XLTX)", "sheet"
)
XLTM = FileType("xlsx", "application/vnd.ms-excel.template.macroEnabled.12", ".xltm", "Excel (XLTM)", "sheet")
OOXML_VARIANTS: tuple[FileType, ...] = (DOCM, DOTX, DOTM, PPTM, PPSX, PPSM, POTX, POTM, XLSM, XLTX, XLTM)

EXTENSIONS: dict[str, FileType] = {
    ".pdf": PDF,
    ".docx": DOCX,
    ".pptx": PPTX,
    ".xlsx": XLSX,
    ".xlsb": XLSB,
    **{variant.extension: variant for variant in OOXML_VARIANTS},
    ".odt": ODT,
    ".odp": ODP,
    ".ods": ODS,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".txt": TXT,
    ".text": TXT,
    ".csv": CSV,
    ".tsv": CSV,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".jpe": JPEG,
    ".tif": TIFF,
    ".tiff": TIFF,
}
TEXT_TYPES = frozenset({"markdown", "html", "txt", "csv"})
IMAGE_TYPES = frozenset({"png", "jpeg", "tiff"})
#: The signatures of the accepted pictures (TIFF in either byte order).
_IMAGE_MAGIC: tuple[tuple[bytes, FileType], ...] = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
)
ZIP_TYPES = frozenset({"docx", "pptx", "xlsx", "odt", "odp", "ods"})
OOXML_TYPES = frozenset({"docx", "pptx", "xlsx"})

_OOXML_MAIN_PARTS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.ms-word.document.macroEnabled.main+xml": DOCM,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": DOTX,
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": DOTM,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": PPTM,
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml": PPSX,
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml": PPSM,
    "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml": POTX,
    "application/vnd.ms-powerpoint.template.macroEnabled.main+xml": POTM,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": XLSM,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": XLTX,
    "application/vnd.ms-excel.template.macroEnabled.main+xml": XLTM,
}
#: The main part's content type by its name in lower case, as some readers (and Office) compare them.
_OOXML_MAIN_PARTS_FOLDED = {content_type.lower(): found for content_type, found in _OOXML_MAIN_PARTS.items()}
_RELATIONSHIPS_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_DOCUMENT = "/officeDocument"
_ODF_MIMETYPES = {t.media_type: t for t in (ODT, ODP, ODS)}
_STRICT_NAMESPACE = b"http://purl.oclc.org/ooxml/"
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_MANIFEST_NS = "{urn:oasis:names:tc:opendocument:xmlns:manifest:1.0}"
_LEGACY_OFFICE_STREAMS = frozenset({"WordDocument", "Workbook", "Book", "PowerPoint Document"})
#: Package parts read during detection are small; anything bigger is not what it claims to be.
_MAX_PACKAGE_PART = 1024 * 1024
_MAIN_PART_HEAD = 4096
_BINARY_CONTROLS = [b for b in range(1, 0x20) if b not in b"\t\n\r\f\v\x1b"]
#: NULs a text file may hold (besides trailing ones), or one in fifty of its other bytes if that is more.
_FEW_NULS = 16

_NOT_ACCEPTED = N_("This file is not a type kb accepts. Accepted: %(accepted)s.")
_MISMATCH = N_(
    "The file name ends in %(extension)s, but the file is not %(expected)s. Rename it or upload the right file. "
    "Accepted: %(accepted)s."
)
_LEGACY_OFFICE = N_(
    "Old binary Office files (.doc, .xls, .ppt) are not accepted; save it as .docx, .xlsx or .pptx. "
    "Accepted: %(accepted)s."
)
_ENCRYPTED_UNNAMED = N_(
    "This is a password-protected Office file whose name does not end in .docx, .xlsx or .pptx. Remove the "
    "password and upload it again. Accepted: %(accepted)s."
)
_EMPTY = N_("The file is empty. Accepted: %(accepted)s.")


class RejectedFile(ValidationError):
    """An upload kb does not take, with a message for the uploader; ``params["accepted"]`` lists what it takes."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message, field="file", accepted=accepted_labels(), **params)


def accepted_labels() -> str:
    return ", ".join(t.label for t in ACCEPTED)


def detect(head: bytes, path: Path, filename: str) -> FileType:
    """The type of the file at ``path``, whose first bytes (64 KiB, or all of a smaller file) are ``head``.

    Raises ``RejectedFile`` for types kb does not accept, for names whose extension contradicts the content
    and for ZIP containers that fail the zip-bomb checks. Password-protected, Strict Open XML and binary Excel
    files come back with ``problem`` set; a damaged file whose signature matches comes back as its type.
    """
    extension = _extension(filename)
    claimed = EXTENSIONS.get(extension)
    if not head:
        raise RejectedFile(_EMPTY)
    found = _by_content(head, path, claimed)
    if claimed is not None and (found is None or found.name != claimed.name):
        raise RejectedFile(_MISMATCH, extension=extension, expected=claimed.label)
    if found is None:
        raise RejectedFile(_NOT_ACCEPTED)
    return found


def _extension(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip().rstrip(".")
    return PurePosixPath(name).suffix.lower()


def _by_content(head: bytes, path: Path, claimed: FileType | None) -> FileType | None:
    """What the content says the file is; ``None`` for content kb does not accept."""
    if head.lstrip(b"\x00\t\n\r\f ").startswith(b"%PDF-"):
        from kb.extraction import pdf  # pypdf is a tenth of a second to import: only for PDFs

        return replace(PDF, problem=PDF_PASSWORD) if pdf.needs_password(path) else PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(path, claimed)
    if head.startswith(cfb.MAGIC):
        return _compound_type(path, claimed)
    if head.startswith(b"{\\rtf"):
        return None
    for magic, image_type in _IMAGE_MAGIC:
        if head.startswith(magic):
            return image_type
    if looks_like_text(head):
        complete = len(head) >= path.stat().st_size
        return _text_type(head, claimed, complete=complete)
    return None


def looks_like_text(head: bytes) -> bool:
    """A BOM, UTF-16 without one, or a few NULs at most and at most 5% control characters text does not use.

    Binary formats and compressed data run at 10% and more. NULs are dropped when such a file is read: a few in a
    text file (a program ending its strings with one) or a run of them at its end (padding) do not reject it;
    many within (an archive, a database file) do.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return True
    if utf16_without_bom(head, complete=False) is not None:
        return True
    body = head.rstrip(b"\x00")
    nuls = body.count(0)
    rest = len(body) - nuls
    if not rest or nuls > max(_FEW_NULS, rest // 50):
        return False
    suspicious = sum(body.count(bytes([b])) for b in _BINARY_CONTROLS)
    return suspicious * 20 <= rest


def _text_type(head: bytes, claimed: FileType | None, *, complete: bool) -> FileType:
    base = claimed if claimed is not None and claimed.name in TEXT_TYPES else TXT
    mime = base.media_type.split(";")[0]
    charset = charset_label(detect_encoding(head, complete=complete))
    return replace(base, media_type=f"{mime}; charset={charset}")


def _zip_type(path: Path, claimed: FileType | None) -> FileType | None:
    try:
        infos = check_zip(path)
    except UnsafeZip as exc:
        raise RejectedFile(exc.message, **exc.params) from exc
    except CorruptZip:
        return _damaged_zip(claimed)
    names = {info.filename for info in infos}
    try:
        with zipfile.ZipFile(path) as archive:
            return _odf_type(archive, names) or _ooxml_type(archive, names)
    except _UNREADABLE_PACKAGE:
        return _damaged_zip(claimed)


def _damaged_zip(claimed: FileType | None) -> FileType | None:
    """A damaged container is what its name says, if that is a ZIP-based type; extraction will then fail."""
    return claimed if claimed is not None and claimed.name in ZIP_TYPES else None


class _PartTooLarge(Exception):
    """A package part bigger than detection reads."""


#: What reading a damaged package part raises: bad headers or CRC, broken deflate data, an unsupported
#: compression method, malformed or forbidden XML (defusedxml's errors are ValueErrors), an oversized part.
_UNREADABLE_PACKAGE = (
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    OSError,
    EOFError,
    ValueError,
    SafeET.ParseError,
    _PartTooLarge,
)


def _read_part(archive: zipfile.ZipFile, name: str) -> bytes:
    if archive.getinfo(name).file_size > _MAX_PACKAGE_PART:
        raise _PartTooLarge(name)
    return archive.read(name)


def _odf_type(archive: zipfile.ZipFile, names: set[str]) -> FileType | None:
    if "mimetype" not in names:
        return None
    found = _ODF_MIMETYPES.get(_read_part(archive, "mimetype").strip().decode("ascii", errors="replace"))
    if found is None or "META-INF/manifest.xml" not in names:
        return found
    manifest = SafeET.fromstring(_read_part(archive, "META-INF/manifest.xml"))
    if manifest.find(f".//{_MANIFEST_NS}encryption-data") is not None:
        return replace(found, problem=DOCUMENT_PASSWORD)
    return found


def _ooxml_type(archive: zipfile.ZipFile, names: set[str]) -> FileType | None:
    if "xl/workbook.bin" in names:
        return XLSB
    if "[Content_Types].xml" not in names:
        return None
    content_types = _read_part(archive, "[Content_Types].xml")
    rels = _read_part(archive, "_rels/.rels") if "_rels/.rels" in names else b""
    found, part = _main_part(SafeET.fromstring(content_types), rels)
    if found is None:
        return None
    samples = [content_types, rels]
    if part in names:
        with archive.open(part) as stream:
            samples.append(stream.read(_MAIN_PART_HEAD))
    if any(_STRICT_NAMESPACE in sample for sample in samples):
        return replace(found, problem=STRICT_OOXML)
    return found


def _main_part(content_types: Any, rels: bytes) -> tuple[FileType | None, str]:
    """The type and name of the package's main part: named by an ``Override``, or, as some generators write it,
    by the ``Default`` for its extension and the package's ``officeDocument`` relationship."""
    for override in content_types.iter(f"{_CONTENT_TYPES_NS}Override"):
        found = _OOXML_MAIN_PARTS_FOLDED.get(override.get("ContentType", "").lower())
        if found is not None:
            return found, override.get("PartName", "").lstrip("/")
    defaults = {
        default.get("Extension", "").lower(): _OOXML_MAIN_PARTS_FOLDED.get(default.get("ContentType", "").lower())
        for default in content_types.iter(f"{_CONTENT_TYPES_NS}Default")
    }
    if not rels or not any(defaults.values()):
        return None, ""
    for relationship in SafeET.fromstring(rels).iter(f"{_RELATIONSHIPS_NS}Relationship"):
        if relationship.get("Type", "").endswith(_OFFICE_DOCUMENT):
            part = relationship.get("Target", "").lstrip("/")
            found = defaults.get(PurePosixPath(part).suffix.lstrip(".").lower())
            if found is not None:
                return found, part
    return None, ""


def _compound_type(path: Path, claimed: FileType | None) -> FileType | None:
    try:
        names = set(cfb.directory_names(path))
    except (cfb.CorruptCompoundFile, OSError):
        return None
    if "EncryptionInfo" in names:
        if claimed is not None and claimed.name in OOXML_TYPES:
            return replace(claimed, problem=DOCUMENT_PASSWORD)
        raise RejectedFile(_ENCRYPTED_UNNAMED)
    if names & _LEGACY_OFFICE_STREAMS:
        raise RejectedFile(_LEGACY_OFFICE)
    return None
