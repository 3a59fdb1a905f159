"""The demo library: importing ``content/manifest.json`` and its files through the real publishing path.

Importing is idempotent: an asset is recognised by its title and a version by its file's SHA-256, so running
the import again adds only what is missing and changes nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kb import accounts
from kb.config import PROJECT_ROOT
from kb.models import Asset, AssetStatus, AssetVersion, Role
from kb.publishing import AssetFields, FileUpload, Publisher

MANIFEST = PROJECT_ROOT / "content" / "manifest.json"


@dataclass
class LoadReport:
    people_created: int = 0
    assets_created: int = 0
    versions_added: int = 0
    assets_unchanged: int = 0


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _when(day: str) -> datetime:
    return datetime.combine(datetime.fromisoformat(day).date(), time(9, 0), tzinfo=UTC)


def load(publisher: Publisher, manifest_path: Path = MANIFEST, *, password: str) -> LoadReport:
    """Imports every asset and version of the manifest that is not in the database yet."""
    manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    root = manifest_path.parent
    db = publisher.db
    report = LoadReport()
    people: dict[str, int] = {}
    for person in manifest["people"]:
        with db.session() as session:
            user = accounts.find_user(session, person["email"])
        if user is None:
            user = accounts.create_user(db, person["email"], password, Role.MARKETING, person["name"])
            report.people_created += 1
        people[user.email] = user.id
    for entry in manifest["assets"]:
        with db.session() as session:
            asset = session.scalars(select(Asset).where(Asset.title == entry["title"])).first()
            known = (
                set(session.scalars(select(AssetVersion.sha256).where(AssetVersion.asset_id == asset.id)))
                if asset
                else set()
            )
            asset_id = asset.id if asset else None
        added = 0
        for version in entry["versions"]:
            path = root / version["file"]
            if _sha256(path) in known:
                continue
            actor = people[accounts.normalize_email(version["published_by"])]
            with path.open("rb") as handle:
                upload = FileUpload(handle, version["filename"])
                if asset_id is None:
                    fields = AssetFields(
                        title=entry["title"],
                        kind=entry["kind"],
                        description=entry.get("description", ""),
                        product=entry.get("product", ""),
                        segments=list(entry.get("segments", [])),
                        region=entry.get("region", ""),
                        language=entry.get("language", "ru"),
                        owner_id=people[accounts.normalize_email(entry["owner"])],
                        review_interval_days=entry.get("review_interval_days"),
                        tags=list(entry.get("tags", [])),
                    )
                    published = publisher.create_asset(
                        actor,
                        fields,
                        upload,
                        change_note=version.get("change_note", ""),
                        status=AssetStatus.PUBLISHED,
                        published_at=_when(version["published_at"]),
                    )
                    asset_id = published.asset_id
                    report.assets_created += 1
                else:
                    publisher.add_version(
                        actor, asset_id, upload, version["change_note"], published_at=_when(version["published_at"])
                    )
                    report.versions_added += 1
            added += 1
        if not added:
            report.assets_unchanged += 1
    return report
