"""Shared fixtures: an app on a fresh, migrated SQLite database per test, users of each role, sign-in helpers, and a
real local SMTP server for the e-mail tests."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from kb import accounts, create_app, migrate
from kb.db import Database
from kb.models import User

PASSWORD = "correct horse battery"
SECRET_KEY = "test-secret-key-" + "x" * 32
_CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


#: Argon2 with the least work: hashing at the real cost takes a tenth of a second or more per password, and
#: most tests sign people in; tests marked ``password_hashing`` keep the real cost.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _unless_marked(request: pytest.FixtureRequest, marker: str, switch: Callable[[Any], Any], value: object):
    """Sets a process-wide switch for one test (``switch`` returns the previous value), unless it is marked."""
    if request.node.get_closest_marker(marker):
        yield
        return
    previous = switch(value)
    yield
    switch(previous)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(request: pytest.FixtureRequest) -> Iterator[None]:
    yield from _unless_marked(request, "password_hashing", accounts.set_password_hasher, CHEAP_HASHER)


@pytest.fixture(autouse=True)
def _extraction_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Extraction runs in this process (a sandbox child costs a tenth of a second or more per file): the tests'
    files are their own. Tests marked ``extraction_isolation`` (the sandbox's own, hostile files) keep it."""
    from kb.extraction import run

    yield from _unless_marked(request, "extraction_isolation", run.set_isolation, False)


# Page images and OCR start LibreOffice and Tesseract (seconds a file): off for everything the tests start, the
# servers, workers and module fixtures too (a function fixture comes too late for those: the real-document corpus
# was converted and read by OCR twice, 6 minutes of the suite); tests marked ``previews`` turn them on.
os.environ["KB_PREVIEWS"] = "0"
os.environ["KB_OCR"] = "0"


@pytest.fixture(autouse=True)
def _previews_when_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Page images and OCR on for the tests marked ``previews`` (off for the rest: see above)."""
    if request.node.get_closest_marker("previews"):
        monkeypatch.setenv("KB_PREVIEWS", "1")
        monkeypatch.setenv("KB_OCR", "1")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file with every migration applied, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "kb.sqlite3"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


def app_config(instance: Path, **extra: object) -> dict[str, object]:
    return {
        "KB_INSTANCE_DIR": str(instance),
        "KB_DATABASE_URL": f"sqlite:///{instance / 'kb.sqlite3'}",
        "KB_SECRET_KEY": SECRET_KEY,
        "TESTING": True,
        **extra,
    }


@pytest.fixture
def instance_dir(tmp_path: Path, migrated_template: Path) -> Path:
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(migrated_template, instance / "kb.sqlite3")
    return instance


@pytest.fixture
def app(instance_dir: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app on a fresh instance; parametrized indirectly, a mapping of extra settings (``KB_SEARCH_BACKEND``).
    ``KB_SEARCH_BACKEND=postgres`` without a ``KB_DATABASE_URL`` runs on a new, migrated PostgreSQL database."""
    extra = dict(getattr(request, "param", {}))
    with ExitStack() as stack:
        if extra.get("KB_SEARCH_BACKEND") == "postgres" and "KB_DATABASE_URL" not in extra:
            from postgres_helpers import migrated_database

            extra["KB_DATABASE_URL"] = stack.enter_context(migrated_database())
        application = create_app(app_config(instance_dir, **extra))
        yield application
        application.extensions["kb_search_log"].close()
        application.extensions["kb_db"].dispose()


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802  (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on a free local port: its inbox and the port."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def mail_app(instance_dir: Path, smtp: tuple[Inbox, int]) -> Iterator[Flask]:
    """The app with e-mail on, sending to the ``smtp`` fixture's server."""
    _inbox, port = smtp
    application = create_app(
        app_config(instance_dir, KB_SMTP_HOST="127.0.0.1", KB_SMTP_PORT=str(port), KB_MAIL_FROM="kb@example.com")
    )
    try:
        yield application
    finally:
        application.extensions["kb_db"].dispose()


@pytest.fixture
def mail_client(mail_app: Flask) -> FlaskClient:
    return mail_app.test_client()


@pytest.fixture
def db(app: Flask) -> Database:
    return app.extensions["kb_db"]


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_user(db: Database) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(role: str = "sales", email: str | None = None, password: str = PASSWORD, **kwargs: object) -> User:
        return accounts.create_user(db, email or f"{role}{next(counter)}@example.com", password, role, **kwargs)

    return make


def csrf_from(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


class Auth:
    """Signs a test client in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def login(self, email: str, password: str = PASSWORD, next_url: str | None = None):
        token = self.csrf()
        url = "/login" + (f"?next={next_url}" if next_url else "")
        return self.client.post(url, data={"csrf_token": token, "email": email, "password": password})

    def logout(self):
        token = self.csrf("/profile")
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def signed_in(make_user: Callable[..., User], client: FlaskClient, auth: Auth) -> Callable[[str], User]:
    """Creates a user of the given role and signs the test client in as them."""

    def sign_in(role: str = "sales") -> User:
        user = make_user(role)
        response = auth.login(user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return sign_in


#: Fixtures that drive the web application through Flask's test client: a test using one is marked ``web``.
_WEB_FIXTURES = {"client", "auth", "signed_in", "mail_client"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _WEB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.web)
