"""The company directory (Active Directory or any LDAP server): finding a person, checking their password by binding
as them, and reading what kb needs of them (name, e-mail, department, groups, whether the account is disabled).

A service account (``KB_LDAP_BIND_DN``) only searches; a password is checked by a simple bind as the person, over
LDAPS or after StartTLS when so configured. Every value put into a filter is escaped (RFC 4515). A directory that
cannot be reached, or that refuses the service account, raises ``DirectoryUnavailable``: the people who depend on it
get a clear message, and local accounts keep working. No Flask here; ``kb.directory_accounts`` turns a directory
person into a kb account. ``ldap3`` is imported on first use (it costs a fifth of a second), so an install without
a directory never loads it.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kb.config import EVERYONE, DirectorySettings, normalize_dn
from kb.errors import N_, DirectoryUnavailable
from kb.roles import Role

if TYPE_CHECKING:
    from ldap3 import Connection, Server, ServerPool, Tls

log = logging.getLogger(__name__)

#: Active Directory's userAccountControl flag of a disabled account (ACCOUNTDISABLE).
AD_ACCOUNT_DISABLED = 0x2
#: The longest login looked up; a longer one is no one's.
LOGIN_MAX_LENGTH = 254
_NAME_ATTRIBUTES = ("displayName", "cn")
_EMAIL_ATTRIBUTES = ("mail", "userPrincipalName")
_DEPARTMENT_ATTRIBUTES = ("department", "departmentNumber", "ou")
_ACCOUNT_ATTRIBUTES = ("sAMAccountName", "uid")


UNAVAILABLE = N_(
    "The company directory cannot be reached right now, so company accounts cannot sign in. Try again in a few "
    "minutes; if it lasts, tell your IT department."
)


@dataclass(frozen=True)
class DirectoryPerson:
    """What kb reads of a person's directory entry."""

    dn: str
    #: The account name (sAMAccountName or uid), or "" when the entry has none.
    account: str
    email: str
    name: str
    department: str
    #: Normalized DNs of the groups the person belongs to (memberOf, and the group search when configured).
    groups: frozenset[str]
    disabled: bool


def _values(attributes: Any, name: str) -> list[str]:
    value = attributes.get(name) if attributes else None
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in items]


def _first(attributes: Any, names: tuple[str, ...]) -> str:
    for name in names:
        for value in _values(attributes, name):
            if value.strip():
                return value.strip()
    return ""


def ad_disabled(attributes: Any) -> bool:
    """Whether Active Directory's userAccountControl marks the account disabled."""
    for value in _values(attributes, "userAccountControl"):
        try:
            return bool(int(value) & AD_ACCOUNT_DISABLED)
        except ValueError:
            return False
    return False


def role_of(settings: DirectorySettings, person: DirectoryPerson) -> Role | None:
    """The highest kb role the person's groups give (KB_LDAP_ROLE_GROUPS), or None when no group gives one."""
    roles = [Role(role) for role, group in settings.role_groups if group == EVERYONE or group in person.groups]
    return max(roles, key=lambda role: role.rank) if roles else None


def clean_login(login: str) -> str:
    """The login as typed, trimmed; "" when it cannot be anyone's (empty, too long, or with control characters)."""
    value = (login or "").strip()
    if not value or len(value) > LOGIN_MAX_LENGTH or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return ""
    return value


def _close(connection: Connection) -> None:
    """Closes the connection's socket, whatever state it is in."""
    from ldap3.core.exceptions import LDAPException

    try:
        connection.unbind()
    except LDAPException:
        pass
    socket = getattr(connection, "socket", None)
    if socket is not None:
        socket.close()


