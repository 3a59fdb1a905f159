"""The ``kb`` command line: database, users, tokens, demo accounts and the server, with one-line errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import SECRET_KEY
from kb.cli import DEMO_PASSWORD_DEFAULT, DEMO_USERS, main

KB = str(Path(sys.executable).parent / "kb")


@pytest.fixture
def cli_env(instance_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("KB_") and name not in ("KB_PREVIEWS", "KB_OCR"):  # conftest turns these off
            monkeypatch.delenv(name)
    env = {"KB_INSTANCE_DIR": str(instance_dir), "KB_SECRET_KEY": SECRET_KEY}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):  # noqa: A002
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def test_db_upgrade_on_an_empty_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    result = run("db", "upgrade")
    assert result.exit_code == 0 and "database at revision" in result.output
    assert "up to date" in run("db", "current").output


def test_users_create_list_set_role_deactivate(cli_env) -> None:
    created = run(
        "users",
        "create",
        "Lead@Example.com",
        "--role",
        "marketing",
        "--name",
        "Лид",
        env={"KB_PASSWORD": "long enough pw"},
    )
    assert created.exit_code == 0, created.output
    assert "created lead@example.com (marketing)" in created.output
    listing = run("users", "list").output
    assert "lead@example.com\tmarketing\tactive\tЛид" in listing
    assert run("users", "set-role", "lead@example.com", "admin").exit_code == 0
    assert "lead@example.com\tadmin" in run("users", "list").output
    assert (
        run("users", "create", "second@example.com", "--role", "admin", env={"KB_PASSWORD": "long enough pw"}).exit_code
        == 0
    )
    assert run("users", "deactivate", "lead@example.com").exit_code == 0
    assert "lead@example.com\tadmin\tdeactivated" in run("users", "list").output
    assert run("users", "activate", "lead@example.com").exit_code == 0


def test_users_create_prompts_twice_without_kb_password(cli_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KB_PASSWORD", raising=False)
    result = CliRunner().invoke(
        main, ["users", "create", "p@example.com", "--role", "sales"], input="long enough pw\nlong enough pw\n"
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") >= 1 and "Repeat for confirmation" in result.output


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["users", "create", "x@example.com", "--role", "sales"], {"KB_PASSWORD": "short"}, "at least 10 characters"),
        (["users", "create", "not-an-email", "--role", "sales"], {"KB_PASSWORD": "long enough pw"}, "valid e-mail"),
        (
            ["users", "create", "x@example.com", "--role", "boss"],
            {"KB_PASSWORD": "long enough pw"},
            "Invalid value for '--role'",
        ),
        (["users", "deactivate", "ghost@example.com"], {}, "no user with the e-mail ghost@example.com"),
        (["users", "set-role", "ghost@example.com", "sales"], {}, "no user with the e-mail"),
        (["users", "token", "ghost@example.com"], {}, "no user with the e-mail"),
    ],
)
def test_bad_input_is_a_one_line_error(cli_env, args, env, message) -> None:
    result = run(*args, env=env)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_duplicate_user_is_refused(cli_env) -> None:
    env = {"KB_PASSWORD": "long enough pw"}
    assert run("users", "create", "dup@example.com", "--role", "sales", env=env).exit_code == 0
    again = run("users", "create", "DUP@example.com", "--role", "sales", env=env)
    assert again.exit_code == 1 and "already exists" in again.output


def test_token_is_printed_alone_on_the_last_line_and_works(cli_env, app) -> None:
    run("users", "create", "api@example.com", "--role", "sales", env={"KB_PASSWORD": "long enough pw"})
    result = run("users", "token", "api@example.com", "--name", "crm")
    assert result.exit_code == 0
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("kb_") and " " not in secret
    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200 and response.json["email"] == "api@example.com"


def test_demo_users_are_idempotent_and_can_sign_in(cli_env, app) -> None:
    from conftest import Auth

    first = run("demo", "users")
    second = run("demo", "users")
    assert first.exit_code == 0 and second.exit_code == 0
    for email, _name, role in DEMO_USERS:
        assert email in first.output and role in first.output
        assert Auth(app.test_client()).login(email, DEMO_PASSWORD_DEFAULT).status_code == 302
    assert run("users", "list").output.count("@demo.kb") == 3


def test_commands_refuse_an_unmigrated_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_INSTANCE_DIR", str(tmp_path))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    result = run("users", "list")
    assert result.exit_code == 1 and "run: kb db upgrade" in result.output
    assert run("serve", "--port", "1").exit_code == 1


# What `kb --help` and a database command must not import: the web app, the search index, the document
# libraries. (Start time itself is shown by benchmarks/page_speed.py; a test only checks what is loaded.)
_IMPORTS_PROBE = """
import json, sys
from kb.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _modules_loaded_by(*args: str, env: dict[str, str] | None = None) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS_PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def _heavy(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_help_imports_neither_the_web_app_nor_the_database() -> None:
    loaded = _modules_loaded_by("--help")
    assert "kb.cli" in loaded
    heavy = ("flask", "kb.web", "kb.api", "whoosh", "sqlalchemy", "alembic", "kb.models", "openpyxl", "pypdf")
    assert _heavy(loaded, heavy) == []


def test_a_database_command_does_not_build_the_web_app(cli_env) -> None:
    loaded = _modules_loaded_by("users", "list", env=cli_env)
    assert "kb.accounts" in loaded and "sqlalchemy" in loaded  # it did run
    assert _heavy(loaded, ("flask", "kb.web", "kb.api", "whoosh", "kb.search", "openpyxl", "pypdf", "numpy")) == []


def test_a_bad_setting_is_a_one_line_error(cli_env) -> None:
    result = run("users", "list", env={"KB_SECRET_KEY": "too short"})
    assert result.exit_code == 1
    assert "KB_SECRET_KEY must be at least 32 characters long" in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # a real server
def test_serve_runs_several_worker_processes(cli_env) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [KB, "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **cli_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert body is not None, "server did not answer"
        assert '"status":"ok"' in body.replace(" ", "")
        # Pages need a sign-in, even through the real server.
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/me")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401
        refused.value.close()
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert output.count("Booting worker") == 2, output


def test_users_set_password_prints_a_temporary_password(cli_env, app) -> None:
    from conftest import Auth

    assert (
        run("users", "create", "rep@example.com", "--role", "sales", env={"KB_PASSWORD": "long enough pw"}).exit_code
        == 0
    )
    result = run("users", "set-password", "rep@example.com")
    assert result.exit_code == 0, result.output
    temporary = result.output.strip().splitlines()[-1]
    assert len(temporary) == 19
    person = Auth(app.test_client())
    assert person.login("rep@example.com", "long enough pw").status_code == 401
    assert person.login("rep@example.com", temporary).status_code == 302
    assert person.client.get("/").status_code == 303  # to the password form first

    chosen = run("users", "set-password", "rep@example.com", "--password-from-env", env={"KB_PASSWORD": "chosen by it"})
    assert chosen.exit_code == 0 and chosen.output.strip().splitlines()[-1] == "chosen by it"
    assert (
        run("users", "set-password", "rep@example.com", "--password-from-env", env={"KB_PASSWORD": "short"}).exit_code
        != 0
    )
    assert "no user with the e-mail" in run("users", "set-password", "nobody@example.com").output


def test_users_deactivate_can_hand_their_assets_to_a_colleague(cli_env, app) -> None:
    from sqlalchemy import select

    from kb import accounts
    from kb.models import Asset
    from publishing_helpers import fields, publisher_for, text_upload

    db = app.extensions["kb_db"]
    accounts.create_user(db, "admin@example.com", "long enough pw", "admin")
    leaving = accounts.create_user(db, "leaving@example.com", "long enough pw", "marketing")
    accounts.create_user(db, "stays@example.com", "long enough pw", "marketing")
    accounts.create_user(db, "rep@example.com", "long enough pw", "sales")
    publisher_for(app).create_asset(leaving.id, fields(leaving, title="Каталог"), text_upload("текст"))

    to_sales = run("users", "deactivate", "leaving@example.com", "--assets-to", "rep@example.com")
    assert to_sales.exit_code != 0 and "marketing role" in to_sales.output
    assert "leaving@example.com\tmarketing\tactive" in run("users", "list").output  # nothing half-done
    done = run("users", "deactivate", "leaving@example.com", "--assets-to", "stays@example.com")
    assert done.exit_code == 0 and "1 asset(s) of leaving@example.com now owned by stays@example.com" in done.output
    with db.session() as session:
        owner = session.scalars(select(Asset.owner_id)).one()
        assert accounts.find_user(session, "stays@example.com").id == owner


def test_the_server_compiles_every_page_template_before_forking(app) -> None:
    from kb.server import warm_up

    warm_up(app)
    compiled = {name for _loader, name in app.jinja_env.cache}  # type: ignore[union-attr]
    assert {"base.html", "assets/show.html", "reports/staleness.html", "freshness/queue.html"} <= compiled
