"""Forgotten passwords: a request e-mails an active account a single-use link that expires; the link sets a new
password.

The answer to a request says nothing of whether the e-mail belongs to an account: every request is recorded and
throttled the same way (per e-mail and per client address, counted in the database so the limits hold across
processes), and the e-mail is written and sent by the worker, never by the request, so the answer takes the same
time either way. The worker draws the link's token when it writes the mail; only its SHA-256 is stored. A link
works once, until it expires, and only while the password is the one it was asked for: a new password by any
route (this link, another one, the profile page, an administrator) ends every link sent before.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from kb import accounts, audit, jobs
from kb.dates import DATETIME_PATTERN
from kb.db import Database
from kb.errors import N_, Gone, NotFound, Throttled
from kb.mail import send, translations
from kb.models import LANGUAGES, PasswordResetRequest, User, utcnow

RESET_JOB = "password_reset_email"
#: The path of a link, after the base URL; the web layer serves it.
LINK_PATH = "/password/reset/"
#: Requests counted in this window...
REQUEST_WINDOW = timedelta(hours=1)
#: ...at most this many per e-mail address (known or not), so that nobody fills a mailbox with links...
MAX_REQUESTS_PER_EMAIL = 3
#: ...and this many per client address, against one address trying many e-mails.
MAX_REQUESTS_PER_IP = 20
#: Requests older than this, whose link (if any) has expired, are deleted.
REQUESTS_KEPT = timedelta(days=2)
#: Tokens are 43 characters; anything much longer is not one of ours and is not even hashed.
TOKEN_MAX_LENGTH = 128

UNKNOWN_LINK = N_("This password reset link is not valid. Check that you opened the whole link from the e-mail.")
USED_LINK = N_("This password reset link has already been used.")
EXPIRED_LINK = N_("This password reset link has expired.")
SUPERSEDED_LINK = N_("This password reset link no longer works: the password has been changed since it was sent.")
DEAD_LINK = N_("This password reset link no longer works.")

MAIL_SUBJECT = N_("Set a new password for kb")
MAIL_GREETING = N_("Someone, hopefully you, asked to set a new password for the kb account %(email)s.")
MAIL_OPEN_LINK = N_("Open this link to choose a new password:")
MAIL_EXPIRY = N_("The link works once, until %(time)s.")
MAIL_IGNORE = N_("If you did not ask for it, ignore this e-mail: your password stays as it is.")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _fingerprint(user: User) -> str:
    """Stands for the password a link was asked for: any new password changes it."""
    return _digest(user.password_hash)


# --- asking for a link -----------------------------------------------------------------------------------------


def _check_throttle(session: Session, email: str, ip_address: str, now: datetime) -> None:
    since = now - REQUEST_WINDOW
    for column, value, limit in (
        (PasswordResetRequest.email, email, MAX_REQUESTS_PER_EMAIL),
        (PasswordResetRequest.ip_address, ip_address, MAX_REQUESTS_PER_IP),
    ):
        count, oldest = session.execute(
            select(func.count(), func.min(PasswordResetRequest.requested_at)).where(
                column == value, PasswordResetRequest.requested_at >= since
            )
        ).one()
        if count >= limit and oldest is not None:
            wait = oldest + REQUEST_WINDOW - now
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            raise Throttled(N_("Too many requests for a reset link. Try again in %(minutes)s min."), minutes=minutes)


def request_link(db: Database, email: str, *, ip_address: str, hours: int, language: str | None = None) -> None:
    """Records a request for a reset link and, when ``email`` names an active account, queues the e-mail with a
    link that works for ``hours`` (written in the person's language, else ``language``, the page's).

    Returns nothing either way. Raises ``ValidationError`` for a malformed address and ``Throttled`` after too
    many recent requests for the e-mail or from the address (counted whether the e-mail is known or not).
    """
    email = accounts.validate_email(email)
    ip_address = (ip_address or "unknown")[:64]
    now = utcnow()
    with db.transaction() as session:
        _check_throttle(session, email, ip_address, now)
        request = PasswordResetRequest(email=email, ip_address=ip_address, requested_at=now)
        user = accounts.find_user(session, email)
        # A directory account's password is changed in the directory: no link, and the same answer as for no account.
        if user is not None and user.active and not user.from_directory:
            request.user_id = user.id
            request.language = language if language in LANGUAGES else None
            request.password_fingerprint = _fingerprint(user)
            request.expires_at = now + timedelta(hours=hours)
        session.add(request)
        session.flush()
        if request.user_id is not None:
            jobs.enqueue(session, RESET_JOB, {"request_id": request.id}, max_attempts=5, priority=jobs.URGENT)
        session.execute(
            delete(PasswordResetRequest).where(
                PasswordResetRequest.requested_at < now - REQUESTS_KEPT,
                or_(PasswordResetRequest.expires_at.is_(None), PasswordResetRequest.expires_at < now),
            )
        )


# --- the e-mail --------------------------------------------------------------------------------------------------


def email_for(
    user: User, request: PasswordResetRequest, token: str, *, base_url: str, sender: str, timezone: str
) -> EmailMessage:
    """The e-mail with the link, in plain text, in the person's language (else the page's, else Russian)."""
    language = user.preferred_language or request.language or "ru"
    gettext = translations(language).gettext
    assert request.expires_at is not None
    until = format_datetime(request.expires_at, DATETIME_PATTERN, tzinfo=ZoneInfo(timezone), locale=language)
    lines = [
        gettext(MAIL_GREETING) % {"email": user.email},
        "",
        gettext(MAIL_OPEN_LINK),
        f"{base_url}{LINK_PATH}{token}",
        "",
        gettext(MAIL_EXPIRY) % {"time": until},
        gettext(MAIL_IGNORE),
    ]
    mail = EmailMessage()
    mail["Subject"] = gettext(MAIL_SUBJECT)
    mail["From"] = sender
    mail["To"] = user.email
    mail.set_content("\n".join(lines))
    return mail


def run_email_job(context: Any, payload: dict[str, Any]) -> None:
    """Worker handler: draws the link's token, keeps its hash and mails the link, once.

    A retried job (the mail server failed) draws a new token, so a link that never reached anyone never works;
    a request already mailed, used, expired or no longer matching its account sends nothing.
    """
    smtp = context.settings.smtp
    request_id = int(payload["request_id"])
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with context.db.transaction() as session:
        request = session.get(PasswordResetRequest, request_id)
        if smtp is None or request is None or request.user_id is None or request.emailed_at is not None:
            return
        user = session.get(User, request.user_id)
        if user is None or _problem(request, user, now) is not None:
            return
        request.token_hash = _digest(token)
        mail = email_for(
            user,
            request,
            token,
            base_url=context.settings.base_url,
            sender=smtp.sender,
            timezone=context.settings.timezone,
        )
    send(smtp, mail)
    with context.db.transaction() as session:
        session.execute(
            update(PasswordResetRequest).where(PasswordResetRequest.id == request_id).values(emailed_at=utcnow())
        )


# --- using a link ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResetLink:
    """A link that works: whose password it sets, and until when."""

    email: str
    expires_at: datetime


def _problem(request: PasswordResetRequest, user: User, now: datetime) -> Gone | None:
    """Why a request's link no longer works, or None when it does."""
    if request.used_at is not None:
        return Gone(USED_LINK)
    if request.expires_at is None or request.expires_at <= now:
        return Gone(EXPIRED_LINK)
    if not user.active or user.from_directory:
        return Gone(DEAD_LINK)
    if request.password_fingerprint != _fingerprint(user):
        return Gone(SUPERSEDED_LINK)
    return None


