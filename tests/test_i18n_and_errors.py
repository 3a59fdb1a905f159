"""Languages (preference, then browser, complete catalogs) and error answers (pages for people, JSON for the API)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import Flask

from conftest import app_config, csrf_from
from kb import create_app

ROOT = Path(__file__).resolve().parent.parent


def test_browser_language_picks_russian_for_anonymous_users(client) -> None:
    html = client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert "Войти" in html
    english = client.get("/login", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "Sign in to kb" in english


def test_user_preference_beats_the_browser(make_user, client) -> None:
    from conftest import Auth

    user = make_user("sales", preferred_language="ru")
    Auth(client).login(user.email)
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ru">' in html


def test_language_switch_for_anonymous_and_signed_in(signed_in, client, db) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/language", data={"csrf_token": csrf_from(page), "language": "ru", "next": "/login"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert '<html lang="ru">' in client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)

    user = signed_in("sales")
    page = client.get("/").get_data(as_text=True)
    client.post("/language", data={"csrf_token": csrf_from(page), "language": "en", "next": "https://evil.example/"})
    from kb.models import User

    with db.session() as session:
        assert session.get(User, user.id).preferred_language == "en"


def test_unknown_language_is_a_400(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/language", data={"csrf_token": csrf_from(page), "language": "klingon"})
    assert response.status_code == 400
    assert "Unknown language klingon." in response.get_data(as_text=True)


def test_russian_catalog_translates_every_message(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "extract", "-F", "babel.cfg", "-k", "N_", "-k", "NP_:1,2",
         "-k", "_l", "-o", str(pot), "kb", "templates"],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as handle:
        extracted = {m.id for m in read_po(handle) if m.id}
    assert len(extracted) > 100, "the extraction found too few messages: check babel.cfg"
    with (ROOT / "kb/translations/ru/LC_MESSAGES/messages.po").open("rb") as handle:
        catalog = read_po(handle)
    # a message with a count is translated when every plural form is
    translated = {
        m.id for m in catalog if m.id and (all(m.string) if isinstance(m.string, tuple) else m.string) and not m.fuzzy
    }
    missing = sorted(str(m) for m in extracted - translated)
    assert not missing, f"run `make messages` and translate in kb/translations/ru: {missing[:10]}"


def test_error_pages_are_in_the_layout(signed_in, client) -> None:
    signed_in("sales")
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<header" in html and "Not found" in html
    method = client.put("/profile")
    assert method.status_code == 405 and "Method not allowed" in method.get_data(as_text=True)


def test_api_errors_are_json(signed_in, client) -> None:
    signed_in("sales")
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {
        "error": {
            "code": "not_found",
            "message": "There is nothing at this address. Check the link, or search for what you need.",
        }
    }
    method = client.delete("/api/v1/me")
    assert method.status_code == 405 and method.json["error"]["code"] == "method_not_allowed"


def test_upload_over_the_limit_is_413_with_a_readable_page(instance_dir: Path) -> None:
    app = create_app(app_config(instance_dir, KB_MAX_UPLOAD_MB=1))
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"csrf_token": csrf_from(page), "email": "a@b.c", "password": "x" * (2 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert "larger than the limit of 1 MB" in response.get_data(as_text=True)
    app.extensions["kb_db"].dispose()


def _app_that_fails(instance_dir: Path) -> Flask:
    app = create_app(app_config(instance_dir, TESTING=False))

    @app.get("/boom")
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail")

    @app.get("/api/v1/boom")
    def api_boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail")

    return app


def test_unexpected_errors_are_500_without_internals(instance_dir: Path, make_user) -> None:
    from conftest import Auth

    app = _app_that_fails(instance_dir)
    client = app.test_client()
    Auth(client).login(make_user("sales").email)
    page = client.get("/boom")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert "Something went wrong" in html and "secret internal detail" not in html and "Traceback" not in html
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.json["error"]["code"] == "internal_error"
    assert "secret internal detail" not in api.get_data(as_text=True)
    app.extensions["kb_db"].dispose()


def test_health_check_reports_an_unavailable_database(tmp_path: Path) -> None:
    missing_dir = tmp_path / "gone"
    app = create_app(
        {"KB_INSTANCE_DIR": str(tmp_path), "KB_SECRET_KEY": "h" * 40,
         "KB_DATABASE_URL": f"sqlite:///{missing_dir}/kb.sqlite3?mode=ro&uri=true"}
    )  # fmt: skip
    missing_dir.rmdir()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["database"] == "unavailable"
    app.extensions["kb_db"].dispose()


@pytest.mark.parametrize(
    ("count", "fresh", "drafts"),
    [(1, "актуальный", "черновик"), (3, "актуальных", "черновика"), (5, "актуальных", "черновиков"),
     (11, "актуальных", "черновиков"), (21, "актуальный", "черновик"), (24, "актуальных", "черновика")],
)  # fmt: skip
def test_counted_words_agree_with_the_number_in_russian(app, count: int, fresh: str, drafts: str) -> None:
    from flask_babel import force_locale

    from kb.web.templating import counted

    with app.test_request_context("/"), force_locale("ru"):
        assert counted("fresh", count) == fresh
        assert counted("drafts", count) == drafts
    with app.test_request_context("/"), force_locale("en"):
        assert counted("drafts", count) == ("draft" if count == 1 else "drafts")
        assert counted("fresh", count) == "fresh"


def test_the_staleness_report_tiles_agree_with_their_numbers(signed_in, client, db) -> None:
    from kb import accounts

    user = signed_in("sales")
    accounts.update_profile(db, user.id, language="ru")
    html = client.get("/reports/staleness").get_data(as_text=True)
    # an empty library: "0 опубликованных", never "0 опубликован"
    assert re.search(r'<span class="number">0</span><a[^>]*>опубликованных</a>', html), html[html.find("tiles") :][:600]


def test_every_page_writes_dates_one_way_in_each_language(app) -> None:
    from datetime import UTC, date, datetime

    from flask_babel import force_locale

    from kb.web.templating import date_text, datetime_text

    moment = datetime(2026, 11, 5, 6, 30, tzinfo=UTC)
    with app.test_request_context("/"), force_locale("ru"):
        assert date_text(date(2026, 11, 5)) == date_text("2026-11-05") == "5 нояб. 2026"
        assert datetime_text(moment) == "5 нояб. 2026, 09:30"  # KB_TIMEZONE: Moscow unless set
    with app.test_request_context("/"), force_locale("en"):
        assert date_text(date(2026, 11, 5)) == "5 Nov 2026"
        assert datetime_text(moment).startswith("5 Nov 2026, ")
    templates = [p.read_text(encoding="utf-8") for p in (ROOT / "templates").rglob("*.html")]
    # no page formats a date its own way (chart axes use day.month on purpose)
    assert not [t for t in templates if "format_date(" in t or "format_datetime(" in t]


def test_a_database_held_busy_answers_503_with_retry_after_and_keeps_nothing_half_written(
    instance_dir: Path, monkeypatch
) -> None:
    import io
    import sqlite3

    from sqlalchemy import func, select

    from kb import accounts, integrity
    from kb import db as kb_db
    from kb.blobs import BlobStore
    from kb.models import Asset

    monkeypatch.setattr(kb_db, "SQLITE_BUSY_TIMEOUT_MS", 300)  # the real one is 15 s: same path, shorter wait
    app = create_app(app_config(instance_dir))
    database = app.extensions["kb_db"]
    user = accounts.create_user(database, "m@example.com", "a-long-enough-password", "marketing")
    headers = {"Authorization": f"Bearer {accounts.create_token(database, user.id, 'crm').secret}"}
    client = app.test_client()

    def upload():  # type: ignore[no-untyped-def]
        data = {"title": "Прайс", "kind": "catalog", "file": (io.BytesIO(b"# Prices\n\n100 RUB"), "p.md")}
        return client.post("/api/v1/assets", data=data, headers=headers, content_type="multipart/form-data")

    holder = sqlite3.connect(instance_dir / "kb.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout
    try:
        busy = upload()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert busy.json["error"]["code"] == "busy" and "try again" in busy.json["error"]["message"]
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0  # nothing half-written
    report = integrity.check_blobs(database, BlobStore(app.config["KB_SETTINGS"].blob_dir))
    assert not report.problems and not report.orphans and not report.unfinished, report  # no leftovers
    assert upload().status_code == 201  # and the same request goes through once the lock is free
    database.dispose()
