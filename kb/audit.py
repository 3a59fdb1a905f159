"""The audit log: who signed in (or failed to), downloaded a file, published, archived, changed a role, a password or
an API token, when and from where; and the reading side: filters, pages, CSV, and pruning old events.

A change is recorded with ``record(session, ...)`` inside the transaction that makes it, so its event exists
exactly when the change was committed. Sign-ins and downloads change nothing worth rolling back and are recorded on
their own (``record_now``). Who acted and from where come from the ``Origin`` that the web layer binds for each
request and the command line for each command (``bound``); a domain function names the actor itself when it knows
better (a person signing in, a publisher named by id).
"""

from __future__ import annotations

import csv
import enum
import io
import ipaddress
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from kb.db import Database
from kb.errors import N_, ValidationError
from kb.models import AuditEvent, User, utcnow

#: How long events are kept when KB_AUDIT_DAYS is unset.
DEFAULT_DAYS = 365
USER_AGENT_LENGTH = 255
SUBJECT_LENGTH = 300
#: Pages count matching events up to this many and then say "more than".
COUNT_CAP = 10_000
PAGE_SIZE = 50
PRUNE_BATCH = 5_000


class Action(enum.StrEnum):
    """What an event records. The values are stored and exported: never rename one."""

    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    DOWNLOAD = "download"
    ASSET_CREATED = "asset_created"
    VERSION_PUBLISHED = "version_published"
    #: A draft published, or an archived asset restored.
    ASSET_PUBLISHED = "asset_published"
    ASSET_ARCHIVED = "asset_archived"
    AUDIENCE_CHANGED = "audience_changed"
    USER_CREATED = "user_created"
    ROLE_CHANGED = "role_changed"
    USER_ACTIVATED = "user_activated"
    USER_DEACTIVATED = "user_deactivated"
    #: By the person, knowing the old one.
    PASSWORD_CHANGED = "password_changed"
    #: By an administrator: a temporary password the person must replace.
    TEMPORARY_PASSWORD_SET = "temporary_password_set"
    #: With a "forgot password" link.
    PASSWORD_RESET = "password_reset"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"


class SignInFailure(enum.StrEnum):
    """Why a sign-in failed (``details["reason"]`` of a ``sign_in_failed`` event)."""

    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_ACCOUNT = "unknown_account"
    THROTTLED = "throttled"
    DEACTIVATED = "deactivated"
    DIRECTORY_DOWN = "directory_down"
    #: The directory shuts the person out: disabled there, in no kb group, or without an e-mail.
    DIRECTORY_REFUSED = "directory_refused"
    #: Their e-mail belongs to another kb account.
    ACCOUNT_CONFLICT = "account_conflict"


class SignInMethod(enum.StrEnum):
    """How someone signed in (``details["method"]``)."""

    LOCAL = "local"
    DIRECTORY = "directory"
    SSO = "sso"


class Channel(enum.StrEnum):
    """Through what an event came: the pages, the JSON API, the command line, or none of them (``system``)."""

    WEB = "web"
    API = "api"
    CLI = "cli"
    SYSTEM = "system"


#: (id, e-mail) of whoever acts, or None.
ActorRef = tuple[int, str] | None


@dataclass(frozen=True)
class Origin:
    """Where the events of a request or a command come from; ``actor`` is asked when an event is recorded (the web
    layer knows who is signed in only once the request has been authenticated)."""

    channel: Channel = Channel.SYSTEM
    ip_address: str | None = None
    user_agent: str | None = None
    actor: Callable[[], ActorRef] = field(default=lambda: None)


_origin: ContextVar[Origin] = ContextVar("kb_audit_origin", default=Origin())  # noqa: B039  (immutable default)


def bind(origin: Origin) -> Token[Origin]:
    """Makes ``origin`` the current one until ``unbind``; the web layer binds one per request."""
    return _origin.set(origin)