def _working(
    session: Session, token: str, now: datetime, *, for_update: bool = False
) -> tuple[PasswordResetRequest, User]:
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise NotFound(UNKNOWN_LINK)
    statement = (
        select(PasswordResetRequest, User)
        .join(User, User.id == PasswordResetRequest.user_id)
        .where(PasswordResetRequest.token_hash == _digest(token))
    )
    if for_update:  # PostgreSQL: a second use of the same link waits, then sees it used (SQLite: BEGIN IMMEDIATE)
        statement = statement.with_for_update()
    row = session.execute(statement).first()
    if row is None:
        raise NotFound(UNKNOWN_LINK)
    request, user = row
    problem = _problem(request, user, now)
    if problem is not None:
        raise problem
    return request, user


def check_link(session: Session, token: str) -> ResetLink:
    """The link of ``token`` when it works; raises ``NotFound`` for a token kb never sent and ``Gone`` for a
    link used, expired, or ended by a new password or a deactivation."""
    request, user = _working(session, token, utcnow())
    return ResetLink(email=user.email, expires_at=request.expires_at)


def reset_password(db: Database, token: str, password: str) -> str:
    """Sets the person's new password through the link of ``token``, which then works no more, and returns their
    e-mail. Like any new password, it ends every sign-in and every other link; it also forgets the e-mail's failed
    sign-in attempts (whoever holds the mailbox may sign in at once) and ends a temporary password.

    Raises what ``check_link`` raises, and ``ValidationError`` for a password the rules refuse (the link then
    still works)."""
    accounts.validate_password(password)
    now = utcnow()
    with db.transaction() as session:
        request, user = _working(session, token, now, for_update=True)
        request.used_at = now
        accounts.replace_password(session, user, password)
        accounts.forget_failed_sign_ins(session, user.email)
        audit.record(
            session,
            audit.Action.PASSWORD_RESET,
            actor=user,
            subject=user.email,
            user_id=user.id,
            details={"request_id": request.id},
        )
        return user.email
