"""The data model of kb, as typed SQLAlchemy 2 mappings.

Accounts (users, sign-in sessions, sign-in attempts, API tokens, password reset requests), audiences (named
groups of people an asset may be restricted to), the content
library (assets, their immutable versions, the text extracted from each version, tags and segments, the
vocabularies of products and regions), sales
feedback (ratings, stale flags), usage events, the audit log, and the job table that is the durable outbox for
background work.
The Alembic migrations in ``kb/migrations`` create exactly this schema; a test keeps the two in step.
Nothing here is SQLite-only.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, WriteOnlyMapped, mapped_column, relationship

from kb.roles import Role


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (portable across SQLite and PostgreSQL) and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class AuthSource(enum.StrEnum):
    """Where a person's password lives: kb (a local account) or the company directory (LDAP/Active Directory)."""

    LOCAL = "local"
    DIRECTORY = "directory"


class AssetStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class ExtractionStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    EMPTY = "empty"
    FAILED = "failed"


class PreviewStatus(enum.StrEnum):
    """Where a version's page images stand (``kb.previews``); a version from before previews has none."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class FlagStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"


class UsageKind(enum.StrEnum):
    VIEW = "view"
    DOWNLOAD = "download"
    SEARCH = "search"


class NotificationKind(enum.StrEnum):
    FLAG_RAISED = "flag_raised"
    REVIEW_DUE = "review_due"
    FLAG_RESOLVED = "flag_resolved"
    FLAG_DISMISSED = "flag_dismissed"
    NEW_VERSION = "new_version"
    DIGEST = "digest"


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


#: Kinds of asset known today; the column is a plain string so that more kinds need no migration.
ASSET_KINDS = ("catalog", "presentation", "tender_template", "datasheet", "case_study")
SEGMENTS = ("B2B", "B2C", "B2G")
#: Interface languages.
LANGUAGES = ("en", "ru")
#: Languages of content: Russian, English, or both in one file.
CONTENT_LANGUAGES = ("ru", "en", "mixed")


def _check_in(column: str, values: type[enum.StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


# --- accounts ---------------------------------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_check_in("role", Role), name="role"),
        CheckConstraint(f"preferred_language IS NULL OR preferred_language IN {LANGUAGES!r}", name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased (see accounts.normalize_email), so the unique index is case-insensitive everywhere.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set with a temporary password an administrator gave: the person chooses their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    preferred_language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A directory account signs in with its directory password (its password_hash is unusable); its name, e-mail,
    # department and role come from the directory at each sign-in and each ``kb users sync``.
    auth_source: Mapped[AuthSource] = mapped_column(String(16), default=AuthSource.LOCAL, server_default="local")
    directory_dn: Mapped[str | None] = mapped_column(String(1024))
    department: Mapped[str | None] = mapped_column(String(200))
    # Set when the directory, not an administrator, deactivated the account (disabled, removed or in no kb group):
    # the account comes back by itself when the directory lets the person in again.
    directory_disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def from_directory(self) -> bool:
        return self.auth_source == AuthSource.DIRECTORY

    tokens: WriteOnlyMapped[ApiToken] = relationship(back_populates="user", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role}>"


class LoginSession(Base):
    """A signed-in browser session, held on the server so that signing out ends it for every copy of the cookie."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))


class LoginAttempt(Base):
    """One try at signing in; throttling counts recent failures per e-mail and per address across processes."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "attempted_at"),
        Index("ix_login_attempts_ip_at", "ip_address", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip_address: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class ApiToken(Base):
    """A personal token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


