"""What goes into the search index: one document per page, slide or sheet of every version of an asset.

Built from the database alone (the extracted text lives there), so the index can always be rebuilt. Each
document repeats its asset's metadata, for filtering, facets and boosting titles and tags over body text.
Each also carries who may find it (its asset's audiences). Ratings, flags and review dates are not in it: they
change every day and are read when searching (``kb.search.signals``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from kb.audiences import EVERYONE, index_keys
from kb.models import Asset, AssetVersion, ExtractedPage


@dataclass(frozen=True)
class IndexPage:
    doc_id: str
    asset_id: int
    version_id: int
    version: int
    current: bool
    status: str
    page: int
    page_title: str
    title: str
    description: str
    body: str
    kind: str
    product: str
    region: str
    language: str
    owner_id: int
    owner_name: str
    updated: datetime
    stamp: str
    segments: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    #: Who may find the page: ["everyone"], or the ids of the audiences its asset is restricted to
    #: (``kb.audiences.index_keys``; owners and admins find it too, by the search scope).
    audiences: list[str] = field(default_factory=lambda: [EVERYONE])

    @property
    def restricted(self) -> bool:
        return self.audiences != [EVERYONE]


def stamp(asset: Asset) -> str:
    """What the index must agree with the database on for an asset to be up to date."""
    audiences = ",".join(index_keys(link.audience_id for link in asset.audience_links))
    return f"{asset.current_version_id}:{asset.status}:{asset.updated_at.isoformat()}:{audiences}"


def asset_pages(session: Session, asset_id: int) -> list[IndexPage]:
    """Every indexed document of one asset; empty when the asset no longer exists."""
    asset = session.scalars(select(Asset).where(Asset.id == asset_id).options(joinedload(Asset.owner))).first()
    if asset is None:
        return []
    common = {
        "asset_id": asset.id,
        "status": str(asset.status),
        "title": asset.title,
        "description": asset.description,
        "kind": asset.kind,
        "product": asset.product,
        "region": asset.region,
        "language": asset.language,
        "owner_id": asset.owner_id,
        "owner_name": asset.owner.display_name,
        "updated": asset.updated_at,
        "stamp": stamp(asset),
        "segments": sorted(s.segment for s in asset.segments),
        "tags": sorted(t.tag for t in asset.tags),
        "audiences": index_keys(link.audience_id for link in asset.audience_links),
    }
    documents: list[IndexPage] = []
    versions = session.scalars(select(AssetVersion).where(AssetVersion.asset_id == asset.id))
    for version in versions:
        current = version.id == asset.current_version_id
        pages = session.execute(
            select(ExtractedPage.number, ExtractedPage.title, ExtractedPage.text)
            .where(ExtractedPage.version_id == version.id)
            .order_by(ExtractedPage.number)
        ).all()
        if not pages and current:
            pages = [(0, "", "")]  # no text (yet): the asset is still found by its title and tags
        for number, page_title, text in pages:
            documents.append(
                IndexPage(
                    doc_id=f"{version.id}:{number}",
                    version_id=version.id,
                    version=version.number,
                    current=current,
                    page=number,
                    page_title=page_title,
                    body=text,
                    **common,
                )
            )
    return documents


def all_asset_ids(session: Session) -> Iterator[int]:
    yield from session.scalars(select(Asset.id).order_by(Asset.id))


def all_stamps(session: Session) -> dict[int, str]:
    return {asset.id: stamp(asset) for asset in session.scalars(select(Asset))}
