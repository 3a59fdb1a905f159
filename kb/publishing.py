"""Publishing: assets and their immutable versions, metadata edits, status changes, and text extraction jobs.

Every new version is all or nothing: the file is staged and hashed first, its type decided from its content,
and then one transaction adds the version row, moves the asset's current-version pointer, moves the review
date and enqueues the extraction job; the blob is moved into the store as the last step before that
transaction commits. If anything fails, the transaction rolls back and the previous current version stays.
A blob may then remain in the store with no row pointing at it (``kb check`` reports such orphans), but no
row ever points at a missing file.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kb import audiences, audit, feedback, jobs, notifications, reviews, vocabularies
from kb.assets import parse_asset_ref
from kb.audit import Action
from kb.blobs import BlobStore, StagedFile
from kb.db import Database
from kb.errors import N_, Conflict, Forbidden, NotFound, ValidationError
from kb.extraction import FileType, RejectedFile, detect, extract_isolated
from kb.extraction.filenames import agreeing_name
from kb.models import (
    ASSET_KINDS,
    CONTENT_LANGUAGES,
    SEGMENTS,
    Asset,
    AssetAudience,
    AssetSegment,
    AssetStatus,
    AssetTag,
    AssetVersion,
    ExtractedPage,
    ExtractionStatus,
    Role,
    User,
    utcnow,
)
from kb.search.indexing import enqueue_index

EXTRACT_JOB = "extract_version"
DEFAULT_REVIEW_DAYS = {"catalog": 90, "presentation": 180, "tender_template": 365, "datasheet": 180, "case_study": 365}
FALLBACK_REVIEW_DAYS = 180
MAX_TAGS = 20
MAX_TAG_LENGTH = 60
MAX_FILENAME_LENGTH = 200
MAX_TITLE = 300
MAX_CHANGE_NOTE = 2000
MAX_MARKDOWN_CHARS = 2_000_000
#: Ids are 64-bit in the database; a bigger number can only be a mistake.
MAX_ID = 2**63 - 1
EXTRACTION_TIMEOUT_S = 120
#: Past this, extraction stops between pages and keeps what it read (``EXTRACTION_TIMEOUT_S`` fails the file).
EXTRACTION_TIME_BUDGET_S = 90
EXTRACTION_MEMORY_MB = 1024


def default_review_days(kind: str) -> int:
    return DEFAULT_REVIEW_DAYS.get(kind, FALLBACK_REVIEW_DAYS)


# --- input -------------------------------------------------------------------------------------------------


@dataclass
class AssetFields:
    """The metadata of an asset as a person enters it; ``clean`` checks and normalises it."""

    title: str
    kind: str
    description: str = ""
    product: str = ""
    segments: list[str] = field(default_factory=list)
    region: str = ""
    language: str = "ru"
    owner_id: int | None = None
    review_interval_days: int | None = None
    tags: list[str] = field(default_factory=list)
    #: Ids of the audiences the asset is restricted to; none: everyone (``kb.audiences``).
    audiences: list[int] = field(default_factory=list)


def parse_tags(raw: str | list[str] | None) -> list[str]:
    """Tags from a comma-separated string or a list: trimmed, de-duplicated ignoring case, order kept."""
    items = raw if isinstance(raw, list) else (raw or "").split(",")
    seen: dict[str, str] = {}
    for item in items:
        tag = " ".join(str(item).replace("\x00", "").split())
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
    return list(seen.values())


def _text(value: str | None, field_name: str, maximum: int, *, required: bool = False) -> str:
    text = (value or "").replace("\x00", "").strip()
    if required and not text:
        raise ValidationError(N_("This field is required."), field=field_name)
    if len(text) > maximum:
        raise ValidationError(N_("At most %(n)s characters."), field=field_name, n=maximum)
    return text


def _owner(session: Session, owner_id: int | None) -> User:
    valid = isinstance(owner_id, int) and 0 < owner_id < MAX_ID
    owner = session.get(User, owner_id) if valid else None
    if owner is None or not owner.active or not Role(owner.role).includes(Role.MARKETING):
        raise ValidationError(N_("The owner must be an active marketing user."), field="owner_id")
    return owner


def clean_fields(session: Session, fields: AssetFields) -> AssetFields:
    """Checks every field, raising ``ValidationError`` naming the first bad one; returns normalised fields."""
    kind = (fields.kind or "").strip()
    if kind not in ASSET_KINDS:
        raise ValidationError(N_("Choose a kind: %(kinds)s."), field="kind", kinds=", ".join(ASSET_KINDS))
    segments = sorted({s.strip().upper() for s in fields.segments if s and s.strip()})
    unknown = [s for s in segments if s not in SEGMENTS]
    if unknown:
        raise ValidationError(N_("Unknown segment %(segment)s."), field="segments", segment=unknown[0][:20])
    if fields.language not in CONTENT_LANGUAGES:
        raise ValidationError(N_("Choose a language: %(languages)s."), field="language", languages="ru, en, mixed")
    interval = default_review_days(kind) if fields.review_interval_days is None else fields.review_interval_days
    if not isinstance(interval, int) or not 1 <= interval <= 3650:
        raise ValidationError(N_("The review interval must be 1 to 3650 days."), field="review_interval_days")
    tags = parse_tags(fields.tags)
    if len(tags) > MAX_TAGS:
        raise ValidationError(N_("At most %(n)s tags."), field="tags", n=MAX_TAGS)
    if any(len(tag) > MAX_TAG_LENGTH for tag in tags):
        raise ValidationError(N_("A tag may have at most %(n)s characters."), field="tags", n=MAX_TAG_LENGTH)
    owner = _owner(session, fields.owner_id)
    title = _text(fields.title, "title", MAX_TITLE, required=True)
    description = _text(fields.description, "description", 5000)
    product = _text(fields.product, "product", vocabularies.MAX_VALUE)
    region = _text(fields.region, "region", vocabularies.MAX_VALUE)
    return AssetFields(
        title=title,
        kind=kind,
        description=description,
        # Last, once the rest is known to be good: a new value joins its vocabulary in this transaction.
        product=vocabularies.resolve(session, "product", product),
        segments=segments,
        region=vocabularies.resolve(session, "region", region),
        language=fields.language,
        owner_id=owner.id,
        review_interval_days=interval,
        tags=tags,
        audiences=audiences.parse_ids(session, fields.audiences),
    )


_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}$")
#: A dash or an underscore joining two words (letters on both sides): "Каталог-насосов" reads "Каталог насосов",
#: while a code such as "НВ-250/4" keeps its dash.
_WORD_JOINER = re.compile(r"(?<=[^\W\d_])[-‐–—](?=[^\W\d_])")


def title_from_filename(filename: str) -> str:
    """A title for a file published without one: its name without the extension, underscores and dashes between
    words as spaces, runs of spaces as one, within the title's limit. ``static/title-from-file.js`` does the same
    in the browser, so the person sees it before saving."""
    name = safe_filename(filename)
    stem = _EXTENSION.sub("", name) or name
    stem = _WORD_JOINER.sub(" ", stem.replace("_", " "))
    return " ".join(stem.split())[:MAX_TITLE].strip() or name[:MAX_TITLE]


def safe_filename(name: str, fallback_extension: str = "") -> str:
    """The last path component of ``name``, without control characters, bounded; Cyrillic and spaces kept."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".").strip()
    if len(name) > MAX_FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        name = (
            (stem[: MAX_FILENAME_LENGTH - len(ext) - 1] + dot + ext)
            if dot and len(ext) <= 10
            else name[:MAX_FILENAME_LENGTH]
        )
    return name or f"file{fallback_extension}"


