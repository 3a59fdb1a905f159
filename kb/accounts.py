"""Accounts: users and roles, passwords, sign-in with throttling, server-side sessions and API tokens.

Everything here works on the database only, so it holds across several server processes: a sign-out, a
deactivation or a role change is seen by every process on the user's next request. Each change, and each sign-in,
goes into the audit log (``kb.audit``) in the same transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from kb import audit
from kb.audit import Action, SignInFailure, SignInMethod
from kb.db import Database
from kb.errors import N_, AuthenticationFailed, Conflict, NotFound, Throttled, ValidationError
from kb.models import LANGUAGES, ApiToken, AuthSource, LoginAttempt, LoginSession, Role, User, utcnow

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024
#: Throttling: failures counted in this window...
THROTTLE_WINDOW = timedelta(minutes=15)
#: ...at most this many per e-mail address (known or not, so the answer reveals nothing)...
MAX_FAILURES_PER_EMAIL = 5
#: ...and this many per client address, against one address trying many accounts.
MAX_FAILURES_PER_IP = 20
ATTEMPTS_KEPT = timedelta(days=2)
#: A session or token's "last seen" is written at most this often, so reads stay reads.
TOUCH_INTERVAL = timedelta(minutes=5)
TOKEN_PREFIX = "kb_"
#: The password hash of a directory account: no password ever matches it (it is not a hash argon2 can read).
UNUSABLE_PASSWORD = "!directory"
DIRECTORY_PASSWORD = N_(
    "%(email)s signs in with the company directory: the password is changed there, not in kb."
)
DIRECTORY_ROLE = N_(
    "The role of %(email)s follows their directory groups (KB_LDAP_ROLE_GROUPS): change their groups in the "
    "directory."
)

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so that a miss costs as much time as a wrong password: one per
# hasher, made on first use.
_DUMMY_HASHES: dict[int, str] = {}


def _dummy_hash() -> str:
    key = id(_hasher)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = _hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASHES[key]


def set_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash new passwords with ``hasher`` (its cost parameters) from now on; returns the one it replaces.

    Stored hashes carry their own parameters and verify whatever the hasher; a password hashed with weaker
    parameters than the hasher's is re-hashed at its next sign-in. Test suites use a cheap hasher here."""
    global _hasher
    previous, _hasher = _hasher, hasher
    return previous


_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_email(email: str) -> str:
    value = normalize_email(email)
    if not _EMAIL_RE.match(value) or "\x00" in value:
        raise ValidationError(N_("Enter a valid e-mail address."), field="email")
    return value


def validate_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise ValidationError(
            N_("The password must be at least %(n)s characters long."), field="password", n=PASSWORD_MIN_LENGTH
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError(
            N_("The password must be at most %(n)s characters long."), field="password", n=PASSWORD_MAX_LENGTH
        )
    return password


def validate_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(
            N_("Unknown role %(role)s; choose one of: %(roles)s."),
            field="role",
            role=role,
            roles=", ".join(r.value for r in Role),
        ) from None


def validate_language(language: str | None) -> str | None:
    if language in (None, ""):
        return None
    if language not in LANGUAGES:
        raise ValidationError(N_("Unknown language %(language)s."), field="language", language=language)
    return language


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# --- users -------------------------------------------------------------------------------------------------


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(N_("No such user."))
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.active.desc(), User.email)))


def create_user(
    db: Database,
    email: str,
    password: str,
    role: str,
    display_name: str = "",
    preferred_language: str | None = None,
) -> User:
    email = validate_email(email)
    validate_password(password)
    role_value = validate_role(role)
    name = (display_name or "").strip() or email.split("@", 1)[0]
    if len(name) > 120:
        raise ValidationError(N_("The name must be at most %(n)s characters long."), field="display_name", n=120)
    with db.transaction() as session:
        if find_user(session, email) is not None:
            raise Conflict(N_("A user with the e-mail %(email)s already exists."), field="email", email=email)
        user = User(
            email=email,
            display_name=name,
            role=role_value,
            password_hash=hash_password(password),
            preferred_language=validate_language(preferred_language),
        )
        session.add(user)
        session.flush()
        audit.record(session, Action.USER_CREATED, subject=email, user_id=user.id, details={"role": role_value.value})
    return user


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).where(User.role == Role.ADMIN, User.active.is_(True))) or 0


def set_role(db: Database, user_id: int, role: str) -> User:
    new_role = validate_role(role)
    with db.transaction() as session:
        user = get_user(session, user_id)
        if user.from_directory and new_role != user.role:
            raise Conflict(DIRECTORY_ROLE, field="role", email=user.email)
        if user.role == Role.ADMIN and new_role != Role.ADMIN and user.active and _active_admins(session) <= 1:
            raise Conflict(N_("%(email)s is the last active admin; make someone else admin first."), email=user.email)
        if new_role != user.role:
            audit.record(
                session,
                Action.ROLE_CHANGED,
                subject=user.email,
                user_id=user.id,
                details={"from": Role(user.role).value, "to": new_role.value},
            )
        user.role = new_role
    return user


def set_active(db: Database, user_id: int, active: bool, *, actor_id: int | None = None) -> User:
    """Activates or deactivates a user; deactivation ends all their sessions at once."""
    if not active and actor_id == user_id:
        raise Conflict(N_("You cannot deactivate your own account."))
    with db.transaction() as session:
        user = get_user(session, user_id)
        if not active and user.role == Role.ADMIN and user.active and _active_admins(session) <= 1:
            raise Conflict(N_("%(email)s is the last active admin; make someone else admin first."), email=user.email)
        if bool(user.active) != active:
            audit.record(
                session,
                Action.USER_ACTIVATED if active else Action.USER_DEACTIVATED,
                subject=user.email,
                user_id=user.id,
            )
        user.active = active
        user.directory_disabled_at = None  # an administrator's decision, whichever way, is not the directory's
        if not active:
            session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    return user


#: Letters and digits of generated temporary passwords: none that read alike (0/O, 1/l/I).
_TEMPORARY_ALPHABET = "abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXYZ2345679"


def temporary_password() -> str:
    """A random password to hand to a person once: four groups of four characters (about 91 bits)."""
    groups = ("".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


def set_temporary_password(db: Database, user_id: int, password: str | None = None) -> tuple[User, str]:
    """Gives the person a temporary password (``password``, or a generated one), which they must replace at
    their next sign-in; ends their sign-ins everywhere and forgets their failed attempts, so a person locked out
    by mistyping can sign in at once. Returns the user and the password to hand over."""
    password = temporary_password() if password is None else validate_password(password)
    with db.transaction() as session:
        user = get_user(session, user_id)
        _refuse_directory_password(user)
        user.password_hash = hash_password(password)
        user.must_change_password = True
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        forget_failed_sign_ins(session, user.email)
        audit.record(session, Action.TEMPORARY_PASSWORD_SET, subject=user.email, user_id=user.id)
    return user, password


def set_password(db: Database, user_id: int, password: str, *, keep_session_hash: str | None = None) -> None:
    """Changes the password and ends the user's other sign-ins (all of them unless one is named to keep)."""
    validate_password(password)
    with db.transaction() as session:
        user = get_user(session, user_id)
        _refuse_directory_password(user)
        replace_password(session, user, password, keep_session_hash=keep_session_hash)
        audit.record(session, Action.PASSWORD_CHANGED, subject=user.email, user_id=user.id)


def _refuse_directory_password(user: User) -> None:
    if user.from_directory:
        raise Conflict(DIRECTORY_PASSWORD, field="password", email=user.email)


def replace_password(session: Session, user: User, password: str, *, keep_session_hash: str | None = None) -> None:
    """In the caller's transaction: the person's own password from now on (no longer temporary), and their
    sign-ins ended (all of them unless one is named to keep). ``password`` must have been validated."""
    user.password_hash = hash_password(password)
    user.must_change_password = False
    stmt = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_session_hash is not None:
        stmt = stmt.where(LoginSession.token_hash != keep_session_hash)
    session.execute(stmt)


def forget_failed_sign_ins(session: Session, email: str) -> None:
    """In the caller's transaction: the e-mail's failed sign-in attempts no longer count against it."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.email == email, LoginAttempt.succeeded.is_(False)))


def change_password(db: Database, user_id: int, current: str, new: str, *, session_token: str | None) -> None:
    with db.session() as session:
        user = get_user(session, user_id)
        if user.from_directory:
            raise Conflict(
                N_("You sign in with your company account: change its password there (in Windows, for example), "
                   "not in kb."),
                field="current_password",
            )
        if not _password_matches(user.password_hash, current):
            raise ValidationError(N_("The current password is wrong."), field="current_password")
        if current == new:
            raise ValidationError(N_("Choose a password other than the current one."), field="new_password")
    set_password(db, user_id, new, keep_session_hash=_digest(session_token) if session_token else None)


def use_directory(db: Database, user_id: int) -> User:
    """Switches a local account to directory sign-in: its kb password stops working and its sign-ins end; at the
    person's next directory sign-in (or ``kb users sync``) the directory entry with the same e-mail takes it over."""
    with db.transaction() as session:
        user = get_user(session, user_id)
        if user.from_directory:
            raise Conflict(N_("%(email)s already signs in with the company directory."), email=user.email)
        user.auth_source = AuthSource.DIRECTORY
        user.password_hash = UNUSABLE_PASSWORD
        user.must_change_password = False
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    return user


def update_profile(db: Database, user_id: int, display_name: str | None = None, language: str | None = "") -> User:
    with db.transaction() as session:
        user = get_user(session, user_id)
        if display_name is not None and user.from_directory and display_name.strip() != user.display_name:
            raise ValidationError(
                N_("Your name comes from the company directory; ask your IT department to change it there."),
                field="display_name",
            )
        if display_name is not None:
            name = display_name.strip()
            if not name or len(name) > 120:
                raise ValidationError(N_("Enter a name of 1 to 120 characters."), field="display_name")
            user.display_name = name
        if language != "":
            user.preferred_language = validate_language(language)
    return user


# --- signing in --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The result of a successful sign-in: the user and the session token to keep in the browser's cookie."""

    user: User
    session_token: str


def _failures_since(
    session: Session, column: object, value: str, now: datetime, *, reset_by_success: bool
) -> tuple[int, datetime | None]:
    """Failures for ``value`` in the window (after its last success, when one resets the count), and the oldest."""
    since = now - THROTTLE_WINDOW
    if reset_by_success:
        last_success = session.scalar(
            select(func.max(LoginAttempt.attempted_at)).where(
                column == value, LoginAttempt.succeeded.is_(True), LoginAttempt.attempted_at >= since
            )
        )
        if last_success is not None:
            since = max(since, last_success)
    count, oldest = session.execute(
        select(func.count(), func.min(LoginAttempt.attempted_at)).where(
            column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at >= since
        )
    ).one()
    return count, oldest


def check_throttle(session: Session, email: str, ip: str, now: datetime, *, trusted_device: bool) -> None:
    """Too many failures for the e-mail (since its last success), or from the address (every failure in the
    window: someone who can sign in to their own account must not reset it while guessing others'). A browser
    this e-mail has signed in from before (``trusted_device``) is not held back by its address: one guesser
    behind an office's shared address does not lock the office out."""
    checks = [(LoginAttempt.email, email, MAX_FAILURES_PER_EMAIL, True)]
    if not trusted_device:
        checks.append((LoginAttempt.ip_address, ip, MAX_FAILURES_PER_IP, False))
    for column, value, limit, reset in checks:
        count, oldest = _failures_since(session, column, value, now, reset_by_success=reset)
        if count >= limit and oldest is not None:
            wait = oldest + THROTTLE_WINDOW - now
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            raise Throttled(N_("Too many failed sign-in attempts. Try again in %(minutes)s min."), minutes=minutes)


def sign_in(
    db: Database,
    email: str,
    password: str,
    *,
    ip_address: str,
    user_agent: str = "",
    session_hours: int = 72,
    trusted_device: bool = False,
) -> SignIn:
    """Checks the password, records the attempt and opens a server-side session.

    Raises ``Throttled`` after too many recent failures for the e-mail or the address (not the address for a
    ``trusted_device``: a browser that signed in to this e-mail before, as the web layer knows), and
    ``AuthenticationFailed`` with the same message whether the e-mail is unknown, the password wrong or the
    account deactivated, so that the answer reveals nothing about which accounts exist.
    """
    email = normalize_email(email)[:254]
    ip_address = (ip_address or "unknown")[:64]
    now = utcnow()
    seen = {"ip_address": ip_address, "user_agent": user_agent}
    try:
        with db.transaction() as session:
            check_throttle(session, email, ip_address, now, trusted_device=trusted_device)
            user = find_user(session, email) if email else None
            matches = _password_matches(user.password_hash if user else _dummy_hash(), password or "")
            succeeded = bool(user and user.active and matches)
            record_attempt(session, email, ip_address, now, succeeded=succeeded)
            failure = (
                None
                if succeeded
                else SignInFailure.UNKNOWN_ACCOUNT
                if user is None
                else SignInFailure.WRONG_PASSWORD
                if not matches
                else SignInFailure.DEACTIVATED
            )
            audit.record_sign_in(session, email, user, SignInMethod.LOCAL, failure, **seen)
            if not succeeded:
                failed = True
            else:
                assert user is not None
                failed = False
                if _hasher.check_needs_rehash(user.password_hash):
                    user.password_hash = hash_password(password)
                token = open_session(
                    session, user, now, ip_address=ip_address, user_agent=user_agent, session_hours=session_hours
                )
    except Throttled:
        audit.sign_in_failed(db, email, SignInFailure.THROTTLED, SignInMethod.LOCAL, **seen)
        raise
    # Raised after the block so that the failed attempt is committed, not rolled back.
    if failed:
        raise AuthenticationFailed(N_("Wrong e-mail or password."))
    return SignIn(user=user, session_token=token)


def record_attempt(session: Session, email: str, ip_address: str, now: datetime, *, succeeded: bool) -> None:
    """In the caller's transaction: one sign-in attempt, counted by the throttle; attempts too old are dropped."""
    session.add(LoginAttempt(email=email[:254], ip_address=ip_address[:64], attempted_at=now, succeeded=succeeded))
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < now - ATTEMPTS_KEPT))


