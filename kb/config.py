"""Settings: read from the environment once at start-up, validated, with embedded defaults.

Every setting is a ``KB_*`` environment variable (documented in the README); a mapping passed to
``load_settings`` overrides the environment, which is how tests configure an app. A bad value raises
``ConfigError`` whose message is one line naming the setting.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Every setting kb reads, with what it means; the README documents each one (a test keeps them in step).
SETTINGS: dict[str, str] = {
    "KB_INSTANCE_DIR": "directory for runtime state (database, index, files, secret key)",
    "KB_DATABASE_URL": "SQLAlchemy database URL",
    "KB_INDEX_DIR": "directory of the Whoosh search index",
    "KB_SEARCH_BACKEND": (
        "search backend: whoosh (the embedded default), postgres (the index in the PostgreSQL database, shared by "
        "every app server) or memory (tests: one process, nothing kept)"
    ),
    "KB_USAGE_BATCH_SECONDS": "seconds a server process gathers search events before writing them at once (0: each)",
    "KB_SEARCH_CACHE_MB": "megabytes of decoded postings and pages each server or worker process keeps in memory",
    "KB_ANALYSIS_CACHE_MB": "megabytes of words' stems and terms each server or worker process keeps in memory",
    "KB_BLOB_DIR": "directory of the content-addressed file store",
    "KB_PREVIEW_DIR": "directory of the page images made from stored files (derived: kb previews rebuild remakes them)",
    "KB_PREVIEWS": "make page and slide images of every new version in the worker (1 or 0)",
    "KB_OCR": "read the text of scanned pages and images with Tesseract, Russian and English (1 or 0)",
    "KB_SECRET_KEY": "key that signs session cookies and CSRF tokens",
    "KB_MAX_UPLOAD_MB": "largest accepted upload, in megabytes",
    "KB_SESSION_HOURS": "how long a sign-in lasts without activity, in hours",
    "KB_SECURE_COOKIES": "send cookies only over HTTPS (set to 1 when kb is served over HTTPS)",
    "KB_TRUSTED_PROXIES": "number of reverse proxies in front of kb whose X-Forwarded-* headers to trust",
    "KB_BASE_URL": "address people open kb at, for links in e-mails",
    "KB_SMTP_HOST": "mail server for notifications and password reset links (unset: no e-mail, no reset links)",
    "KB_SMTP_PORT": "mail server port",
    "KB_SMTP_USER": "mail server user name, when it needs one",
    "KB_SMTP_PASSWORD": "mail server password",
    "KB_SMTP_STARTTLS": "upgrade the mail connection with STARTTLS (1 or 0)",
    "KB_MAIL_FROM": "sender address of e-mails (notifications, password reset links)",
    "KB_PASSWORD_RESET_HOURS": "how long a password reset link sent by e-mail works, in hours",
    "KB_TIMEZONE": "time zone the pages show times in (an IANA name, e.g. Europe/Moscow)",
    "KB_AUDIT_DAYS": "days the audit log keeps an event before kb audit prune deletes it",
    "KB_EXTRACTION_FORKSERVER": "fork each extraction child from a server with the parsers loaded (1) or start a "
    "new Python process per file (0)",
    "KB_LDAP_URL": "company directory (Active Directory or LDAP) to sign people in with: ldaps://host or ldap://host "
    "(several, separated by spaces, are tried in turn; unset: local accounts only)",
    "KB_LDAP_STARTTLS": "upgrade an ldap:// connection with StartTLS before sending any password (1 or 0)",
    "KB_LDAP_CA_FILE": "CA certificate file (PEM) that the directory's TLS certificate must chain to (default: the "
    "system's)",
    "KB_LDAP_BIND_DN": "service account that searches the directory for people (unset: anonymous search)",
    "KB_LDAP_BIND_PASSWORD": "the service account's password",
    "KB_LDAP_BASE_DN": "where people are searched for, e.g. OU=Staff,DC=corp,DC=example",
    "KB_LDAP_USER_FILTER": "LDAP filter every person must match, e.g. (&(objectCategory=person)(objectClass=user))",
    "KB_LDAP_LOGIN_ATTRIBUTES": "attributes a login may match, separated by commas",
    "KB_LDAP_GROUP_BASE_DN": "where to search groups that list a person as member (unset: only the person's memberOf)",
    "KB_LDAP_ROLE_GROUPS": "directory groups that give kb roles: role=group DN, separated by semicolons; "
    "sales=* lets in everyone the user filter matches",
    "KB_LDAP_AUDIENCE_GROUPS": "directory groups whose members are in a kb audience: audience name=group DN, "
    "separated by semicolons (the audience is made when first named); refreshed at each directory sign-in and "
    "kb users sync",
    "KB_LDAP_DISABLED_FILTER": "LDAP filter that marks a disabled person besides Active Directory's "
    "userAccountControl, e.g. (pwdAccountLockedTime=*)",
    "KB_LDAP_TIMEOUT": "seconds to wait for the directory before saying it is unreachable",
    "KB_SSO_HEADER": "request header in which the reverse proxy names the signed-in person, e.g. X-Remote-User "
    "(unset: no single sign-on)",
    "KB_SSO_PROXIES": "addresses or networks of the reverse proxies whose single sign-on header is trusted, separated "
    "by commas",
}


#: Attributes a login is looked up by when KB_LDAP_LOGIN_ATTRIBUTES is unset: Active Directory's, then LDAP's.
DEFAULT_LOGIN_ATTRIBUTES = ("sAMAccountName", "userPrincipalName", "uid", "mail")
#: The group that stands for "everyone the user filter matches" in KB_LDAP_ROLE_GROUPS.
EVERYONE = "*"


class ConfigError(Exception):
    """A setting has a value kb cannot run with; the message is one line that names it."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str
    password: str
    starttls: bool
    sender: str


