"""Lists the stream and storage names in an OLE2 compound file (CFB), reading only its directory, within bounds.

Enough to tell a password-protected Office Open XML file (a CFB holding ``EncryptionInfo`` and
``EncryptedPackage``) from a legacy binary Office file (``WordDocument``, ``Workbook``, ``PowerPoint Document``).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
HEADER_SIZE = 512
DIRECTORY_ENTRY_SIZE = 128
#: Bounds on what is read, whatever the header claims: directory sectors followed and DIFAT sectors read.
MAX_DIRECTORY_SECTORS = 256
MAX_DIFAT_SECTORS = 64
_HEADER_DIFAT_ENTRIES = 109
_LAST_REGULAR_SECTOR = 0xFFFFFFFA  # ids from here up are markers (free, end of chain, FAT, DIFAT)
_ENTRY_TYPES_WITH_NAMES = {1, 2, 5}  # storage, stream, root


class CorruptCompoundFile(Exception):
    """The header or directory chain is damaged."""


def directory_names(path: Path) -> list[str]:
    """The names of the storages and streams in the compound file at ``path``, in directory order."""
    with path.open("rb") as handle:
        reader = _Reader(handle)
        names = []
        for sector in reader.chain(reader.first_directory_sector, MAX_DIRECTORY_SECTORS):
            data = reader.sector(sector)
            for offset in range(0, len(data), DIRECTORY_ENTRY_SIZE):
                name = _entry_name(data[offset : offset + DIRECTORY_ENTRY_SIZE])
                if name is not None:
                    names.append(name)
        return names


def _entry_name(entry: bytes) -> str | None:
    name_length, entry_type = struct.unpack_from("<HB", entry, 0x40)
    if entry_type not in _ENTRY_TYPES_WITH_NAMES or not 2 <= name_length <= 64 or name_length % 2:
        return None
    return entry[: name_length - 2].decode("utf-16-le", errors="replace")


class _Reader:
    """Sectors and FAT chains of one compound file, reading FAT sectors only when a chain needs them."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        header = handle.read(HEADER_SIZE)
        if len(header) < HEADER_SIZE or not header.startswith(MAGIC):
            raise CorruptCompoundFile("not a compound file")
        (sector_shift,) = struct.unpack_from("<H", header, 0x1E)
        if sector_shift not in (9, 12):
            raise CorruptCompoundFile(f"sector shift {sector_shift}")
        self.sector_size = 1 << sector_shift
        (self.first_directory_sector,) = struct.unpack_from("<I", header, 0x30)
        first_difat, difat_count = struct.unpack_from("<II", header, 0x44)
        self.fat_sectors = list(struct.unpack_from(f"<{_HEADER_DIFAT_ENTRIES}I", header, 0x4C))
        self._read_difat(first_difat, difat_count)
        self._fat_cache: dict[int, tuple[int, ...]] = {}

    def _read_difat(self, first: int, count: int) -> None:
        per_sector = self.sector_size // 4 - 1
        for sector in self.chain_by_pointer(first, min(count, MAX_DIFAT_SECTORS)):
            ids = struct.unpack(f"<{per_sector + 1}I", self.sector(sector))
            self.fat_sectors.extend(ids[:per_sector])

    def chain_by_pointer(self, first: int, limit: int) -> list[int]:
        """DIFAT sectors, each ending with the id of the next."""
        sectors: list[int] = []
        sector = first
        while sector < _LAST_REGULAR_SECTOR and len(sectors) < limit and sector not in sectors:
            sectors.append(sector)
            data = self.sector(sector)
            (sector,) = struct.unpack_from("<I", data, self.sector_size - 4)
        return sectors

    def sector(self, sector: int) -> bytes:
        self.handle.seek((sector + 1) * self.sector_size)
        data = self.handle.read(self.sector_size)
        if len(data) < self.sector_size:
            raise CorruptCompoundFile(f"sector {sector} is past the end of the file")
        return data

    def next_sector(self, sector: int) -> int:
        per_sector = self.sector_size // 4
        index = sector // per_sector
        if index >= len(self.fat_sectors) or self.fat_sectors[index] >= _LAST_REGULAR_SECTOR:
            raise CorruptCompoundFile(f"no FAT sector for sector {sector}")
        fat_sector = self.fat_sectors[index]
        if fat_sector not in self._fat_cache:
            self._fat_cache[fat_sector] = struct.unpack(f"<{per_sector}I", self.sector(fat_sector))
        return self._fat_cache[fat_sector][sector % per_sector]

    def chain(self, first: int, limit: int) -> list[int]:
        """The sectors of the chain starting at ``first``, at most ``limit`` of them, stopping at a loop."""
        sectors: list[int] = []
        seen: set[int] = set()
        sector = first
        while sector < _LAST_REGULAR_SECTOR and len(sectors) < limit and sector not in seen:
            sectors.append(sector)
            seen.add(sector)
            sector = self.next_sector(sector)
        return sectors