class DirectoryConnection:
    """An open connection as the service account; a ``Directory.connect()`` block gives one."""

    def __init__(self, directory: Directory, connection: Connection) -> None:
        self._directory = directory
        self._settings = directory.settings
        self._connection = connection

    def _search(self, base: str, search_filter: str, scope: str, attributes: list[str], size_limit: int = 0) -> list:
        ok = self._connection.search(
            base, search_filter, search_scope=scope, attributes=attributes, size_limit=size_limit
        )
        result = self._connection.result or {}
        # 0 success, 4 size limit exceeded (more than one match: reported to the caller), 32 no such object.
        if not ok and result.get("result") not in (0, 4, 32):
            log.warning("directory search under %s failed: %s", base, result.get("description"))
            raise DirectoryUnavailable(UNAVAILABLE)
        return [entry for entry in self._connection.response or [] if entry.get("type") == "searchResEntry"]

    def _attributes(self) -> list[str]:
        names = {*_NAME_ATTRIBUTES, *_EMAIL_ATTRIBUTES, *_DEPARTMENT_ATTRIBUTES, *_ACCOUNT_ATTRIBUTES}
        names |= {"memberOf", "userAccountControl", *self._settings.login_attributes}
        return sorted(names)

    def find(self, login: str) -> DirectoryPerson | None:
        """The one person whose login attributes match ``login`` (e-mail, account name, UPN), or None when nobody
        or more than one person does."""
        from ldap3 import SUBTREE
        from ldap3.utils.conv import escape_filter_chars

        value = clean_login(login)
        if not value:
            return None
        escaped = escape_filter_chars(value)
        alternatives = "".join(f"({name}={escaped})" for name in self._settings.login_attributes)
        search_filter = f"(&{self._settings.user_filter}(|{alternatives}))"
        entries = self._search(self._settings.base_dn, search_filter, SUBTREE, self._attributes(), size_limit=2)
        if len(entries) != 1:
            if entries:
                log.warning("directory login %r matches more than one person; nobody signed in", value)
            return None
        return self._person(entries[0])

    def lookup(self, dn: str, email: str) -> DirectoryPerson | None:
        """The person at ``dn`` if the user filter still matches them there, else the one with the e-mail
        ``email`` (moved to another OU); None when they are gone."""
        from ldap3 import BASE, SUBTREE
        from ldap3.utils.conv import escape_filter_chars

        if dn:
            entries = self._search(dn, self._settings.user_filter, BASE, self._attributes())
            if len(entries) == 1:
                return self._person(entries[0])
        if email:
            escaped = escape_filter_chars(email)
            search_filter = f"(&{self._settings.user_filter}(|(mail={escaped})(userPrincipalName={escaped})))"
            entries = self._search(self._settings.base_dn, search_filter, SUBTREE, self._attributes(), size_limit=2)
            if len(entries) == 1:
                return self._person(entries[0])
        return None

    def _person(self, entry: dict[str, Any]) -> DirectoryPerson:
        attributes = entry.get("attributes") or {}
        dn = entry["dn"]
        account = _first(attributes, _ACCOUNT_ATTRIBUTES)
        groups = {normalize_dn(group) for group in _values(attributes, "memberOf")}
        if self._settings.group_base_dn:
            groups |= self._groups_listing(dn, account)
        return DirectoryPerson(
            dn=dn,
            account=account,
            email=_first(attributes, _EMAIL_ATTRIBUTES).lower(),
            name=_first(attributes, _NAME_ATTRIBUTES) or account,
            department=_first(attributes, _DEPARTMENT_ATTRIBUTES)[:200],
            groups=frozenset(groups),
            disabled=ad_disabled(attributes) or self._matches_disabled_filter(dn),
        )

    def _groups_listing(self, dn: str, account: str) -> set[str]:
        """Groups under KB_LDAP_GROUP_BASE_DN that name the person as a member (groupOfNames, groupOfUniqueNames,
        posixGroup)."""
        from ldap3 import SUBTREE
        from ldap3.utils.conv import escape_filter_chars

        member = escape_filter_chars(dn)
        alternatives = f"(member={member})(uniqueMember={member})"
        if account:
            alternatives += f"(memberUid={escape_filter_chars(account)})"
        entries = self._search(self._settings.group_base_dn, f"(|{alternatives})", SUBTREE, ["cn"])
        return {normalize_dn(entry["dn"]) for entry in entries}

    def _matches_disabled_filter(self, dn: str) -> bool:
        from ldap3 import BASE

        if not self._settings.disabled_filter:
            return False
        return bool(self._search(dn, self._settings.disabled_filter, BASE, ["cn"]))


