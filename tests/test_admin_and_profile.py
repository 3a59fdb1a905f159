"""User administration by admins, and each person's own profile: validation shown beside fields, no 500s."""

from __future__ import annotations

from sqlalchemy import select

from conftest import PASSWORD, Auth, csrf_from
from kb.models import Asset, LoginSession, Role, User


def _csrf(client, path: str) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def _user(db, email: str) -> User:
    with db.session() as session:
        return session.scalars(select(User).where(User.email == email)).one()


def test_admin_lists_and_creates_users(signed_in, client, db) -> None:
    admin = signed_in("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert admin.email in page
    response = client.post(
        "/admin/users",
        data={
            "csrf_token": _csrf(client, "/admin/users"),
            "email": "New.Person@Example.com",
            "display_name": "Пётр Сидоров",
            "role": "marketing",
            "password": "a good long password",
        },
    )
    assert response.status_code == 302
    created = _user(db, "new.person@example.com")
    assert created.role == Role.MARKETING and created.display_name == "Пётр Сидоров"
    assert "new.person@example.com" in client.get("/admin/users").get_data(as_text=True)


def test_create_user_errors_are_shown_beside_fields_and_keep_input(signed_in, make_user, client) -> None:
    signed_in("admin")
    existing = make_user("sales")
    cases = [
        ({"email": existing.email.upper(), "password": "long enough password"}, 409, "already exists"),
        ({"email": "not-an-email", "password": "long enough password"}, 400, "Enter a valid e-mail address."),
        ({"email": "ok@example.com", "password": "short"}, 400, "Field must be between 10 and 1024 characters long."),
        ({"email": "ok@example.com", "password": "long enough password", "role": "owner"}, 400, "Not a valid choice."),
    ]
    for fields, status, message in cases:
        data = {"csrf_token": _csrf(client, "/admin/users"), "display_name": "Keep Me", "role": "sales", **fields}
        response = client.post("/admin/users", data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == status, (fields, html[:500])
        assert message in html
        assert 'value="Keep Me"' in html


def test_admin_changes_role_and_deactivates(signed_in, make_user, client, app, db) -> None:
    signed_in("admin")
    target = make_user("sales")
    other = Auth(app.test_client())
    other.login(target.email)
    assert other.client.get("/").status_code == 200

    response = client.post(
        f"/admin/users/{target.id}/role", data={"csrf_token": _csrf(client, "/admin/users"), "role": "marketing"}
    )
    assert response.status_code == 302
    assert _user(db, target.email).role == Role.MARKETING

    response = client.post(f"/admin/users/{target.id}/deactivate", data={"csrf_token": _csrf(client, "/admin/users")})
    assert response.status_code == 302
    assert _user(db, target.email).active is False
    with db.session() as session:
        assert session.scalars(select(LoginSession).where(LoginSession.user_id == target.id)).all() == []
    assert other.client.get("/").status_code == 302
    assert Auth(app.test_client()).login(target.email).status_code == 401

    client.post(f"/admin/users/{target.id}/activate", data={"csrf_token": _csrf(client, "/admin/users")})
    assert _user(db, target.email).active is True
    assert Auth(app.test_client()).login(target.email).status_code == 302


def test_bad_role_and_unknown_user_are_4xx(signed_in, client) -> None:
    signed_in("admin")
    bad = client.post("/admin/users/1/role", data={"csrf_token": _csrf(client, "/admin/users"), "role": "king"})
    assert bad.status_code == 400 and "Unknown role king" in bad.get_data(as_text=True)
    missing = client.post("/admin/users/9999/deactivate", data={"csrf_token": _csrf(client, "/admin/users")})
    assert missing.status_code == 404 and "No such user." in missing.get_data(as_text=True)


def test_admin_cannot_deactivate_themselves_or_remove_the_last_admin(signed_in, client, db) -> None:
    admin = signed_in("admin")
    own = client.post(f"/admin/users/{admin.id}/deactivate", data={"csrf_token": _csrf(client, "/admin/users")})
    assert own.status_code == 409 and "cannot deactivate your own account" in own.get_data(as_text=True)
    demote = client.post(
        f"/admin/users/{admin.id}/role", data={"csrf_token": _csrf(client, "/admin/users"), "role": "sales"}
    )
    assert demote.status_code == 409 and "last active admin" in demote.get_data(as_text=True)
    assert _user(db, admin.email).role == Role.ADMIN and _user(db, admin.email).active


def test_profile_updates_name_and_language(signed_in, client, db) -> None:
    user = signed_in("sales")
    response = client.post(
        "/profile", data={"csrf_token": _csrf(client, "/profile"), "display_name": "Новое Имя", "language": "ru"}
    )
    assert response.status_code == 302
    stored = _user(db, user.email)
    assert stored.display_name == "Новое Имя" and stored.preferred_language == "ru"
    assert "Профиль" in client.get("/profile").get_data(as_text=True)


def test_profile_rejects_unknown_language_and_empty_name(signed_in, client) -> None:
    signed_in("sales")
    bad = client.post("/profile", data={"csrf_token": _csrf(client, "/profile"), "display_name": "", "language": "xx"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "This field is required." in html and "Not a valid choice." in html


def test_password_change_ends_other_sessions_only(signed_in, client, app, db) -> None:
    user = signed_in("sales")
    elsewhere = Auth(app.test_client())
    elsewhere.login(user.email)
    wrong = client.post(
        "/profile/password",
        data={
            "csrf_token": _csrf(client, "/profile"),
            "current_password": "not it at all",
            "new_password": "brand new password",
            "confirm": "brand new password",
        },
    )
    assert wrong.status_code == 400 and "The current password is wrong." in wrong.get_data(as_text=True)
    mismatch = client.post(
        "/profile/password",
        data={
            "csrf_token": _csrf(client, "/profile"),
            "current_password": PASSWORD,
            "new_password": "brand new password",
            "confirm": "another password!!",
        },
    )
    assert mismatch.status_code == 400 and "The passwords differ." in mismatch.get_data(as_text=True)
    ok = client.post(
        "/profile/password",
        data={
            "csrf_token": _csrf(client, "/profile"),
            "current_password": PASSWORD,
            "new_password": "brand new password",
            "confirm": "brand new password",
        },
    )
    assert ok.status_code == 302
    assert client.get("/").status_code == 200  # this session stays
    assert elsewhere.client.get("/").status_code == 302  # the other one ended
    assert Auth(app.test_client()).login(user.email, "brand new password").status_code == 302


def test_an_admin_sets_a_temporary_password_the_person_must_replace(signed_in, make_user, client, app, db) -> None:
    # A person who forgot their password (and locked themselves out by trying) asks an admin.
    target = make_user("sales")
    theirs = Auth(app.test_client())
    assert theirs.login(target.email).status_code == 302  # signed in somewhere before
    theirs.logout()
    for _attempt in range(5):
        theirs.login(target.email, "a guess that is wrong")
    assert "Too many failed sign-in attempts" in theirs.login(target.email).get_data(as_text=True)

    signed_in("admin")
    page = client.post(f"/admin/users/{target.id}/password", data={"csrf_token": _csrf(client, "/admin/users")})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "It is shown only now." in html
    temporary = html.split('<code class="secret">')[1].split("</code>")[0]
    assert len(temporary) == 19 and temporary.count("-") == 3
    assert temporary not in client.get("/admin/users").get_data(as_text=True)  # shown once
    stored = _user(db, target.email)
    assert stored.must_change_password and PASSWORD not in stored.password_hash
    with db.session() as session:  # their sign-ins ended
        assert not session.scalars(select(LoginSession).where(LoginSession.user_id == target.id)).all()

    person = Auth(app.test_client())
    assert person.login(target.email, PASSWORD).status_code == 401  # the old password no longer works
    assert person.login(target.email, temporary).status_code == 302  # the failures were forgotten
    # Until they choose their own, every page leads to the password form; signing out still works.
    for path in ("/", "/search?q=насос", "/assets", "/notifications"):
        response = person.client.get(path)
        assert response.status_code == 303 and response.headers["Location"].endswith("/profile#password"), path
    assert person.client.get("/api/v1/search?q=x").status_code == 403
    profile = person.client.get("/profile").get_data(as_text=True)
    assert "Your password was set by an administrator" in profile and "temporary password" in profile
    same = person.client.post(
        "/profile/password",
        data={"csrf_token": person.csrf("/profile"), "current_password": temporary, "new_password": temporary,
              "confirm": temporary},
    )  # fmt: skip
    assert same.status_code == 400 and "Choose a password other than the current one." in same.get_data(as_text=True)
    chosen = person.client.post(
        "/profile/password",
        data={"csrf_token": person.csrf("/profile"), "current_password": temporary,
              "new_password": "my very own password", "confirm": "my very own password"},
    )  # fmt: skip
    assert chosen.status_code == 302
    assert person.client.get("/").status_code == 200
    assert not _user(db, target.email).must_change_password


def test_temporary_passwords_for_unknown_people_are_404(signed_in, client) -> None:
    signed_in("admin")
    response = client.post("/admin/users/99999/password", data={"csrf_token": _csrf(client, "/admin/users")})
    assert response.status_code == 404


def test_only_admins_set_temporary_passwords(signed_in, make_user, client) -> None:
    target = make_user("sales")
    signed_in("marketing")
    response = client.post(f"/admin/users/{target.id}/password", data={"csrf_token": _csrf(client, "/profile")})
    assert response.status_code == 403


def test_deactivating_asks_first_and_hands_a_leavers_assets_to_a_colleague(
    app, signed_in, make_user, client, db
) -> None:
    from publishing_helpers import fields, publisher_for, text_upload

    signed_in("admin")
    leaving = make_user("marketing", display_name="Уходящий Сотрудник")
    colleague = make_user("marketing", display_name="Коллега")
    sales = make_user("sales")
    publisher = publisher_for(app)
    for title in ("Каталог A", "Каталог B"):
        publisher.create_asset(leaving.id, fields(leaving, title=title), text_upload("текст"))

    page = client.get("/admin/users?q=уходящий").get_data(as_text=True)  # finding the person
    rows = page.split("<tbody>", 1)[1].split("</tbody>")[0]
    assert rows.count("<tr") == 1 and f"<td>{leaving.email}</td>" in rows
    assert "Deactivate…" in page and "2 assets of theirs go to" in page  # a confirmation, not a one-click button
    assert "Nobody's name or e-mail contains" in client.get("/admin/users?q=zzz").get_data(as_text=True)

    token = _csrf(client, "/admin/users")
    wrong = client.post(f"/admin/users/{leaving.id}/deactivate", data={"csrf_token": token, "owner_id": str(sales.id)})
    assert wrong.status_code == 400 and "active person with the marketing role" in wrong.get_data(as_text=True)
    assert _user(db, leaving.email).active  # nothing half-done
    done = client.post(
        f"/admin/users/{leaving.id}/deactivate", data={"csrf_token": token, "owner_id": str(colleague.id)}
    )
    assert done.status_code == 302
    with db.session() as session:
        owners = set(session.scalars(select(Asset.owner_id)))
    assert owners == {colleague.id} and not _user(db, leaving.email).active
    assert "2 assets have a new owner." in client.get("/admin/users").get_data(as_text=True)
