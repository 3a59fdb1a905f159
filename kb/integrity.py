"""``kb check``: every version's file is in the blob store and hashes to its SHA-256; nothing else is there."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import select

from kb.blobs import BlobStore
from kb.db import Database
from kb.models import Asset, AssetVersion

ORPHAN_MIN_AGE_S = 3600


@dataclass
class BlobReport:
    checked: int = 0
    missing: list[str] = field(default_factory=list)  # "asset 3 v2 (sha...)"
    mismatched: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # digests no version refers to
    stray_temporaries: int = 0

    @property
    def problems(self) -> bool:
        return bool(self.missing or self.mismatched)

    def lines(self) -> list[str]:
        out = [f"checked {self.checked} version file(s)"]
        out += [f"MISSING   {item}" for item in self.missing]
        out += [f"MISMATCH  {item}" for item in self.mismatched]
        out += [f"orphan    {digest}" for digest in self.orphans]
        if self.stray_temporaries:
            out.append(f"{self.stray_temporaries} unfinished upload file(s) (removed with --remove-orphans)")
        out.append("OK" if not self.problems else "PROBLEMS FOUND")
        return out


def check_blobs(db: Database, blobs: BlobStore) -> BlobReport:
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
    report.orphans = sorted(d for d in blobs.all_digests() if d not in referenced)
    report.stray_temporaries = len(blobs.stray_temporaries())
    return report


def remove_orphans(db: Database, blobs: BlobStore, report: BlobReport, min_age_s: float = ORPHAN_MIN_AGE_S) -> int:
    """Deletes orphans and unfinished uploads older than ``min_age_s`` (younger ones may be mid-publish).

    Each orphan is checked against the database again just before it goes, in case a version started using
    it since the report was made.
    """
    cutoff = time.time() - min_age_s
    removed = 0
    candidates = [(d, blobs.path_for(d)) for d in report.orphans] + [(None, p) for p in blobs.stray_temporaries()]
    for digest, path in candidates:
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            if digest is not None:
                with db.session() as session:
                    if session.scalar(select(AssetVersion.id).where(AssetVersion.sha256 == digest).limit(1)):
                        continue
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed
