"""The demo library: importing ``content/manifest.json`` and its files through the real publishing path.

The manifest's ``feedback`` adds a few salespeople with ratings and stale flags, so the freshness queue of a
fresh install has work in it. Importing is idempotent: an asset is recognised by its title and a version by
its file's SHA-256, a rating or flag by its author, so running the import again adds only what is missing.
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
from kb.models import Asset, AssetStatus, AssetVersion, Rating, Role
from kb.publishing import AssetFields, FileUpload, Publisher

MANIFEST = PROJECT_ROOT / "content" / "manifest.json"


@dataclass
class LoadReport:
    people_created: int = 0
    assets_created: int = 0
    versions_added: int = 0
    assets_unchanged: int = 0
    ratings_set: int = 0
    flags_raised: int = 0


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
    if "feedback" in manifest:
        _load_feedback(db, manifest["feedback"], password, report)
    return report


def _load_feedback(db: Any, feedback_data: dict[str, Any], password: str, report: LoadReport) -> None:
    """The demo's salespeople with their ratings and flags; a flag is raised only if that person never flagged."""
    from kb import feedback
    from kb.models import StaleFlag

    people: dict[str, int] = {}
    for person in feedback_data.get("people", []):
        with db.session() as session:
            user = accounts.find_user(session, person["email"])
        if user is None:
            user = accounts.create_user(db, person["email"], password, Role.SALES, person["name"])
            report.people_created += 1
        people[accounts.normalize_email(person["email"])] = user.id
    with db.session() as session:
        assets = {title: asset_id for title, asset_id in session.execute(select(Asset.title, Asset.id))}
    for rating in feedback_data.get("ratings", []):
        user_id = people[accounts.normalize_email(rating["by"])]
        with db.session() as session:
            known = session.scalars(
                select(Rating.id).where(Rating.asset_id == assets[rating["asset"]], Rating.user_id == user_id)
            ).first()
        if known is None:
            feedback.rate(db, user_id, assets[rating["asset"]], rating["stars"], rating.get("comment", ""))
            report.ratings_set += 1
    for flag in feedback_data.get("flags", []):
        user_id = people[accounts.normalize_email(flag["by"])]
        asset_id = assets[flag["asset"]]
        with db.session() as session:
            flagged = session.scalars(
                select(StaleFlag.id).where(StaleFlag.asset_id == asset_id, StaleFlag.raised_by_id == user_id)
            ).first()
        if flagged is None:
            feedback.raise_flag(db, user_id, asset_id, flag["reason"], flag.get("comment", ""), flag.get("page"))
            report.flags_raised += 1
