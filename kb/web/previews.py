"""The page viewer and the preview images: a version's pages as pictures, for whoever may download that version.

``/assets/<id>/versions/<n>/pages/<p>`` shows page ``p`` (slide, printed page of a sheet) with its text, the
searched words marked (``s=``, as on the asset page), and links to page through the document; the images come from
``.../previews/<p>.webp`` and ``.../thumbnails/<p>.webp``. Access is exactly that of the version's download: an
asset the person may not see (a draft or archived one, for sales) is a 404 here too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_login import current_user
from sqlalchemy import select

from kb import assets, search
from kb.models import AssetVersion, ExtractedPage, PreviewStatus
from kb.previews import build
from kb.previews.store import PreviewStore
from kb.search_log import search_text, valid_key
from kb.web.context import db_session, get_blobs, get_search_log

bp = Blueprint("previews", __name__, url_prefix="/assets")
#: Thumbnails the asset page's strip shows at most (the viewer pages through the rest).
STRIP_PAGES = 60
#: A version never changes, so neither do its images: a browser keeps them, but only for this person.
IMMUTABLE = "private, max-age=31536000, immutable"


def preview_store() -> PreviewStore:
    store = current_app.extensions.get("kb_previews")
    if store is None:
        store = current_app.extensions["kb_previews"] = PreviewStore(current_app.config["KB_SETTINGS"].preview_dir)
    return store


def _version(asset_id: int, number: int) -> tuple[Any, AssetVersion]:
    """The asset and version, if this person may download it (``downloads.download``'s rule); else 404."""
    session = db_session()
    asset = assets.get_asset(session, asset_id, current_user)
    return asset, assets.get_version(session, asset.id, number)


def _image(asset_id: int, number: int, page: int, kind: str) -> Any:
    _asset, version = _version(asset_id, number)
    path = build.page_image(get_blobs(), preview_store(), version, page, kind)
    if path is None:
        abort(404)
    response = send_file(path, mimetype="image/webp", etag=f"{version.sha256}-{kind}-{page}", conditional=True)
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/<int:asset_id>/versions/<int:number>/previews/<int:page>.webp")
def page_image(asset_id: int, number: int, page: int) -> Any:
    return _image(asset_id, number, page, "page")


@bp.get("/<int:asset_id>/versions/<int:number>/thumbnails/<int:page>.webp")
def thumbnail(asset_id: int, number: int, page: int) -> Any:
    return _image(asset_id, number, page, "thumb")


@bp.get("/<int:asset_id>/versions/<int:number>/pages/<int:page>")
def viewer(asset_id: int, number: int, page: int) -> Any:
    """One page of a version as an image, with its text (the searched words marked) and links to page on."""
    asset, version = _version(asset_id, number)
    count = version.preview_pages or 0
    if version.preview_status != PreviewStatus.DONE or not 1 <= page <= count:
        abort(404)
    session = db_session()
    text = session.scalars(
        select(ExtractedPage).where(ExtractedPage.version_id == version.id, ExtractedPage.number == page)
    ).first()
    search_key = valid_key(request.args.get("s"))
    searched = search_text(session, get_search_log(), search_key, current_user.id) if search_key else None
    return render_template(
        "assets/viewer.html",
        asset=asset,
        version=version,
        page=page,
        count=count,
        text=text,
        searched=searched,
        searched_terms=search.searched_terms(searched, session) if searched else frozenset(),
        search_key=search_key,
    )


def strip_pages(version: AssetVersion | None) -> list[int]:
    """The pages whose thumbnails the asset page shows for ``version``."""
    if version is None or version.preview_status != PreviewStatus.DONE:
        return []
    return list(range(1, min(version.preview_pages or 0, STRIP_PAGES) + 1))


def result_previews(session: Any, hits: list[Any]) -> dict[tuple[int, int], dict[str, Any]]:
    """For search results: by (asset id, version number), the pages the version has previews of and the pages
    whose text was read from a scan."""
    wanted = {(hit.asset_id, p.version) for hit in hits for p in hit.pages}
    if not wanted:
        return {}
    asset_ids = {asset_id for asset_id, _number in wanted}
    found: dict[tuple[int, int], dict[str, Any]] = {}
    rows = session.execute(
        select(
            AssetVersion.id,
            AssetVersion.asset_id,
            AssetVersion.number,
            AssetVersion.preview_status,
            AssetVersion.preview_pages,
        ).where(AssetVersion.asset_id.in_(asset_ids))
    ).all()
    by_id = {}
    for version_id, asset_id, number, status, pages in rows:
        if (asset_id, number) in wanted:
            found[(asset_id, number)] = {
                "pages": (pages or 0) if status == PreviewStatus.DONE else 0,
                "ocr": set(),
            }
            by_id[version_id] = (asset_id, number)
    if by_id:
        for version_id, page in session.execute(
            select(ExtractedPage.version_id, ExtractedPage.number).where(
                ExtractedPage.version_id.in_(by_id), ExtractedPage.ocr.is_(True)
            )
        ):
            found[by_id[version_id]]["ocr"].add(page)
    return found
