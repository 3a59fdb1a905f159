"""Signing in with the company directory against a real OpenLDAP server (tests/ldap_server.py), single sign-on
through the reverse proxy's header, and ``kb users sync``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import ldap_server
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from ldap_server import (
    ADMIN_GROUP,
    DEALERS_AUDIENCE,
    DEALERS_GROUP,
    MARKETING_GROUP,
    SALES_GROUP,
    UNIQUE_MARKETING_GROUP,
    LdapServer,
    email_of,
    free_port,
    password_of,
)
from sqlalchemy import func, select

from conftest import PASSWORD, SECRET_KEY, Auth, app_config
from kb import accounts, audiences, create_app, password_reset
from kb.cli import main
from kb.config import load_settings
from kb.db import Database
from kb.directory import Directory
from kb.models import AuditEvent, LoginSession, PasswordResetRequest, User

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not ldap_server.available() and not os.environ.get("CI"),
        reason="install slapd (apt-get install slapd) to test directory sign-in",
    ),
]


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LdapServer]:
    assert ldap_server.available(), "CI must have slapd (see .ci/run)"
    server = ldap_server.start(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        ldap_server.remove(server)


def _app(instance_dir: Path, **settings: str) -> Flask:
    return create_app(app_config(instance_dir, **settings))


@pytest.fixture
def directory_app(instance_dir: Path, slapd: LdapServer) -> Iterator[Flask]:
    application = _app(instance_dir, **slapd.settings())
    yield application
    application.extensions["kb_db"].dispose()


@pytest.fixture
def dclient(directory_app: Flask) -> FlaskClient:
    return directory_app.test_client()


@pytest.fixture
def ddb(directory_app: Flask) -> Database:
    return directory_app.extensions["kb_db"]


def _user(db: Database, email: str) -> User | None:
    with db.session() as session:
        return accounts.find_user(session, email)


def _sessions(db: Database, user_id: int) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).where(LoginSession.user_id == user_id)) or 0


def _page(response) -> str:
    return response.get_data(as_text=True)


# --- sign-in through the form --------------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["ivanov@corp.example", "IVANOV", " ivanov "])
def test_first_sign_in_by_email_or_user_name_makes_the_account(login: str, dclient, ddb, slapd) -> None:
    response = Auth(dclient).login(login, password_of("ivanov"))
    assert response.status_code == 302, _page(response)
    user = _user(ddb, "ivanov@corp.example")
    assert user is not None and user.from_directory and user.active
    assert (user.display_name, user.department, user.role) == ("Иван Иванов", "Продажи", "sales")
    assert user.directory_dn == "uid=ivanov,ou=people,dc=corp,dc=example"
    assert user.password_hash == accounts.UNUSABLE_PASSWORD
    profile = _page(dclient.get("/profile"))
    assert "Иван Иванов" in profile and "company account" in profile
    assert 'action="/profile/password"' not in profile  # no password form for a directory account


def test_the_login_form_says_what_to_enter(dclient) -> None:
    page = _page(dclient.get("/login"))
    assert "E-mail or user name" in page and "IT department resets it" in page


@pytest.mark.parametrize(
    ("login", "password", "status", "message"),
    [
        ("ivanov", "wrong-password", 401, "Wrong e-mail, user name or password."),
        ("nobody-here", "whatever-pass", 401, "Wrong e-mail, user name or password."),
        ("blocked", password_of("blocked"), 403, "Your company account is disabled."),
        ("outsider", password_of("outsider"), 403, "not in any of the directory groups"),
        # LDAP filter injection: escaped, so the login matches nobody (and never everyone).
        ("*", "x" * 12, 401, "Wrong e-mail, user name or password."),
        ("ivanov)(uid=*", password_of("ivanov"), 401, "Wrong e-mail, user name or password."),
        ("*)(|(objectClass=*", password_of("ivanov"), 401, "Wrong e-mail, user name or password."),
        ("ivanov\\00", password_of("ivanov"), 401, "Wrong e-mail, user name or password."),
        ("ivanov\x00", password_of("ivanov"), 401, "Wrong e-mail, user name or password."),
        ("иванов", password_of("ivanov"), 401, "Wrong e-mail, user name or password."),
    ],
)
def test_refused_sign_ins_say_why_with_a_4xx(dclient, ddb, login, password, status, message) -> None:
    response = Auth(dclient).login(login, password)
    assert response.status_code == status, _page(response)
    assert message in _page(response)
    assert _user(ddb, "ivanov@corp.example") is None


def _audit(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_directory_sign_ins_go_into_the_audit_log_with_their_reasons(dclient, ddb) -> None:
    for login, password in (
        ("ivanov", "wrong-password"),
        ("nobody-here", "whatever-pass"),
        ("blocked", password_of("blocked")),
        ("outsider", password_of("outsider")),
        ("ivanov", password_of("ivanov")),
    ):
        Auth(dclient).login(login, password)
    failed = [(e.actor_email, e.details["reason"]) for e in _audit(ddb, "sign_in_failed")]
    assert failed == [
        ("ivanov", "wrong_password"),
        ("nobody-here", "unknown_account"),
        ("blocked", "directory_refused"),
        ("outsider", "directory_refused"),
    ]
    assert "disabled" in _audit(ddb, "sign_in_failed")[2].details["message"]
    (signed_in,) = _audit(ddb, "sign_in")
    user = _user(ddb, "ivanov@corp.example")
    assert (signed_in.actor_id, signed_in.actor_email) == (user.id, user.email)
    assert signed_in.details == {"method": "directory"}
    (created,) = _audit(ddb, "user_created")
    assert created.user_id == user.id and created.details == {"role": "sales", "by": "directory"}


def test_an_empty_password_is_never_an_anonymous_bind(dclient, ddb) -> None:
    assert Directory(load_settings(_settings_of(dclient)).directory).authenticate("ivanov", "") is None
    response = Auth(dclient).login("ivanov", "")
    assert response.status_code == 400


def _settings_of(client: FlaskClient) -> dict[str, str]:
    settings = client.application.config["KB_SETTINGS"]
    directory = settings.directory
    return {
        "KB_INSTANCE_DIR": str(settings.instance_dir),
        "KB_LDAP_URL": " ".join(directory.urls),
        "KB_LDAP_BASE_DN": directory.base_dn,
        "KB_LDAP_BIND_DN": directory.bind_dn,
        "KB_LDAP_BIND_PASSWORD": directory.bind_password,
        "KB_LDAP_ROLE_GROUPS": ldap_server.ROLE_GROUPS,
    }


def test_repeated_wrong_passwords_are_throttled_before_the_directory_locks_the_account(dclient) -> None:
    auth = Auth(dclient)
    for _ in range(accounts.MAX_FAILURES_PER_EMAIL):
        assert auth.login("petrova", "wrong-password").status_code == 401
    response = auth.login("petrova", password_of("petrova"))
    assert response.status_code == 429 and "Too many failed sign-in attempts" in _page(response)


def test_groups_give_roles_and_a_group_change_changes_the_role_at_the_next_sign_in(dclient, ddb, slapd) -> None:
    slapd.add_person("kozlov", "Кирилл Козлов", "Продажи", [SALES_GROUP])
    auth = Auth(dclient)
    assert auth.login("kozlov", password_of("kozlov")).status_code == 302
    assert _user(ddb, email_of("kozlov")).role == "sales"
    assert dclient.get("/admin/users").status_code == 403
    auth.logout()
    slapd.add_to_group("kozlov", ADMIN_GROUP)  # the highest role of all the person's groups
    assert auth.login("kozlov", password_of("kozlov")).status_code == 302
    assert _user(ddb, email_of("kozlov")).role == "admin"
    users_page = _page(dclient.get("/admin/users"))
    row = users_page[users_page.index(f"<td>{email_of('kozlov')}</td>") :].split("</tr>", 1)[0]
    assert "company directory" in row and "Продажи" in row and "Set temporary password" not in row


def test_a_group_found_by_group_search_gives_its_role(instance_dir, slapd) -> None:
    slapd.add_person("unique", "Юлия Уникальная", "", [UNIQUE_MARKETING_GROUP])
    without_search = _app(instance_dir, **slapd.settings())
    response = Auth(without_search.test_client()).login("unique", password_of("unique"))
    assert response.status_code == 403  # memberOf does not list a groupOfUniqueNames
    with_search = _app(instance_dir, **slapd.settings(KB_LDAP_GROUP_BASE_DN=ldap_server.GROUPS))
    assert Auth(with_search.test_client()).login("unique", password_of("unique")).status_code == 302
    assert _user(with_search.extensions["kb_db"], email_of("unique")).role == "marketing"
    for application in (without_search, with_search):
        application.extensions["kb_db"].dispose()


def test_everyone_in_the_directory_may_be_let_in_as_sales(instance_dir, slapd) -> None:
    application = _app(instance_dir, **slapd.settings(KB_LDAP_ROLE_GROUPS=f"sales=*;admin={ADMIN_GROUP}"))
    assert Auth(application.test_client()).login("outsider", password_of("outsider")).status_code == 302
    assert _user(application.extensions["kb_db"], email_of("outsider")).role == "sales"
    application.extensions["kb_db"].dispose()


def test_a_local_account_signs_in_with_its_kb_password_and_its_email_is_not_taken_over(dclient, ddb, slapd) -> None:
    accounts.create_user(ddb, email_of("petrova"), PASSWORD, "sales")
    auth = Auth(dclient)
    assert auth.login(email_of("petrova"), password_of("petrova")).status_code == 401  # the kb password, not AD's
    assert auth.login(email_of("petrova"), PASSWORD).status_code == 302
    auth.logout()
    # By user name the directory answers, but the e-mail it gives is a local account's: refused, with the way out.
    response = auth.login("petrova", password_of("petrova"))
    assert response.status_code == 409 and "kb users use-directory" in _page(response)
    user = _user(ddb, email_of("petrova"))
    assert not user.from_directory and user.role == "sales"
    # Switched over by an administrator, the account is the directory's at the next sign-in.
    result = CliRunner().invoke(main, ["users", "use-directory", email_of("petrova")], env=_cli_env(ddb))
    assert result.exit_code == 0, result.output
    assert auth.login("petrova", password_of("petrova")).status_code == 302
    user = _user(ddb, email_of("petrova"))
    assert user.from_directory and user.role == "marketing" and user.id is not None


def test_directory_accounts_have_no_kb_password(dclient, ddb, slapd) -> None:
    auth = Auth(dclient)
    assert auth.login("ivanov", password_of("ivanov")).status_code == 302
    token = auth.csrf("/profile")
    response = dclient.post(
        "/profile/password",
        data={"csrf_token": token, "current_password": "x" * 12, "new_password": "y" * 12, "confirm": "y" * 12},
    )
    assert response.status_code == 409 and "change its password there" in _page(response)
    user = _user(ddb, email_of("ivanov"))
    with pytest.raises(accounts.Conflict, match="signs in with the company directory"):
        accounts.set_temporary_password(ddb, user.id)
    with pytest.raises(accounts.Conflict, match="follows their directory groups"):
        accounts.set_role(ddb, user.id, "admin")
    # No reset link by e-mail either (and the same answer as for an unknown address).
    password_reset.request_link(ddb, email_of("ivanov"), ip_address="127.0.0.1", hours=1)
    with ddb.session() as session:
        requests = session.scalars(select(PasswordResetRequest)).all()
    assert [(r.email, r.user_id) for r in requests] == [(email_of("ivanov"), None)]
    # Nor does a kb password work for it, whatever it is.
    with pytest.raises(accounts.AuthenticationFailed):
        accounts.sign_in(ddb, email_of("ivanov"), accounts.UNUSABLE_PASSWORD, ip_address="127.0.0.1")


# --- the directory is down -----------------------------------------------------------------------------------


def test_a_directory_that_is_down_gives_a_clear_message_and_the_local_admin_still_signs_in(instance_dir, slapd) -> None:
    application = _app(instance_dir, **slapd.settings(KB_LDAP_URL=f"ldap://127.0.0.1:{free_port()}"))
    client = application.test_client()
    accounts.create_user(application.extensions["kb_db"], "breakglass@example.com", PASSWORD, "admin")
    response = Auth(client).login("ivanov", password_of("ivanov"))
    assert response.status_code == 503
    assert "company directory cannot be reached" in _page(response)
    assert Auth(client).login("breakglass@example.com", PASSWORD).status_code == 302
    assert client.get("/admin/users").status_code == 200
    application.extensions["kb_db"].dispose()


def test_a_directory_whose_certificate_is_not_trusted_is_refused_not_used(instance_dir, slapd) -> None:
    for extra in (
        {"KB_LDAP_URL": slapd.ldaps_url},
        {"KB_LDAP_URL": f"ldap://localhost:{slapd.port}", "KB_LDAP_STARTTLS": "1"},
    ):
        untrusted = _app(instance_dir, **slapd.settings(**extra))
        assert Auth(untrusted.test_client()).login("petrova", password_of("petrova")).status_code == 503
        untrusted.extensions["kb_db"].dispose()
        trusted = _app(instance_dir, **slapd.settings(KB_LDAP_CA_FILE=str(slapd.ca_file), **extra))
        assert Auth(trusted.test_client()).login("petrova", password_of("petrova")).status_code == 302
        trusted.extensions["kb_db"].dispose()


def test_a_refused_service_account_is_a_directory_problem_not_a_wrong_password(instance_dir, slapd) -> None:
    application = _app(instance_dir, **slapd.settings(KB_LDAP_BIND_PASSWORD="not-the-service-password"))
    response = Auth(application.test_client()).login("ivanov", password_of("ivanov"))
    assert response.status_code == 503 and "company directory cannot be reached" in _page(response)
    application.extensions["kb_db"].dispose()


# --- kb users sync -------------------------------------------------------------------------------------------


def _cli_env(db: Database) -> dict[str, str]:
    return {"KB_DATABASE_URL": db.url, "KB_SECRET_KEY": SECRET_KEY}


def _sync(db: Database, slapd: LdapServer, **extra: str):
    env = {**_cli_env(db), **slapd.settings(**extra)}
    return CliRunner().invoke(main, ["users", "sync"], env=env, catch_exceptions=False)


def test_sync_deactivates_people_removed_or_disabled_and_ends_their_sessions(dclient, ddb, slapd) -> None:
    slapd.add_person("leaving", "Лев Уходящий", "Продажи", [SALES_GROUP])
    slapd.add_person("pausing", "Павел Пауза", "Продажи", [SALES_GROUP])
    pausing_client = dclient.application.test_client()
    assert Auth(dclient).login("leaving", password_of("leaving")).status_code == 302
    assert Auth(pausing_client).login("pausing", password_of("pausing")).status_code == 302
    assert dclient.get("/profile").status_code == 200
    leaving = _user(ddb, email_of("leaving"))
    assert _sessions(ddb, leaving.id) == 1

    slapd.delete("leaving")
    slapd.modify("pausing", employeeType="disabled")
    result = _sync(ddb, slapd)
    assert result.exit_code == 0, result.output
    assert f"deactivated {email_of('leaving')}: removed from the directory" in result.output
    assert f"deactivated {email_of('pausing')}: disabled" in result.output
    assert "2 deactivated (2 session(s) ended)" in result.output
    deactivations = [(e.subject, e.channel, e.details) for e in _audit(ddb, "user_deactivated")]
    assert deactivations == [
        (email_of("leaving"), "cli", {"by": "directory", "reason": "removed from the directory"}),
        (email_of("pausing"), "cli", {"by": "directory", "reason": "disabled"}),
    ]
    assert not _user(ddb, email_of("leaving")).active and _sessions(ddb, leaving.id) == 0
    assert dclient.get("/profile").status_code == 302  # signed out
    assert pausing_client.get("/profile").status_code == 302

    # Enabled again in the directory: the account comes back by itself (the directory shut it out, not an admin).
    slapd.modify("pausing", employeeType="staff")
    result = _sync(ddb, slapd)
    assert f"reactivated {email_of('pausing')}" in result.output
    assert [e.subject for e in _audit(ddb, "user_activated")] == [email_of("pausing")]
    assert _user(ddb, email_of("pausing")).active
    assert Auth(pausing_client).login("pausing", password_of("pausing")).status_code == 302


def test_sync_follows_names_departments_and_groups(dclient, ddb, slapd) -> None:
    slapd.add_person("moving", "Мария Переходящая", "Продажи", [SALES_GROUP])
    assert Auth(dclient).login("moving", password_of("moving")).status_code == 302
    slapd.add_to_group("moving", MARKETING_GROUP)
    slapd.modify("moving", displayName="Мария Новая", departmentNumber="Маркетинг")
    result = _sync(ddb, slapd)
    assert result.exit_code == 0, result.output
    assert "role sales -> marketing" in result.output and "department Продажи -> Маркетинг" in result.output
    user = _user(ddb, email_of("moving"))
    assert (user.role, user.display_name, user.department) == ("marketing", "Мария Новая", "Маркетинг")
    # Out of every kb group: shut out, signed out.
    slapd.remove_from_group("moving", MARKETING_GROUP)
    slapd.remove_from_group("moving", SALES_GROUP)
    result = _sync(ddb, slapd)
    assert f"deactivated {email_of('moving')}: in no kb group" in result.output
    assert dclient.get("/profile").status_code == 302


def _audience_members(db: Database, name: str) -> dict[str, tuple[str, ...]]:
    with db.session() as session:
        audience = audiences.find_by_name(session, name)
        assert audience is not None, f"no audience {name}"
        return {member.email: member.sources for member in audiences.members(session, audience.id)}


def test_directory_groups_put_people_in_audiences_at_sign_in_and_sync(dclient, ddb, slapd) -> None:
    # Ivanov is seeded in the dealers group: his first sign-in makes the audience and puts him in it.
    assert Auth(dclient).login("ivanov", password_of("ivanov")).status_code == 302
    assert _audience_members(ddb, DEALERS_AUDIENCE)[email_of("ivanov")] == ("directory",)

    slapd.add_person("dealer", "Дина Дилерова", "Дилеры", [SALES_GROUP, DEALERS_GROUP])
    other = dclient.application.test_client()
    assert Auth(other).login("dealer", password_of("dealer")).status_code == 302
    with ddb.session() as session:
        dealers_id = audiences.find_by_name(session, DEALERS_AUDIENCE).id
    # An administrator also adds her by hand: the directory's membership and the local one are separate.
    audiences.add_member(ddb, dealers_id, email_of("dealer"))
    assert _audience_members(ddb, DEALERS_AUDIENCE)[email_of("dealer")] == ("directory", "local")

    # Out of the group: the next sync takes the directory membership away, and only that one.
    slapd.remove_from_group("dealer", DEALERS_GROUP)
    result = _sync(ddb, slapd)
    assert result.exit_code == 0, result.output
    assert f"updated {email_of('dealer')}: audience -{DEALERS_AUDIENCE}" in result.output
    assert _audience_members(ddb, DEALERS_AUDIENCE)[email_of("dealer")] == ("local",)
    # Back in the group: the sync puts her back; a sync with nothing new reports nothing for her.
    slapd.add_to_group("dealer", DEALERS_GROUP)
    assert f"updated {email_of('dealer')}: audience +{DEALERS_AUDIENCE}" in _sync(ddb, slapd).output
    assert email_of("dealer") not in _sync(ddb, slapd).output
    # A person in no audience group is in no audience.
    assert Auth(dclient.application.test_client()).login("petrova", password_of("petrova")).status_code == 302
    assert email_of("petrova") not in _audience_members(ddb, DEALERS_AUDIENCE)


def test_sync_with_the_directory_down_fails_clearly_and_changes_nothing(dclient, ddb, slapd) -> None:
    assert Auth(dclient).login("sidorov", password_of("sidorov")).status_code == 302
    result = _sync(ddb, slapd, KB_LDAP_URL=f"ldap://127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert "company directory cannot be reached" in result.output
    assert _user(ddb, email_of("sidorov")).active
    assert dclient.get("/profile").status_code == 200


def test_sync_without_a_directory_says_what_to_set(db) -> None:
    result = CliRunner().invoke(main, ["users", "sync"], env=_cli_env(db), catch_exceptions=False)
    assert result.exit_code == 1 and "KB_LDAP_URL" in result.output


def test_an_account_an_admin_deactivated_stays_deactivated(dclient, ddb, slapd) -> None:
    slapd.add_person("banned", "Бан Банов", "", [SALES_GROUP])
    assert Auth(dclient).login("banned", password_of("banned")).status_code == 302
    accounts.set_active(ddb, _user(ddb, email_of("banned")).id, False)
    response = Auth(dclient).login("banned", password_of("banned"))
    assert response.status_code == 403 and "Your kb account is deactivated" in _page(response)
    assert f"reactivated {email_of('banned')}" not in _sync(ddb, slapd).output
    assert not _user(ddb, email_of("banned")).active


# --- single sign-on through the reverse proxy ------------------------------------------------------------------

PROXY = "10.9.8.7"


@pytest.fixture
def sso_app(instance_dir: Path, slapd: LdapServer) -> Iterator[Flask]:
    application = _app(
        instance_dir,
        **slapd.settings(
            KB_SSO_HEADER="X-Remote-User", KB_SSO_PROXIES=f"{PROXY}, 192.0.2.0/24", KB_TRUSTED_PROXIES="1"
        ),
    )
    yield application
    application.extensions["kb_db"].dispose()


@pytest.mark.parametrize("value", ["petrova", "petrova@corp.example", "PETROVA@CORP.EXAMPLE", "CORP\\petrova"])
def test_the_sso_header_from_the_proxy_signs_the_person_in(sso_app, value: str) -> None:
    client = sso_app.test_client()
    response = client.get("/profile", headers={"X-Remote-User": value}, environ_base={"REMOTE_ADDR": PROXY})
    assert response.status_code == 200, response.headers.get("Location")
    assert "Мария Петрова" in _page(response)
    user = _user(sso_app.extensions["kb_db"], email_of("petrova"))
    assert user.from_directory and user.role == "marketing"


@pytest.mark.parametrize(
    "environ",
    [
        {"REMOTE_ADDR": "10.9.8.8"},
        {"REMOTE_ADDR": "127.0.0.1"},
        # The proxy's address claimed in X-Forwarded-For by someone else: only the connection's address counts.
        {"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": PROXY},
    ],
)
def test_the_sso_header_from_anywhere_else_is_ignored(sso_app, environ: dict[str, str]) -> None:
    client = sso_app.test_client()
    response = client.get("/profile", headers={"X-Remote-User": "sidorov"}, environ_base=environ)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _user(sso_app.extensions["kb_db"], email_of("sidorov")) is None


def test_behind_the_proxy_the_client_address_comes_from_x_forwarded_for(sso_app) -> None:
    client = sso_app.test_client()
    environ = {"REMOTE_ADDR": "192.0.2.10", "HTTP_X_FORWARDED_FOR": "203.0.113.77"}
    assert client.get("/", headers={"X-Remote-User": "ivanov"}, environ_base=environ).status_code == 200
    with sso_app.extensions["kb_db"].session() as session:
        login = session.scalars(select(LoginSession).order_by(LoginSession.id.desc())).first()
    assert login.ip_address == "203.0.113.77"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("outsider", "not in any of the directory groups"),
        ("blocked", "Your company account is disabled"),
        ("nobody", "Single sign-on named nobody, who has no kb account"),
        ("*", "Single sign-on named *, who has no kb account"),
    ],
)
def test_sso_for_someone_kb_does_not_let_in_shows_why_on_the_login_page(sso_app, value: str, message: str) -> None:
    client = sso_app.test_client()
    headers = {"X-Remote-User": value}
    response = client.get("/", headers=headers, environ_base={"REMOTE_ADDR": PROXY})
    assert response.status_code == 302
    page = client.get("/login", headers=headers, environ_base={"REMOTE_ADDR": PROXY})
    assert page.status_code == 403 and message in _page(page)


def test_sso_follows_the_header_when_it_names_someone_else(sso_app) -> None:
    client = sso_app.test_client()
    proxy = {"REMOTE_ADDR": PROXY}
    assert "Иван Иванов" in _page(client.get("/profile", headers={"X-Remote-User": "ivanov"}, environ_base=proxy))
    assert "Олег Сидоров" in _page(client.get("/profile", headers={"X-Remote-User": "sidorov"}, environ_base=proxy))


def test_sso_with_the_directory_down_leaves_the_form_for_the_local_admin(instance_dir, slapd) -> None:
    application = _app(
        instance_dir,
        **slapd.settings(
            KB_LDAP_URL=f"ldap://127.0.0.1:{free_port()}", KB_SSO_HEADER="X-Remote-User", KB_SSO_PROXIES=PROXY
        ),
    )
    accounts.create_user(application.extensions["kb_db"], "breakglass@example.com", PASSWORD, "admin")
    client = application.test_client()
    client.environ_base.update({"REMOTE_ADDR": PROXY, "HTTP_X_REMOTE_USER": "ivanov"})
    page = client.get("/login")
    assert page.status_code == 503 and "company directory cannot be reached" in _page(page)
    assert Auth(client).login("breakglass@example.com", PASSWORD).status_code == 302
    assert client.get("/admin/users").status_code == 200
    application.extensions["kb_db"].dispose()
