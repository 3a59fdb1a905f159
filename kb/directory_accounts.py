"""kb accounts of people from the company directory: signing in with the directory password, signing in through the
reverse proxy's single sign-on header, and ``kb users sync``, which brings every directory account in line with the
directory (name, e-mail, department, role from groups) and deactivates, ending their sessions, those the directory
no longer lets in.

The account is made at the person's first sign-in, with no kb password. Its role follows the directory groups
(KB_LDAP_ROLE_GROUPS). An account the directory shut out (disabled, removed, in no kb group) comes back by itself
when the directory lets the person in again; one an administrator deactivated stays deactivated. Every sign-in,
and every account the directory creates, changes or shuts out, goes into the audit log (``kb.audit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kb import accounts, audiences, audit
from kb.audit import Action, SignInFailure, SignInMethod
from kb.db import Database
from kb.directory import Directory, DirectoryPerson, clean_login
from kb.errors import N_, AuthenticationFailed, Conflict, DirectoryUnavailable, Forbidden, Throttled
from kb.models import AuthSource, LoginSession, Role, User, utcnow

WRONG_LOGIN = N_("Wrong e-mail, user name or password.")
DISABLED = N_("Your company account is disabled. Ask your IT department.")
NO_GROUP = N_(
    "Your company account is not in any of the directory groups that give access to kb. Ask your IT department "
    "to add you to one."
)
NO_EMAIL = N_("Your company account has no e-mail address in the directory, and kb needs one. Ask your IT department.")
DEACTIVATED = N_("Your kb account is deactivated. Ask a kb administrator.")
LOCAL_EMAIL = N_(
    "A kb account with its own password already uses the e-mail %(email)s. Sign in with that e-mail and its kb "
    "password, or ask a kb administrator to switch it to company sign-in (kb users use-directory)."
)
EMAIL_TAKEN = N_(
    "Another kb account already uses the e-mail %(email)s that the directory gives you. Ask a kb administrator."
)
UNKNOWN_SSO_USER = N_("Single sign-on named %(user)s, who has no kb account. Ask a kb administrator.")


def _refusal(person: DirectoryPerson, role: Role | None) -> Forbidden | None:
    """Why the directory does not let ``person`` into kb, or None when it does."""
    if person.disabled:
        return Forbidden(DISABLED)
    if role is None:
        return Forbidden(NO_GROUP)
    if not person.email or "@" not in person.email or len(person.email) > 254:
        return Forbidden(NO_EMAIL)
    return None


def _account_of(session: Session, person: DirectoryPerson) -> User | None:
    """The kb account of a directory person: the one made for their entry, else the one with their e-mail."""
    user = session.scalar(
        select(User).where(User.auth_source == AuthSource.DIRECTORY, func.lower(User.directory_dn) == person.dn.lower())
    )
    return user if user is not None else accounts.find_user(session, person.email)


def _bring_in_line(session: Session, person: DirectoryPerson, role: Role, now: datetime) -> User:
    """In the caller's transaction: the person's kb account made or updated from the directory; raises ``Conflict``
    when their e-mail belongs to a local account or another directory account, ``Forbidden`` when an administrator
    deactivated their account."""
    user = _account_of(session, person)
    if user is None:
        user = User(
            email=person.email,
            display_name=person.name[:120] or person.email.split("@", 1)[0],
            role=role,
            password_hash=accounts.UNUSABLE_PASSWORD,
            auth_source=AuthSource.DIRECTORY,
            directory_dn=person.dn,
            department=person.department or None,
            active=True,
        )
        session.add(user)
        session.flush()
        audit.record(
            session,
            Action.USER_CREATED,
            subject=user.email,
            user_id=user.id,
            details={"role": role.value, "by": "directory"},
        )
        return user
    if not user.from_directory:
        raise Conflict(LOCAL_EMAIL, email=person.email)
    _update(session, user, person, role)
    if not user.active:
        if user.directory_disabled_at is None:
            raise Forbidden(DEACTIVATED)
        _reactivate(session, user)
    return user


def _reactivate(session: Session, user: User) -> None:
    """In the caller's transaction: the account the directory shut out is active again, as the directory says."""
    user.active = True
    user.directory_disabled_at = None
    audit.record(session, Action.USER_ACTIVATED, subject=user.email, user_id=user.id, details={"by": "directory"})