@dataclass(frozen=True)
class DirectorySettings:
    """How to reach the company directory and what its groups mean in kb (``KB_LDAP_*``)."""

    urls: tuple[str, ...]
    base_dn: str
    #: (role, group DN) pairs, group DNs normalized (see ``normalize_dn``); EVERYONE for any person.
    role_groups: tuple[tuple[str, str], ...]
    #: (audience name, group DN) pairs, group DNs normalized: the group's members are in the audience.
    audience_groups: tuple[tuple[str, str], ...] = ()
    starttls: bool = False
    ca_file: str | None = None
    bind_dn: str = ""
    bind_password: str = ""
    user_filter: str = "(objectClass=person)"
    login_attributes: tuple[str, ...] = DEFAULT_LOGIN_ATTRIBUTES
    group_base_dn: str = ""
    disabled_filter: str = ""
    timeout: int = 5


@dataclass(frozen=True)
class SsoSettings:
    """Single sign-on through the reverse proxy (``KB_SSO_*``): the header, and who may set it."""

    header: str
    proxies: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    instance_dir: Path
    database_url: str
    index_dir: Path
    blob_dir: Path
    secret_key: str
    max_upload_mb: int
    session_hours: int
    secure_cookies: bool
    trusted_proxies: int
    base_url: str = "http://127.0.0.1:5000"
    #: None when e-mail is off (the default).
    smtp: SmtpSettings | None = None
    testing: bool = False
    search_backend: str = "whoosh"
    search_cache_mb: int = 64
    analysis_cache_mb: int = 128
    usage_batch_seconds: int = 2
    timezone: str = "Europe/Moscow"
    password_reset_hours: int = 1
    #: Days the audit log keeps its events (``kb audit prune``).
    audit_days: int = 365
    #: Extraction children are forked by a fork server (True) or spawned as new Python processes (False).
    extraction_fork_server: bool = True
    #: Where page images go (``KB_PREVIEW_DIR``); None: ``<instance>/previews``.
    preview_dir: Path | None = None
    #: New versions get page images (``KB_PREVIEWS``) and scans are read by Tesseract (``KB_OCR``).
    previews: bool = True
    ocr: bool = True
    #: None when people sign in with kb's own passwords only (the default).
    directory: DirectorySettings | None = None
    #: None when single sign-on is off (the default).
    sso: SsoSettings | None = None

    @property
    def max_upload_bytes(self) -> int:
        """The largest accepted upload (``KB_MAX_UPLOAD_MB``) in bytes."""
        return self.max_upload_mb * 1024 * 1024


def _timezone(name: str, raw: Any) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = str(raw).strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be a time zone name such as Europe/Moscow or UTC, got {value!r}") from None
    return value


