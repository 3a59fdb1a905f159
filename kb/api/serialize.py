"""How users, assets and versions look in the JSON API."""

from __future__ import annotations

from typing import Any

from flask import url_for

from kb.models import Asset, AssetVersion, User


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": str(user.role),
        "preferred_language": user.preferred_language,
        "active": user.active,
    }


def person_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "display_name": user.display_name, "email": user.email}


def version_json(asset_id: int, version: AssetVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "file_name": version.original_filename,
        "media_type": version.media_type,
        "size": version.size_bytes,
        "sha256": version.sha256,
        "page_count": version.page_count,
        "change_note": version.change_note,
        "published_by": person_json(version.published_by),
        "published_at": version.published_at.isoformat(),
        "extraction_status": str(version.extraction_status),
        "extraction_error": version.extraction_error,
        "download_url": url_for("api.download", asset_id=asset_id, number=version.number),
    }


def asset_json(asset: Asset, versions: list[AssetVersion] | None = None) -> dict[str, Any]:
    current = asset.current_version
    data: dict[str, Any] = {
        "id": asset.id,
        "title": asset.title,
        "description": asset.description,
        "kind": asset.kind,
        "product": asset.product,
        "segments": sorted(s.segment for s in asset.segments),
        "region": asset.region,
        "language": asset.language,
        "tags": [t.tag for t in asset.tags],
        "audiences": [{"id": a.id, "name": a.name} for a in asset.audiences],
        "owner": person_json(asset.owner),
        "review_interval_days": asset.review_interval_days,
        "next_review_on": asset.next_review_on.isoformat(),
        "status": str(asset.status),
        "archived_at": asset.archived_at.isoformat() if asset.archived_at else None,
        "replaced_by": asset.replaced_by_id,
        "current_version": current.number if current else None,
        "created_at": asset.created_at.isoformat(),
        "updated_at": asset.updated_at.isoformat(),
        "url": url_for("assets.show", asset_id=asset.id),
    }
    if versions is not None:
        data["versions"] = [version_json(asset.id, v) for v in versions]
    return data
