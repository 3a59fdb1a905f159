"""Forgotten passwords: requests throttled the same whether the e-mail is known or not, the link e-mailed by the
worker through a real local SMTP server, and the link's life (once, until it expires, until the password changes);
then the pages end to end: ask, read the mail, follow the link, set the password, sign in."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from conftest import PASSWORD, Auth, csrf_from
from kb import accounts, password_reset
from kb.errors import Gone, NotFound, Throttled, ValidationError
from kb.models import Job, LoginAttempt, LoginSession, PasswordResetRequest, User
from publishing_helpers import worker_for

NEW_PASSWORD = "a new and longer password"
LINK_RE = re.compile(r"http://127\.0\.0\.1:5000/password/reset/([A-Za-z0-9_-]+)")


def _request(db, email: str, ip: str = "10.0.0.1", **kwargs) -> None:
    password_reset.request_link(db, email, ip_address=ip, hours=kwargs.pop("hours", 1), **kwargs)


def _jobs(db) -> list[Job]:
    with db.session() as session:
        return list(session.scalars(select(Job).where(Job.kind == password_reset.RESET_JOB)))


def _requests(db) -> list[PasswordResetRequest]:
    with db.session() as session:
        return list(session.scalars(select(PasswordResetRequest).order_by(PasswordResetRequest.id)))


def _move_back(db, delta: timedelta, *, expiry_only: bool = False) -> None:
    """Moves every request (or only its link's expiry) ``delta`` into the past."""
    with db.transaction() as session:
        for request in session.scalars(select(PasswordResetRequest)):
            if not expiry_only:
                request.requested_at -= delta
            if request.expires_at is not None:
                request.expires_at -= delta


def _link_token(message) -> str:
    match = LINK_RE.search(message.get_content())
    assert match, message.get_content()
    return match.group(1)


def _mailed_token(mail_app, smtp, email: str, **kwargs) -> str:
    """Asks for a link for ``email``, runs the worker, and returns the token from the mail that arrived."""
    inbox, _port = smtp
    before = len(inbox.messages)
    _request(mail_app.extensions["kb_db"], email, **kwargs)
    worker_for(mail_app).run_until_idle()
    assert len(inbox.messages) == before + 1
    return _link_token(inbox.messages[-1])


@pytest.fixture
def mail_db(mail_app):
    return mail_app.extensions["kb_db"]


@pytest.fixture
def person(mail_db) -> User:
    return accounts.create_user(mail_db, "anna@example.com", PASSWORD, "sales", "Анна")


# --- asking for a link -------------------------------------------------------------------------------------------


def test_a_request_for_an_active_account_queues_one_mail_and_an_unknown_one_none(db, make_user) -> None:
    user = make_user("sales")
    _request(db, user.email.upper())
    _request(db, "nobody@example.com")
    known, unknown = _requests(db)
    assert known.user_id == user.id and known.expires_at is not None and known.token_hash is None
    assert unknown.user_id is None and unknown.expires_at is None and unknown.email == "nobody@example.com"
    assert [job.payload for job in _jobs(db)] == [{"request_id": known.id}]


def test_a_deactivated_account_gets_no_mail(db, make_user) -> None:
    admin = make_user("admin")
    user = make_user("sales")
    accounts.set_active(db, user.id, False, actor_id=admin.id)
    _request(db, user.email)
    [request] = _requests(db)
    assert request.user_id is None and _jobs(db) == []


def test_a_malformed_address_is_a_validation_error(db) -> None:
    with pytest.raises(ValidationError) as caught:
        _request(db, "not an address")
    assert caught.value.field == "email" and _requests(db) == []


def test_throttling_per_email_counts_unknown_addresses_the_same(db, make_user) -> None:
    user = make_user("sales")
    for email in (user.email, "ghost@example.com"):
        for n in range(password_reset.MAX_REQUESTS_PER_EMAIL):
            _request(db, email, ip=f"10.0.1.{n}")
        with pytest.raises(Throttled) as caught:
            _request(db, email, ip="10.0.2.1")
        assert caught.value.params["minutes"] == 60
    # The refused requests were not recorded, and are no mail either.
    assert len(_requests(db)) == 2 * password_reset.MAX_REQUESTS_PER_EMAIL
    assert len(_jobs(db)) == password_reset.MAX_REQUESTS_PER_EMAIL
    # Another address is not held up.
    _request(db, make_user("sales").email, ip="10.0.2.1")


def test_throttling_per_client_address(db, make_user) -> None:
    for n in range(password_reset.MAX_REQUESTS_PER_IP):
        _request(db, f"guess{n}@example.com")
    with pytest.raises(Throttled):
        _request(db, make_user("sales").email)
    _request(db, make_user("sales").email, ip="10.9.9.9")


def test_the_throttle_opens_after_the_window_and_old_requests_are_deleted(db, make_user) -> None:
    user = make_user("sales")
    for _ in range(password_reset.MAX_REQUESTS_PER_EMAIL):
        _request(db, user.email)
    with pytest.raises(Throttled):
        _request(db, user.email)
    _move_back(db, password_reset.REQUEST_WINDOW)
    _request(db, user.email)
    assert len(_requests(db)) == password_reset.MAX_REQUESTS_PER_EMAIL + 1
    _move_back(db, password_reset.REQUESTS_KEPT)
    _request(db, "someone@example.com")
    assert [r.email for r in _requests(db)] == ["someone@example.com"]


# --- the e-mail ------------------------------------------------------------------------------------------------------


def test_the_mail_holds_a_link_whose_token_is_stored_only_as_a_hash(mail_app, mail_db, smtp, person) -> None:
    inbox, _port = smtp
    token = _mailed_token(mail_app, smtp, person.email)
    [mail] = inbox.messages
    assert inbox.recipients == [["anna@example.com"]]
    assert mail["From"] == "kb@example.com" and mail["To"] == "anna@example.com"
    assert mail["Subject"] == "Новый пароль для kb"  # no language chosen, none from a page: Russian
    body = mail.get_content()
    assert "anna@example.com" in body and "Ссылка сработает один раз" in body
    assert mail.get_content_type() == "text/plain"
    [request] = _requests(mail_db)
    assert request.token_hash == hashlib.sha256(token.encode()).hexdigest() and request.emailed_at is not None
    with mail_db.session() as session:
        for table in ("password_reset_requests", "jobs"):
            rows = session.execute(select(PasswordResetRequest.metadata.tables[table])).all()
            assert token not in repr(rows)


def test_the_mail_is_in_the_persons_language_else_the_pages(mail_app, mail_db, smtp) -> None:
    inbox, _port = smtp
    accounts.create_user(mail_db, "en@example.com", PASSWORD, "sales", preferred_language="en")
    accounts.create_user(mail_db, "ru@example.com", PASSWORD, "sales", preferred_language="ru")
    accounts.create_user(mail_db, "none@example.com", PASSWORD, "sales")
    _request(mail_db, "en@example.com", language="ru")
    _request(mail_db, "ru@example.com", language="en")
    _request(mail_db, "none@example.com", language="en")
    worker_for(mail_app).run_until_idle()
    subjects = {m["To"]: m["Subject"] for m in inbox.messages}
    assert subjects == {
        "en@example.com": "Set a new password for kb",
        "ru@example.com": "Новый пароль для kb",
        "none@example.com": "Set a new password for kb",
    }
    english = next(m for m in inbox.messages if m["To"] == "en@example.com").get_content()
    assert "The link works once, until " in english and "ignore this e-mail" in english


def test_a_retried_job_sends_no_second_mail(mail_app, mail_db, smtp, person) -> None:
    inbox, _port = smtp
    _mailed_token(mail_app, smtp, person.email)
    [request] = _requests(mail_db)
    with mail_db.transaction() as session:
        from kb import jobs

        jobs.enqueue(session, password_reset.RESET_JOB, {"request_id": request.id})
    worker_for(mail_app).run_until_idle()
    assert len(inbox.messages) == 1


def test_a_request_that_expired_or_was_deactivated_before_the_worker_ran_sends_nothing(
    mail_app, mail_db, smtp, person
) -> None:
    inbox, _port = smtp
    admin = accounts.create_user(mail_db, "admin@example.com", PASSWORD, "admin")
    _request(mail_db, person.email)
    _move_back(mail_db, timedelta(hours=1), expiry_only=True)
    other = accounts.create_user(mail_db, "other@example.com", PASSWORD, "sales")
    _request(mail_db, other.email)
    accounts.set_active(mail_db, other.id, False, actor_id=admin.id)
    worker_for(mail_app).run_until_idle()
    assert inbox.messages == []
    assert all(r.token_hash is None for r in _requests(mail_db))


# --- using the link ----------------------------------------------------------------------------------------------


def test_the_link_sets_the_password_once_ends_sessions_and_the_temporary_password(
    mail_app, mail_db, smtp, person
) -> None:
    accounts.set_temporary_password(mail_db, person.id, "temporary password 1")
    accounts.sign_in(mail_db, person.email, "temporary password 1", ip_address="10.0.0.5")
    for _ in range(3):
        with pytest.raises(accounts.AuthenticationFailed):
            accounts.sign_in(mail_db, person.email, "wrong password", ip_address="10.0.0.5")
    token = _mailed_token(mail_app, smtp, person.email)
    with mail_db.session() as session:
        link = password_reset.check_link(session, token)
    assert link.email == person.email

    assert password_reset.reset_password(mail_db, token, NEW_PASSWORD) == person.email
    with mail_db.session() as session:
        user = session.get(User, person.id)
        assert user.must_change_password is False
        assert session.scalars(select(LoginSession).where(LoginSession.user_id == person.id)).all() == []
        assert session.scalars(select(LoginAttempt).where(LoginAttempt.succeeded.is_(False))).all() == []
    accounts.sign_in(mail_db, person.email, NEW_PASSWORD, ip_address="10.0.0.5")
    with pytest.raises(accounts.AuthenticationFailed):
        accounts.sign_in(mail_db, person.email, "temporary password 1", ip_address="10.0.0.5")
    with pytest.raises(Gone) as caught, mail_db.session() as session:
        password_reset.check_link(session, token)
    assert caught.value.message == password_reset.USED_LINK
    with pytest.raises(Gone):
        password_reset.reset_password(mail_db, token, "yet another password")


def test_a_link_used_at_the_same_moment_twice_works_once(mail_app, mail_db, smtp, person) -> None:
    token = _mailed_token(mail_app, smtp, person.email)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def use(n: int) -> None:
        barrier.wait()
        try:
            password_reset.reset_password(mail_db, token, f"{NEW_PASSWORD} {n}")
            results.append("set")
        except Gone as exc:
            results.append(exc.message)

    threads = [threading.Thread(target=use, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [password_reset.USED_LINK] * 3 + ["set"]


def test_a_refused_password_leaves_the_link_working(mail_app, mail_db, smtp, person) -> None:
    token = _mailed_token(mail_app, smtp, person.email)
    with pytest.raises(ValidationError):
        password_reset.reset_password(mail_db, token, "short")
    password_reset.reset_password(mail_db, token, NEW_PASSWORD)


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 5000, "../../etc/passwd"])
def test_an_unknown_token_is_not_found(db, token: str) -> None:
    with pytest.raises(NotFound), db.session() as session:
        password_reset.check_link(session, token)


def test_an_expired_link_is_gone(mail_app, mail_db, smtp, person) -> None:
    token = _mailed_token(mail_app, smtp, person.email)
    _move_back(mail_db, timedelta(hours=1), expiry_only=True)
    with pytest.raises(Gone) as caught:
        password_reset.reset_password(mail_db, token, NEW_PASSWORD)
    assert caught.value.message == password_reset.EXPIRED_LINK and caught.value.status == 410


@pytest.mark.parametrize("route", ["profile", "administrator", "another link"])
def test_a_new_password_by_any_route_ends_the_link(mail_app, mail_db, smtp, person, route: str) -> None:
    token = _mailed_token(mail_app, smtp, person.email)
    if route == "profile":
        accounts.change_password(mail_db, person.id, PASSWORD, NEW_PASSWORD, session_token=None)
    elif route == "administrator":
        accounts.set_temporary_password(mail_db, person.id)
    else:
        second = _mailed_token(mail_app, smtp, person.email)
        password_reset.reset_password(mail_db, second, NEW_PASSWORD)
    with pytest.raises(Gone) as caught:
        password_reset.reset_password(mail_db, token, "yet another password")
    assert caught.value.message == password_reset.SUPERSEDED_LINK


def test_two_links_both_work_until_one_is_used(mail_app, mail_db, smtp, person) -> None:
    first = _mailed_token(mail_app, smtp, person.email)
    second = _mailed_token(mail_app, smtp, person.email)
    assert first != second
    with mail_db.session() as session:
        password_reset.check_link(session, first)
        password_reset.check_link(session, second)


def test_deactivation_ends_the_link(mail_app, mail_db, smtp, person) -> None:
    admin = accounts.create_user(mail_db, "admin@example.com", PASSWORD, "admin")
    token = _mailed_token(mail_app, smtp, person.email)
    accounts.set_active(mail_db, person.id, False, actor_id=admin.id)
    with pytest.raises(Gone) as caught:
        password_reset.reset_password(mail_db, token, NEW_PASSWORD)
    assert caught.value.message == password_reset.DEAD_LINK


# --- the pages ---------------------------------------------------------------------------------------------------


def _ask(client, email: str, *, headers: dict[str, str] | None = None):
    token = csrf_from(client.get("/password/forgot", headers=headers).get_data(as_text=True))
    return client.post("/password/forgot", data={"csrf_token": token, "email": email}, headers=headers)


def _set(client, path: str, password: str, confirm: str | None = None):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "new_password": password, "confirm": confirm or password})