class Directory:
    """The company directory as kb's settings describe it."""

    def __init__(self, settings: DirectorySettings) -> None:
        self.settings = settings

    def _tls(self) -> Tls:
        from ldap3 import Tls

        return Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.settings.ca_file)

    def _server(self) -> Server | ServerPool:
        from ldap3 import FIRST, NONE, Server, ServerPool

        servers = []
        for url in self.settings.urls:
            parts = urlsplit(url)
            secure = parts.scheme.lower() == "ldaps"
            uses_tls = secure or self.settings.starttls
            servers.append(
                Server(
                    parts.hostname or "",
                    port=parts.port or (636 if secure else 389),
                    use_ssl=secure,
                    tls=self._tls() if uses_tls else None,
                    get_info=NONE,
                    connect_timeout=self.settings.timeout,
                )
            )
        if len(servers) == 1:
            return servers[0]
        # Each server in turn, once round; an unreachable one is skipped for this connection only.
        return ServerPool(servers, FIRST, active=1, exhaust=False)

    def _open(self, user: str | None, password: str | None) -> tuple[Connection, bool]:
        """A connection bound as ``user`` (anonymous when None), and whether the bind succeeded; raises
        ``LDAPException`` when the directory cannot be reached or TLS fails."""
        from ldap3 import SIMPLE, Connection

        connection = Connection(
            self._server(),
            user=user,
            password=password,
            authentication=SIMPLE if user else None,
            read_only=True,
            receive_timeout=self.settings.timeout,
            raise_exceptions=False,
            auto_referrals=False,
        )
        try:
            connection.open()
            if self.settings.starttls and not connection.start_tls():
                raise DirectoryUnavailable(UNAVAILABLE)
            return connection, bool(connection.bind())
        except BaseException:
            _close(connection)
            raise

    @contextmanager
    def connect(self) -> Iterator[DirectoryConnection]:
        """A connection as the service account (anonymous when none is set) for searches."""
        from ldap3.core.exceptions import LDAPException

        try:
            connection, bound = self._open(self.settings.bind_dn or None, self.settings.bind_password or None)
        except LDAPException as exc:
            log.warning("the directory at %s cannot be reached: %s", " ".join(self.settings.urls), exc)
            raise DirectoryUnavailable(UNAVAILABLE) from None
        try:
            if not bound:
                log.error("the directory refused kb's service account %r: %s", self.settings.bind_dn, connection.result)
                raise DirectoryUnavailable(UNAVAILABLE)
            try:
                yield DirectoryConnection(self, connection)
            except LDAPException as exc:
                log.warning("the directory stopped answering: %s", exc)
                raise DirectoryUnavailable(UNAVAILABLE) from None
        finally:
            _close(connection)

    def find(self, login: str) -> DirectoryPerson | None:
        with self.connect() as directory:
            return directory.find(login)

    def authenticate(self, login: str, password: str) -> DirectoryPerson | None:
        """The person ``login`` names when ``password`` is theirs (a bind as them succeeds), else None.

        An empty password is never tried: to an LDAP server a simple bind without one is an anonymous bind,
        which succeeds."""
        if not password or len(password) > 1024:
            return None
        person = self.find(login)
        if person is None:
            return None
        return person if self.password_matches(person, password) else None

    def password_matches(self, person: DirectoryPerson, password: str) -> bool:
        """Whether ``password`` is the person's: a bind as them succeeds (never tried with an empty password)."""
        from ldap3.core.exceptions import LDAPException

        if not password or len(password) > 1024:
            return False
        try:
            connection, bound = self._open(person.dn, password)
        except LDAPException as exc:
            log.warning("the directory at %s cannot be reached: %s", " ".join(self.settings.urls), exc)
            raise DirectoryUnavailable(UNAVAILABLE) from None
        _close(connection)
        return bool(bound)

    def role_of(self, person: DirectoryPerson) -> Role | None:
        return role_of(self.settings, person)

    def audiences_of(self, person: DirectoryPerson) -> set[str]:
        """The names of the kb audiences the person's groups put them in (KB_LDAP_AUDIENCE_GROUPS)."""
        held = set(person.groups)
        return {name for name, group in self.settings.audience_groups if group in held}