def _stored_name(uploaded: str | None, file_type: FileType) -> tuple[str, str | None]:
    """The safe name with the detected type's extension, and the uploaded name when an extension was changed."""
    name = safe_filename(uploaded or "", file_type.extension)
    stored = safe_filename(agreeing_name(name, file_type))
    return stored, (name if stored != name and "." in name else None)


# --- uploads -----------------------------------------------------------------------------------------------


@dataclass
class FileUpload:
    """A file as it arrives: a stream to read and the name the person gave it."""

    stream: BinaryIO
    filename: str


@dataclass
class StoredUpload:
    """A file already in the blob store (kept from an earlier form submission that had other errors)."""

    sha256: str
    filename: str


@dataclass
class Staged:
    """An upload hashed, typed and ready to publish."""

    sha256: str
    size: int
    filename: str
    file_type: FileType
    staged_file: StagedFile | None  # None when the bytes are already in the store
    renamed_from: str | None = None  # the uploaded name, when its extension did not agree with the content


@dataclass(frozen=True)
class DuplicateOf:
    asset_id: int
    title: str


@dataclass(frozen=True)
class Published:
    asset_id: int
    version_id: int
    number: int
    duplicates: list[DuplicateOf]
    filename: str = ""
    renamed_from: str | None = None


class Publisher:
    """Publishes files into assets: one per process, built from the database and the blob store."""

    def __init__(self, db: Database, blobs: BlobStore, max_upload_bytes: int | None = None) -> None:
        self.db = db
        self.blobs = blobs
        self.max_upload_bytes = max_upload_bytes

    # staging

    def stage(self, upload: FileUpload | StoredUpload) -> Staged:
        """Hashes the upload and decides its type from the content; refuses empty and unaccepted files."""
        if isinstance(upload, StoredUpload):
            if not self.blobs.exists(upload.sha256):
                raise ValidationError(N_("Choose the file again."), field="file")
            path = self.blobs.path_for(upload.sha256)
            with path.open("rb") as handle:
                head = handle.read(65536)
            file_type = detect(head, path, upload.filename)
            filename, renamed_from = _stored_name(upload.filename, file_type)
            return Staged(upload.sha256, path.stat().st_size, filename, file_type, None, renamed_from)
        try:
            staged = self.blobs.stage(upload.stream, max_bytes=self.max_upload_bytes)
        except ValueError:
            raise ValidationError(N_("The file is larger than the upload limit."), field="file") from None
        try:
            if staged.size == 0:
                raise ValidationError(N_("The file is empty."), field="file")
            file_type = detect(staged.head, staged.path, upload.filename or "")
            filename, renamed_from = _stored_name(upload.filename, file_type)
        except BaseException:
            self.blobs.discard(staged)
            raise
        return Staged(staged.sha256, staged.size, filename, file_type, staged, renamed_from)

    def keep(self, staged: Staged) -> StoredUpload:
        """Stores a staged file so a form can be re-submitted without choosing the file again."""
        if staged.staged_file is not None:
            self.blobs.commit(staged.staged_file)
            staged.staged_file = None
        return StoredUpload(staged.sha256, staged.filename)

    def release(self, staged: Staged) -> None:
        """Drops a staged file that will not be published (a no-op once it is stored or released)."""
        if staged.staged_file is not None:
            self.blobs.discard(staged.staged_file)
            staged.staged_file = None

    # publishing

    def create_asset(
        self,
        actor_id: int,
        fields: AssetFields,
        upload: FileUpload | StoredUpload | Staged,
        *,
        change_note: str = "",
        status: AssetStatus = AssetStatus.PUBLISHED,
        published_at: datetime | None = None,
    ) -> Published:
        """A new asset with its first version; ``status`` is published unless a draft is asked for. Without a
        title, the asset is titled after the file's name (``title_from_filename``)."""
        if status not in (AssetStatus.PUBLISHED, AssetStatus.DRAFT):
            raise ValidationError(N_("A new asset is either published or a draft."), field="status")
        owned = not isinstance(upload, Staged)  # a Staged passed in stays the caller's to keep or release
        staged = upload if isinstance(upload, Staged) else self.stage(upload)
        try:
            if not (fields.title or "").strip():
                fields = replace(fields, title=title_from_filename(staged.filename))
            note = _text(change_note, "change_note", MAX_CHANGE_NOTE)
            with self.db.transaction() as session:
                _require_publisher(session, actor_id)
                clean = clean_fields(session, fields)
                now = published_at or utcnow()
                asset = Asset(
                    title=clean.title,
                    description=clean.description,
                    kind=clean.kind,
                    product=clean.product,
                    region=clean.region,
                    language=clean.language,
                    owner_id=clean.owner_id,
                    review_interval_days=clean.review_interval_days,
                    next_review_on=now.date() + timedelta(days=clean.review_interval_days or 1),
                    status=status,
                    created_by_id=actor_id,
                    created_at=now,
                    updated_at=now,
                    segments=[AssetSegment(segment=s) for s in clean.segments],
                    tags=[AssetTag(tag=t) for t in clean.tags],
                    audience_links=[AssetAudience(audience_id=i) for i in clean.audiences],
                )
                session.add(asset)
                session.flush()
                return self._add_version(session, asset, staged, actor_id, note, now)
        finally:
            if owned:
                self.release(staged)

    def add_version(
        self,
        actor_id: int,
        asset_id: int,
        upload: FileUpload | StoredUpload | Staged,
        change_note: str,
        *,
        published_at: datetime | None = None,
    ) -> Published:
        """A new current version of an existing asset; the change note is required."""
        owned = not isinstance(upload, Staged)
        staged = upload if isinstance(upload, Staged) else self.stage(upload)
        try:
            note = _text(change_note, "change_note", MAX_CHANGE_NOTE, required=True)
            with self.db.transaction() as session:
                actor = _require_publisher(session, actor_id)
                asset = _lock_asset(session, asset_id, actor)
                if asset.status == AssetStatus.ARCHIVED:
                    raise Conflict(N_("The asset is archived; restore it before adding a version."))
                return self._add_version(session, asset, staged, actor_id, note, published_at or utcnow())
        finally:
            if owned:
                self.release(staged)

    def _add_version(
        self, session: Session, asset: Asset, staged: Staged, actor_id: int, note: str, now: datetime
    ) -> Published:
        current = session.get(AssetVersion, asset.current_version_id) if asset.current_version_id else None
        if current is not None and current.sha256 == staged.sha256:
            raise Conflict(
                N_("This file is identical to the current version %(number)s; there is nothing new to publish."),
                field="file",
                number=current.number,
            )
        number = (
            session.scalar(select(func.max(AssetVersion.number)).where(AssetVersion.asset_id == asset.id)) or 0
        ) + 1
        version = AssetVersion(
            asset_id=asset.id,
            number=number,
            original_filename=staged.filename,
            media_type=staged.file_type.media_type,
            size_bytes=staged.size,
            sha256=staged.sha256,
            change_note=note,
            published_by_id=actor_id,
            published_at=now,
            extraction_status=ExtractionStatus.PENDING,
        )
        session.add(version)
        session.flush()
        asset.current_version_id = version.id
        asset.updated_at = now
        if current is None:
            asset.next_review_on = now.date() + timedelta(days=asset.review_interval_days)
        else:
            # A new version moves the review date, resolves the open flags and tells followers and flaggers.
            reviews.move_review_date(session, asset, actor_id, now, version)
            feedback.resolve_by_version(session, asset, version, actor_id)
            notifications.notify_followers(session, asset, version, actor_id)
        jobs.enqueue(session, EXTRACT_JOB, {"version_id": version.id})
        enqueue_index(session, asset.id)  # found by its title at once, by its text once extracted
        duplicates = [
            DuplicateOf(asset_id=other_id, title=title)
            for other_id, title in session.execute(
                select(Asset.id, Asset.title)
                .join(AssetVersion, AssetVersion.id == Asset.current_version_id)
                .where(AssetVersion.sha256 == staged.sha256, Asset.id != asset.id)
                .order_by(Asset.id)
            )
        ]
        details = {"file": staged.filename, "status": AssetStatus(asset.status).value}
        if note:
            details["change_note"] = note[:200]
        audit.record(
            session,
            Action.ASSET_CREATED if current is None else Action.VERSION_PUBLISHED,
            actor=session.get(User, actor_id),
            subject=audit.version_subject(asset.title, number),
            asset_id=asset.id,
            version_id=version.id,
            details=details,
        )
        session.flush()
        # Last step before the commit: once the blob is in place, only the commit remains.
        if staged.staged_file is not None:
            self.blobs.commit(staged.staged_file)
            staged.staged_file = None
        return Published(
            asset_id=asset.id,
            version_id=version.id,
            number=number,
            duplicates=duplicates,
            filename=staged.filename,
            renamed_from=staged.renamed_from,
        )

    # markdown written in the browser

    def save_markdown(
        self,
        actor_id: int,
        text: str,
        *,
        asset_id: int | None = None,
        fields: AssetFields | None = None,
        change_note: str = "",
        status: AssetStatus = AssetStatus.PUBLISHED,
    ) -> Published:
        """Saves Markdown typed in the browser as a new version (of ``asset_id``) or a new asset."""
        body = (text or "").replace("\x00", "").replace("\r\n", "\n")
        if not body.strip():
            raise ValidationError(N_("Write some text first."), field="markdown")
        if len(body) > MAX_MARKDOWN_CHARS:
            raise ValidationError(N_("At most %(n)s characters."), field="markdown", n=MAX_MARKDOWN_CHARS)
        if fields is not None and not (fields.title or "").strip():
            raise ValidationError(N_("This field is required."), field="title")  # no file name to take it from
        title = fields.title if fields else self._title(asset_id)
        upload = FileUpload(io.BytesIO(body.encode("utf-8")), _slug(title) + ".md")
        if asset_id is None:
            assert fields is not None
            return self.create_asset(actor_id, fields, upload, change_note=change_note, status=status)
        return self.add_version(actor_id, asset_id, upload, change_note)

    def _title(self, asset_id: int | None) -> str:
        with self.db.session() as session:
            asset = session.get(Asset, asset_id) if asset_id else None
            if asset is None:
                raise NotFound(N_("No such asset."))
            return asset.title

    # metadata and status

    def update_metadata(
        self,
        actor_id: int,
        asset_id: int,
        changes: Mapping[str, Any],
        *,
        status: str | None = None,
        replaced_by: Any = None,
    ) -> None:
        """Edits metadata (and, when given, the status) in one transaction, without creating a version.

        A new review interval moves the next review date. ``replaced_by`` goes with archiving (``set_status``).
        """
        target = _status(status) if status is not None else None
        with self.db.transaction() as session:
            actor = _require_publisher(session, actor_id)
            asset = _lock_asset(session, asset_id, actor)
            if target is not None:
                _apply_status(session, asset, target, replaced_by, actor)
            elif replaced_by is not None:
                raise ValidationError(N_("A replacement is named when archiving."), field="replaced_by")
            if changes:
                _apply_fields(session, asset, changes, actor)
            enqueue_index(session, asset.id)

    def hand_over(self, actor_id: int, from_user_id: int, to_user_id: int) -> int:
        """Makes ``to_user_id`` the owner of every asset ``from_user_id`` owns (a person leaving hands their
        work to a colleague); returns how many. The new owner must be active and in marketing."""
        if from_user_id == to_user_id:
            raise ValidationError(N_("Choose someone else to take the assets."), field="owner_id")
        with self.db.transaction() as session:
            _require_publisher(session, actor_id)
            if session.get(User, from_user_id) is None:
                raise NotFound(N_("No such user."))
            receiver = session.get(User, to_user_id)
            if receiver is None or not receiver.active or not Role(receiver.role).includes(Role.MARKETING):
                raise ValidationError(N_("Assets go to an active person with the marketing role."), field="owner_id")
            owned = list(session.scalars(select(Asset.id).where(Asset.owner_id == from_user_id)))
            for asset_id in owned:
                asset = _lock_asset(session, asset_id)
                asset.owner_id = to_user_id
                asset.updated_at = utcnow()
                enqueue_index(session, asset_id)
        return len(owned)

    def set_status(self, actor_id: int, asset_id: int, status: str, *, replaced_by: Any = None) -> None:
        """Publishes a draft, archives an asset (saying, if marketing wants, which asset replaces it: people who
        open the archived one's link are sent on to it), or restores an archived one."""
        target = _status(status)
        with self.db.transaction() as session:
            actor = _require_publisher(session, actor_id)
            _apply_status(session, _lock_asset(session, asset_id, actor), target, replaced_by, actor)
            enqueue_index(session, asset_id)


