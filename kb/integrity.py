"""``kb check``: every version's file is in the blob store and hashes to its SHA-256; nothing else is there.

The previews made of stored files (``kb.previews.store``) are checked the same way: previews of a file no version
refers to are orphans, reported and removed with the blob they came from.

What the report says ``--remove-orphans`` removes is what it removes: orphans an hour old, and unfinished uploads
whose process has ended (a server killed mid-upload) or that are an hour old.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from kb.blobs import BlobStore
from kb.db import Database
from kb.models import Asset, AssetVersion
from kb.previews.store import PreviewStore

#: Orphans and unfinished uploads younger than this may belong to a publish under way: --remove-orphans keeps them
#: (an unfinished upload whose writing process has ended goes at once).
ORPHAN_MIN_AGE_S = 3600


@dataclass
class BlobReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)  # "asset 3 v2 (sha...)"
    mismatched: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # digests no version refers to
    recent_orphans: set[str] = field(default_factory=set)  # of those, the ones --remove-orphans keeps for now
    unfinished: list[Path] = field(default_factory=list)  # upload files of uploads that ended or are an hour old
    uploading: int = 0  # upload files being written: left alone
    preview_orphans: list[str] = field(default_factory=list)  # digests with previews but no version

    @property
    def problems(self) -> bool:
        return bool(self.missing or self.mismatched)

    def lines(self) -> list[str]:
        out = [f"checked {self.checked} version file(s)"]
        out += [f"MISSING   {item}" for item in self.missing]
        out += [f"MISMATCH  {item}" for item in self.mismatched]
        out += [f"orphan    {digest}" + (_RECENT if digest in self.recent_orphans else "") for digest in self.orphans]
        if self.unfinished:
            out.append(
                f"{len(self.unfinished)} unfinished upload file(s) of uploads that stopped or began over an hour ago "
                "(removed with --remove-orphans)"
            )
        if self.uploading:
            out.append(f"{self.uploading} upload(s) under way (left alone)")
        if self.preview_orphans:
            out.append(
                f"{len(self.preview_orphans)} file(s) with previews but no version (removed with --remove-orphans)"
            )
        out.append("OK" if not self.problems else "PROBLEMS FOUND")
        return out


_RECENT = "  (less than an hour old: --remove-orphans keeps it, a publish may be using it)"


def check_blobs(
    db: Database, blobs: BlobStore, min_age_s: float = ORPHAN_MIN_AGE_S, previews: PreviewStore | None = None
) -> BlobReport:
    report = BlobReport()
    referenced: set[str] = set()
    with db.session() as session:
        rows = session.execute(
            select(Asset.id, Asset.title, AssetVersion.number, AssetVersion.sha256)
            .join(AssetVersion, AssetVersion.asset_id == Asset.id)
            .order_by(Asset.id, AssetVersion.number)
        ).all()
    verdicts: dict[str, str | None] = {}
    for asset_id, title, number, sha256 in rows:
        report.checked += 1
        referenced.add(sha256)
        if sha256 not in verdicts:
            verdicts[sha256] = blobs.verify(sha256)
        problem = verdicts[sha256]
        label = f"asset {asset_id} “{title}” v{number} ({sha256[:12]}…)"
        if problem == "missing":
            report.missing.append(label)
        elif problem:
            report.mismatched.append(label)
    cutoff = time.time() - min_age_s
    report.orphans = sorted(d for d in blobs.all_digests() if d not in referenced)
    report.recent_orphans = {d for d in report.orphans if not _older(blobs.path_for(d), cutoff)}
    for path in blobs.stray_temporaries():
        if _upload_ended(blobs, path, cutoff):
            report.unfinished.append(path)
        else:
            report.uploading += 1
    if previews is not None:
        report.preview_orphans = sorted(
            d for d in previews.all_digests() if d not in referenced and _older(previews.dir_for(d), cutoff)
        )
    return report


def remove_orphans(
    db: Database,
    blobs: BlobStore,
    report: BlobReport,
    min_age_s: float = ORPHAN_MIN_AGE_S,
    previews: PreviewStore | None = None,
) -> int:
    """Deletes orphans older than ``min_age_s`` (younger ones may be mid-publish) and unfinished uploads whose
    writing process has ended or that are older than that; returns how many files went.

    Each file is judged again just before it goes, by the rules the report used, and each orphan is checked
    against the database again, in case a version started using it since the report was made.
    """
    cutoff = time.time() - min_age_s
    removed = 0
    for digest in report.orphans:
        path = blobs.path_for(digest)
        if not _older(path, cutoff):
            continue
        with db.session() as session:
            if session.scalar(select(AssetVersion.id).where(AssetVersion.sha256 == digest).limit(1)):
                continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    for path in blobs.stray_temporaries():
        if not _upload_ended(blobs, path, cutoff):
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    for digest in report.preview_orphans if previews is not None else ():
        with db.session() as session:
            if session.scalar(select(AssetVersion.id).where(AssetVersion.sha256 == digest).limit(1)):
                continue
        removed += previews.remove(digest)
    return removed


def _older(path: Path, cutoff: float) -> bool:
    """Whether ``path`` was last changed before ``cutoff`` (not when it is gone)."""
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def _upload_ended(blobs: BlobStore, path: Path, cutoff: float) -> bool:
    """An unfinished upload file nothing writes any more: its process has ended, or it is older than ``cutoff``."""
    return blobs.writer_gone(path) or _older(path, cutoff)
