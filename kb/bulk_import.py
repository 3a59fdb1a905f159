"""Bulk import: many files at once, from a folder, a ZIP or one browser upload, each published as a new asset.

Reading (``read_folder``, ``read_zip``, ``read_uploads``) gives a ``Batch``: the files to publish, and those
refused on sight (a path leading out of the import, a link, a part of a ZIP that is encrypted or too big).
``run_import`` then publishes every file through ``Publisher.create_asset``, one transaction per file, so a bad
file is refused with its reason and never stops or half-writes the others; a file whose bytes are already the
current version of an asset is skipped. Metadata comes from a manifest CSV (a row per file) over the defaults
the caller gives. The ``kb import`` command and the import page call this; nothing here knows Flask.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from kb import accounts
from kb.db import Database
from kb.errors import N_, DomainError, Forbidden, ValidationError
from kb.extraction import zipguard
from kb.models import ASSET_KINDS, Asset, AssetStatus, AssetVersion, Role, User
from kb.publishing import AssetFields, FileUpload, Publisher, clean_fields, title_from_filename

CHUNK = 1024 * 1024
#: A ZIP to import holds at most this many parts, as any ZIP kb opens (``zipguard``).
MAX_ZIP_MEMBERS = zipguard.MAX_ENTRIES
#: What a ZIP to import may expand to in all: its files end up in the store, so this guards the disk.
MAX_ZIP_TOTAL_BYTES = 20 * 1024**3
MAX_MANIFEST_BYTES = 5 * 1024 * 1024
MANIFEST_COLUMNS = (
    "file",
    "title",
    "kind",
    "product",
    "region",
    "language",
    "segments",
    "tags",
    "owner",
    "description",
    "review_interval_days",
)
#: Files the operating system leaves in folders and archives, never content (compared ignoring case).
_JUNK_NAMES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r", "__macosx", "$recycle.bin"})
_ARCHIVE_SUFFIXES = (".zip", ".rar", ".7z", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".zst")
_DRIVE = re.compile(r"^[A-Za-z]:")
_SPLIT_SEGMENTS = re.compile(r"[\s,;|/]+")

NOT_READ = N_("The file could not be read: %(error)s")
OUTSIDE = N_("The path leads out of the import; the file is not read.")
ARCHIVE_INSIDE = N_("An archive inside the import is not opened: unpack it, or import it on its own.")


# --- what the import tells ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """Why a file was skipped or refused: an English message marked for translation, its parameters, and for a
    manifest line the problem it had (``cause``, filled in as ``%(problem)s``)."""

    message: str
    params: dict[str, Any] = field(default_factory=dict)
    cause: Reason | None = None

    @classmethod
    def of(cls, error: DomainError) -> Reason:
        return cls(error.message, dict(error.params))

    def __str__(self) -> str:
        params = dict(self.params)
        if self.cause is not None:
            params["problem"] = str(self.cause)
        return self.message % params if params else self.message


@dataclass
class ImportReport:
    """What became of every file: imported (with the new asset's id; None in a dry run), skipped, refused, the
    manifest's lines that concern no file, and how many hidden or system files were left out."""

    imported: list[tuple[str, int | None]] = field(default_factory=list)
    skipped: list[tuple[str, Reason]] = field(default_factory=list)
    refused: list[tuple[str, Reason]] = field(default_factory=list)
    manifest: list[tuple[int, Reason]] = field(default_factory=list)
    ignored: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """Every file was imported or skipped."""
        return not self.refused

    def lines(self) -> list[str]:
        """The report as ``kb import`` prints it, in English: a line per manifest problem, skipped and refused
        file (tab-separated, with the reason), then the totals."""
        lines = [f"manifest line {line}\t{reason}" for line, reason in self.manifest]
        lines += [f"skipped\t{path}\t{reason}" for path, reason in self.skipped]
        lines += [f"refused\t{path}\t{reason}" for path, reason in self.refused]
        verb = "would import" if self.dry_run else "imported"
        totals = f"{verb} {len(self.imported)}, skipped {len(self.skipped)}, refused {len(self.refused)}"
        if self.ignored:
            totals += f"; {self.ignored} hidden or system file(s) left out"
        lines.append(totals)
        if self.imported and not self.dry_run:
            lines.append("the worker now extracts their text and indexes them (kb jobs list shows what is left)")
        return lines


#: Called after each file: files done, files in all, the file's path.
Progress = Callable[[int, int, str], None]


# --- reading the files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One file to import: its path in the import (``/`` between folders), its size, and how to read it."""

    path: str
    size: int
    open: Callable[[], AbstractContextManager[BinaryIO]]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass
class Batch:
    """The files of an import, the ones refused on sight, and the hidden or system files left out. Close it
    (or use it in a ``with``) to close the archives it reads from."""

    items: list[Item] = field(default_factory=list)
    refused: list[tuple[str, Reason]] = field(default_factory=list)
    ignored: int = 0
    resources: ExitStack = field(default_factory=ExitStack, repr=False)

    def absorb(self, other: Batch) -> None:
        self.items.extend(other.items)
        self.refused.extend(other.refused)
        self.ignored += other.ignored
        self.resources.enter_context(other.resources.pop_all())

    def close(self) -> None:
        self.resources.close()

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def is_junk(name: str) -> bool:
    """A hidden file or folder, or one the operating system leaves behind (.DS_Store, Thumbs.db, an Office
    "~$" lock file, __MACOSX): never part of an import."""
    return name.startswith((".", "~$")) or name.casefold() in _JUNK_NAMES


def clean_path(name: str) -> str | None:
    """``name`` as a relative path: NFC, ``/`` between parts, no empty or ``.`` parts, no control characters.
    None when it leads out of the import (``..``, an absolute path, a drive letter) or names nothing."""
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        return None
    parts = ["".join(ch for ch in part if unicodedata.category(ch)[0] != "C") for part in text.split("/")]
    parts = [part for part in parts if part not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _shown(name: str) -> str:
    """A name as the report shows it, even when it cannot be used."""
    text = "".join(ch for ch in unicodedata.normalize("NFC", name or "") if unicodedata.category(ch)[0] != "C")
    return text[:300] or "?"


def read_folder(root: Path, *, exclude: Iterable[Path] = ()) -> Batch:
    """Every file under ``root``, folders included, in name order; hidden and system files left out, links
    refused (never followed). ``exclude`` names files not to import (the manifest, when it lies inside)."""
    batch = Batch()
    left_out = {path.resolve() for path in exclude}
    for directory, folders, files in os.walk(root):
        here = Path(directory)
        kept = []
        for name in sorted(folders):
            path = here / name
            if is_junk(name):
                batch.ignored += 1
            elif path.is_symlink():
                batch.refused.append(
                    (_relative(path, root), Reason(N_("A link, not a folder: links are not followed.")))
                )
            else:
                kept.append(name)
        folders[:] = kept
        for name in sorted(files):
            path = here / name
            if is_junk(name):
                batch.ignored += 1
                continue
            if left_out and path.resolve() in left_out:
                continue
            relative = _relative(path, root)
            if path.is_symlink():
                batch.refused.append((relative, Reason(N_("A link, not a file: links are not followed."))))
                continue
            try:
                info = path.stat()
            except OSError as exc:
                batch.refused.append((relative, Reason(NOT_READ, {"error": exc.strerror or type(exc).__name__})))
                continue
            if not stat.S_ISREG(info.st_mode):
                batch.refused.append((relative, Reason(N_("Not a regular file."))))
                continue
            batch.items.append(Item(relative, info.st_size, partial(path.open, "rb")))
    return batch


def _relative(path: Path, root: Path) -> str:
    return unicodedata.normalize("NFC", path.relative_to(root).as_posix())


def read_zip(stream: BinaryIO, name: str, *, max_file_bytes: int | None = None) -> Batch:
    """The files inside a ZIP read from ``stream`` (seekable; the batch closes the archive, not the stream).
    Paths are the archive's own, without ``name``. A damaged or oversized archive is refused as a whole, under
    ``name``; a part that is encrypted, a link, leads outside the import, is larger than ``max_file_bytes`` or
    compressed like a zip bomb is refused alone."""
    batch = Batch()
    shown = _shown(name)
    try:
        count = _declared_entries(stream)
        if count > MAX_ZIP_MEMBERS:
            batch.refused.append(
                (shown, Reason(N_("The ZIP holds more than %(limit)s files; split it."), {"limit": MAX_ZIP_MEMBERS}))
            )
            return batch
        stream.seek(0)
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
        batch.refused.append((shown, Reason(N_("The ZIP is damaged or is not a ZIP file."))))
        return batch
    batch.resources.callback(archive.close)
    accepted: list[tuple[str, zipfile.ZipInfo]] = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        raw_name = member_name(info)
        path = clean_path(raw_name)
        if path is None:
            batch.refused.append((_shown(raw_name), Reason(OUTSIDE)))
        elif any(is_junk(part) for part in path.split("/")):
            batch.ignored += 1
        elif (reason := _member_problem(info, max_file_bytes)) is not None:
            batch.refused.append((path, reason))
        else:
            accepted.append((path, info))
    # Parts each small enough to pass may still add up to a bomb, or to more than the disk should take.
    total = sum(info.file_size for _path, info in accepted)
    if total > MAX_ZIP_TOTAL_BYTES:
        limit = MAX_ZIP_TOTAL_BYTES // 1024**3
        reason = Reason(N_("The ZIP expands to more than %(limit)s GB; split it."), {"limit": limit})
        return Batch(refused=[(shown, reason)], resources=batch.resources)
    if total > zipguard.RATIO_FLOOR and total > zipguard.MAX_RATIO * sum(i.compress_size for _p, i in accepted):
        return Batch(refused=[(shown, _zip_bomb())], resources=batch.resources)
    batch.items.extend(Item(path, info.file_size, partial(archive.open, info)) for path, info in accepted)
    return batch


def _member_problem(info: zipfile.ZipInfo, max_file_bytes: int | None) -> Reason | None:
    if info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
        return Reason(N_("A link, not a file: links are not followed."))
    if info.flag_bits & 0x1:
        return Reason(N_("The file is password-protected inside the ZIP; add it without a password."))
    if info.file_size > zipguard.RATIO_FLOOR and info.file_size > zipguard.MAX_RATIO * info.compress_size:
        return _zip_bomb()
    if max_file_bytes is not None and info.file_size > max_file_bytes:
        return Reason(N_("The file is larger than the upload limit."))
    return None


def _zip_bomb() -> Reason:
    return Reason(
        N_("The file is compressed more than %(limit)s to 1, which kb does not open, to stay safe."),
        {"limit": zipguard.MAX_RATIO},
    )


def member_name(info: zipfile.ZipInfo) -> str:
    """A ZIP part's name as its archiver meant it: the Info-ZIP Unicode path when present, UTF-8 when flagged,
    else the raw bytes as UTF-8 when they are, otherwise as cp866 (Windows' own "compressed folder" on a Russian
    system writes names in the DOS code page, which ``zipfile`` reads as cp437)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")  # zipfile decoded the raw bytes as cp437, which maps every byte
    unicode_path = _unicode_path(info.extra, raw)
    if unicode_path is not None:
        return unicode_path
    if raw.isascii():
        return info.filename
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp866")


def _unicode_path(extra: bytes, raw_name: bytes) -> str | None:
    """The UTF-8 name of the Info-ZIP Unicode Path field (0x7075), if it is there and belongs to ``raw_name``."""
    at = 0
    while at + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, at)
        data = extra[at + 4 : at + 4 + size]
        at += 4 + size
        if kind == 0x7075 and len(data) > 5 and data[0] == 1:
            (crc,) = struct.unpack_from("<I", data, 1)
            if crc == zlib.crc32(raw_name):
                try:
                    return data[5:].decode("utf-8")
                except UnicodeDecodeError:
                    return None
    return None


_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def _declared_entries(stream: BinaryIO) -> int:
    """How many parts the archive's end record declares, read before ``zipfile`` builds one object per part
    (a central directory of millions of tiny entries would take gigabytes of memory)."""
    size = stream.seek(0, 2)
    tail_size = min(size, 22 + 0xFFFF + 20)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("end of central directory not found")
    (entries,) = struct.unpack_from("<H", tail, at + 10)
    if entries != 0xFFFF:
        return entries
    locator = at - 20
    if locator < 0 or tail[locator : locator + 4] != _ZIP64_LOCATOR:
        return entries
    (record_at,) = struct.unpack_from("<Q", tail, locator + 8)
    if record_at + 56 > size:
        raise zipfile.BadZipFile("ZIP64 end record out of range")
    stream.seek(record_at)
    record = stream.read(56)
    if record[:4] != _ZIP64_EOCD:
        raise zipfile.BadZipFile("ZIP64 end record not found")
    (entries64,) = struct.unpack_from("<Q", record, 32)
    return entries64


@contextmanager
def _rewound(stream: BinaryIO) -> Iterator[BinaryIO]:
    """An uploaded file's stream from its start, left open for the next read."""
    stream.seek(0)
    yield stream


def read_uploads(uploads: Iterable[FileUpload], *, max_file_bytes: int | None = None) -> Batch:
    """Files sent from a browser: each file by the name it came with (a folder's files come as
    ``folder/file``), and the files inside each ZIP (``.zip`` by name and by content)."""
    batch = Batch()
    for upload in uploads:
        name = upload.filename or ""
        if _DRIVE.match(name) or name.startswith(("/", "\\")):
            name = name.replace("\\", "/").rsplit("/", 1)[-1]  # an old browser's full path on the sender's disk
        path = clean_path(name)
        if path is None:
            batch.refused.append((_shown(upload.filename), Reason(OUTSIDE)))
            continue
        if any(is_junk(part) for part in path.split("/")):
            batch.ignored += 1
            continue
        stream = upload.stream
        stream.seek(0)
        head = stream.read(4)
        size = stream.seek(0, 2)
        stream.seek(0)
        if path.casefold().endswith(".zip") and head.startswith(b"PK"):
            batch.absorb(read_zip(stream, path, max_file_bytes=max_file_bytes))
        else:
            batch.items.append(Item(path, size, partial(_rewound, stream)))
    return batch


# --- the manifest ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestRow:
    """One row of the manifest: the file it is about (as written) and its non-empty cells."""

    line: int
    file: str
    values: dict[str, str]
    problem: Reason | None = None


@dataclass
class Manifest:
    rows: list[ManifestRow] = field(default_factory=list)
    #: Lines that concern no file: unknown columns, rows without a file, a file named twice.
    problems: list[tuple[int, Reason]] = field(default_factory=list)
    #: The manifest's own bytes, so that a copy of it among the files is not imported as an asset.
    sha256: str = ""

    @property
    def columns(self) -> set[str]:
        return {name for row in self.rows for name in row.values}


def parse_manifest(data: bytes) -> Manifest:
    """The rows of a manifest CSV: UTF-8 with or without a byte-order mark, else Windows-1251; comma or
    semicolon. Raises ``ValidationError`` (field ``manifest``) only when it cannot be used at all."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ValidationError(N_("The manifest is larger than %(n)s MB."), field="manifest", n=MAX_MANIFEST_BYTES >> 20)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1251", errors="replace")
    if "\x00" in text:
        raise ValidationError(N_("The manifest is not a CSV text file."), field="manifest")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)
    except csv.Error:
        header = None
    names = [_column(cell) for cell in header or []]
    if "file" not in names:
        raise ValidationError(
            N_("The manifest needs a column named file: each file's path in the import."), field="manifest"
        )
    manifest = Manifest(sha256=hashlib.sha256(data).hexdigest())
    header_line = reader.line_num
    for name in dict.fromkeys(n for n in names if n and n not in MANIFEST_COLUMNS):
        manifest.problems.append(
            (
                header_line,
                Reason(
                    N_("Unknown column «%(name)s» is ignored; the columns are: %(columns)s."),
                    {"name": name[:60], "columns": ", ".join(MANIFEST_COLUMNS)},
                ),
            )
        )
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            manifest.problems.append(
                (reader.line_num, Reason(N_("The line cannot be read: %(error)s"), {"error": str(exc)}))
            )
            continue
        if not any(cell.strip() for cell in row):
            continue
        manifest.rows.append(_manifest_row(reader.line_num, names, row))
    return manifest


def _delimiter(text: str) -> str:
    """';' when the header has more semicolons than commas outside quotes (Russian Excel's CSV), else ','."""
    first = text.lstrip("\r\n").split("\n", 1)[0]
    outside = first.split('"')[::2]
    semicolons, commas = (sum(part.count(char) for part in outside) for char in ";,")
    return ";" if semicolons > commas else ","


def _column(cell: str) -> str:
    return "_".join(cell.replace("\ufeff", "").strip().casefold().split())


def _manifest_row(line: int, names: list[str], cells: list[str]) -> ManifestRow:
    values = {
        name: cell.strip()
        for name, cell in zip(names, cells, strict=False)
        if name in MANIFEST_COLUMNS and cell.strip()
    }
    file = values.pop("file", "")
    problem = None
    if len(cells) > len(names) and any(cell.strip() for cell in cells[len(names) :]):
        problem = Reason(N_("The line has more cells than the header has columns."))
    days = values.get("review_interval_days")
    if problem is None and days is not None and not re.fullmatch(r"\d{1,9}", days):
        problem = Reason(
            N_("review_interval_days must be a whole number of days, not «%(value)s»."), {"value": days[:40]}
        )
    return ManifestRow(line=line, file=file, values=values, problem=problem)


def _key(path: str) -> str:
    return (clean_path(path) or "").casefold()


def _match(manifest: Manifest, items: list[Item], report: ImportReport) -> dict[str, ManifestRow]:
    """Each item's row, by path (ignoring case). A path that names no item exactly finds the one item whose path
    ends with it: a bare file name finds the file in its subfolder, and a path written from inside the folder
    finds it in a folder upload, whose paths begin with the folder's own name. Rows that find no file, or a file
    found already, go to the report."""
    by_key = {_key(item.path): item.path for item in items}
    by_tail: dict[str, list[str]] = {}
    for key, path in by_key.items():
        parts = key.split("/")
        for start in range(1, len(parts)):
            by_tail.setdefault("/".join(parts[start:]), []).append(path)
    matched: dict[str, ManifestRow] = {}
    lines: dict[str, int] = {}
    for row in manifest.rows:
        key = _key(row.file)
        if not key:
            report.manifest.append((row.line, Reason(N_("The line names no file."))))
            continue
        path = by_key.get(key)
        if path is None and len(by_tail.get(key, [])) == 1:
            path = by_tail[key][0]
        if path is None:
            report.manifest.append(
                (row.line, Reason(N_("No file «%(file)s» in the import."), {"file": row.file[:300]}))
            )
        elif path in matched:
            report.manifest.append(
                (
                    row.line,
                    Reason(
                        N_("«%(file)s» is on line %(line)s already; this line is ignored."),
                        {"file": row.file[:300], "line": lines[path]},
                    ),
                )
            )
        else:
            matched[path] = row
            lines[path] = row.line
    return matched


# --- publishing --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportDefaults:
    """The metadata of every file the manifest says nothing about (cell by cell)."""

    kind: str = ""
    owner_id: int | None = None
    product: str = ""
    region: str = ""
    language: str = "ru"
    segments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    status: AssetStatus = AssetStatus.PUBLISHED
    #: The audiences every new asset is restricted to (numbers; none: everyone).
    audiences: tuple[int | str, ...] = ()


class _RolledBack(Exception):
    """Ends a transaction that only checks, so that nothing it did is kept."""

    def __init__(self, clean: AssetFields) -> None:
        super().__init__()
        self.clean = clean


def check_fields(db: Database, fields: AssetFields) -> AssetFields:
    """``fields`` checked as publishing checks them (vocabularies included), without keeping anything."""
    try:
        with db.transaction() as session:
            raise _RolledBack(clean_fields(session, fields))
    except _RolledBack as done:
        return done.clean


def check_defaults(db: Database, actor_id: int, defaults: ImportDefaults, manifest: Manifest | None) -> None:
    """Refuses the whole import before any file is read when the actor may not publish or a default is wrong
    (``ValidationError`` on the default's field), or when no file could get a kind."""
    with db.session() as session:
        actor = session.get(User, actor_id)
        if actor is None or not actor.active or not Role(actor.role).includes(Role.MARKETING):
            raise Forbidden(N_("Publishing needs the marketing role."))
    if defaults.status not in (AssetStatus.PUBLISHED, AssetStatus.DRAFT):
        raise ValidationError(N_("A new asset is either published or a draft."), field="status")
    if not defaults.kind and (manifest is None or "kind" not in manifest.columns):
        raise ValidationError(
            N_("Choose a kind for the files, or give each file's kind in the manifest."), field="kind"
        )
    check_fields(db, _fields(defaults, None, {}, actor_id, title="-", kind=defaults.kind or ASSET_KINDS[0]))


def _fields(
    defaults: ImportDefaults,
    row: ManifestRow | None,
    owners: dict[str, int | None],
    actor_id: int,
    *,
    title: str = "",
    kind: str = "",
) -> AssetFields:
    values = row.values if row else {}
    owner_id = defaults.owner_id or actor_id
    if "owner" in values:
        owner_id = owners.get(accounts.normalize_email(values["owner"])) or 0
    days = values.get("review_interval_days")
    return AssetFields(
        title=values.get("title", title),
        kind=_kind(values["kind"]) if "kind" in values else kind or defaults.kind,
        description=values.get("description", ""),
        product=values.get("product", defaults.product),
        segments=_SPLIT_SEGMENTS.split(values["segments"]) if "segments" in values else list(defaults.segments),
        region=values.get("region", defaults.region),
        language=values.get("language", defaults.language).strip().casefold(),
        owner_id=owner_id,
        review_interval_days=int(days) if days else None,
        tags=list(values["tags"].split(",")) if "tags" in values else list(defaults.tags),
        audiences=list(defaults.audiences),
    )


def _kind(value: str) -> str:
    """A kind as a person may type it: ``Tender template`` or ``tender-template`` for ``tender_template``."""
    return "_".join(value.casefold().replace("-", " ").split())


def _owners(db: Database, rows: Iterable[ManifestRow]) -> dict[str, int | None]:
    """The user id for each owner e-mail of the manifest: None unless an active marketing user has it."""
    emails = {accounts.normalize_email(row.values["owner"]) for row in rows if "owner" in row.values}
    found: dict[str, int | None] = {}
    with db.session() as session:
        for email in emails:
            user = accounts.find_user(session, email)
            usable = user is not None and user.active and Role(user.role).includes(Role.MARKETING)
            found[email] = user.id if usable and user is not None else None
    return found


def stored_as(db: Database, sha256: str) -> tuple[int, str] | None:
    """The asset whose current version has exactly these bytes (the oldest, when several have)."""
    with db.session() as session:
        row = session.execute(
            select(Asset.id, Asset.title)
            .join(AssetVersion, AssetVersion.id == Asset.current_version_id)
            .where(AssetVersion.sha256 == sha256)
            .order_by(Asset.id)
            .limit(1)
        ).first()
    return (row[0], row[1]) if row else None


def _sha256(item: Item) -> str:
    digest = hashlib.sha256()
    with item.open() as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


#: Reading a file or a ZIP part can fail in these ways (a damaged part, a method zipfile lacks, a vanished file).
_READ_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


def run_import(
    publisher: Publisher,
    actor_id: int,
    batch: Batch,
    defaults: ImportDefaults,
    *,
    manifest: Manifest | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Publishes every file of ``batch`` as a new asset, each in its own transaction, and says what became of
    each. Raises only before the first file (``check_defaults``); after that a bad file is refused, never fatal.
    ``dry_run`` reads, types and checks every file and its metadata but publishes nothing."""
    check_defaults(publisher.db, actor_id, defaults, manifest)
    report = ImportReport(refused=list(batch.refused), ignored=batch.ignored, dry_run=dry_run)
    if manifest is not None:
        report.manifest.extend(manifest.problems)
    rows = _match(manifest, batch.items, report) if manifest is not None else {}
    report.manifest.sort(key=lambda problem: problem[0])
    owners = _owners(publisher.db, rows.values())
    seen: dict[str, str] = {}  # sha256 -> path, for a dry run, where nothing is stored
    manifest_sha256 = manifest.sha256 if manifest is not None else ""
    total = len(batch.items)
    for done, item in enumerate(batch.items, start=1):
        row = rows.get(item.path)
        _import_one(publisher, actor_id, item, defaults, row, owners, seen, manifest_sha256, report)
        if progress is not None:
            progress(done, total, item.path)
    return report


def _import_one(
    publisher: Publisher,
    actor_id: int,
    item: Item,
    defaults: ImportDefaults,
    row: ManifestRow | None,
    owners: dict[str, int | None],
    seen: dict[str, str],
    manifest_sha256: str,
    report: ImportReport,
) -> None:
    refuse = report.refused.append
    if row is not None:
        problem = row.problem
        email = row.values.get("owner")
        if problem is None and email is not None and owners.get(accounts.normalize_email(email)) is None:
            problem = Reason(N_("No active marketing user has the e-mail %(email)s."), {"email": email[:200]})
        if problem is not None:
            refuse((item.path, Reason(N_("Manifest line %(line)s: %(problem)s"), {"line": row.line}, problem)))
            return
    if item.name.casefold().endswith(_ARCHIVE_SUFFIXES):
        refuse((item.path, Reason(ARCHIVE_INSIDE)))
        return
    if publisher.max_upload_bytes is not None and item.size > publisher.max_upload_bytes:
        refuse((item.path, Reason(N_("The file is larger than the upload limit."))))
        return
    fields = _fields(defaults, row, owners, actor_id)
    try:
        sha256 = _sha256(item)
        existing = stored_as(publisher.db, sha256)
        if existing is not None:
            asset_id, title = existing
            report.skipped.append(
                (item.path, Reason(N_("Already stored as asset %(id)s «%(title)s»."), {"id": asset_id, "title": title}))
            )
            return
        if sha256 == manifest_sha256:
            report.skipped.append((item.path, Reason(N_("This is the manifest; it is not imported."))))
            return
        if sha256 in seen:
            report.skipped.append(
                (item.path, Reason(N_("The same file as %(path)s in this import."), {"path": seen[sha256]}))
            )
            return
        with item.open() as stream:
            upload = FileUpload(stream, item.name)
            if report.dry_run:
                staged = publisher.stage(upload)
                try:
                    if not fields.title.strip():
                        fields = replace(fields, title=title_from_filename(staged.filename))
                    check_fields(publisher.db, fields)
                finally:
                    publisher.release(staged)
                asset_id = None
            else:
                asset_id = publisher.create_asset(actor_id, fields, upload, status=defaults.status).asset_id
        seen[sha256] = item.path
        report.imported.append((item.path, asset_id))
    except DomainError as exc:
        refuse((item.path, Reason.of(exc)))
    except _READ_ERRORS as exc:
        refuse((item.path, Reason(NOT_READ, {"error": _error_text(exc)})))


def _error_text(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return (text or type(exc).__name__)[:300]