def _apply_fields(session: Session, asset: Asset, changes: Mapping[str, Any], actor: User) -> None:
    """Checks ``changes`` against the asset's other fields and writes them."""
    current = AssetFields(
        title=asset.title,
        kind=asset.kind,
        description=asset.description,
        product=asset.product,
        segments=[s.segment for s in asset.segments],
        region=asset.region,
        language=asset.language,
        owner_id=asset.owner_id,
        review_interval_days=asset.review_interval_days,
        tags=[t.tag for t in asset.tags],
        audiences=[link.audience_id for link in asset.audience_links],
    )
    unknown = sorted(set(changes) - set(AssetFields.__dataclass_fields__))
    if unknown:
        raise ValidationError(N_("Unknown field %(name)s."), field=unknown[0], name=unknown[0][:40])
    for name, value in changes.items():
        _check_type(name, value)
        setattr(current, name, parse_tags(value) if name == "tags" else value)
    clean = clean_fields(session, current)
    if clean.review_interval_days != asset.review_interval_days:
        version = session.get(AssetVersion, asset.current_version_id) if asset.current_version_id else None
        base = version.published_at.date() if version else date.today()
        asset.next_review_on = base + timedelta(days=clean.review_interval_days or 1)
    for name in ("title", "kind", "description", "product", "region", "language", "owner_id"):
        setattr(asset, name, getattr(clean, name))
    asset.review_interval_days = clean.review_interval_days or asset.review_interval_days
    _replace_children(asset.segments, "segment", clean.segments, lambda v: AssetSegment(segment=v))
    _replace_children(asset.tags, "tag", clean.tags, lambda v: AssetTag(tag=v))
    before = sorted(link.audience_id for link in asset.audience_links)
    if audiences.set_asset_audiences(session, asset, clean.audiences):
        audit.record(
            session,
            audit.Action.AUDIENCE_CHANGED,
            actor=actor,
            subject=asset.title,
            asset_id=asset.id,
            details={"from": before, "to": sorted(set(clean.audiences))},
        )
    asset.updated_at = utcnow()


