"""The blob store: uploaded files kept by their SHA-256 under ``KB_BLOB_DIR``, written atomically, stored once.

A blob lives at ``<root>/ab/cd/abcdef...`` (the first two byte pairs of its digest fan the files out). Writes
go to a temporary file in the same directory, are fsynced and then renamed into place, so a reader never sees
half a file and a crash leaves at most a stray temporary file. Identical bytes map to the same path, so a file
uploaded twice is stored once. Blobs are never changed after they are written.

A temporary file's name says which process writes it (``.incoming-<pid>-<machine>-...``, the machine being a
hash of the host name and the process-id namespace), so ``kb check`` can tell the file of a server killed
mid-upload, whose process is gone, from an upload still under way.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
_DIGEST_RE = re.compile(r"^[0-9a-f]{64}$")
_TMP_PREFIX = ".incoming-"
_TMP_NAME = re.compile(r"^\.incoming-(?P<pid>\d+)-(?P<machine>[0-9a-f]{12})-")


@dataclass(frozen=True)
class StagedFile:
    """An upload copied to local disk and hashed, before it is committed to the store."""

    path: Path
    sha256: str
    size: int
    head: bytes  # the first 64 KiB, for type detection


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if not _DIGEST_RE.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def stage(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StagedFile:
        """Copies ``stream`` to a temporary file in the store, hashing it on the way.

        Raises ``ValueError`` when more than ``max_bytes`` arrive. The caller either ``commit``s the staged
        file or ``discard``s it.
        """
        fd, tmp_name = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-{_machine()}-", dir=self.root)
        digest = hashlib.sha256()
        size = 0
        head = b""
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise ValueError("file too large")
                    if len(head) < 65536:
                        head += chunk[: 65536 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return StagedFile(path=Path(tmp_name), sha256=digest.hexdigest(), size=size, head=head)

    def commit(self, staged: StagedFile) -> Path:
        """Moves a staged file to its place (or drops it when the same bytes are already stored)."""
        target = self.path_for(staged.sha256)
        if target.is_file():
            staged.path.unlink(missing_ok=True)
            os.utime(target)  # in use again: not an old orphan that kb check --remove-orphans may delete
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(staged.path, 0o444)
        os.replace(staged.path, target)
        _fsync_dir(target.parent)
        return target

    def discard(self, staged: StagedFile) -> None:
        staged.path.unlink(missing_ok=True)

    def put_bytes(self, data: bytes) -> str:
        """Stores ``data`` and returns its digest (used by the demo loader and tests)."""
        import io

        staged = self.stage(io.BytesIO(data))
        self.commit(staged)
        return staged.sha256

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def verify(self, sha256: str) -> str | None:
        """None when the blob exists and hashes to its name; else what is wrong with it."""
        path = self.path_for(sha256)
        if not path.is_file():
            return "missing"
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        return None if digest.hexdigest() == sha256 else "content does not match its SHA-256"

    def all_digests(self) -> Iterator[str]:
        for path in self.root.glob("??/??/*"):
            if path.is_file() and _DIGEST_RE.match(path.name):
                yield path.name

    def stray_temporaries(self) -> list[Path]:
        return sorted(self.root.glob(_TMP_PREFIX + "*"))

    @staticmethod
    def writer_gone(path: Path) -> bool:
        """Whether the temporary file at ``path`` was written by a process of this machine that has ended.

        ``False`` when that process still runs, and when the name does not tell (another machine, or a file
        from before names said who writes them).
        """
        match = _TMP_NAME.match(path.name)
        if match is None or match["machine"] != _machine():
            return False
        try:
            os.kill(int(match["pid"]), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, OverflowError):
            return False  # another user's process runs with this id; an id too large names no process
        return False


def _machine() -> str:
    """This machine and process-id namespace, as 12 hex digits: process ids mean something only within both."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}\0{namespace}".encode()).hexdigest()[:12]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
