"""The audit log: every event recorded through its real path (pages, API, command line), none for a change that
failed, who and from where; the admin page's filters, pages and CSV; ``kb audit export`` and ``prune``; access."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from conftest import PASSWORD, SECRET_KEY, Auth, app_config, csrf_from
from kb import accounts, audit, create_app
from kb.audit import Action
from kb.cli import main
from kb.errors import Conflict, ValidationError
from kb.models import AuditEvent, User
from postgres_helpers import fresh_database, needs_postgres
from publishing_helpers import fields, publisher_for, text_upload

UA = "Mozilla/5.0 (X11; Linux x86_64) Chromium/130 kb-test"


def _events(db, action: Action | None = None) -> list[AuditEvent]:
    with db.session() as session:
        statement = select(AuditEvent).order_by(AuditEvent.id)
        if action is not None:
            statement = statement.where(AuditEvent.action == action.value)
        return list(session.scalars(statement))


def _one(db, action: Action) -> AuditEvent:
    found = _events(db, action)
    assert len(found) == 1, [(e.action, e.subject) for e in _events(db)]
    return found[0]


def _cli(db, *args: str, **env: str):
    instance = Path(db.url.removeprefix("sqlite:///")).parent
    environment = {"KB_INSTANCE_DIR": str(instance), "KB_DATABASE_URL": db.url, "KB_SECRET_KEY": SECRET_KEY, **env}
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


def _bearer(db, user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.create_token(db, user.id, 'script').secret}"}


# --- sign-ins ------------------------------------------------------------------------------------------------


def test_a_sign_in_on_the_page_is_recorded_with_the_address_and_browser(db, client, make_user) -> None:
    user = make_user("sales")
    client.environ_base.update(HTTP_USER_AGENT=UA, REMOTE_ADDR="10.20.30.40")
    assert Auth(client).login(user.email.upper()).status_code == 302
    event = _one(db, Action.SIGN_IN)
    assert (event.actor_id, event.actor_email, event.user_id) == (user.id, user.email, user.id)
    assert (event.ip_address, event.user_agent, event.channel) == ("10.20.30.40", UA, "web")
    assert event.details == {"method": "local"}
    assert event.occurred_at.tzinfo is not None and datetime.now(UTC) - event.occurred_at < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("login", "password", "reason"),
    [
        ("known@example.com", "wrong password!", "wrong_password"),
        ("nobody@example.com", PASSWORD, "unknown_account"),
        ("gone@example.com", PASSWORD, "deactivated"),
    ],
)
def test_a_failed_sign_in_is_recorded_with_its_reason(db, client, make_user, login, password, reason) -> None:
    make_user("sales", email="known@example.com")
    gone = make_user("sales", email="gone@example.com")
    accounts.set_active(db, gone.id, False)
    assert Auth(client).login(login, password).status_code == 401
    event = _one(db, Action.SIGN_IN_FAILED)
    assert event.actor_email == login and event.subject == login
    assert event.details == {"method": "local", "reason": reason}
    assert (event.actor_id is None) == (reason == "unknown_account")
    assert _events(db, Action.SIGN_IN) == []


def test_a_throttled_sign_in_is_recorded_although_its_transaction_is_refused(db, client, make_user) -> None:
    user = make_user("sales")
    for _ in range(accounts.MAX_FAILURES_PER_EMAIL):
        Auth(client).login(user.email, "wrong password!")
    response = Auth(client).login(user.email, PASSWORD)
    assert response.status_code == 429
    reasons = [e.details["reason"] for e in _events(db, Action.SIGN_IN_FAILED)]
    assert reasons == ["wrong_password"] * accounts.MAX_FAILURES_PER_EMAIL + ["throttled"]


def test_behind_a_trusted_proxy_the_clients_address_is_recorded(instance_dir: Path, make_user) -> None:
    application = create_app(app_config(instance_dir, KB_TRUSTED_PROXIES="1"))
    db = application.extensions["kb_db"]
    user = accounts.create_user(db, "proxied@example.com", PASSWORD, "sales")
    client = application.test_client()
    client.environ_base.update(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert Auth(client).login(user.email).status_code == 302
    assert _one(db, Action.SIGN_IN).ip_address == "203.0.113.7"
    application.extensions["kb_search_log"].close()
    db.dispose()


def test_a_directory_that_is_down_is_a_recorded_reason(instance_dir: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = {
        "KB_LDAP_URL": f"ldap://127.0.0.1:{port}",
        "KB_LDAP_BASE_DN": "dc=example,dc=org",
        "KB_LDAP_ROLE_GROUPS": "sales=*",
        "KB_LDAP_TIMEOUT": "2",
    }
    application = create_app(app_config(instance_dir, **directory))
    db = application.extensions["kb_db"]
    assert Auth(application.test_client()).login("ivanov", "some password").status_code == 503
    event = _one(db, Action.SIGN_IN_FAILED)
    assert event.details == {"method": "directory", "reason": "directory_down"} and event.actor_email == "ivanov"
    application.extensions["kb_search_log"].close()
    db.dispose()


def test_single_sign_on_is_recorded_as_such(instance_dir: Path) -> None:
    application = create_app(app_config(instance_dir, KB_SSO_HEADER="X-Remote-User", KB_SSO_PROXIES="127.0.0.1"))
    db = application.extensions["kb_db"]
    user = accounts.create_user(db, "sso@example.com", PASSWORD, "sales")
    client = application.test_client()
    assert client.get("/profile", headers={"X-Remote-User": "nobody@example.com"}).status_code == 302
    assert client.get("/profile", headers={"X-Remote-User": user.email}).status_code == 200
    failed, signed_in = _one(db, Action.SIGN_IN_FAILED), _one(db, Action.SIGN_IN)
    assert failed.details == {"method": "sso", "reason": "unknown_account"}
    assert signed_in.details == {"method": "sso"} and signed_in.actor_id == user.id
    application.extensions["kb_search_log"].close()
    db.dispose()


# --- downloads and publishing ----------------------------------------------------------------------------------


@pytest.fixture
def asset(app, make_user) -> tuple[int, User]:
    owner = make_user("marketing")
    published = publisher_for(app).create_asset(owner.id, fields(owner, title="Прайс дилеров"), text_upload("Цены"))
    return published.asset_id, owner


def test_downloads_on_the_page_and_through_the_api_are_recorded_with_the_version(db, client, signed_in, asset) -> None:
    asset_id, _owner = asset
    sales = signed_in("sales")
    with client.get(f"/assets/{asset_id}/versions/1/download") as response:
        assert response.status_code == 200
    program = client.application.test_client()
    with program.get(f"/api/v1/assets/{asset_id}/versions/1/download", headers=_bearer(db, sales)) as response:
        assert response.status_code == 200
    page, api = _events(db, Action.DOWNLOAD)
    for event, channel in ((page, "web"), (api, "api")):
        assert (event.actor_id, event.asset_id, event.channel) == (sales.id, asset_id, channel)
        assert event.subject == "Прайс дилеров · v1" and event.version_id is not None


def test_publishing_through_the_api_and_archiving_on_the_page_are_recorded(db, client, signed_in) -> None:
    marketing = signed_in("marketing")
    api = client.application.test_client()
    headers = _bearer(db, marketing)
    created = api.post(
        "/api/v1/assets",
        headers=headers,
        data={"file": (io.BytesIO("Каталог".encode()), "Каталог.md"), "kind": "catalog", "title": "Каталог"},
    )
    assert created.status_code == 201, created.json
    asset_id = created.json["id"]
    version = api.post(
        f"/api/v1/assets/{asset_id}/versions",
        headers=headers,
        data={"file": (io.BytesIO("Каталог 2".encode()), "Каталог.md"), "change_note": "цены"},
    )
    assert version.status_code == 201
    token = Auth(client).csrf("/profile")
    assert (
        client.post(f"/assets/{asset_id}/status", data={"csrf_token": token, "status": "archived"}).status_code == 302
    )
    assert api.patch(f"/api/v1/assets/{asset_id}", headers=headers, json={"status": "published"}).status_code == 200

    created_event = _one(db, Action.ASSET_CREATED)
    assert (created_event.channel, created_event.actor_id, created_event.asset_id) == ("api", marketing.id, asset_id)
    assert created_event.subject == "Каталог · v1" and created_event.details["status"] == "published"
    new_version = _one(db, Action.VERSION_PUBLISHED)
    assert new_version.subject == "Каталог · v2" and new_version.details["change_note"] == "цены"
    archived = _one(db, Action.ASSET_ARCHIVED)
    assert (archived.channel, archived.actor_email, archived.details) == ("web", marketing.email, {"from": "published"})
    assert _one(db, Action.ASSET_PUBLISHED).details == {"from": "archived"}


def test_a_failed_publication_leaves_no_event(app, db, make_user, monkeypatch) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    published = publisher.create_asset(owner.id, fields(owner), text_upload("Первая"))
    # The same file again is refused before anything is written...
    with pytest.raises(Conflict):
        publisher.add_version(owner.id, published.asset_id, text_upload("Первая"), "то же")
    # ...and a disk that fails at the last step rolls back what the transaction had written, its event with it.
    monkeypatch.setattr(publisher.blobs, "commit", lambda staged: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        publisher.add_version(owner.id, published.asset_id, text_upload("Вторая"), "новые цены")
    with pytest.raises(OSError):
        publisher.create_asset(owner.id, fields(owner, title="Другой"), text_upload("Третья"))
    assert [e.action for e in _events(db)] == ["user_created", "asset_created"]


def test_a_pdf_opened_in_the_browser_counts_as_a_download_once(app, db, client, signed_in, tmp_path) -> None:
    import fixtures_files as F
    from kb.publishing import FileUpload

    owner = signed_in("marketing")
    pdf = F.make_pdf(tmp_path / "price.pdf", ["Цены 2026"] * 3)
    with pdf.open("rb") as handle:
        published = publisher_for(app).create_asset(owner.id, fields(owner), FileUpload(handle, "price.pdf"))
    url = f"/assets/{published.asset_id}/versions/1/inline"
    with client.get(url) as response:
        assert response.status_code == 200
    with client.get(url, headers={"Range": "bytes=100-200"}) as response:  # the viewer reading on
        assert response.status_code == 206
    event = _one(db, Action.DOWNLOAD)
    assert event.details == {"inline": True} and event.asset_id == published.asset_id


# --- accounts ------------------------------------------------------------------------------------------------


def test_role_change_and_activation_on_the_users_page_name_the_admin(db, client, signed_in, make_user) -> None:
    admin = signed_in("admin")
    person = make_user("sales")
    token = Auth(client).csrf("/admin/users")
    assert (
        client.post(f"/admin/users/{person.id}/role", data={"csrf_token": token, "role": "marketing"}).status_code
        == 302
    )
    assert client.post(f"/admin/users/{person.id}/deactivate", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/admin/users/{person.id}/activate", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/admin/users/{person.id}/password", data={"csrf_token": token}).status_code == 200
    for action in (Action.ROLE_CHANGED, Action.USER_DEACTIVATED, Action.USER_ACTIVATED, Action.TEMPORARY_PASSWORD_SET):
        event = _one(db, action)
        assert (event.actor_id, event.actor_email, event.channel) == (admin.id, admin.email, "web")
        assert (event.user_id, event.subject, event.ip_address) == (person.id, person.email, "127.0.0.1")
    assert _one(db, Action.ROLE_CHANGED).details == {"from": "sales", "to": "marketing"}


def test_refused_account_changes_leave_no_event(db, client, signed_in) -> None:
    admin = signed_in("admin")
    token = Auth(client).csrf("/admin/users")
    before = len(_events(db))
    # The last admin cannot lose the role, nor deactivate themselves.
    assert client.post(f"/admin/users/{admin.id}/role", data={"csrf_token": token, "role": "sales"}).status_code == 409
    assert client.post(f"/admin/users/{admin.id}/deactivate", data={"csrf_token": token}).status_code == 409
    assert len(_events(db)) == before
    with pytest.raises(ValidationError):
        accounts.set_role(db, admin.id, "owner")
    assert len(_events(db)) == before


def test_own_password_change_and_api_tokens_on_the_profile_page(db, client, signed_in) -> None:
    user = signed_in("sales")
    token = Auth(client).csrf("/profile")
    changed = client.post(
        "/profile/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a new password",
            "confirm": "a new password",
        },
    )
    assert changed.status_code == 302, changed.get_data(as_text=True)
    assert client.post("/profile/tokens", data={"csrf_token": token, "name": "Excel"}).status_code == 201
    created = _one(db, Action.TOKEN_CREATED)
    assert client.post(f"/profile/tokens/{created.token_id}/revoke", data={"csrf_token": token}).status_code == 302
    revoked = _one(db, Action.TOKEN_REVOKED)
    assert _one(db, Action.PASSWORD_CHANGED).actor_id == user.id
    assert created.token_id == revoked.token_id and created.subject.startswith(f"{user.email}: Excel (kb_")
    assert (created.user_id, created.actor_id, revoked.actor_id) == (user.id, user.id, user.id)


def test_command_line_changes_are_the_command_lines(db, make_user) -> None:
    person = make_user("sales")
    for args in (
        ("users", "set-role", person.email, "marketing"),
        ("users", "deactivate", person.email),
        ("users", "activate", person.email),
        ("users", "token", person.email, "--name", "cron"),
    ):
        result = _cli(db, *args)
        assert result.exit_code == 0, result.output
    result = _cli(db, "users", "set-password", person.email, "--password-from-env", KB_PASSWORD="temporary pw 123")
    assert result.exit_code == 0, result.output
    for action, command in (
        (Action.ROLE_CHANGED, "kb users set-role"),
        (Action.USER_DEACTIVATED, "kb users deactivate"),
        (Action.USER_ACTIVATED, "kb users activate"),
        (Action.TOKEN_CREATED, "kb users token"),
        (Action.TEMPORARY_PASSWORD_SET, "kb users set-password"),
    ):
        event = _one(db, action)
        assert (event.channel, event.actor_id, event.actor_email, event.user_id) == ("cli", None, None, person.id)
        assert event.user_agent.startswith(command + " (") and event.ip_address is None


def test_a_password_reset_by_link_is_the_persons_own(mail_app, mail_client, smtp) -> None:
    from test_password_reset import _mailed_token

    db = mail_app.extensions["kb_db"]
    person = accounts.create_user(db, "forgetful@example.com", PASSWORD, "sales")
    token = _mailed_token(mail_app, smtp, person.email)
    page = mail_client.get(f"/password/reset/{token}").get_data(as_text=True)
    response = mail_client.post(
        f"/password/reset/{token}",
        data={"csrf_token": csrf_from(page), "new_password": "my new password", "confirm": "my new password"},
    )
    assert response.status_code == 303
    event = _one(db, Action.PASSWORD_RESET)
    assert (event.actor_id, event.actor_email, event.user_id, event.channel) == (
        person.id,
        person.email,
        person.id,
        "web",
    )


def test_an_event_keeps_the_actors_email_when_the_account_is_deleted(db, client, make_user) -> None:
    user = make_user("sales")
    Auth(client).login(user.email)
    with db.transaction() as session:
        session.execute(delete(User).where(User.id == user.id))
    event = _one(db, Action.SIGN_IN)
    assert (event.actor_id, event.actor_email) == (user.id, user.email)


# --- reading: the page, the CSV, the API, the command line -------------------------------------------------------


def _seed(db) -> None:
    """Six events at known times (UTC), addresses and actors; the role change is Ivanov's (user 3)."""
    rows = [
        ("2026-11-01T08:00:00", Action.SIGN_IN, "ivanov@example.com", "10.1.0.5", None, "ivanov@example.com"),
        ("2026-11-02T09:00:00", Action.DOWNLOAD, "ivanov@example.com", "10.1.0.5", 7, "Прайс · v1"),
        ("2026-11-02T22:30:00", Action.DOWNLOAD, "petrova@example.com", "10.2.0.9", 7, "Прайс · v1"),  # 3 Nov, Moscow
        ("2026-11-03T10:00:00", Action.DOWNLOAD, "petrova@example.com", "10.2.0.9", 8, "Каталог · v2"),
        ("2026-11-04T11:00:00", Action.SIGN_IN_FAILED, "=cmd|' /C calc'!A0", "10.1.0.50", None, "=cmd"),
        ("2026-11-05T12:00:00", Action.ROLE_CHANGED, "admin@example.com", "10.9.9.9", None, "ivanov@example.com"),
    ]
    with db.transaction() as session:
        for moment, action, email, ip, asset_id, subject in rows:
            event = audit.record(
                session,
                action,
                actor_email=email,
                subject=subject,
                asset_id=asset_id,
                user_id=3 if action == Action.ROLE_CHANGED else None,
                ip_address=ip,
                details={"reason": "wrong_password", "method": "local"} if action == Action.SIGN_IN_FAILED else None,
            )
            event.occurred_at = datetime.fromisoformat(moment).replace(tzinfo=UTC)