class PasswordResetRequest(Base):
    """One request on the "forgot password" page, and the single-use link it may have sent.

    Every request is kept for a while, whether its e-mail names an account or not, so that throttling (per
    e-mail, per client address) counts the same either way and holds across processes. A request naming an
    active account also gets a link: the worker draws its token when it writes the e-mail and stores only its
    SHA-256. The link works until ``expires_at``, once, and only while the password is still the one it was
    asked for (``password_fingerprint``), so any change of password, by whatever route, ends it.
    """

    __tablename__ = "password_reset_requests"
    __table_args__ = (
        Index("ix_password_reset_requests_email_at", "email", "requested_at"),
        Index("ix_password_reset_requests_ip_at", "ip_address", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # As typed (normalized), known or not: throttling counts per e-mail.
    email: Mapped[str] = mapped_column(String(254))
    ip_address: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The rest is set only when the e-mail names an active account.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The page's language, for the e-mail when the person has chosen none.
    language: Mapped[str | None] = mapped_column(String(8))
    password_fingerprint: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- audiences -------------------------------------------------------------------------------------------


class MembershipSource(enum.StrEnum):
    """How a person came to be in an audience: an administrator added them in kb, or a directory group did."""

    LOCAL = "local"
    DIRECTORY = "directory"


class Audience(Base):
    """A named group of people ("Дилерский отдел", "Тендер МВД-2027") that assets may be restricted to."""

    __tablename__ = "audiences"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AudienceMember(Base):
    """A person in an audience. Local rows are kept by administrators; directory rows are replaced at each directory
    sign-in and ``kb users sync`` from the person's groups (``KB_LDAP_AUDIENCE_GROUPS``), so one never undoes
    the other."""

    __tablename__ = "audience_members"
    __table_args__ = (CheckConstraint(_check_in("source", MembershipSource), name="source"),)

    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    source: Mapped[MembershipSource] = mapped_column(String(16), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssetAudience(Base):
    """An asset restricted to an audience; an asset with no rows here is for everyone."""

    __tablename__ = "asset_audiences"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    audience_id: Mapped[int] = mapped_column(
        ForeignKey("audiences.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    audience: Mapped[Audience] = relationship(lazy="joined")


# --- content library ---------------------------------------------------------------------------------------


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint(_check_in("status", AssetStatus), name="status"),
        CheckConstraint("review_interval_days > 0", name="review_interval"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(40), index=True)
    product: Mapped[str] = mapped_column(String(120), default="", index=True)
    region: Mapped[str] = mapped_column(String(120), default="")
    language: Mapped[str] = mapped_column(String(8), default="ru")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    review_interval_days: Mapped[int] = mapped_column(Integer)
    next_review_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[AssetStatus] = mapped_column(String(16), default=AssetStatus.DRAFT, index=True)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("asset_versions.id", use_alter=True, name="fk_assets_current_version_id_asset_versions")
    )
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: search asks for the latest change on every query (kb.search.signals.not_fresh_now).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)
    # When it was archived, and the asset that takes its place (for people who open an old link).
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))

    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    current_version: Mapped[AssetVersion | None] = relationship(foreign_keys=[current_version_id], post_update=True)
    versions: WriteOnlyMapped[AssetVersion] = relationship(
        foreign_keys="AssetVersion.asset_id", back_populates="asset", order_by="AssetVersion.number"
    )
    segments: Mapped[list[AssetSegment]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    tags: Mapped[list[AssetTag]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    # None: everyone may see the asset (the default); else only these audiences' members, its owner and admins.
    audience_links: Mapped[list[AssetAudience]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def audiences(self) -> list[Audience]:
        """The audiences the asset is restricted to, by name; empty: it is for everyone."""
        return sorted((link.audience for link in self.audience_links), key=lambda a: a.name.casefold())


class AssetSegment(Base):
    """A market segment (B2B, B2C, B2G) an asset is meant for; a row each, so facets count them in SQL."""

    __tablename__ = "asset_segments"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    segment: Mapped[str] = mapped_column(String(8), primary_key=True)


class AssetTag(Base):
    __tablename__ = "asset_tags"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)


class AssetVersion(Base):
    """One immutable upload of an asset's file. Rows are only ever added; extraction fields are filled once."""

    __tablename__ = "asset_versions"
    __table_args__ = (
        UniqueConstraint("asset_id", "number", name="uq_asset_versions_asset_id_number"),
        CheckConstraint("number >= 1", name="number"),
        CheckConstraint(_check_in("extraction_status", ExtractionStatus), name="extraction_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    original_filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(127))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    page_count: Mapped[int | None] = mapped_column(Integer)
    change_note: Mapped[str] = mapped_column(Text, default="")
    published_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    extraction_status: Mapped[ExtractionStatus] = mapped_column(String(16), default=ExtractionStatus.PENDING)
    extraction_error: Mapped[str | None] = mapped_column(Text)
    #: None until previews are asked for (``kb.previews``); then pending, done or failed with ``preview_error``.
    preview_status: Mapped[PreviewStatus | None] = mapped_column(String(16))
    preview_error: Mapped[str | None] = mapped_column(Text)
    #: Pages of the preview document (slides, printed pages of a sheet): the page viewer pages through these.
    preview_pages: Mapped[int | None] = mapped_column(Integer)

    asset: Mapped[Asset] = relationship(foreign_keys=[asset_id], back_populates="versions")
    published_by: Mapped[User] = relationship(foreign_keys=[published_by_id])


class ExtractedPage(Base):
    """The text of one page, slide or sheet of a version, so the index can be rebuilt without re-parsing files."""

    __tablename__ = "extracted_pages"

    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    #: The text was recognised from a scan of the page (Tesseract), not read from the file.
    ocr: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# --- feedback and usage ------------------------------------------------------------------------------------


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("asset_id", "user_id", name="uq_ratings_asset_id_user_id"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StaleFlag(Base):
    """A salesperson's report that an asset is outdated; at most one open flag per user per asset."""

    __tablename__ = "stale_flags"
    __table_args__ = (
        CheckConstraint(_check_in("status", FlagStatus), name="status"),
        Index(
            "uq_stale_flags_open_per_user",
            "asset_id",
            "raised_by_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("asset_versions.id", ondelete="CASCADE"))
    raised_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    page: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[FlagStatus] = mapped_column(String(16), default=FlagStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    close_note: Mapped[str] = mapped_column(Text, default="")
    resolved_by_version_id: Mapped[int | None] = mapped_column(ForeignKey("asset_versions.id", ondelete="SET NULL"))
    #: Reasons given when the same person flagged the asset again while this flag was open.
    also_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: How many times the person flagged the asset while this flag was open (1 for a new flag).
    reports: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def reasons(self) -> list[str]:
        return [self.reason, *[r for r in self.also_reasons if r != self.reason]]


class Review(Base):
    """A moved review date: someone confirmed the asset as current, or a new version was published."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    previous_review_on: Mapped[date] = mapped_column(Date)
    next_review_on: Mapped[date] = mapped_column(Date)
    #: The version whose publication moved the date; None when confirmed as current.
    version_id: Mapped[int | None] = mapped_column(ForeignKey("asset_versions.id", ondelete="SET NULL"))


class Follow(Base):
    """Someone who wants to hear of an asset's new versions."""

    __tablename__ = "follows"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """Something a person should hear of, in the app and (when SMTP is set up) by e-mail.

    ``dedupe_key`` makes each notification happen once per person: creating it again is a no-op.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_check_in("kind", NotificationKind), name="kind"),
        UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_user_id_dedupe_key"),
        Index("ix_notifications_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(String(32))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("stale_flags.id", ondelete="SET NULL"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("asset_versions.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: What the message needs besides the rows above: reason, note, change note, version number, counts.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsageEvent(Base):
    """Something a person did with content: viewed or downloaded a version, or ran a search."""

    __tablename__ = "usage_events"
    __table_args__ = (
        CheckConstraint(_check_in("kind", UsageKind), name="kind"),
        Index("ix_usage_events_asset_kind_at", "asset_id", "kind", "occurred_at"),
        Index("ix_usage_events_kind_at", "kind", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[UsageKind] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("asset_versions.id", ondelete="CASCADE"))
    query: Mapped[str | None] = mapped_column(Text)
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result_count: Mapped[int | None] = mapped_column(Integer)
    #: A search's own key (its result links carry it: ``s=``); for a view or download, the key of the search
    #: whose results it was opened from. Search events are written in batches (``kb.search_log``), after their
    #: links went out, so the key is made up front instead of waiting for a database id.
    search_key: Mapped[str | None] = mapped_column(String(32), index=True)


class GapStatus(enum.StrEnum):
    PLANNED = "planned"
    COVERED = "covered"


class SearchGap(Base):
    """Marketing's answer to a content gap: a normalised query they plan content for, or covered by an asset."""

    __tablename__ = "search_gaps"
    __table_args__ = (CheckConstraint(_check_in("status", GapStatus), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(300), unique=True)
    status: Mapped[GapStatus] = mapped_column(String(16))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SynonymGroup(Base):
    """Words and abbreviations marketing says mean the same to a salesperson (ТКП, коммерческое предложение, КП).

    Applied when searching, so a change needs no re-index. ``terms`` lists the group's entries, one per line.
    """

    __tablename__ = "synonym_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def entries(self) -> list[str]:
        return [line for line in self.terms.splitlines() if line.strip()]


class Vocabulary(Base):
    """A list admins keep of the values one asset field may take (``product``, ``region``), so that facets do
    not split one product into several spellings. Closed: only its terms are accepted; open: a new value typed
    when publishing becomes a term. Segments are not a vocabulary: they are the fixed codes in ``SEGMENTS``."""

    __tablename__ = "vocabularies"

    #: The asset field the list is for.
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class VocabularyTerm(Base):
    """One value of a vocabulary, spelt as assets carry it; ``key`` is what two spellings of it share
    (``kb.vocabularies.term_key``: case, runs of spaces and ё against е do not count)."""

    __tablename__ = "vocabulary_terms"
    __table_args__ = (UniqueConstraint("vocabulary", "key", name="uq_vocabulary_terms_vocabulary_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vocabulary: Mapped[str] = mapped_column(ForeignKey("vocabularies.name", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- audit log ---------------------------------------------------------------------------------------------


class AuditEvent(Base):
    """One entry of the audit log (``kb.audit``): who did what to which subject, when and from where.

    Nothing here points at other tables: an event outlives the user, asset or token it names, and keeps the
    actor's e-mail as it was at the time. ``action`` holds a ``kb.audit.Action`` value (a plain string, so a new
    action needs no migration).
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_occurred_at", "occurred_at", "id"),
        Index("ix_audit_events_action_at", "action", "occurred_at"),
        Index("ix_audit_events_actor_email_at", "actor_email", "occurred_at"),
        Index("ix_audit_events_asset_at", "asset_id", "occurred_at"),
        Index("ix_audit_events_ip_at", "ip_address", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    #: Who: the account (None for a sign-in with an unknown login, or the command line without one), and the
    #: e-mail as it was then (the login as typed for a failed sign-in).
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    #: Through what: web (pages, sign-in and single sign-on), api or cli.
    channel: Mapped[str] = mapped_column(String(8))
    #: What it was about: the ids it names, and a short description for people.
    subject: Mapped[str] = mapped_column(String(300), default="")
    asset_id: Mapped[int | None] = mapped_column(Integer)
    version_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    token_id: Mapped[int | None] = mapped_column(Integer)
    #: From where: the client's address (behind KB_TRUSTED_PROXIES, the one the proxy saw) and its user agent.
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- background work ---------------------------------------------------------------------------------------


class Job(Base):
    """The outbox: work (extraction, indexing, notifications) written in the same transaction as its cause.

    A worker claims a job by setting ``locked_by`` and a lease in ``locked_until``; a job whose lease expired
    is taken again, up to ``max_attempts``.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_check_in("status", JobStatus), name="status"),
        Index("ix_jobs_status_run_after", "status", "run_after"),
        Index("ix_jobs_kind_subject_status", "kind", "subject", "status"),
        Index("ix_jobs_status_priority", "status", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: What the job is about ("asset:12"): a queued job of a kind and subject takes in later requests for it.
    subject: Mapped[str | None] = mapped_column(String(80))
    #: Lower runs first: mail and extraction of new versions before re-indexing.
    priority: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    status: Mapped[JobStatus] = mapped_column(String(16), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
