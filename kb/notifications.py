"""Notifications: what people hear of, in the app and by e-mail, created once each; and following assets.

``notify`` writes a notification in the caller's transaction; its ``dedupe_key`` makes it happen once per
person whatever the retries. When e-mail is on (``KB_SMTP_HOST``), the same transaction enqueues an
``email_notification`` job: the worker sends it, never the request. ``message`` words a notification in the
reader's language; the web layer and the e-mail use the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from babel.dates import format_date
from sqlalchemy import false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kb import audiences, jobs
from kb.dates import DATE_PATTERN
from kb.db import Database
from kb.errors import N_, NP_, NotFound
from kb.mail import send, translations
from kb.models import Asset, AssetStatus, AssetVersion, Follow, Notification, NotificationKind, Role, User, utcnow

EMAIL_JOB = "email_notification"

MESSAGES = {
    NotificationKind.FLAG_RAISED: N_("%(actor)s flagged “%(title)s” as outdated: %(reasons)s"),
    NotificationKind.REVIEW_DUE: N_("“%(title)s” is due for review on %(date)s"),
    NotificationKind.FLAG_RESOLVED: N_("Your flag on “%(title)s” was resolved"),
    NotificationKind.FLAG_DISMISSED: N_("Your flag on “%(title)s” was dismissed"),
    NotificationKind.NEW_VERSION: N_("“%(title)s” has a new version %(version)s"),
}
#: The digest's sentence, with a count (``ngettext`` picks the form; Russian has three).
DIGEST, DIGEST_PLURAL = NP_(
    "Your freshness queue: %(count)s asset needs attention", "Your freshness queue: %(count)s assets need attention"
)
RESOLVED_BY_VERSION = N_("Your flag on “%(title)s” was resolved by version %(version)s")


def notify(
    session: Session,
    user_id: int,
    kind: NotificationKind,
    *,
    dedupe_key: str,
    asset_id: int | None = None,
    flag_id: int | None = None,
    version_id: int | None = None,
    actor_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> bool:
    """Creates the notification unless this person already has one with this key; True when created. Nobody
    hears of an asset they may not see (an audience they are not in: ``kb.audiences``)."""
    if asset_id is not None:
        receiver = session.get(User, user_id)
        if receiver is None or not audiences.may_see(session, receiver, asset_id):
            return False
    values = {
        "user_id": user_id,
        "kind": str(kind),
        "asset_id": asset_id,
        "flag_id": flag_id,
        "version_id": version_id,
        "actor_id": actor_id,
        "data": data or {},
        "dedupe_key": dedupe_key[:200],
        "created_at": utcnow(),
    }
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Notification)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
        .returning(Notification.id)
    )
    created = session.execute(statement).scalar()
    if created is None:
        return False
    if session.info.get("email_enabled"):
        jobs.enqueue(session, EMAIL_JOB, {"notification_id": created}, max_attempts=5, priority=jobs.URGENT)
    return True


def notify_followers(session: Session, asset: Asset, version: AssetVersion, actor_id: int) -> int:
    """Tells everyone following the asset (but the publisher) of its new version; returns how many."""
    followers = session.scalars(select(Follow.user_id).where(Follow.asset_id == asset.id)).all()
    told = 0
    for user_id in followers:
        if user_id != actor_id:
            told += notify(
                session,
                user_id,
                NotificationKind.NEW_VERSION,
                dedupe_key=f"new_version:{version.id}",
                asset_id=asset.id,
                version_id=version.id,
                actor_id=actor_id,
                data={"version": version.number, "note": version.change_note},
            )
    return told


# --- following ------------------------------------------------------------------------------------------------


def follow(db: Database, user_id: int, asset_id: int, wanted: bool = True) -> bool:
    """Starts (or with ``wanted=False`` stops) following an asset; returns whether the user now follows it."""
    with db.transaction() as session:
        user = session.get(User, user_id)
        asset = session.get(Asset, asset_id)
        if (
            user is None
            or asset is None
            or (asset.status != AssetStatus.PUBLISHED and not Role(user.role).includes(Role.MARKETING))
            or not audiences.may_see(session, user, asset_id)
        ):
            raise NotFound(N_("No such asset."))
        existing = session.get(Follow, (user_id, asset_id))
        if wanted and existing is None:
            session.add(Follow(user_id=user_id, asset_id=asset_id))
        elif not wanted and existing is not None:
            session.delete(existing)
        return wanted


def is_following(session: Session, user_id: int, asset_id: int) -> bool:
    return session.get(Follow, (user_id, asset_id)) is not None


# --- reading --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationView:
    id: int
    kind: str
    asset_id: int | None
    asset_title: str | None
    actor: str | None
    version: int | None
    data: dict[str, Any]
    created_at: datetime
    read: bool


def _still_visible(session: Session, user_id: int) -> Any:
    """Notifications of assets the person may still see: one restricted to an audience after it was sent, or
    whose audience the person left, is no longer shown."""
    user = session.get(User, user_id)
    if user is None:
        return false()
    return or_(Notification.asset_id.is_(None), Notification.asset_id.in_(audiences.visible_asset_ids(user)))


def unread_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Notification.user_id == user_id, Notification.read_at.is_(None), _still_visible(session, user_id)
            )
        )
        or 0
    )


def list_for(session: Session, user_id: int, *, limit: int = 50, offset: int = 0) -> list[NotificationView]:
    """The person's notifications, newest first."""
    rows = session.execute(
        select(Notification, Asset.title, User.display_name, AssetVersion.number)
        .outerjoin(Asset, Asset.id == Notification.asset_id)
        .outerjoin(User, User.id == Notification.actor_id)
        .outerjoin(AssetVersion, AssetVersion.id == Notification.version_id)
        .where(Notification.user_id == user_id, _still_visible(session, user_id))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        NotificationView(
            id=n.id,
            kind=str(n.kind),
            asset_id=n.asset_id,
            asset_title=title,
            actor=actor,
            version=number,
            data=dict(n.data or {}),
            created_at=n.created_at,
            read=n.read_at is not None,
        )
        for n, title, actor, number in rows
    ]