def _update(session: Session, user: User, person: DirectoryPerson, role: Role) -> list[str]:
    """Copies the directory's name, e-mail, department and role onto ``user``; what changed."""
    changes = []
    if person.email != user.email:
        other = accounts.find_user(session, person.email)
        if other is not None and other.id != user.id:
            raise Conflict(EMAIL_TAKEN, email=person.email)
        changes.append(f"e-mail {user.email} -> {person.email}")
        user.email = person.email
    name = person.name[:120] or user.display_name
    if name != user.display_name:
        changes.append(f"name {user.display_name!r} -> {name!r}")
        user.display_name = name
    department = person.department or None
    if department != user.department:
        changes.append(f"department {user.department or '-'} -> {department or '-'}")
        user.department = department
    if role != user.role:
        changes.append(f"role {user.role} -> {role}")
        audit.record(
            session,
            Action.ROLE_CHANGED,
            subject=user.email,
            user_id=user.id,
            details={"from": Role(user.role).value, "to": role.value, "by": "directory"},
        )
        user.role = role
    if user.directory_dn != person.dn:
        user.directory_dn = person.dn
    return changes


def sign_in(
    db: Database,
    directory: Directory,
    login: str,
    password: str,
    *,
    ip_address: str,
    user_agent: str = "",
    session_hours: int = 72,
    trusted_device: bool = False,
) -> accounts.SignIn:
    """Checks ``password`` against the directory and opens a kb session for the person ``login`` names (an e-mail
    or an account name), making or updating their kb account.

    Throttled like a local sign-in. Raises ``AuthenticationFailed`` for an unknown login or a wrong password (one
    message for both), ``Forbidden`` when the directory or an administrator shuts the person out, ``Conflict``
    when their e-mail is taken, and ``DirectoryUnavailable`` when the directory cannot be reached."""
    key = accounts.normalize_email(login)[:254]
    ip_address = (ip_address or "unknown")[:64]
    method = SignInMethod.DIRECTORY
    try:
        with db.transaction() as session:
            accounts.check_throttle(session, key, ip_address, utcnow(), trusted_device=trusted_device)
    except Throttled:
        audit.sign_in_failed(db, key, SignInFailure.THROTTLED, method, ip_address=ip_address, user_agent=user_agent)
        raise
    try:
        person = directory.find(clean_login(login)) if password else None
        why = SignInFailure.WRONG_PASSWORD if person is not None or not password else SignInFailure.UNKNOWN_ACCOUNT
        if person is not None and not directory.password_matches(person, password):
            person = None
    except DirectoryUnavailable:
        audit.sign_in_failed(
            db, key, SignInFailure.DIRECTORY_DOWN, method, ip_address=ip_address, user_agent=user_agent
        )
        raise
    return _open(db, directory, person, key, ip_address, user_agent, session_hours, WRONG_LOGIN, method, why)


def _open(
    db: Database,
    directory: Directory,
    person: DirectoryPerson | None,
    key: str,
    ip_address: str,
    user_agent: str,
    session_hours: int,
    unknown_message: str,
    method: SignInMethod,
    unknown_reason: SignInFailure,
    **params: str,
) -> accounts.SignIn:
    now = utcnow()
    error: Exception | None = None
    token = ""
    with db.transaction() as session:
        if person is None:
            error = AuthenticationFailed(unknown_message, **params)
        else:
            role = directory.role_of(person)
            error = _refusal(person, role)
            if error is None:
                assert role is not None
                try:
                    with session.begin_nested():
                        user = _bring_in_line(session, person, role, now)
                        audiences.sync_directory_membership(session, user.id, directory.audiences_of(person))
                        token = accounts.open_session(
                            session,
                            user,
                            now,
                            ip_address=ip_address,
                            user_agent=user_agent,
                            session_hours=session_hours,
                        )
                except (Conflict, Forbidden) as exc:
                    error = exc
        accounts.record_attempt(session, key, ip_address, now, succeeded=error is None)
        audit.record_sign_in(
            session,
            key,
            user if error is None else None,
            method,
            None if error is None else _failure(error, unknown_reason),
            ip_address=ip_address,
            user_agent=user_agent,
            message=str(error) if isinstance(error, Conflict | Forbidden) else None,
        )
    # Raised after the block so that the failed attempt is committed, not rolled back.
    if error is not None:
        raise error
    return accounts.SignIn(user=user, session_token=token)


def _failure(error: Exception, unknown_reason: SignInFailure) -> SignInFailure:
    """The audit log's reason for a refused directory sign-in."""
    if isinstance(error, Conflict):
        return SignInFailure.ACCOUNT_CONFLICT
    if isinstance(error, Forbidden):
        return SignInFailure.DEACTIVATED if error.message == DEACTIVATED else SignInFailure.DIRECTORY_REFUSED
    return unknown_reason


def sso_principal(value: str) -> str:
    """The person a single sign-on header names, without a Windows domain (``CORP\\ivanov`` → ``ivanov``)."""
    principal = clean_login(value)
    if "\\" in principal:
        principal = principal.rsplit("\\", 1)[1]
    return principal


