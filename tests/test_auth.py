"""Signing in and out: passwords, server-side sessions, throttling across processes, safe redirects, CSRF."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from conftest import PASSWORD, Auth, app_config, csrf_from
from kb import accounts, create_app
from kb.models import LoginAttempt, LoginSession, User


def test_login_page_is_public_and_has_a_form(client) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html and "csrf_token" in html


def test_anonymous_page_request_redirects_to_login_with_next(client) -> None:
    response = client.get("/profile?tab=1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/profile")


def test_anonymous_api_request_gets_401_json(client) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_sign_in_and_home_page(make_user, auth: Auth, client) -> None:
    user = make_user("sales", display_name="Анна Иванова")
    response = auth.login(user.email.upper())  # e-mail is case-insensitive
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Анна Иванова" in home.get_data(as_text=True)


@pytest.mark.password_hashing
def test_password_is_stored_with_argon2(make_user, db) -> None:
    user = make_user("sales")
    with db.session() as session:
        stored = session.get(User, user.id)
        assert stored.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # argon2-cffi's defaults
        assert PASSWORD not in stored.password_hash


@pytest.mark.password_hashing
def test_a_password_hashed_at_a_lower_cost_is_rehashed_at_sign_in(make_user, auth: Auth, db) -> None:
    from argon2 import PasswordHasher

    real = accounts.set_password_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    try:
        user = make_user("sales")
    finally:
        accounts.set_password_hasher(real)
    with db.session() as session:
        assert session.get(User, user.id).password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert auth.login(user.email).status_code == 302
    with db.session() as session:
        assert session.get(User, user.id).password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize("case", ["wrong password", "unknown e-mail", "deactivated"])
def test_failed_sign_in_says_the_same_whatever_the_cause(make_user, auth: Auth, db, case: str) -> None:
    user = make_user("sales")
    email, password = user.email, PASSWORD
    if case == "wrong password":
        password = "not the password"
    elif case == "unknown e-mail":
        email = "nobody@example.com"
    else:
        accounts.set_active(db, user.id, False)
    response = auth.login(email, password)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Wrong e-mail or password." in html
    assert "Set-Cookie" not in response.headers or "_user_id" not in response.headers.get("Set-Cookie", "")
    assert auth.client.get("/").status_code == 302


def test_empty_login_form_is_a_400_with_field_errors(auth: Auth) -> None:
    token = auth.csrf()
    response = auth.client.post("/login", data={"csrf_token": token, "email": "", "password": ""})
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(make_user, client) -> None:
    user = make_user("sales")
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_fresh_session_at_sign_in(make_user, auth: Auth, client) -> None:
    user = make_user("sales")
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    auth.login(user.email)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_sign_out_ends_the_session_on_the_server(make_user, auth: Auth, app: Flask, db) -> None:
    user = make_user("sales")
    auth.login(user.email)
    copied = auth.client.get_cookie("kb_session")
    assert copied is not None
    assert auth.logout().status_code == 302
    with db.session() as session:
        assert session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).all() == []
    thief = app.test_client()
    thief.set_cookie("kb_session", copied.value)
    response = thief.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_logout_is_not_possible_with_get(signed_in, client) -> None:
    signed_in("sales")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_expired_session_is_refused(make_user, auth: Auth, db) -> None:
    user = make_user("sales")
    auth.login(user.email)
    with db.transaction() as session:
        for row in session.scalars(select(LoginSession)):
            row.expires_at = row.expires_at - timedelta(days=30)
    assert auth.client.get("/").status_code == 302


def test_deactivation_takes_effect_on_the_next_request(make_user, auth: Auth, db) -> None:
    user = make_user("sales")
    auth.login(user.email)
    assert auth.client.get("/").status_code == 200
    accounts.set_active(db, user.id, False)
    assert auth.client.get("/").status_code == 302


def test_lowering_a_role_takes_effect_on_the_next_request(make_user, auth: Auth, db) -> None:
    admin = make_user("admin")
    make_user("admin")  # so the first one is not the last admin
    auth.login(admin.email)
    assert auth.client.get("/admin/users").status_code == 200
    accounts.set_role(db, admin.id, "sales")
    assert auth.client.get("/admin/users").status_code == 403


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "http:/evil", "\t//evil"],
)
def test_next_only_redirects_to_local_paths(make_user, auth: Auth, target: str) -> None:
    user = make_user("sales")
    response = auth.login(user.email, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_to_a_local_path_is_followed(make_user, auth: Auth) -> None:
    user = make_user("sales")
    response = auth.login(user.email, next_url="/profile")
    assert response.headers["Location"] == "/profile"


def test_throttling_per_account_without_revealing_existence(make_user, auth: Auth) -> None:
    user = make_user("sales")
    for email in (user.email, "ghost@example.com"):
        for _ in range(accounts.MAX_FAILURES_PER_EMAIL):
            assert auth.login(email, "wrong password!").status_code == 401
        blocked = auth.login(email, PASSWORD)
        assert blocked.status_code == 429
        assert "Too many failed sign-in attempts" in blocked.get_data(as_text=True)
    # A different account from the same address is still allowed.
    other = make_user("sales")
    assert auth.login(other.email).status_code == 302


def test_throttling_holds_across_processes(make_user, instance_dir, app: Flask) -> None:
    """Two app instances on one database (as two server processes) share the failure count."""
    user = make_user("sales")
    second = create_app(app_config(instance_dir))
    clients = [Auth(app.test_client()), Auth(second.test_client())]
    for attempt in range(accounts.MAX_FAILURES_PER_EMAIL):
        assert clients[attempt % 2].login(user.email, "wrong password!").status_code == 401
    for client in clients:
        assert client.login(user.email).status_code == 429
    second.extensions["kb_db"].dispose()


def test_throttling_per_address(make_user, auth: Auth, db) -> None:
    for n in range(accounts.MAX_FAILURES_PER_IP):
        assert auth.login(f"guess{n}@example.com", "wrong password!").status_code == 401
    user = make_user("sales")
    assert auth.login(user.email).status_code == 429
    with db.session() as session:
        assert session.query(LoginAttempt).count() == accounts.MAX_FAILURES_PER_IP


def test_throttle_expires_after_the_window(make_user, auth: Auth, db) -> None:
    user = make_user("sales")
    for _ in range(accounts.MAX_FAILURES_PER_EMAIL):
        auth.login(user.email, "wrong password!")
    assert auth.login(user.email).status_code == 429
    with db.transaction() as session:
        for attempt in session.scalars(select(LoginAttempt)):
            attempt.attempted_at = attempt.attempted_at - accounts.THROTTLE_WINDOW - timedelta(seconds=1)
    assert auth.login(user.email).status_code == 302


def test_successful_sign_in_records_the_time(make_user, auth: Auth, db) -> None:
    user = make_user("sales")
    auth.login(user.email)
    with db.session() as session:
        assert session.get(User, user.id).last_login_at is not None


def test_csrf_token_comes_from_the_page(signed_in, client) -> None:
    signed_in("sales")
    assert csrf_from(client.get("/profile").get_data(as_text=True))


def test_good_sign_ins_between_guesses_do_not_reset_the_address_limit(make_user, auth: Auth) -> None:
    # Someone with an account of their own guesses other people's passwords from one address, signing in to
    # their own account now and then: every failure from the address counts.
    own = make_user("sales")
    victims = [make_user("sales") for _ in range(5)]
    answers = []
    for n in range(25):
        if n % 4 == 3:
            auth.login(own.email)
            auth.logout()
        answers.append(auth.login(victims[n % 5].email, f"guess number {n}").status_code)
    assert answers[: accounts.MAX_FAILURES_PER_IP] == [401] * accounts.MAX_FAILURES_PER_IP
    assert set(answers[accounts.MAX_FAILURES_PER_IP :]) == {429}


def test_a_throttled_address_still_lets_in_browsers_that_signed_in_before(make_user, app: Flask) -> None:
    # An office behind one address: a guesser there must not lock out colleagues whose browsers kb knows.
    colleague, newcomer = make_user("sales"), make_user("sales")
    office = {"REMOTE_ADDR": "203.0.113.7"}
    known_browser = Auth(app.test_client())
    known_browser.client.environ_base.update(office)
    assert known_browser.login(colleague.email).status_code == 302
    known_browser.logout()
    guesser = Auth(app.test_client())
    guesser.client.environ_base.update(office)
    for n in range(accounts.MAX_FAILURES_PER_IP):
        guesser.login(f"guess{n}@example.com", "wrong password!")
    assert guesser.login(colleague.email).status_code == 429  # the guesser has no device cookie for it
    assert known_browser.login(colleague.email).status_code == 302  # the colleague's own browser does
    known_browser.logout()
    assert known_browser.login(newcomer.email).status_code == 429  # that browser never signed in as them
    assert known_browser.login(colleague.email, "wrong password!").status_code == 401  # still checked
    forged = Auth(app.test_client())
    forged.client.environ_base.update(office)
    forged.client.set_cookie("kb_device", "not-a-signed-value")
    assert forged.login(colleague.email).status_code == 429  # a made-up cookie is no device


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "https://evil.example"},
     {"Origin": "null"}],
    ids=["fetch cross-site", "fetch same-site", "foreign origin", "opaque origin"],
)  # fmt: skip
def test_writes_from_another_site_are_refused_even_with_a_valid_token(signed_in, client, headers) -> None:
    signed_in("sales")
    token = csrf_from(client.get("/profile").get_data(as_text=True))
    refused = client.post("/language", data={"csrf_token": token, "language": "ru"}, headers=headers)
    assert refused.status_code == 403 and "came from another site" in refused.get_data(as_text=True)
    assert "Здравствуйте" not in client.get("/").get_data(as_text=True)  # nothing changed
    for ours in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}, {}):
        assert client.post("/language", data={"csrf_token": token, "language": "en"}, headers=ours).status_code == 302


def test_a_program_with_a_token_is_not_held_to_the_browser_rule(make_user, client, db) -> None:
    user = make_user("marketing")
    headers = {"Authorization": f"Bearer {accounts.create_token(db, user.id, 'crm').secret}", "Origin": "https://crm"}
    response = client.post("/api/v1/synonyms", json={"terms": ["ТКП", "коммерческое предложение"]}, headers=headers)
    assert response.status_code in (200, 201), response.json
    browser = Auth(client)  # the same API from a signed-in browser: its cookie rides along, so the rule holds
    browser.login(user.email)
    token = browser.csrf("/profile")
    forged = {"X-CSRFToken": token, "Origin": "https://evil.example"}
    assert client.post("/api/v1/synonyms", json={"terms": ["КП", "ТКП"]}, headers=forged).status_code == 403