def _status(status: Any) -> AssetStatus:
    try:
        return AssetStatus(status)
    except ValueError:
        raise ValidationError(N_("Unknown status %(status)s."), field="status", status=str(status)[:20]) from None


def _apply_status(
    session: Session, asset: Asset, target: AssetStatus, replaced_by: Any = None, actor: User | None = None
) -> None:
    if replaced_by is not None and target != AssetStatus.ARCHIVED:
        raise ValidationError(N_("A replacement is named when archiving."), field="replaced_by")
    if target == AssetStatus.ARCHIVED:
        replacement = _replacement(session, asset, replaced_by, actor)
        if asset.status == target:  # already archived: only the replacement may change
            asset.replaced_by_id = replacement
            return
        asset.replaced_by_id = replacement
        asset.archived_at = utcnow()
    if asset.status == target:
        return
    if target == AssetStatus.DRAFT:
        raise Conflict(N_("A published or archived asset cannot go back to draft."), field="status")
    if target == AssetStatus.PUBLISHED:
        asset.archived_at, asset.replaced_by_id = None, None
    details: dict[str, Any] = {"from": AssetStatus(asset.status).value}
    if asset.replaced_by_id is not None:
        details["replaced_by"] = asset.replaced_by_id
    audit.record(
        session,
        Action.ASSET_ARCHIVED if target == AssetStatus.ARCHIVED else Action.ASSET_PUBLISHED,
        actor=actor,
        subject=asset.title,
        asset_id=asset.id,
        version_id=asset.current_version_id,
        details=details,
    )
    asset.status = target
    asset.updated_at = utcnow()


