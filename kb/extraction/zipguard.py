"""Refuses ZIP containers that could exhaust memory or disk (zip bombs), or hold what office files never do.

Office Open XML and OpenDocument files are ZIP containers. Before any part inside one is decompressed or
parsed, ``check_zip`` reads the end-of-central-directory record (to count entries without building them), then
the central directory itself, and refuses the file when the declared sizes or ratios are out of bounds.
``zipfile`` stops every later read at the declared size, so the declared sizes are the ones that count.

It also refuses what an office application never writes: ZIP64 records (office files are far below the 4 GiB
and 65,535-entry limits that need them; Excel asks to repair such small files, LibreOffice refuses them), symbolic
links and ZIP archives inside, except office documents where Office keeps embedded ones (a chart's workbook in
``ppt/embeddings/``). These are ways to hide content from checks or to confuse other readers of the file.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from kb.errors import N_

MAX_ENTRIES = 10_000
MAX_TOTAL_UNCOMPRESSED = 512 * 1024 * 1024
MAX_RATIO = 200
#: Entries up to this size may be compressed better than MAX_RATIO (small XML parts often are).
RATIO_FLOOR = 1024 * 1024
#: A central directory larger than this cannot belong to an office file within MAX_ENTRIES entries.
MAX_CENTRAL_DIRECTORY = 16 * 1024 * 1024

_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_MAX_COMMENT = 0xFFFF
_ZIP64_EXTRA = 0x0001
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_SIZE = 30
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
#: Parts whose content is XML: a ZIP archive cannot hide there (it would not parse), so they are not opened.
_XML_SUFFIXES = frozenset({".xml", ".rels", ".vml"})
#: Where Office keeps embedded documents, and the kinds it embeds there as packages of their own.
_EMBEDDINGS = "embeddings"
_EMBEDDED_PACKAGES = frozenset(
    {".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".xlsb", ".xltx", ".pptx", ".pptm", ".sldx", ".sldm", ".vsdx"}
)
#: Member names in messages are cut to this many characters.
_NAME_CHARS = 80

ENCRYPTED_PART = N_("The file contains an encrypted part. Remove the password and upload it again.")
TOO_LARGE = N_("The file would expand to more than %(limit)s MiB, more than kb opens.")
TOO_MANY_PARTS = N_("The file holds more than %(limit)s parts, more than kb opens.")
TOO_COMPRESSED = N_("The file is compressed more than %(limit)s to 1, which kb does not open, to stay safe.")
ZIP64 = N_(
    "The file uses ZIP64 records, which office files do not need and kb does not open, to stay safe. Open it in "
    "its office application and save it again."
)
SYMBOLIC_LINK = N_(
    "The file contains a symbolic link (%(name)s), which office files never hold; kb does not open it, to stay safe."
)
NESTED_ZIP = N_(
    "The file contains another ZIP archive (%(name)s) outside the place where office files keep embedded "
    "documents; kb does not open it, to stay safe."
)
#: Every reason this module gives, for the pages that show a stored one in the reader's language.
MESSAGES = (ENCRYPTED_PART, TOO_LARGE, TOO_MANY_PARTS, TOO_COMPRESSED, ZIP64, SYMBOLIC_LINK, NESTED_ZIP)


class UnsafeZip(Exception):
    """The container is refused; ``message`` (marked for translation) and ``params`` say why."""

    def __init__(self, message: str, **params: int | str) -> None:
        super().__init__(message % params)
        self.message = message
        self.params = params


class CorruptZip(Exception):
    """The central directory cannot be read: the file is truncated or damaged."""


def check_zip(path: Path) -> list[zipfile.ZipInfo]:
    """The entries of the ZIP at ``path``, after checking that opening them is safe.

    Raises ``UnsafeZip`` for too many entries, too much uncompressed data, too high a compression ratio, an
    encrypted entry, ZIP64 records, a symbolic link or a ZIP archive inside, and ``CorruptZip`` when the
    directory cannot be read.
    """
    with path.open("rb") as handle:
        entries, directory_size, zip64 = _end_record(handle)
    if entries > MAX_ENTRIES:
        raise _too_many_entries()
    if directory_size > MAX_CENTRAL_DIRECTORY:
        raise _too_many_entries()
    if zip64:
        raise _zip64()
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            check_entries(infos)
            with path.open("rb") as handle:
                _check_local_headers(handle, infos)
            _check_nested(archive, infos)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CorruptZip(str(exc) or type(exc).__name__) from exc
    return infos


def check_entries(infos: list[zipfile.ZipInfo]) -> None:
    """The checks of ``check_zip`` on a directory already read."""
    if len(infos) > MAX_ENTRIES:
        raise _too_many_entries()
    total = compressed = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnsafeZip(ENCRYPTED_PART)
        if _has_zip64_extra(info.extra):
            raise _zip64()
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeZip(SYMBOLIC_LINK, name=_short(info.filename))
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
            raise _ratio()
        total += info.file_size
        compressed += info.compress_size
    if total > MAX_TOTAL_UNCOMPRESSED:
        raise UnsafeZip(TOO_LARGE, limit=MAX_TOTAL_UNCOMPRESSED // (1024 * 1024))
    if total > RATIO_FLOOR and total > MAX_RATIO * compressed:
        raise _ratio()


def _check_local_headers(handle: BinaryIO, infos: list[zipfile.ZipInfo]) -> None:
    """Refuses ZIP64 blocks in the local headers, which ``zipfile`` reads past: a reader that streams the file
    from its start (as many do) would take its sizes from there, and so could read other data than kb checked."""
    for info in infos:
        handle.seek(info.header_offset)
        header = handle.read(_LOCAL_HEADER_SIZE)
        if len(header) < _LOCAL_HEADER_SIZE or not header.startswith(_LOCAL_HEADER):
            raise CorruptZip(f"bad local header for {info.filename!r}")
        name_length, extra_length = struct.unpack_from("<HH", header, 26)
        handle.seek(name_length, 1)
        if _has_zip64_extra(handle.read(extra_length)):
            raise _zip64()


def _check_nested(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Refuses a ZIP archive inside, by the first bytes of each part that is not XML, unless it is an office
    document in an ``embeddings`` folder. Only a few bytes of each part are decompressed."""
    for info in infos:
        name = PurePosixPath(info.filename)
        if info.is_dir() or info.file_size < 4 or name.suffix.lower() in _XML_SUFFIXES:
            continue
        try:
            with archive.open(info) as member:
                if not member.read(4).startswith(_ZIP_SIGNATURES):
                    continue
        except (NotImplementedError, zlib.error):
            continue  # a compression zipfile cannot undo, or damaged data: no reader of kb opens it either
        if _EMBEDDINGS in name.parts[:-1] and name.suffix.lower() in _EMBEDDED_PACKAGES:
            continue
        raise UnsafeZip(NESTED_ZIP, name=_short(info.filename))