def unbind(token: Token[Origin]) -> None:
    _origin.reset(token)


@contextmanager
def bound(origin: Origin) -> Iterator[None]:
    token = bind(origin)
    try:
        yield
    finally:
        unbind(token)


def current_origin() -> Origin:
    return _origin.get()


def _clip(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


def record(
    session: Session,
    action: Action,
    *,
    actor: User | None = None,
    actor_email: str | None = None,
    subject: str = "",
    asset_id: int | None = None,
    version_id: int | None = None,
    user_id: int | None = None,
    token_id: int | None = None,
    details: Mapping[str, Any] | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> AuditEvent:
    """In the caller's transaction: one event. The actor is ``actor`` (a user), else ``actor_email`` alone (a login
    that names no account), else whoever the current origin says; the address and the user agent are the origin's
    unless given."""
    origin = current_origin()
    if actor is not None:
        actor_id, email = actor.id, actor.email
    elif actor_email is not None:
        actor_id, email = None, actor_email
    else:
        actor_id, email = origin.actor() or (None, None)
    event = AuditEvent(
        occurred_at=utcnow(),
        action=Action(action).value,
        actor_id=actor_id,
        actor_email=_clip(email, 254),
        channel=origin.channel.value,
        subject=_clip(subject, SUBJECT_LENGTH) or "",
        asset_id=asset_id,
        version_id=version_id,
        user_id=user_id,
        token_id=token_id,
        ip_address=_clip(ip_address or origin.ip_address, 64),
        user_agent=_clip(user_agent if user_agent is not None else origin.user_agent, USER_AGENT_LENGTH),
        details=dict(details) if details else None,
    )
    session.add(event)
    return event


def record_now(db: Database, action: Action, **fields: Any) -> None:
    """One event in a transaction of its own: for what is not a change in the database (a download, a sign-in)."""
    with db.transaction() as session:
        record(session, action, **fields)


def sign_in_failed(
    db: Database,
    login: str,
    reason: SignInFailure,
    method: SignInMethod,
    *,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> None:
    """A failed sign-in that left nothing else in the database (throttled, the directory down), on its own."""
    with db.transaction() as session:
        record_sign_in(session, login, None, method, reason, ip_address=ip_address, user_agent=user_agent)


def record_sign_in(
    session: Session,
    login: str,
    user: User | None,
    method: SignInMethod,
    failure: SignInFailure | None = None,
    *,
    ip_address: str | None = None,
    user_agent: str | None = None,
    message: str | None = None,
) -> None:
    """In the caller's transaction: a sign-in, successful when no ``failure`` is given. The actor is the account
    when there is one, else the login as typed; ``message`` says more about a refusal (what the person was told)."""
    details: dict[str, Any] = {"method": method.value}
    if failure is not None:
        details["reason"] = failure.value
    if message:
        details["message"] = message[:300]
    record(
        session,
        Action.SIGN_IN if failure is None else Action.SIGN_IN_FAILED,
        actor=user,
        actor_email=None if user is not None else (login or "")[:254],
        subject=user.email if user is not None else (login or "")[:254],
        user_id=user.id if user is not None else None,
        details=details,
        ip_address=ip_address,
        user_agent=user_agent,
    )


def user_subject(user: User) -> str:
    return user.email


def version_subject(title: str, number: int | None) -> str:
    """An asset's title with the version number: how a version is named in the log."""
    return title if number is None else f"{title} · v{number}"


# --- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Which events to show: each set one narrows the list (all of them must hold)."""

    #: Part of the e-mail of the actor, or of the person an event is about.
    person: str = ""
    action: Action | None = None
    #: Days in ``timezone``, both included.
    since: date | None = None
    until: date | None = None
    asset_id: int | None = None
    #: A whole address (that address only) or the start of one ending in "." or ":" (a network: "10.1.").
    ip: str = ""
    timezone: str = "UTC"

    def as_args(self) -> dict[str, str]:
        """The filters as query parameters (links to the next page and to the CSV carry them)."""
        args = {
            "person": self.person,
            "action": self.action.value if self.action else "",
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "asset": str(self.asset_id) if self.asset_id is not None else "",
            "ip": self.ip,
        }
        return {name: value for name, value in args.items() if value}


FILTER_NAMES = ("person", "action", "since", "until", "asset", "ip")
BAD_DATE = N_("Enter the date as YYYY-MM-DD, e.g. 2026-12-01.")
BAD_RANGE = N_("The start date is after the end date.")
BAD_ACTION = N_("Unknown action %(action)s.")
BAD_ASSET = N_("The asset must be given by its number.")
BAD_IP = N_("Enter an address such as 10.1.2.3, or the start of one ending in a dot, such as 10.1.")
BAD_PERSON = N_("At most %(n)s characters.")


def parse_date(value: str, name: str) -> date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(BAD_DATE, field=name) from None


def parse_filters(args: Mapping[str, str], timezone: str = "UTC") -> Filters:
    """Filters from query parameters (or the command line's options); a bad one is a ``ValidationError`` naming it."""
    person = (args.get("person") or "").strip().lower()
    if len(person) > 254:
        raise ValidationError(BAD_PERSON, field="person", n=254)
    action_text = (args.get("action") or "").strip()
    try:
        action = Action(action_text) if action_text else None
    except ValueError:
        raise ValidationError(BAD_ACTION, field="action", action=action_text[:40]) from None
    since = parse_date(args.get("since") or "", "since")
    until = parse_date(args.get("until") or "", "until")
    if since and until and since > until:
        raise ValidationError(BAD_RANGE, field="since")
    asset_text = (args.get("asset") or "").strip().lstrip("#")
    if asset_text and (not asset_text.isdigit() or len(asset_text) > 18):
        raise ValidationError(BAD_ASSET, field="asset")
    ip = (args.get("ip") or "").strip()
    if ip and not _valid_ip_filter(ip):
        raise ValidationError(BAD_IP, field="ip")
    return Filters(
        person=person,
        action=action,
        since=since,
        until=until,
        asset_id=int(asset_text) if asset_text else None,
        ip=ip.lower(),
        timezone=timezone,
    )


def _valid_ip_filter(text: str) -> bool:
    if len(text) > 64:
        return False
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return text[-1] in ".:" and all(c in "0123456789abcdefABCDEF.:" for c in text)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _start(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _filtered(statement: Select[Any], filters: Filters) -> Select[Any]:
    if filters.person:
        pattern = _like(filters.person)
        statement = statement.where(
            or_(
                func.lower(AuditEvent.actor_email).like(pattern, escape="\\"),
                and_(AuditEvent.user_id.is_not(None), func.lower(AuditEvent.subject).like(pattern, escape="\\")),
            )
        )
    if filters.action is not None:
        statement = statement.where(AuditEvent.action == filters.action.value)
    if filters.since is not None:
        statement = statement.where(AuditEvent.occurred_at >= _start(filters.since, filters.timezone))
    if filters.until is not None:
        statement = statement.where(
            AuditEvent.occurred_at < _start(filters.until + timedelta(days=1), filters.timezone)
        )
    if filters.asset_id is not None:
        statement = statement.where(AuditEvent.asset_id == filters.asset_id)
    if filters.ip:
        if filters.ip[-1] in ".:":  # a network; the filter has only hex digits, "." and ":", nothing LIKE reads
            statement = statement.where(AuditEvent.ip_address.like(filters.ip + "%"))
        else:
            statement = statement.where(AuditEvent.ip_address == filters.ip)
    return statement


def _newest_first(statement: Select[Any]) -> Select[Any]:
    return statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())


def count(session: Session, filters: Filters, cap: int | None = None) -> int:
    """How many events match, counted up to one more than ``cap`` (``COUNT_CAP``): a page says "more than" beyond
    it, since counting a million rows for a number nobody reads would make every page slow."""
    cap = COUNT_CAP if cap is None else cap
    matching = _filtered(select(AuditEvent.id), filters).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(matching)) or 0


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    #: The id to pass as ``before`` for the next (older) page, or None on the last one.
    next_before: int | None


def page(session: Session, filters: Filters, before: int | None = None, size: int = PAGE_SIZE) -> Page:
    """A page of matching events, newest first, older than the event ``before`` (keyset paging: as fast on the
    thousandth page as on the first)."""
    statement = _filtered(select(AuditEvent), filters)
    if before is not None:
        anchor = session.get(AuditEvent, before)
        if anchor is not None:
            statement = statement.where(
                or_(
                    AuditEvent.occurred_at < anchor.occurred_at,
                    and_(AuditEvent.occurred_at == anchor.occurred_at, AuditEvent.id < anchor.id),
                )
            )
        else:
            statement = statement.where(AuditEvent.id < before)
    events = list(session.scalars(_newest_first(statement).limit(size + 1)))
    more = len(events) > size
    events = events[:size]
    return Page(events=events, next_before=events[-1].id if more and events else None)


def events(session: Session, filters: Filters, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every matching event, newest first, read in batches (an export of a year)."""
    statement = _newest_first(_filtered(select(AuditEvent), filters)).execution_options(yield_per=batch)
    yield from session.scalars(statement)


# --- CSV -----------------------------------------------------------------------------------------------------

COLUMNS = (
    "occurred_at",
    "action",
    "actor_email",
    "actor_id",
    "channel",
    "subject",
    "asset_id",
    "version_id",
    "user_id",
    "token_id",
    "ip_address",
    "user_agent",
    "details",
)


@dataclass(frozen=True)
class Labels:
    """How the CSV names its columns and actions: codes for programs (the default), words for people."""

    headers: Mapping[str, str] = field(default_factory=dict)
    action: Callable[[str], str] = str


CODES = Labels()


def _safe(value: Any) -> Any:
    """A cell a spreadsheet will not run as a formula (logins, titles and user agents are typed by people)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_row(event: AuditEvent, labels: Labels = CODES) -> list[Any]:
    moment = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cells = [
        moment,
        labels.action(event.action),
        event.actor_email or "",
        event.actor_id if event.actor_id is not None else "",
        event.channel,
        event.subject,
        event.asset_id if event.asset_id is not None else "",
        event.version_id if event.version_id is not None else "",
        event.user_id if event.user_id is not None else "",
        event.token_id if event.token_id is not None else "",
        event.ip_address or "",
        event.user_agent or "",
        json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else "",
    ]
    return [_safe(cell) for cell in cells]


def csv_lines(rows: Iterator[AuditEvent], labels: Labels = CODES, delimiter: str = ",") -> Iterator[str]:
    """The events as CSV, a header row first, in pieces of a few hundred rows (to stream); times in UTC, ISO 8601."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([labels.headers.get(column, column) for column in COLUMNS])
    for number, event in enumerate(rows, start=1):
        writer.writerow(csv_row(event, labels))
        if number % 500 == 0:
            yield flush()
    yield flush()


# --- retention -----------------------------------------------------------------------------------------------


def prune(db: Database, days: int, now: datetime | None = None) -> int:
    """Deletes events older than ``days`` days, a batch per transaction (writers wait for none of them long);
    returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    removed = 0
    while True:
        with db.transaction() as session:
            oldest = select(AuditEvent.id).where(AuditEvent.occurred_at < cutoff).limit(PRUNE_BATCH)
            ids = list(session.scalars(oldest))
            if ids:
                session.execute(delete(AuditEvent).where(AuditEvent.id.in_(ids)))
        removed += len(ids)
        if len(ids) < PRUNE_BATCH:
            return removed