def test_forgot_password_end_to_end(mail_app, mail_client, smtp, person) -> None:
    inbox, _port = smtp
    english = {"Accept-Language": "en"}
    login = mail_client.get("/login", headers=english).get_data(as_text=True)
    assert 'href="/password/forgot"' in login and "Forgot your password?" in login

    asked = _ask(mail_client, "Anna@Example.com", headers=english)
    assert asked.status_code == 303 and asked.headers["Location"] == "/password/forgot/sent"
    sent = mail_client.get("/password/forgot/sent", headers=english)
    assert sent.status_code == 200 and "It works once, within 1 hour." in sent.get_data(as_text=True)
    assert inbox.messages == []  # the worker writes the mail, not the request
    worker_for(mail_app).run_until_idle()
    [mail] = inbox.messages
    assert mail["To"] == person.email and mail["Subject"] == "Set a new password for kb"  # the page's language
    path = "/password/reset/" + _link_token(mail)

    # Someone signed in as Anna elsewhere.
    elsewhere = Auth(mail_app.test_client())
    assert elsewhere.login(person.email).status_code == 302

    page = mail_client.get(path, headers=english)
    assert page.status_code == 200 and person.email in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    differ = _set(mail_client, path, NEW_PASSWORD, "something else entirely")
    assert differ.status_code == 400 and "The passwords differ." in differ.get_data(as_text=True)
    done = _set(mail_client, path, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert "Your new password is set" in mail_client.get("/login", headers=english).get_data(as_text=True)

    assert elsewhere.client.get("/profile").status_code == 302  # that sign-in has ended
    auth = Auth(mail_client)
    assert auth.login(person.email, PASSWORD).status_code == 401
    assert auth.login(person.email, NEW_PASSWORD).status_code == 302
    used = mail_client.get(path, headers=english)
    assert used.status_code == 410
    html = used.get_data(as_text=True)
    assert "This password reset link has already been used." in html and 'href="/password/forgot"' in html
    again = mail_client.post(path, data={"csrf_token": csrf_from(html), "new_password": "x" * 12, "confirm": "x" * 12})
    assert again.status_code == 410


def test_setting_the_password_needs_a_csrf_token(mail_app, mail_client, smtp, person) -> None:
    path = "/password/reset/" + _mailed_token(mail_app, smtp, person.email)
    refused = mail_client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert refused.status_code == 400 and "security token" in refused.get_data(as_text=True)
    assert _set(mail_client, path, NEW_PASSWORD).status_code == 303  # the link still works


def test_a_short_password_is_refused_on_the_page_and_the_link_keeps_working(
    mail_app, mail_client, smtp, person
) -> None:
    path = "/password/reset/" + _mailed_token(mail_app, smtp, person.email)
    short = _set(mail_client, path, "short")
    assert short.status_code == 400
    html = short.get_data(as_text=True)
    assert "Field must be between 10 and 1024 characters long." in html and 'id="new_password-error"' in html
    assert _set(mail_client, path, NEW_PASSWORD).status_code == 303


def test_the_link_ends_a_temporary_password_and_signs_out_this_browser(mail_app, mail_client, smtp, person) -> None:
    accounts.set_temporary_password(mail_db := mail_app.extensions["kb_db"], person.id, "temporary password 1")
    auth = Auth(mail_client)
    assert auth.login(person.email, "temporary password 1").status_code == 302
    assert mail_client.get("/").status_code == 303  # sent to choose a password first
    path = "/password/reset/" + _mailed_token(mail_app, smtp, person.email)
    assert mail_client.get(path).status_code == 200  # open while the password is temporary
    assert _set(mail_client, path, NEW_PASSWORD).status_code == 303
    assert mail_client.get("/").status_code == 302  # signed out here too
    assert auth.login(person.email, NEW_PASSWORD).headers["Location"] == "/"
    assert mail_client.get("/").status_code == 200
    with mail_db.session() as session:
        assert session.get(User, person.id).must_change_password is False


def test_the_answer_is_the_same_whether_the_account_exists(mail_app, mail_client, smtp, person) -> None:
    admin = accounts.create_user(mail_app.extensions["kb_db"], "admin@example.com", PASSWORD, "admin")
    gone = accounts.create_user(mail_app.extensions["kb_db"], "gone@example.com", PASSWORD, "sales")
    accounts.set_active(mail_app.extensions["kb_db"], gone.id, False, actor_id=admin.id)
    answers = []
    for email in (person.email, "nobody@example.com", gone.email):
        response = _ask(mail_client, email)
        page = mail_client.get(response.headers["Location"])
        # CSRF tokens carry the time they were signed at: the rest of the page must be the same.
        text = re.sub(r'name="csrf_token" value="[^"]+"', "", page.get_data(as_text=True))
        answers.append((response.status_code, response.headers["Location"], page.status_code, text))
    assert answers[0] == answers[1] == answers[2]
    assert "If an active kb account uses that address" in answers[0][3]
    worker_for(mail_app).run_until_idle()
    inbox, _port = smtp
    assert [m["To"] for m in inbox.messages] == [person.email]


def test_requests_are_throttled_the_same_for_unknown_addresses(mail_client, person) -> None:
    for email in (person.email, "nobody@example.com"):
        for _ in range(password_reset.MAX_REQUESTS_PER_EMAIL):
            assert _ask(mail_client, email).status_code == 303
        refused = _ask(mail_client, email)
        assert refused.status_code == 429
        assert "Too many requests for a reset link. Try again in 60 min." in refused.get_data(as_text=True)


def test_throttling_holds_across_processes(mail_app, mail_client, instance_dir, smtp, person) -> None:
    """Two app instances on one database (as two server processes) share the count."""
    from conftest import app_config
    from kb import create_app

    _inbox, port = smtp
    second = create_app(app_config(instance_dir, KB_SMTP_HOST="127.0.0.1", KB_SMTP_PORT=str(port)))
    clients = [mail_client, second.test_client()]
    for n in range(password_reset.MAX_REQUESTS_PER_EMAIL):
        assert _ask(clients[n % 2], person.email).status_code == 303
    for client in clients:
        assert _ask(client, person.email).status_code == 429
    second.extensions["kb_db"].dispose()


def test_bad_requests_for_a_link_are_400s(mail_client) -> None:
    malformed = _ask(mail_client, "not an address")
    assert malformed.status_code == 400 and "Enter a valid e-mail address." in malformed.get_data(as_text=True)
    empty = _ask(mail_client, "")
    assert empty.status_code == 400
    no_csrf = mail_client.post("/password/forgot", data={"email": "anna@example.com"})
    assert no_csrf.status_code == 400 and "security token" in no_csrf.get_data(as_text=True)


def test_an_expired_link_says_so_and_offers_a_new_one(mail_app, mail_client, smtp, person) -> None:
    path = "/password/reset/" + _mailed_token(mail_app, smtp, person.email)
    _move_back(mail_app.extensions["kb_db"], timedelta(hours=1), expiry_only=True)
    page = mail_client.get(path, headers={"Accept-Language": "ru"})
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "Срок действия этой ссылки для сброса пароля истёк." in html and 'href="/password/forgot"' in html
    assert page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("token", ["nonsense", "A" * 43, "A" * 3000, "%00", "..%2F..%2Fetc"])
def test_an_unknown_link_is_a_404_page(mail_client, token: str) -> None:
    page = mail_client.get(f"/password/reset/{token}")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "This password reset link is not valid." in html and 'href="/password/forgot"' in html
    posted = mail_client.post(
        f"/password/reset/{token}",
        data={"csrf_token": csrf_from(html), "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert posted.status_code == 404


def test_without_smtp_people_are_told_to_ask_an_administrator(client, db, make_user) -> None:
    user = make_user("sales")
    login = client.get("/login").get_data(as_text=True)
    assert "/password/forgot" not in login and "Ask a kb administrator." in login
    page = client.get("/password/forgot")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "Ask a kb administrator for a temporary password" in html and 'name="email"' not in html
    posted = client.post("/password/forgot", data={"csrf_token": csrf_from(html), "email": user.email})
    assert posted.status_code == 404
    assert client.get("/password/forgot/sent").status_code == 404
    assert _requests(db) == [] and _jobs(db) == []
    dead = client.get("/password/reset/" + "A" * 43)
    assert dead.status_code == 404
    assert "Ask a kb administrator for a temporary password." in dead.get_data(as_text=True)
    assert 'href="/password/forgot"' not in dead.get_data(as_text=True)