def open_session(
    session: Session, user: User, now: datetime, *, ip_address: str, user_agent: str = "", session_hours: int = 72
) -> str:
    """In the caller's transaction: a server-side session for ``user``, who has just proved who they are; returns
    the token for the browser's cookie."""
    user.last_login_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            token_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=session_hours),
            ip_address=ip_address[:64],
            user_agent=(user_agent or "")[:255],
        )
    )
    return token


def is_local_account(session: Session, email: str) -> bool:
    """Whether ``email`` names an account that signs in with a kb password (the form tries it before the
    directory)."""
    user = find_user(session, email)
    return user is not None and not user.from_directory


def session_user(db: Database, session: Session, token: str, *, session_hours: int = 72) -> User | None:
    """The active user of a live session token, or None; extends the session while it is used."""
    if not token:
        return None
    now = utcnow()
    row = session.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    login, user = row
    if login.expires_at <= now or not user.active:
        return None
    if now - login.last_seen_at >= TOUCH_INTERVAL:
        with db.transaction() as write:
            write.execute(
                update(LoginSession)
                .where(LoginSession.id == login.id)
                .values(last_seen_at=now, expires_at=now + timedelta(hours=session_hours))
            )
    return user


def sign_out(db: Database, token: str) -> None:
    """Ends the session on the server, so that any copy of its cookie stops working."""
    if not token:
        return
    with db.transaction() as session:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))


def session_hash(token: str) -> str:
    return _digest(token)


# --- API tokens --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    """A freshly created API token; ``secret`` is shown once and never stored."""

    token: ApiToken
    secret: str


def create_token(db: Database, user_id: int, name: str) -> NewToken:
    label = (name or "").strip()
    if not label or len(label) > 80:
        raise ValidationError(N_("Give the token a name of 1 to 80 characters."), field="name")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.transaction() as session:
        user = get_user(session, user_id)
        if not user.active:
            raise Conflict(N_("%(email)s is deactivated."), email=user.email)
        token = ApiToken(user_id=user.id, name=label, token_hash=_digest(secret), prefix=secret[:10])
        session.add(token)
        session.flush()
        audit.record(
            session,
            Action.TOKEN_CREATED,
            subject=f"{user.email}: {label} ({token.prefix}…)",
            user_id=user.id,
            token_id=token.id,
        )
    return NewToken(token=token, secret=secret)


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.revoked_at.is_not(None), ApiToken.id)
        )
    )


def revoke_token(db: Database, user_id: int, token_id: int) -> None:
    with db.transaction() as session:
        token = session.get(ApiToken, token_id)
        if token is None or token.user_id != user_id:
            raise NotFound(N_("No such token."))
        if token.revoked_at is None:
            token.revoked_at = utcnow()
            owner = session.get(User, token.user_id)
            audit.record(
                session,
                Action.TOKEN_REVOKED,
                subject=f"{owner.email if owner else token.user_id}: {token.name} ({token.prefix}…)",
                user_id=token.user_id,
                token_id=token.id,
            )


def token_user(db: Database, session: Session, secret: str) -> User | None:
    """The active user a bearer token belongs to, or None if it is unknown, revoked or its user deactivated."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = session.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == _digest(secret))
    ).first()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or not user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
        with db.transaction() as write:
            write.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    return user
