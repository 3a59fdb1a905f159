"""The library pages: list of assets, the upload form, the asset page with versions, downloads and diffs."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup, escape

from kb import analytics, assets, audiences, audit, changes, search, usage, vocabularies
from kb.audiences import may_see
from kb.errors import DomainError
from kb.extraction import ACCEPTED
from kb.models import ASSET_KINDS, Asset, AssetStatus, Role, UsageKind
from kb.publishing import MAX_ID, FileUpload, Published, Staged, StoredUpload
from kb.rendering import MAX_RENDERED_CHARS, markdown_to_html
from kb.search.signals import FRESHNESS_STATES
from kb.search_log import search_text, valid_key
from kb.web import downloads
from kb.web import feedback as feedback_views
from kb.web import previews as preview_views
from kb.web.access import requires
from kb.web.asset_forms import AssetForm, MarkdownForm, NewAssetForm, VersionForm
from kb.web.context import db_session, get_blobs, get_db, get_publisher, get_search_log
from kb.web.downloads import send_version
from kb.web.forms import attach_error

bp = Blueprint("assets", __name__, url_prefix="/assets")
MAX_PAGE = 100_000

UNITS = {t.media_type.split(";")[0]: t.unit for t in ACCEPTED}
PDF = "application/pdf"
MARKDOWN = "text/markdown"


def _base_type(media_type: str) -> str:
    return media_type.split(";")[0].strip().lower()


def _stored_text(sha256: str, media_type: str) -> str | None:
    """A stored text file decoded with the charset found when it was uploaded (cp1251 Markdown exists);
    None when the file is missing from the store or too large to render on every view."""
    charset = "utf-8"
    for parameter in media_type.split(";")[1:]:
        name, _sep, value = parameter.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"')
    path = get_blobs().path_for(sha256)
    try:
        if path.stat().st_size > MAX_RENDERED_CHARS * 4:
            return None
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) > MAX_RENDERED_CHARS:
        return None
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


# --- keeping an upload across a form with errors -----------------------------------------------------------


KEPT_UPLOAD_MAX_AGE_S = 3600  # kb check --remove-orphans removes unused files after an hour


def _kept_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="kb-kept-upload")


def _kept_token(kept: StoredUpload) -> str:
    return _kept_serializer().dumps({"sha256": kept.sha256, "filename": kept.filename, "user": current_user.id})


def _kept_upload(token: str | None) -> StoredUpload | None:
    if not token:
        return None
    try:
        data = _kept_serializer().loads(token, max_age=KEPT_UPLOAD_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("user") != current_user.id:
        return None
    return StoredUpload(sha256=str(data["sha256"]), filename=str(data["filename"]))


def _upload_from(form: NewAssetForm | VersionForm) -> FileUpload | StoredUpload | None:
    storage = form.file.data
    if storage is not None and getattr(storage, "filename", ""):
        return FileUpload(storage.stream, storage.filename)
    return _kept_upload(form.kept_file.data)


def _flash_published(published: Published, message: str) -> None:
    flash(message, "success")
    if published.renamed_from:
        flash(
            _(
                "The file is stored as %(name)s: its content is of that type, whatever the name %(original)s said.",
                name=published.filename,
                original=published.renamed_from,
            ),
            "warning",
        )
    for duplicate in published.duplicates:
        link = Markup('<a href="{}">{}</a>').format(
            url_for("assets.show", asset_id=duplicate.asset_id), duplicate.title
        )
        flash(Markup(escape(_("The same file is the current version of another asset:"))) + " " + link, "warning")


def accepted_types() -> str:
    return ", ".join(t.label for t in ACCEPTED)


# --- list --------------------------------------------------------------------------------------------------


@bp.get("")
def index() -> Any:
    session = db_session()
    args = request.args
    owners, products = assets.library_choices(session, current_user)
    owner_id = args.get("owner", type=int)
    query = assets.LibraryQuery(
        kind=args.get("kind") if args.get("kind") in ASSET_KINDS else None,
        status=args.get("status") if args.get("status") in set(AssetStatus) else None,
        owner_id=owner_id if owner_id in {i for i, _ in owners} else None,
        product=args.get("product") if args.get("product") in products else None,
        freshness=args.get("freshness") if args.get("freshness") in FRESHNESS_STATES else None,
        sort=assets.parse_sort(args.get("sort")) or assets.DEFAULT_SORT,
    )
    page = min(max(args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    result = assets.list_assets(session, current_user, query, page=page)
    return render_template(
        "assets/index.html",
        result=result,
        query=query,
        kinds=ASSET_KINDS,
        owners=owners,
        products=products,
        freshness_states=FRESHNESS_STATES,
        sorts=assets.LIBRARY_SORTS,
    )


# --- new asset ---------------------------------------------------------------------------------------------


def _new_form(formdata: Any = None) -> NewAssetForm:
    session = db_session()
    form = NewAssetForm(
        formdata=formdata,
        owners=assets.publishers(session),
        vocabularies=vocabularies.lists(session),
        audiences=audiences.all_audiences(session),
    )
    if formdata is None:
        form.owner_id.data = current_user.id
    return form


def _render_new(form: NewAssetForm, status: int = 200, kept: StoredUpload | None = None, preview: str = "") -> Any:
    mode = "markdown" if request.values.get("mode") == "markdown" else "file"
    if kept is not None:
        form.kept_file.data = _kept_token(kept)
    kept_name = kept.filename if kept else (_kept_upload(form.kept_file.data) or StoredUpload("", "")).filename
    return (
        render_template(
            "assets/new.html", form=form, mode=mode, kept_name=kept_name, preview=preview, accepted=accepted_types()
        ),
        status,
    )


@bp.get("/new")
@requires(Role.MARKETING)
def new() -> Any:
    return _render_new(_new_form())


@bp.post("")
@requires(Role.MARKETING)
def create() -> Any:
    session = db_session()
    form = NewAssetForm(
        owners=assets.publishers(session),
        vocabularies=vocabularies.lists(session),
        audiences=audiences.all_audiences(session),
    )
    markdown_mode = request.values.get("mode") == "markdown"
    if markdown_mode and request.form.get("action") == "preview":
        return _render_new(form, preview=markdown_to_html(form.markdown.data or ""))
    publisher = get_publisher()
    valid = form.validate()
    staged = None if markdown_mode else _stage(form, publisher)
    try:
        if not valid or (staged is None and not markdown_mode):
            return _render_new(form, 400, kept=_keep(publisher, staged))
        try:
            if markdown_mode:
                published = publisher.save_markdown(
                    current_user.id,
                    form.markdown.data or "",
                    fields=form.fields(),
                    change_note=form.change_note.data or "",
                    status=AssetStatus(form.status.data),
                )
            else:
                assert staged is not None
                published = publisher.create_asset(
                    current_user.id,
                    form.fields(),
                    staged,
                    change_note=form.change_note.data or "",
                    status=AssetStatus(form.status.data),
                )
        except DomainError as exc:
            attach_error(form, exc)
            return _render_new(form, exc.status, kept=_keep(publisher, staged) if exc.field != "file" else None)
    finally:
        if staged is not None:
            publisher.release(staged)  # a no-op once the file is published or kept
    _flash_published(published, _("Published. The text is being extracted for search."))
    return redirect(url_for("assets.show", asset_id=published.asset_id))


def _stage(form: NewAssetForm | VersionForm, publisher: Any) -> Staged | None:
    """The form's file hashed and typed, or None with the reason shown beside the file field."""
    upload = _upload_from(form)
    if upload is None:
        form.file.errors = [*form.file.errors, _("Choose a file to upload.")]
        return None
    try:
        return publisher.stage(upload)
    except DomainError as exc:
        attach_error(form, exc)
        return None