def _shown(html: str) -> int:
    return html.count('<tr class="audit-')


def test_the_page_filters_by_person_action_days_asset_and_address(db, client, signed_in) -> None:
    signed_in("admin")
    _seed(db)
    assert _shown(client.get("/admin/audit?action=download").get_data(as_text=True)) == 3
    # "ivanov" finds what Ivanov did and what was done to him (the role change's subject).
    assert _shown(client.get("/admin/audit?person=IVANOV").get_data(as_text=True)) == 3
    # Days are Moscow days: 22:30 UTC on 2 November is 3 November there.
    assert _shown(client.get("/admin/audit?since=2026-11-03&until=2026-11-03").get_data(as_text=True)) == 2
    assert _shown(client.get("/admin/audit?asset=7").get_data(as_text=True)) == 2
    assert _shown(client.get("/admin/audit?ip=10.1.0.5").get_data(as_text=True)) == 2
    assert _shown(client.get("/admin/audit?ip=10.1.").get_data(as_text=True)) == 3
    page = client.get("/admin/audit?action=sign_in_failed").get_data(as_text=True)
    assert "wrong password" in page and "kb password" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "Enter the date as YYYY-MM-DD"),
        ("until=2026-02-30", "Enter the date as YYYY-MM-DD"),
        ("since=2026-11-05&until=2026-11-01", "The start date is after the end date."),
        ("action=drop_tables", "Unknown action drop_tables."),
        ("asset=12abc", "The asset must be given by its number."),
        ("ip=10.1.0.", None),
        ("ip=evil%25", "Enter an address such as 10.1.2.3"),
        ("before=x", "The page link is damaged"),
        ("person=" + "x" * 300, "At most 254 characters."),
    ],
)
def test_bad_filters_are_a_400_with_a_message(db, client, signed_in, query, message) -> None:
    signed_in("admin")
    response = client.get(f"/admin/audit?{query}")
    if message is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    api = client.get(f"/api/v1/audit?{query}")
    assert api.status_code == 400 and api.json["error"]["field"] == query.split("=")[0]
    if not query.startswith("before"):
        assert message in api.json["error"]["message"]
    if not query.startswith("before"):
        assert client.get(f"/admin/audit.csv?{query}").status_code == 400


