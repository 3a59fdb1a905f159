"""Decoded postings on disk beside the index: a frequent term's postings decoded once, read by every process.

A Whoosh posting block is a zlib-compressed pickle of document numbers, weights and the positions of every
occurrence; decoding a frequent word's blocks (tens of thousands of pages) is most of what a search costs the
first time that word is asked in a process: 70-300 ms at 10,000 assets, against 30 ms once it is decoded. A
segment never changes its postings, so what one process decoded holds for every process and every restart
until the segment goes. The arrays are written here as plain machine words (``<segment>/<hash>.ids`` ...)
and mapped read-only, so the server's processes share one copy in the page cache instead of each holding its
own, and the first search after a start or a deploy reads them instead of decoding again.

Only postings long enough to be worth it are written (``MIN_POSTINGS``); shorter ones decode in a few
milliseconds. Everything here is derived: a file that cannot be written (a read-only or full disk) is
skipped, a file that does not have the size its name promises is ignored, and the writer of the index
removes the folders of segments it merged away (``forget``).
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: The folder under a generation of the index that holds a folder per segment.
FOLDER = "decoded"
#: Postings shorter than this are decoded when needed and kept in memory only.
MIN_POSTINGS = 2048


def _path(root: Path, segment_id: str, field: str, term: str, kind: str) -> Path:
    digest = hashlib.blake2b(f"{field}\0{term}".encode(), digest_size=16).hexdigest()
    return root / FOLDER / segment_id / f"{digest}.{kind}"


def _mapped(path: Path) -> memoryview | None:
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                return memoryview(b"")
            return memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as error:
        log.warning("decoded postings %s unreadable (%s): decoding again", path, error)
        return None


def _write(path: Path, parts: Iterable[np.ndarray]) -> None:
    """Writes the arrays one after another, whole or not at all (a temporary file renamed into place)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                for part in parts:
                    handle.write(np.ascontiguousarray(part).tobytes())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as error:
        log.warning("decoded postings not kept in %s (%s)", path.parent, error)


def load_postings(root: Path, segment_id: str, field: str, term: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(document numbers as intp, weights as float64) written earlier for this term, or None."""
    view = _mapped(_path(root, segment_id, field, term, "postings"))
    if view is None:
        return None
    count, rest = divmod(len(view), 16)
    if rest:
        return None
    ids = np.frombuffer(view, dtype=np.intp, count=count)
    weights = np.frombuffer(view, dtype=np.float64, count=count, offset=count * 8)
    return ids, weights


def save_postings(root: Path, segment_id: str, field: str, term: str, ids: np.ndarray, weights: np.ndarray) -> None:
    if ids.size >= MIN_POSTINGS and ids.size == weights.size:
        _write(
            _path(root, segment_id, field, term, "postings"),
            (ids.astype(np.intp, copy=False), weights.astype(np.float64, copy=False)),
        )


def load_positions(root: Path, segment_id: str, field: str, term: str) -> np.ndarray | None:
    """The term's position keys (``document << 32 | position``) written earlier, or None."""
    view = _mapped(_path(root, segment_id, field, term, "positions"))
    if view is None or len(view) % 8:
        return None
    return np.frombuffer(view, dtype=np.int64)


def save_positions(root: Path, segment_id: str, field: str, term: str, keys: np.ndarray) -> None:
    if keys.size >= MIN_POSTINGS:
        _write(_path(root, segment_id, field, term, "positions"), (keys.astype(np.int64, copy=False),))


def forget(root: Path, live_segments: Iterable[str]) -> int:
    """Removes the folders of segments no longer in the index (merged away); returns how many went. A process
    still reading an old searcher keeps its mapped files until it lets them go."""
    folder = root / FOLDER
    if not folder.is_dir():
        return 0
    live = set(live_segments)
    removed = 0
    for child in folder.iterdir():
        if child.name not in live:
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    return removed


def cost(value: object) -> int:
    """What a cached value holds in memory: a mapped array counts in full too, since the pages it was read from
    stay in the process's resident set for as long as the cache keeps the mapping (shared with the other
    processes that map them, but counted in each one's RSS)."""
    arrays = value if isinstance(value, tuple) else (value,)
    return sum(array.nbytes for array in arrays if isinstance(array, np.ndarray))


def _is_mapped(array: np.ndarray) -> bool:
    base = array.base
    while isinstance(base, np.ndarray):
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)