def sso_sign_in(
    db: Database,
    directory: Directory | None,
    header_value: str,
    *,
    ip_address: str,
    user_agent: str = "",
    session_hours: int = 72,
) -> accounts.SignIn:
    """Opens a session for the person the reverse proxy vouches for in its single sign-on header.

    With a directory, the person is looked up there by the header's value (an e-mail, a user principal name or
    an account name; a Kerberos principal ``ivanov@CORP.EXAMPLE`` is also tried as ``ivanov``) and their account
    made or updated as at a password sign-in. Without one, the value must be the e-mail of an active kb account.
    """
    principal = sso_principal(header_value)
    key = accounts.normalize_email(principal)[:254]
    ip_address = (ip_address or "unknown")[:64]
    if directory is None:
        now = utcnow()
        with db.transaction() as session:
            user = accounts.find_user(session, principal) if principal else None
            ok = user is not None and user.active
            token = (
                accounts.open_session(
                    session, user, now, ip_address=ip_address, user_agent=user_agent, session_hours=session_hours
                )
                if ok and user is not None
                else ""
            )
            accounts.record_attempt(session, key, ip_address, now, succeeded=ok)
            audit.record_sign_in(
                session,
                key,
                user if ok else None,
                SignInMethod.SSO,
                None if ok else SignInFailure.UNKNOWN_ACCOUNT if user is None else SignInFailure.DEACTIVATED,
                ip_address=ip_address,
                user_agent=user_agent,
            )
        if not ok or user is None:
            raise AuthenticationFailed(UNKNOWN_SSO_USER, user=principal)
        return accounts.SignIn(user=user, session_token=token)
    person = None
    if principal:
        try:
            with directory.connect() as connection:
                person = connection.find(principal)
                if person is None and "@" in principal:
                    person = connection.find(principal.split("@", 1)[0])
        except DirectoryUnavailable:
            audit.sign_in_failed(
                db, key, SignInFailure.DIRECTORY_DOWN, SignInMethod.SSO, ip_address=ip_address, user_agent=user_agent
            )
            raise
    return _open(
        db,
        directory,
        person,
        key,
        ip_address,
        user_agent,
        session_hours,
        UNKNOWN_SSO_USER,
        SignInMethod.SSO,
        SignInFailure.UNKNOWN_ACCOUNT,
        user=principal,
    )


# --- kb users sync ---------------------------------------------------------------------------------------------


@dataclass
class SyncReport:
    """What ``sync`` found and did, one line per account it changed."""

    checked: int = 0
    updated: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    reactivated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sessions_ended: int = 0


def sync(db: Database, directory: Directory) -> SyncReport:
    """Brings every directory account in line with the directory: name, e-mail, department and role updated;
    people disabled, removed or in no kb group deactivated and signed out everywhere; people the directory lets
    in again reactivated (unless an administrator deactivated them).

    Reads the whole directory first and changes kb in one transaction after, so a directory that stops answering
    halfway (``DirectoryUnavailable``) changes nothing."""
    report = SyncReport()
    with db.session() as session:
        known = [
            (user.id, user.directory_dn or "", user.email)
            for user in session.scalars(select(User).where(User.auth_source == AuthSource.DIRECTORY).order_by(User.id))
        ]
    with directory.connect() as connection:
        found = {user_id: connection.lookup(dn, email) for user_id, dn, email in known}
    now = utcnow()
    with db.transaction() as session:
        for user_id, _dn, _email in known:
            user = session.get(User, user_id)
            if user is None:  # deleted meanwhile
                continue
            report.checked += 1
            person = found[user_id]
            role = directory.role_of(person) if person is not None else None
            if person is None:
                why = "removed from the directory"
            else:
                refusal = _refusal(person, role)
                why = (
                    ""
                    if refusal is None
                    else (
                        "disabled"
                        if person.disabled
                        else "in no kb group"
                        if role is None
                        else "no e-mail in the directory"
                    )
                )
            if why:
                if user.active:
                    user.active = False
                    user.directory_disabled_at = now
                    ended = session.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount
                    report.sessions_ended += ended or 0
                    report.deactivated.append(f"{user.email}: {why}")
                    audit.record(
                        session,
                        Action.USER_DEACTIVATED,
                        subject=user.email,
                        user_id=user.id,
                        details={"by": "directory", "reason": why},
                    )
                continue
            assert person is not None and role is not None
            try:
                with session.begin_nested():
                    changes = _update(session, user, person, role)
                    changes += audiences.sync_directory_membership(session, user.id, directory.audiences_of(person))
            except Conflict as exc:
                report.problems.append(f"{user.email}: {exc}")
                continue
            if changes:
                report.updated.append(f"{user.email}: {', '.join(changes)}")
            if not user.active and user.directory_disabled_at is not None:
                _reactivate(session, user)
                report.reactivated.append(user.email)
    return report