def _has_zip64_extra(extra: bytes) -> bool:
    """Whether a central directory entry's extra field holds a ZIP64 block (header ID 0x0001)."""
    at = 0
    while at + 4 <= len(extra):
        header, size = struct.unpack_from("<HH", extra, at)
        if header == _ZIP64_EXTRA:
            return True
        at += 4 + size
    return False


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _zip64() -> UnsafeZip:
    return UnsafeZip(ZIP64)


def _too_many_entries() -> UnsafeZip:
    return UnsafeZip(TOO_MANY_PARTS, limit=MAX_ENTRIES)


def _ratio() -> UnsafeZip:
    return UnsafeZip(TOO_COMPRESSED, limit=MAX_RATIO)


def _end_record(handle: BinaryIO) -> tuple[int, int, bool]:
    """Entry count and central directory size from the end record (ZIP64 if present), without reading entries,
    and whether there is a ZIP64 end record."""
    size = handle.seek(0, 2)
    tail_size = min(size, _EOCD_SIZE + _MAX_COMMENT + 20)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        raise CorruptZip("End-of-central-directory record not found")
    entries, directory_size = struct.unpack("<10xHI6x", tail[at : at + _EOCD_SIZE])
    locator_at = at - 20
    if locator_at < 0 or tail[locator_at : locator_at + 4] != _ZIP64_LOCATOR:
        return entries, directory_size, False
    if entries != 0xFFFF and directory_size != 0xFFFFFFFF:
        return entries, directory_size, True
    (record_offset,) = struct.unpack("<8xQ4x", tail[locator_at : locator_at + 20])
    if record_offset + 56 > size:
        raise CorruptZip("ZIP64 end record out of range")
    handle.seek(record_offset)
    record = handle.read(56)
    if record[:4] != _ZIP64_EOCD:
        raise CorruptZip("ZIP64 end record not found")
    entries64, directory_size64 = struct.unpack("<32xQQ8x", record)
    return entries64, directory_size64, True