def _keep(publisher: Any, staged: Staged | None) -> StoredUpload | None:
    """Keeps a good file while the form is corrected, so it need not be chosen again."""
    return publisher.keep(staged) if staged is not None else None


# --- asset page --------------------------------------------------------------------------------------------


@bp.get("/<int:asset_id>")
def show(asset_id: int) -> Any:
    return render_asset_page(asset_id)


def render_asset_page(
    asset_id: int, status: int = 200, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> Any:
    """The asset page; the feedback views render it again with ``errors`` (by form) and the ``values`` typed."""
    session = db_session()
    asset = assets.get_asset(session, asset_id, current_user)
    wanted = request.args.get("version", type=int)
    if wanted is not None and not 1 <= wanted < MAX_ID:
        abort(404)
    shown_id = assets.get_version(session, asset.id, wanted).id if wanted is not None else asset.current_version_id
    search_key = valid_key(request.args.get("s"))
    if status == 200:
        # Recorded before the page's reads: the write ends the request's read snapshot, which would reload them.
        usage.record(
            get_db(),
            UsageKind.VIEW,
            user_id=current_user.id,
            asset_id=asset.id,
            version_id=shown_id,
            search_key=search_key,
        )
        asset = assets.get_asset(session, asset_id, current_user)
    history = assets.versions(session, asset.id)
    shown = next((v for v in history if v.id == shown_id), None)
    pages = assets.pages(session, shown.id) if shown else []
    rendered = None
    if shown is not None and _base_type(shown.media_type) == MARKDOWN:
        text = _stored_text(shown.sha256, shown.media_type)
        rendered = markdown_to_html(text) if text is not None else None
    searched = search_text(session, get_search_log(), search_key, current_user.id) if search_key else None
    return render_template(
        "assets/show.html",
        asset=asset,
        searched=searched,
        searched_terms=search.searched_terms(searched, session) if searched else frozenset(),
        replacement=session.get(Asset, asset.replaced_by_id)
        if asset.replaced_by_id and may_see(session, current_user, asset.replaced_by_id)
        else None,
        # Written in kb: the text can be edited here; a PDF or a deck gets a new file instead.
        current_is_markdown=bool(asset.current_version and _base_type(asset.current_version.media_type) == MARKDOWN),
        shown=shown,
        history=history,
        pages=pages,
        strip=preview_views.strip_pages(shown),
        search_key=search_key,
        rendered=rendered,
        unit=UNITS.get(_base_type(shown.media_type), "page") if shown else "page",
        is_pdf=bool(shown and shown.media_type == PDF),
        page_anchor=request.args.get("page", type=int),
        counts=usage.counts_for_asset(session, asset.id),
        feedback=feedback_views.asset_feedback(session, asset, current_user.id),
        asset_usage=analytics.asset_usage(session, asset.id, date.today()),
        errors=errors or {},
        values=values or {},
    ), status


@bp.get("/<int:asset_id>/versions/<int:number>/download")
def download(asset_id: int, number: int) -> Any:
    return downloads.download(asset_id, number)


@bp.get("/<int:asset_id>/versions/<int:number>/inline")
def inline(asset_id: int, number: int) -> Any:
    """A PDF for the browser's own viewer; other formats are never served inline from our origin."""
    session = db_session()
    asset = assets.get_asset(session, asset_id, current_user)
    version = assets.get_version(session, asset.id, number)
    if version.media_type != PDF:
        abort(404)
    response = send_version(version, inline=True)
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'; sandbox"
    # The viewer has the file as surely as a download would: the audit log says so, once per opening (the
    # viewer asks for the rest of a long file in ranges).
    if request.range is None or request.range.ranges[0][0] == 0:
        audit.record_now(
            get_db(),
            audit.Action.DOWNLOAD,
            subject=audit.version_subject(asset.title, version.number),
            asset_id=asset.id,
            version_id=version.id,
            details={"inline": True},
        )
    return response


@bp.get("/<int:asset_id>/changes")
def compare(asset_id: int) -> Any:
    session = db_session()
    asset = assets.get_asset(session, asset_id, current_user)
    history = assets.versions(session, asset.id)
    if len(history) < 2:
        abort(404, description=_("This asset has only one version; there is nothing to compare."))
    newer = request.args.get("to", history[0].number, type=int)
    older = request.args.get("from", history[1].number, type=int)
    if older == newer:
        abort(400, description=_("Choose two different versions to compare."))
    if older > newer:
        older, newer = newer, older
    old_version = assets.get_version(session, asset.id, older)
    new_version = assets.get_version(session, asset.id, newer)
    lines = changes.diff(changes.version_lines(session, old_version.id), changes.version_lines(session, new_version.id))
    return render_template(
        "assets/changes.html", asset=asset, old=old_version, new=new_version, lines=lines, history=history
    )


# --- marketing actions -------------------------------------------------------------------------------------


@bp.get("/<int:asset_id>/versions/new")
@requires(Role.MARKETING)
def new_version(asset_id: int) -> Any:
    asset = assets.get_asset(db_session(), asset_id, current_user)
    return render_template("assets/version.html", asset=asset, form=VersionForm(), accepted=accepted_types())


@bp.post("/<int:asset_id>/versions")
@requires(Role.MARKETING)
def add_version(asset_id: int) -> Any:
    asset = assets.get_asset(db_session(), asset_id, current_user)
    form = VersionForm()
    publisher = get_publisher()
    valid = form.validate()
    staged = _stage(form, publisher)
    kept: StoredUpload | None = None
    status = 400
    try:
        if valid and staged is not None:
            try:
                published = publisher.add_version(current_user.id, asset.id, staged, form.change_note.data or "")
            except DomainError as exc:
                attach_error(form, exc)
                status = exc.status
                kept = _keep(publisher, staged) if exc.field != "file" else None
            else:
                _flash_published(published, _("Version %(number)s is published.", number=published.number))
                return redirect(url_for("assets.show", asset_id=asset.id))
        else:
            kept = _keep(publisher, staged)
    finally:
        if staged is not None:
            publisher.release(staged)
    if kept is not None:
        form.kept_file.data = _kept_token(kept)
    return (
        render_template(
            "assets/version.html",
            asset=asset,
            form=form,
            accepted=accepted_types(),
            kept_name=kept.filename if kept else "",
        ),
        status,
    )


@bp.route("/<int:asset_id>/write", methods=["GET", "POST"])
@requires(Role.MARKETING)
def write(asset_id: int) -> Any:
    """Markdown written in the browser: preview on demand, save as a new version."""
    session = db_session()
    asset = assets.get_asset(session, asset_id, current_user)
    form = MarkdownForm()
    preview = ""
    status = 200
    current = asset.current_version
    if request.method == "GET" and current and _base_type(current.media_type) == MARKDOWN:
        form.markdown.data = _stored_text(current.sha256, current.media_type) or ""
    elif request.method == "POST":
        if request.form.get("action") == "preview":
            preview = markdown_to_html(form.markdown.data or "")
        elif form.validate():
            try:
                published = get_publisher().save_markdown(
                    current_user.id,
                    form.markdown.data or "",
                    asset_id=asset.id,
                    change_note=form.change_note.data or "",
                )
            except DomainError as exc:
                attach_error(form, exc)
                status = exc.status
            else:
                _flash_published(published, _("Version %(number)s is published.", number=published.number))
                return redirect(url_for("assets.show", asset_id=asset.id))
        else:
            status = 400
    return render_template("assets/write.html", asset=asset, form=form, preview=preview), status


@bp.route("/<int:asset_id>/edit", methods=["GET", "POST"])
@requires(Role.MARKETING)
def edit(asset_id: int) -> Any:
    session = db_session()
    asset = assets.get_asset(session, asset_id, current_user)
    owners = assets.publishers(session)
    if request.method == "GET":
        form = AssetForm(
            formdata=None,
            owners=owners,
            vocabularies=vocabularies.lists(session),
            audiences=audiences.all_audiences(session),
            obj=asset,
            segments=[s.segment for s in asset.segments],
            tags=", ".join(t.tag for t in asset.tags),
        )
        form.audiences.data = [str(link.audience_id) for link in asset.audience_links]
        return render_template("assets/edit.html", asset=asset, form=form)
    form = AssetForm(
        owners=owners, vocabularies=vocabularies.lists(session), audiences=audiences.all_audiences(session)
    )
    if form.validate():
        fields = form.fields()
        try:
            get_publisher().update_metadata(current_user.id, asset.id, vars(fields))
        except DomainError as exc:
            attach_error(form, exc)
            return render_template("assets/edit.html", asset=asset, form=form), exc.status
        flash(_("The details are saved; no new version was created."), "success")
        return redirect(url_for("assets.show", asset_id=asset.id))
    return render_template("assets/edit.html", asset=asset, form=form), 400


@bp.post("/<int:asset_id>/status")
@requires(Role.MARKETING)
def set_status(asset_id: int) -> Any:
    status = request.form.get("status", "")
    replaced_by = request.form.get("replaced_by", "").strip() if status == "archived" else None
    get_publisher().set_status(current_user.id, asset_id, status, replaced_by=replaced_by or None)
    messages = {
        "published": _("The asset is published."),
        "archived": _("The asset is archived; sales no longer see it."),
    }
    flash(messages.get(status, _("Saved.")), "success")
    return redirect(url_for("assets.show", asset_id=asset_id))