def test_pages_are_keyset_newest_first_and_the_count_stops_at_its_cap(db, client, signed_in, monkeypatch) -> None:
    signed_in("admin")  # one sign-in event
    with db.transaction() as session:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for number in range(119):
            event = audit.record(session, Action.DOWNLOAD, actor_email=f"p{number}@example.com", asset_id=1)
            event.occurred_at = start + timedelta(minutes=number // 2)  # pairs share a moment: ids break the tie
    seen: list[int] = []
    url = "/admin/audit?asset=1"
    while url:
        html = client.get(url).get_data(as_text=True)
        assert "119 events" in html
        seen += [int(number) for number in re.findall(r">p(\d+)@example\.com", html)]
        marker = 'rel="next"'
        url = html.split(marker)[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&") if marker in html else ""
    assert seen == list(range(118, -1, -1))
    monkeypatch.setattr(audit, "COUNT_CAP", 100)
    assert "More than 100 events" in client.get("/admin/audit").get_data(as_text=True)


def test_the_csv_holds_the_filtered_events_for_a_russian_excel(db, client, signed_in) -> None:
    signed_in("admin")
    _seed(db)
    response = client.get("/admin/audit.csv?person=petrova&action=download", headers={"Accept-Language": "ru"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Время (UTC)", "Действие", "Кто"]
    assert [(r[0], r[1], r[2], r[6]) for r in rows[1:]] == [
        ("2026-11-03T10:00:00Z", "Скачивание", "petrova@example.com", "8"),
        ("2026-11-02T22:30:00Z", "Скачивание", "petrova@example.com", "7"),
    ]
    english = client.get("/admin/audit.csv?action=sign_in_failed&delimiter=,", headers={"Accept-Language": "en"})
    rows = list(csv.reader(io.StringIO(english.get_data().decode("utf-8-sig"))))
    assert rows[1][2] == "'=cmd|' /C calc'!A0"  # no formula for the spreadsheet to run
    assert json.loads(rows[1][-1]) == {"method": "local", "reason": "wrong_password"}


def test_the_api_answers_the_same_filters_with_a_next_page(db, client, signed_in) -> None:
    admin = signed_in("admin")
    _seed(db)
    headers = _bearer(db, admin)
    first = client.get("/api/v1/audit?action=download&limit=2", headers=headers).json
    assert first["total"] == 3 and not first["total_is_capped"]
    assert [e["asset_id"] for e in first["events"]] == [8, 7]
    assert first["events"][0]["occurred_at"] == "2026-11-03T10:00:00Z"
    rest = client.get(first["next"], headers=headers).json
    assert [e["actor"]["email"] for e in rest["events"]] == ["ivanov@example.com"] and rest["next"] is None
    assert client.get("/api/v1/audit?limit=0", headers=headers).status_code == 400


@pytest.mark.parametrize("role", ["sales", "marketing"])
def test_only_admins_read_the_log(db, client, signed_in, role) -> None:
    user = signed_in(role)
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.csv").status_code == 403
    assert client.get("/api/v1/audit", headers=_bearer(db, user)).status_code == 403
    assert "Audit log" not in client.get("/").get_data(as_text=True)


def test_the_admin_navigation_links_the_log(client, signed_in) -> None:
    signed_in("admin")
    assert 'href="/admin/audit"' in client.get("/").get_data(as_text=True)


def test_kb_audit_export_filters_and_writes_a_file(db, tmp_path: Path) -> None:
    _seed(db)
    result = _cli(db, "audit", "export", "--user", "petrova", "--since", "2026-11-03")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["action"], r["asset_id"], r["occurred_at"]) for r in rows] == [
        ("download", "8", "2026-11-03T10:00:00Z"),
        ("download", "7", "2026-11-02T22:30:00Z"),
    ]
    target = tmp_path / "audit.csv"
    result = _cli(db, "audit", "export", "--action", "role_changed", "--output", str(target), "--delimiter", ";")
    assert result.exit_code == 0 and "exported 1 event(s)" in result.output
    assert target.read_text(encoding="utf-8").splitlines()[1].split(";")[1] == "role_changed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "01.11.2026"), "Invalid value for --since: Enter the date as YYYY-MM-DD"),
        (("--until", "2026-13-01"), "Invalid value for --until"),
        (("--since", "2026-11-05", "--until", "2026-11-01"), "The start date is after the end date."),
        (("--action", "nope"), "Invalid value for --action: Unknown action nope."),
        (("--user", "x" * 300), "Invalid value for --user"),
    ],
)
def test_kb_audit_export_refuses_bad_options_in_one_line(db, args, message) -> None:
    result = _cli(db, "audit", "export", *args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_kb_audit_prune_deletes_what_is_older_than_the_setting(db, client, make_user) -> None:
    make_user("sales")  # one event now
    _seed(db)  # six in November 2026
    with db.transaction() as session:
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.action != "user_created")
            .values(occurred_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    result = _cli(db, "audit", "prune", KB_AUDIT_DAYS="30")
    assert result.exit_code == 0 and "deleted 6 audit event(s) older than 30 days" in result.output
    assert [e.action for e in _events(db)] == ["user_created"]
    assert audit.prune(db, 1) == 0


def test_an_audience_change_is_recorded_with_the_asset_and_filtered(app, db, client, signed_in, make_user) -> None:
    from kb import audiences

    owner = make_user("marketing")
    dealers = audiences.create_audience(db, "Дилерский отдел")
    publisher = publisher_for(app)
    asset_id = publisher.create_asset(owner.id, fields(owner, title="Прайс дилеров"), text_upload("цены")).asset_id
    publisher.update_metadata(owner.id, asset_id, {"audiences": [dealers]})
    publisher.update_metadata(owner.id, asset_id, {"audiences": [dealers], "title": "Прайс дилеров 2027"})  # same
    [event] = _events(db, Action.AUDIENCE_CHANGED)
    assert (event.asset_id, event.actor_id, event.subject) == (asset_id, owner.id, "Прайс дилеров")
    assert event.details == {"from": [], "to": [dealers]}
    publisher.update_metadata(owner.id, asset_id, {"audiences": []})
    assert [e.details["to"] for e in _events(db, Action.AUDIENCE_CHANGED)] == [[dealers], []]

    signed_in("admin")
    html = client.get("/admin/audit?action=audience_changed").get_data(as_text=True)
    assert 'value="audience_changed" selected' in html and _shown(html) == 2


@needs_postgres
def test_filters_pages_csv_and_pruning_on_postgresql() -> None:
    from kb import migrate
    from kb.db import Database

    with fresh_database() as url:
        db = Database(url)
        migrate.upgrade(db)
        _seed(db)
        with db.session() as session:

            def matching(**args: str) -> list[int]:
                filters = audit.parse_filters(args, "Europe/Moscow")
                return [e.id for e in audit.events(session, filters)]

            assert len(matching(action="download")) == 3
            assert len(matching(person="IVANOV")) == 3
            assert len(matching(since="2026-11-03", until="2026-11-03")) == 2
            assert len(matching(ip="10.1.")) == 3 and len(matching(ip="10.1.0.5")) == 2
            assert len(matching(person="100%_")) == 0
            first = audit.page(session, audit.Filters(), size=4)
            rest = audit.page(session, audit.Filters(), before=first.next_before, size=4)
            assert [e.id for e in first.events + rest.events] == matching() and rest.next_before is None
            assert audit.count(session, audit.Filters(), cap=3) == 4
            lines = "".join(audit.csv_lines(audit.events(session, audit.Filters(action=Action.ROLE_CHANGED))))
        assert lines.splitlines()[1].startswith("2026-11-05T12:00:00Z,role_changed,admin@example.com")
        assert audit.prune(db, 1) == 6
        db.dispose()