def _replacement(session: Session, asset: Asset, replaced_by: Any, actor: User | None = None) -> int | None:
    """The id of the published asset that replaces ``asset``: an id, or a link to the asset's page."""
    number = parse_asset_ref(replaced_by, "replaced_by")
    if number is None:
        return None
    if number == asset.id:
        raise ValidationError(N_("An asset cannot replace itself."), field="replaced_by")
    other = session.get(Asset, number)
    hidden = actor is not None and not audiences.may_see(session, actor, number)
    if other is None or other.status != AssetStatus.PUBLISHED or hidden:
        raise ValidationError(
            N_("Asset %(id)s is not a published asset; choose a published one."), field="replaced_by", id=number
        )
    return number


_TEXT_FIELDS = ("title", "kind", "description", "product", "region", "language")


def _check_type(name: str, value: Any) -> None:
    """Values from the JSON API arrive with any type; each field accepts only its own."""
    if name in _TEXT_FIELDS:
        ok = isinstance(value, str)
    elif name in ("segments", "tags"):
        ok = (isinstance(value, list) and all(isinstance(v, str) for v in value)) or (
            name == "tags" and isinstance(value, str)
        )
    elif name == "audiences":
        ok = isinstance(value, list) and all(
            (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, str) and v.strip().isdigit())
            for v in value
        )
    elif name == "owner_id":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < MAX_ID
    else:  # review_interval_days
        ok = value is None or (isinstance(value, int) and not isinstance(value, bool) and abs(value) < MAX_ID)
    if not ok:
        raise ValidationError(N_("%(name)s has the wrong type."), field=name, name=name)
    texts = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    for text in (t for t in texts if isinstance(t, str)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError(
                N_("%(name)s contains characters that are not text."), field=name, name=name
            ) from None


def _replace_children(children: list[Any], attribute: str, wanted: list[str], make: Any) -> None:
    """Makes a child collection hold exactly ``wanted``, removing and adding only what differs."""
    present = {getattr(child, attribute): child for child in children}
    for value, child in present.items():
        if value not in wanted:
            children.remove(child)
    for value in wanted:
        if value not in present:
            children.append(make(value))


def _require_publisher(session: Session, actor_id: int) -> User:
    actor = session.get(User, actor_id)
    if actor is None or not actor.active or not Role(actor.role).includes(Role.MARKETING):
        raise Forbidden(N_("Publishing needs the marketing role."))
    return actor


def _lock_asset(session: Session, asset_id: int, actor: User | None = None) -> Asset:
    """The asset row, locked for this transaction (SQLite: the whole write is already serialised); not found
    when ``actor`` may not see it (an audience they are not in: ``kb.audiences``)."""
    stmt = select(Asset).where(Asset.id == asset_id)
    if actor is not None:
        stmt = stmt.where(audiences.visible_condition(actor))
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    asset = session.scalars(stmt).first()
    if asset is None:
        raise NotFound(N_("No such asset."))
    return asset


def _slug(title: str) -> str:
    slug = re.sub(r"[^\w\-]+", "-", title, flags=re.UNICODE).strip("-")
    return (slug or "document")[:80]


# --- extraction --------------------------------------------------------------------------------------------


def run_extraction_job(context: Any, payload: dict[str, Any]) -> None:
    """Worker handler: extracts a version's text in a sandboxed child process and stores it page by page."""
    version_id = int(payload["version_id"])
    db: Database = context.db
    blobs: BlobStore = context.blobs
    with db.session() as session:
        version = session.get(AssetVersion, version_id)
        if version is None or version.extraction_status != ExtractionStatus.PENDING:
            return  # deleted, or already extracted by an earlier attempt that died before marking the job done
        sha256, filename = version.sha256, version.original_filename
    path = blobs.path_for(sha256)
    if not path.is_file():
        _store_extraction(db, version_id, ExtractionStatus.FAILED, [], None, "The stored file is missing.")
        return
    previews = context.settings.previews or context.settings.ocr
    try:
        with path.open("rb") as handle:
            file_type = detect(handle.read(65536), path, filename)
    except RejectedFile as exc:
        _store_extraction(db, version_id, ExtractionStatus.FAILED, [], None, str(exc))
        return
    if file_type.problem:
        _store_extraction(db, version_id, ExtractionStatus.FAILED, [], None, file_type.problem, previews=previews)
        return
    result = extract_isolated(
        Path(path),
        file_type,
        timeout_s=EXTRACTION_TIMEOUT_S,
        memory_mb=EXTRACTION_MEMORY_MB,
        time_budget_s=EXTRACTION_TIME_BUDGET_S,
        fork_server=context.settings.extraction_fork_server,
    )
    if result.retryable:
        # Killed from outside, not because of the file: the job is tried again; on its last try the version fails
        # with this reason (``_extraction_gave_up``).
        raise ExtractionInterrupted(result.error or "")
    pages = [(p.number, p.title[:300], p.text) for p in result.pages]
    # A text read in part is stored with its note where a failure keeps its reason: the asset page shows either.
    message = result.error or result.note
    _store_extraction(
        db, version_id, ExtractionStatus(result.status), pages, result.page_count, message, previews=previews
    )


class ExtractionInterrupted(Exception):
    """The extraction process was killed from outside (the OOM killer): the job is worth another try."""


def _extraction_gave_up(session: Session, payload: dict[str, Any], error: str) -> None:
    """The extraction job failed for good: the version must not stay "pending" for ever. A process killed on
    every try keeps extraction's own reason (shown in the reader's language); anything else says what failed."""
    version = session.get(AssetVersion, int(payload.get("version_id", 0)))
    if version is not None and version.extraction_status == ExtractionStatus.PENDING:
        version.extraction_status = ExtractionStatus.FAILED
        interrupted = f"{ExtractionInterrupted.__name__}: "
        version.extraction_error = (
            error.removeprefix(interrupted)[:2000]
            if error.startswith(interrupted)
            else f"Text extraction did not finish after several attempts ({error[:300]})."
        )


jobs.on_final_failure(EXTRACT_JOB, _extraction_gave_up)


def _store_extraction(
    db: Database,
    version_id: int,
    status: ExtractionStatus,
    pages: list[tuple[int, str, str]],
    page_count: int | None,
    error: str | None,
    *,
    previews: bool = False,
) -> None:
    """Stores the text read, and with ``previews`` queues the job that makes the page images and reads scans."""
    with db.transaction() as session:
        version = session.get(AssetVersion, version_id)
        if version is None:
            return
        session.execute(delete(ExtractedPage).where(ExtractedPage.version_id == version_id))
        session.add_all(ExtractedPage(version_id=version_id, number=n, title=t, text=x) for n, t, x in pages)
        version.extraction_status = status
        version.extraction_error = error[:2000] if error else None
        version.page_count = page_count
        enqueue_index(session, version.asset_id)
        if previews:
            from kb.previews.build import request_previews

            request_previews(session, version)
