"""``/api/v1/assets``: list, read, create and edit assets, publish versions, download files."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from kb import assets
from kb.api import bp
from kb.api.serialize import asset_json, version_json
from kb.errors import N_, ValidationError
from kb.models import ASSET_KINDS, AssetStatus, Role
from kb.publishing import AssetFields, FileUpload, Published, parse_tags
from kb.search.signals import FRESHNESS_STATES
from kb.web import downloads
from kb.web.access import requires
from kb.web.context import db_session, get_publisher

MAX_PER_PAGE = 100
MAX_NUMBER = 1_000_000_000  # ids, pages and intervals beyond this are mistakes, not requests


def _int(name: str, value: str | None, *, default: int | None = None, minimum: int = 1) -> int | None:
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValidationError(N_("%(name)s must be a whole number."), field=name, name=name) from None
    if number < minimum:
        raise ValidationError(N_("%(name)s must be at least %(n)s."), field=name, name=name, n=minimum)
    if number > MAX_NUMBER:
        raise ValidationError(N_("%(name)s is too large."), field=name, name=name)
    return number


def _upload() -> FileUpload:
    storage = request.files.get("file")
    if storage is None or not storage.filename:
        raise ValidationError(N_("Send the file in the multipart field “file”."), field="file")
    return FileUpload(storage.stream, storage.filename)


def _segments(values: list[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part.strip()]


def _owner_id() -> int:
    owner = request.form.get("owner_id") or request.form.get("owner")
    if owner and "@" in owner:
        from kb.accounts import find_user

        user = find_user(db_session(), owner)
        if user is None:
            raise ValidationError(N_("The owner must be an active marketing user."), field="owner_id")
        return user.id
    return _int("owner_id", owner, default=current_user.id) or current_user.id


def _warnings(published: Published) -> list[dict[str, Any]]:
    warnings = [
        {
            "code": "duplicate",
            "asset_id": d.asset_id,
            "title": d.title,
            "message": "The same file is the current version of another asset.",
        }
        for d in published.duplicates
    ]
    if published.renamed_from:
        warnings.append(
            {
                "code": "renamed",
                "filename": published.filename,
                "uploaded_filename": published.renamed_from,
                "message": "The file name's extension did not agree with the content; it is stored under this name.",
            }
        )
    return warnings


def _asset_response(asset_id: int, status: int = 200, **extra: Any) -> Any:
    session = db_session()
    asset = assets.get_asset(session, asset_id, current_user)
    history = sorted(assets.versions(session, asset.id), key=lambda v: v.number)
    return jsonify({**asset_json(asset, history), **extra}), status


@bp.get("/assets")
def list_assets() -> Any:
    kind = request.args.get("kind") or None
    if kind and kind not in ASSET_KINDS:
        raise ValidationError(N_("Choose a kind: %(kinds)s."), field="kind", kinds=", ".join(ASSET_KINDS))
    status = request.args.get("status") or None
    if status and status not in set(AssetStatus):
        raise ValidationError(N_("Unknown status %(status)s."), field="status", status=status[:20])
    freshness = request.args.get("freshness") or None
    if freshness and freshness not in FRESHNESS_STATES:
        raise ValidationError(
            N_("Choose a freshness: %(states)s."), field="freshness", states=", ".join(FRESHNESS_STATES)
        )
    sort = request.args.get("sort") or assets.DEFAULT_SORT
    if assets.parse_sort(sort) is None:
        names = ", ".join(assets.LIBRARY_SORTS)
        raise ValidationError(N_("Sort by one of %(sorts)s, with - before it to reverse."), field="sort", sorts=names)
    query = assets.LibraryQuery(
        kind=kind,
        status=status,
        owner_id=_int("owner_id", request.args.get("owner_id")),
        product=request.args.get("product") or None,
        freshness=freshness,
        sort=sort,
    )
    per_page = min(_int("per_page", request.args.get("per_page"), default=25) or 25, MAX_PER_PAGE)
    page = _int("page", request.args.get("page"), default=1) or 1
    result = assets.list_assets(db_session(), current_user, query, page=page, per_page=per_page)
    return jsonify(
        {
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "items": [
                {**asset_json(a), "freshness": result.freshness.get(a.id), "open_flags": result.open_flags.get(a.id, 0)}
                for a in result.items
            ],
        }
    )


@bp.post("/assets")
@requires(Role.MARKETING)
def create_asset() -> Any:
    form = request.form
    fields = AssetFields(
        title=form.get("title", ""),
        kind=form.get("kind", ""),
        description=form.get("description", ""),
        product=form.get("product", ""),
        segments=_segments(form.getlist("segments")),
        region=form.get("region", ""),
        language=form.get("language", "ru"),
        owner_id=_owner_id(),
        review_interval_days=_int("review_interval_days", form.get("review_interval_days")),
        tags=parse_tags(form.get("tags", "")),
        audiences=[v for value in form.getlist("audiences") for v in value.split(",") if v.strip()],
    )
    try:
        status = AssetStatus(form.get("status") or AssetStatus.PUBLISHED)
    except ValueError:
        raise ValidationError(N_("A new asset is either published or a draft."), field="status") from None
    published = get_publisher().create_asset(
        current_user.id, fields, _upload(), change_note=form.get("change_note", ""), status=status
    )
    return _asset_response(published.asset_id, 201, warnings=_warnings(published))


@bp.get("/assets/<int:asset_id>")
def get_asset(asset_id: int) -> Any:
    return _asset_response(asset_id)


@bp.patch("/assets/<int:asset_id>")
@requires(Role.MARKETING)
def update_asset(asset_id: int) -> Any:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly nested JSON
        body = None
    if not isinstance(body, dict) or not body:
        raise ValidationError(N_("Send a JSON object with the fields to change."))
    assets.get_asset(db_session(), asset_id, current_user)
    status = body.pop("status", None)
    replaced_by = body.pop("replaced_by", None)
    if "owner" in body and "owner_id" not in body:
        body["owner_id"] = body.pop("owner")
    get_publisher().update_metadata(
        current_user.id,
        asset_id,
        body,
        status=str(status) if status is not None else None,
        replaced_by=replaced_by,
    )
    return _asset_response(asset_id)


@bp.post("/assets/<int:asset_id>/versions")
@requires(Role.MARKETING)
def add_version(asset_id: int) -> Any:
    assets.get_asset(db_session(), asset_id, current_user)
    published = get_publisher().add_version(current_user.id, asset_id, _upload(), request.form.get("change_note", ""))
    session = db_session()
    session.expire_all()
    version = assets.get_version(session, asset_id, published.number)
    return jsonify({**version_json(asset_id, version), "warnings": _warnings(published)}), 201


@bp.get("/assets/<int:asset_id>/versions/<int:number>/download")
def download(asset_id: int, number: int) -> Any:
    return downloads.download(asset_id, number)