def mark_read(db: Database, user_id: int, notification_ids: list[int] | None = None) -> int:
    """Marks the person's notifications read (the given ones, or all); returns how many changed."""
    with db.transaction() as session:
        statement = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        if notification_ids is not None:
            statement = statement.where(Notification.id.in_(notification_ids))
        return session.execute(statement.values(read_at=utcnow())).rowcount or 0


def message(
    view: NotificationView,
    gettext: Callable[[str], str],
    ngettext: Callable[[str, str, int], str] | None = None,
    date_text: Callable[[date], str] | None = None,
) -> str:
    """The notification in one sentence, in the language ``gettext`` (and ``ngettext``, for counts) translate
    to, with dates as ``date_text`` writes them; without ``ngettext``, English plurals; without ``date_text``,
    ISO dates."""
    reasons = ", ".join(gettext(_reason_label(code)) for code in view.data.get("reasons") or [view.data.get("reason")])
    params = {
        "actor": view.actor or gettext("Someone"),
        "title": view.asset_title or gettext("a deleted asset"),
        "reasons": reasons,
        "date": _date(view.data.get("review_on", ""), date_text),
        "version": view.data.get("version") or view.version or "",
        "count": view.data.get("count", 0),
    }
    if view.kind == NotificationKind.DIGEST:
        count = int(params["count"] or 0)
        if ngettext is None:
            return gettext(DIGEST if count == 1 else DIGEST_PLURAL) % params
        return ngettext(DIGEST, DIGEST_PLURAL, count) % params
    template = MESSAGES[NotificationKind(view.kind)]
    if view.kind == NotificationKind.FLAG_RESOLVED and params["version"]:
        template = RESOLVED_BY_VERSION
    return gettext(template) % params


def _date(value: str, date_text: Callable[[date], str] | None) -> str:
    if not value or date_text is None:
        return value
    try:
        return date_text(date.fromisoformat(value))
    except ValueError:
        return value


def _reason_label(code: object) -> str:
    from kb.feedback import REASON_LABELS

    return REASON_LABELS.get(str(code), str(code))


# --- e-mail ---------------------------------------------------------------------------------------------------


def email_for(view: NotificationView, user: User, base_url: str, sender: str) -> EmailMessage:
    """The e-mail of one notification, in the recipient's language, with a link to the asset or queue."""
    language = user.preferred_language or "ru"
    catalog = translations(language)
    gettext = catalog.gettext
    subject = message(view, gettext, catalog.ngettext, lambda d: format_date(d, DATE_PATTERN, locale=language))
    lines = [subject, ""]
    for key in ("comment", "note"):
        if view.data.get(key):
            lines += [str(view.data[key]), ""]
    for item in view.data.get("items", []):
        lines.append(f"- {item['title']} ({item['score']}): {base_url}/assets/{item['asset_id']}")
    if view.data.get("items"):
        lines.append("")
    link = f"{base_url}/assets/{view.asset_id}" if view.asset_id else f"{base_url}/freshness"
    lines += [link, "", gettext("You receive this because of your kb notifications.")]
    mail = EmailMessage()
    mail["Subject"] = subject[:200]
    mail["From"] = sender
    mail["To"] = user.email
    mail.set_content("\n".join(lines))
    return mail


def run_email_job(context: Any, payload: dict[str, Any]) -> None:
    """Worker handler: sends one notification by e-mail, once (a retried job does not send it twice)."""
    smtp = context.settings.smtp
    notification_id = int(payload["notification_id"])
    with context.db.session() as session:
        notification = session.get(Notification, notification_id)
        if notification is None or notification.emailed_at is not None or smtp is None:
            return
        user = session.get(User, notification.user_id)
        if user is None or not user.active:
            return
        if notification.asset_id is not None and not audiences.may_see(session, user, notification.asset_id):
            return  # the asset was restricted to an audience the person is not in after this was written
        view = _view(session, notification)
        mail = email_for(view, user, context.settings.base_url, smtp.sender)
    send(smtp, mail)
    with context.db.transaction() as session:
        session.execute(update(Notification).where(Notification.id == notification_id).values(emailed_at=utcnow()))


def _view(session: Session, notification: Notification) -> NotificationView:
    title = session.scalar(select(Asset.title).where(Asset.id == notification.asset_id))
    actor = session.scalar(select(User.display_name).where(User.id == notification.actor_id))
    number = session.scalar(select(AssetVersion.number).where(AssetVersion.id == notification.version_id))
    return NotificationView(
        id=notification.id,
        kind=str(notification.kind),
        asset_id=notification.asset_id,
        asset_title=title,
        actor=actor,
        version=number,
        data=dict(notification.data or {}),
        created_at=notification.created_at,
        read=notification.read_at is not None,
    )