def _int_between(name: str, raw: Any, minimum: int, maximum: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _positive_int(name: str, raw: Any, *, maximum: int) -> int:
    return _int_between(name, raw, 1, maximum)


def _non_negative_int(name: str, raw: Any) -> int:
    return _int_between(name, raw, 0, 10)


def _flag(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be 1 or 0 (true or false), got {raw!r}")


def _directory(name: str, raw: Any) -> Path:
    text = str(raw).strip()
    if not text or "\x00" in text:
        raise ConfigError(f"{name} must be a directory path, got {raw!r}")
    path = Path(text).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{name} cannot be created at {path}: {exc.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{name} is not writable: {path}")
    return path


def _database_url(name: str, raw: Any) -> str:
    text = str(raw).strip()
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError(f"{name} is not a database URL: {text!r}") from None
    if url.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ConfigError(f"{name} must be a sqlite:// or postgresql:// URL, got {url.get_backend_name()!r}")
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return text


def _secret_key(instance_dir: Path) -> str:
    """The key kept in the instance directory, created once; safe when several processes start together."""
    path = instance_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise ConfigError(f"KB_SECRET_KEY is unset and {path} is too short; delete it to make a new one") from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default: the process environment), with ``overrides`` on top."""
    source: dict[str, Any] = dict(os.environ if environ is None else environ)
    source.update(overrides or {})
    unknown = sorted(k for k in (overrides or {}) if k.startswith("KB_") and k not in SETTINGS)
    if unknown:
        raise ConfigError(f"{unknown[0]} is not a kb setting")

    def get(name: str, default: Any) -> Any:
        value = source.get(name)
        return default if value is None or (isinstance(value, str) and not value.strip()) else value

    instance_dir = _directory("KB_INSTANCE_DIR", get("KB_INSTANCE_DIR", PROJECT_ROOT / "instance"))
    database_url = _database_url("KB_DATABASE_URL", get("KB_DATABASE_URL", f"sqlite:///{instance_dir / 'kb.sqlite3'}"))
    index_dir = _directory("KB_INDEX_DIR", get("KB_INDEX_DIR", instance_dir / "index"))
    blob_dir = _directory("KB_BLOB_DIR", get("KB_BLOB_DIR", instance_dir / "blobs"))
    secret = source.get("KB_SECRET_KEY")
    if secret is not None and str(secret).strip():
        secret_key = str(secret).strip()
        if len(secret_key) < 32:
            raise ConfigError("KB_SECRET_KEY must be at least 32 characters long")
    else:
        secret_key = _secret_key(instance_dir)
    return Settings(
        instance_dir=instance_dir,
        database_url=database_url,
        index_dir=index_dir,
        blob_dir=blob_dir,
        secret_key=secret_key,
        max_upload_mb=_positive_int("KB_MAX_UPLOAD_MB", get("KB_MAX_UPLOAD_MB", 100), maximum=10_000),
        session_hours=_positive_int("KB_SESSION_HOURS", get("KB_SESSION_HOURS", 72), maximum=24 * 365),
        secure_cookies=_flag("KB_SECURE_COOKIES", get("KB_SECURE_COOKIES", False)),
        trusted_proxies=_non_negative_int("KB_TRUSTED_PROXIES", get("KB_TRUSTED_PROXIES", 0)),
        base_url=_base_url("KB_BASE_URL", get("KB_BASE_URL", "http://127.0.0.1:5000")),
        smtp=_smtp(get),
        testing=bool(source.get("TESTING", False)),
        search_backend=_search_backend(get("KB_SEARCH_BACKEND", "whoosh"), database_url),
        usage_batch_seconds=_int_between("KB_USAGE_BATCH_SECONDS", get("KB_USAGE_BATCH_SECONDS", 2), 0, 3600),
        analysis_cache_mb=_int_between("KB_ANALYSIS_CACHE_MB", get("KB_ANALYSIS_CACHE_MB", 128), 1, 65_536),
        search_cache_mb=_int_between("KB_SEARCH_CACHE_MB", get("KB_SEARCH_CACHE_MB", 64), 0, 65_536),
        timezone=_timezone("KB_TIMEZONE", get("KB_TIMEZONE", "Europe/Moscow")),
        password_reset_hours=_positive_int("KB_PASSWORD_RESET_HOURS", get("KB_PASSWORD_RESET_HOURS", 1), maximum=72),
        audit_days=_positive_int("KB_AUDIT_DAYS", get("KB_AUDIT_DAYS", 365), maximum=36_500),
        extraction_fork_server=_flag("KB_EXTRACTION_FORKSERVER", get("KB_EXTRACTION_FORKSERVER", True)),
        preview_dir=_directory("KB_PREVIEW_DIR", get("KB_PREVIEW_DIR", instance_dir / "previews")),
        previews=_flag("KB_PREVIEWS", get("KB_PREVIEWS", True)),
        ocr=_flag("KB_OCR", get("KB_OCR", True)),
        directory=_directory_settings(get),
        sso=_sso(get),
    )


def _search_backend(raw: Any, database_url: str) -> str:
    backend = _choice("KB_SEARCH_BACKEND", raw, ("whoosh", "memory", "postgres"))
    if backend == "postgres" and make_url(database_url).get_backend_name() != "postgresql":
        raise ConfigError(
            "KB_SEARCH_BACKEND=postgres keeps the search index in the database: KB_DATABASE_URL must be a "
            "postgresql:// URL"
        )
    return backend


def _choice(name: str, raw: Any, allowed: tuple[str, ...]) -> str:
    value = str(raw).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return value


def _base_url(name: str, raw: Any) -> str:
    value = str(raw).strip().rstrip("/")
    if not value.startswith(("http://", "https://")) or " " in value:
        raise ConfigError(f"{name} must be an http:// or https:// address, got {raw!r}")
    return value


def _smtp(get: Any) -> SmtpSettings | None:
    host = get("KB_SMTP_HOST", None)
    if host is None:
        return None
    sender = str(get("KB_MAIL_FROM", "kb@localhost")).strip()
    if "@" not in sender:
        raise ConfigError(f"KB_MAIL_FROM must be an e-mail address, got {sender!r}")
    return SmtpSettings(
        host=str(host).strip(),
        port=_int_between("KB_SMTP_PORT", get("KB_SMTP_PORT", 25), 1, 65535),
        user=str(get("KB_SMTP_USER", "")),
        password=str(get("KB_SMTP_PASSWORD", "")),
        starttls=_flag("KB_SMTP_STARTTLS", get("KB_SMTP_STARTTLS", False)),
        sender=sender,
    )


def normalize_dn(dn: str) -> str:
    """A DN in the form kb compares them in: lower case, no spaces around the separators."""
    import re

    parts = [part.strip() for part in re.split(r"(?<!\\),", dn.strip())]  # "CN=Ivanov\\, Ivan" is one part
    return ",".join("=".join(side.strip() for side in part.split("=", 1)) for part in parts).lower()


def _ldap_filter(name: str, raw: Any) -> str:
    value = str(raw).strip()
    if not (value.startswith("(") and value.endswith(")")) or value.count("(") != value.count(")"):
        raise ConfigError(f"{name} must be an LDAP filter in parentheses, e.g. (objectClass=person), got {raw!r}")
    return value


def _role_groups(raw: Any) -> tuple[tuple[str, str], ...]:
    from kb.roles import Role

    pairs = []
    for item in str(raw).split(";"):
        if not item.strip():
            continue
        role, sep, group = item.partition("=")
        role, group = role.strip().lower(), group.strip()
        if not sep or role not in {r.value for r in Role} or not group:
            raise ConfigError(
                "KB_LDAP_ROLE_GROUPS must be role=group DN pairs separated by semicolons (roles: sales, marketing, "
                f"admin), e.g. admin=CN=kb-admins,OU=Groups,DC=corp,DC=example; got {item.strip()!r}"
            )
        if group != EVERYONE and "=" not in group:
            raise ConfigError(f"KB_LDAP_ROLE_GROUPS: {group!r} is not a group DN (nor * for everyone)")
        pairs.append((role, group if group == EVERYONE else normalize_dn(group)))
    if not pairs:
        raise ConfigError("KB_LDAP_ROLE_GROUPS must name at least one group when KB_LDAP_URL is set")
    return tuple(pairs)


def _audience_groups(raw: Any) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in str(raw).split(";"):
        if not item.strip():
            continue
        name, sep, group = item.partition("=")
        name, group = " ".join(name.split()), group.strip()
        if not sep or not name or "=" not in group or len(name) > 120:
            raise ConfigError(
                "KB_LDAP_AUDIENCE_GROUPS must be audience name=group DN pairs separated by semicolons, e.g. "
                f"Дилерский отдел=CN=kb-dealers,OU=Groups,DC=corp,DC=example; got {item.strip()!r}"
            )
        pairs.append((name, normalize_dn(group)))
    return tuple(pairs)


def _directory_settings(get: Any) -> DirectorySettings | None:
    raw = get("KB_LDAP_URL", None)
    if raw is None:
        return None
    urls = tuple(str(raw).split())
    for url in urls:
        if not url.lower().startswith(("ldap://", "ldaps://")) or len(url) < 9:
            raise ConfigError(f"KB_LDAP_URL must be ldaps://host[:port] or ldap://host[:port], got {url!r}")
    starttls = _flag("KB_LDAP_STARTTLS", get("KB_LDAP_STARTTLS", False))
    if starttls and any(url.lower().startswith("ldaps://") for url in urls):
        raise ConfigError("KB_LDAP_STARTTLS is for ldap:// addresses; an ldaps:// connection is encrypted already")
    base_dn = str(get("KB_LDAP_BASE_DN", "")).strip()
    if "=" not in base_dn:
        raise ConfigError(f"KB_LDAP_BASE_DN must be a DN such as OU=Staff,DC=corp,DC=example, got {base_dn!r}")
    ca_file = get("KB_LDAP_CA_FILE", None)
    if ca_file is not None:
        ca_file = str(Path(str(ca_file).strip()).expanduser())
        if not os.path.isfile(ca_file):
            raise ConfigError(f"KB_LDAP_CA_FILE is not a file: {ca_file}")
    bind_dn = str(get("KB_LDAP_BIND_DN", "")).strip()
    bind_password = str(get("KB_LDAP_BIND_PASSWORD", ""))
    if bind_dn and not bind_password:
        raise ConfigError("KB_LDAP_BIND_PASSWORD must be set with KB_LDAP_BIND_DN")
    attributes = tuple(a.strip() for a in str(get("KB_LDAP_LOGIN_ATTRIBUTES", "")).split(",") if a.strip())
    for attribute in attributes:
        if not attribute.replace("-", "").isalnum():
            raise ConfigError(f"KB_LDAP_LOGIN_ATTRIBUTES must be attribute names separated by commas: {attribute!r}")
    disabled = get("KB_LDAP_DISABLED_FILTER", None)
    return DirectorySettings(
        urls=urls,
        base_dn=base_dn,
        role_groups=_role_groups(get("KB_LDAP_ROLE_GROUPS", "")),
        audience_groups=_audience_groups(get("KB_LDAP_AUDIENCE_GROUPS", "")),
        starttls=starttls,
        ca_file=ca_file,
        bind_dn=bind_dn,
        bind_password=bind_password,
        user_filter=_ldap_filter("KB_LDAP_USER_FILTER", get("KB_LDAP_USER_FILTER", "(objectClass=person)")),
        login_attributes=attributes or DEFAULT_LOGIN_ATTRIBUTES,
        group_base_dn=str(get("KB_LDAP_GROUP_BASE_DN", "")).strip(),
        disabled_filter=_ldap_filter("KB_LDAP_DISABLED_FILTER", disabled) if disabled is not None else "",
        timeout=_positive_int("KB_LDAP_TIMEOUT", get("KB_LDAP_TIMEOUT", 5), maximum=120),
    )


def _sso(get: Any) -> SsoSettings | None:
    import ipaddress
    import re

    header = get("KB_SSO_HEADER", None)
    if header is None:
        return None
    header = str(header).strip()
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", header):
        raise ConfigError(f"KB_SSO_HEADER must be a header name of letters, digits and dashes, got {header!r}")
    proxies = []
    for item in str(get("KB_SSO_PROXIES", "")).replace(",", " ").split():
        try:
            proxies.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(f"KB_SSO_PROXIES must be IP addresses or networks, got {item!r}") from None
    if not proxies:
        raise ConfigError("KB_SSO_PROXIES must name the reverse proxy's address when KB_SSO_HEADER is set")
    return SsoSettings(header=header, proxies=tuple(proxies))
