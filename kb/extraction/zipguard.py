"""Refuses ZIP containers that could exhaust memory or disk (zip bombs), judging by the central directory alone.

Office Open XML and OpenDocument files are ZIP containers. Before any part inside one is decompressed or
parsed, ``check_zip`` reads the end-of-central-directory record (to count entries without building them), then
the central directory itself, and refuses the file when the declared sizes or ratios are out of bounds.
``zipfile`` stops every later read at the declared size, so the declared sizes are the ones that count.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
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


class UnsafeZip(Exception):
    """The container is refused; ``message`` (marked for translation) and ``params`` say why."""

    def __init__(self, message: str, **params: int) -> None:
        super().__init__(message % params)
        self.message = message
        self.params = params


class CorruptZip(Exception):
    """The central directory cannot be read: the file is truncated or damaged."""


def check_zip(path: Path) -> list[zipfile.ZipInfo]:
    """The entries of the ZIP at ``path``, after checking that opening them is safe.

    Raises ``UnsafeZip`` for too many entries, too much uncompressed data, too high a compression ratio or an
    encrypted entry, and ``CorruptZip`` when the directory cannot be read.
    """
    with path.open("rb") as handle:
        entries, directory_size = _end_record(handle)
    if entries > MAX_ENTRIES:
        raise _too_many_entries()
    if directory_size > MAX_CENTRAL_DIRECTORY:
        raise _too_many_entries()
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CorruptZip(str(exc) or type(exc).__name__) from exc
    check_entries(infos)
    return infos


def check_entries(infos: list[zipfile.ZipInfo]) -> None:
    """The checks of ``check_zip`` on a directory already read."""
    if len(infos) > MAX_ENTRIES:
        raise _too_many_entries()
    total = compressed = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise UnsafeZip(N_("The file contains an encrypted part. Remove the password and upload it again."))
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * info.compress_size:
            raise _ratio()
        total += info.file_size
        compressed += info.compress_size
    if total > MAX_TOTAL_UNCOMPRESSED:
        raise UnsafeZip(
            N_("The file would expand to more than %(limit)s MiB, more than kb opens."),
            limit=MAX_TOTAL_UNCOMPRESSED // (1024 * 1024),
        )
    if total > RATIO_FLOOR and total > MAX_RATIO * compressed:
        raise _ratio()


def _too_many_entries() -> UnsafeZip:
    return UnsafeZip(N_("The file holds more than %(limit)s parts, more than kb opens."), limit=MAX_ENTRIES)


def _ratio() -> UnsafeZip:
    return UnsafeZip(
        N_("The file is compressed more than %(limit)s to 1, which kb does not open, to stay safe."),
        limit=MAX_RATIO,
    )


def _end_record(handle: BinaryIO) -> tuple[int, int]:
    """Entry count and central directory size from the end record (ZIP64 if present), without reading entries."""
    size = handle.seek(0, 2)
    tail_size = min(size, _EOCD_SIZE + _MAX_COMMENT + 20)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        raise CorruptZip("End-of-central-directory record not found")
    entries, directory_size = struct.unpack("<10xHI6x", tail[at : at + _EOCD_SIZE])
    if entries != 0xFFFF and directory_size != 0xFFFFFFFF:
        return entries, directory_size
    locator_at = at - 20
    if locator_at < 0 or tail[locator_at : locator_at + 4] != _ZIP64_LOCATOR:
        return entries, directory_size
    (record_offset,) = struct.unpack("<8xQ4x", tail[locator_at : locator_at + 20])
    if record_offset + 56 > size:
        raise CorruptZip("ZIP64 end record out of range")
    handle.seek(record_offset)
    record = handle.read(56)
    if record[:4] != _ZIP64_EOCD:
        raise CorruptZip("ZIP64 end record not found")
    entries64, directory_size64 = struct.unpack("<32xQQ8x", record)
    return entries64, directory_size64
