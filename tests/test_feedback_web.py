"""The feedback loop through the pages and the JSON API: rate, flag, queue, new version, notification."""

from __future__ import annotations

import pytest

from conftest import csrf_from
from kb import accounts
from publishing_helpers import fields, publisher_for, text_upload, worker_for


@pytest.fixture
def catalog(app, make_user):
    owner = make_user("marketing", display_name="Мария Маркетинг")
    published = publisher_for(app).create_asset(
        owner.id, fields(owner, title="Каталог насосов 2026"), text_upload("# Цены\n\nНВ-250/4: 120 000 ₽")
    )
    worker_for(app).run_until_idle()
    return owner, published.asset_id


def _token(db, user) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.create_token(db, user.id, 'test').secret}"}


def test_flag_queue_new_version_notification_loop_in_the_pages(app, client, auth, make_user, catalog) -> None:
    owner, asset_id = catalog
    sales = make_user("sales", display_name="Иван Продажи")
    auth.login(sales.email)
    page = client.get(f"/assets/{asset_id}")
    assert page.status_code == 200 and "Flag as outdated" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))

    bad = client.post(f"/assets/{asset_id}/flags", data={"csrf_token": token, "reason": "other", "comment": " "})
    assert bad.status_code == 400
    assert "Please add a comment" in bad.get_data(as_text=True)
    unknown = client.post(f"/assets/{asset_id}/flags", data={"csrf_token": token, "reason": "'; DROP TABLE"})
    assert unknown.status_code == 400 and "Choose a reason" in unknown.get_data(as_text=True)

    flagged = client.post(
        f"/assets/{asset_id}/flags",
        data={"csrf_token": token, "reason": "prices_outdated", "comment": "Цены 2025 года", "page": "1"},
    )
    assert flagged.status_code == 302
    shown = client.get(f"/assets/{asset_id}").get_data(as_text=True)
    assert "1 open flag" in shown and "Цены 2025 года" in shown
    # A sales user cannot dismiss, confirm or see the queue.
    assert client.get("/freshness").status_code == 403
    assert client.post(f"/assets/{asset_id}/confirm", data={"csrf_token": token}).status_code == 403
    auth.logout()

    auth.login(owner.email)
    queue = client.get("/freshness").get_data(as_text=True)
    assert "Каталог насосов 2026" in queue and "1 open flag (prices outdated)" in queue
    assert client.get("/notifications").get_data(as_text=True).count("flagged") >= 1
    publisher_for(app).add_version(owner.id, asset_id, text_upload("# Цены\n\nНВ-250/4: 128 000 ₽"), "Цены на 2026 год")
    assert "Nothing here needs attention" in client.get("/freshness").get_data(as_text=True)
    auth.logout()

    auth.login(sales.email)
    home = client.get("/").get_data(as_text=True)
    assert 'class="unread-count">1<' in home
    notes = client.get("/notifications").get_data(as_text=True)
    assert "was resolved by version 2" in notes and "Цены на 2026 год" in notes
    assert 'class="badge">new<' in notes  # marked new on the page that shows it...
    assert "unread-count" not in notes  # ...which clears the header's count at once
    assert "unread-count" not in client.get("/").get_data(as_text=True)
    assert 'class="badge">new<' not in client.get("/notifications").get_data(as_text=True)


def test_rating_form_keeps_what_was_typed_on_error(client, auth, make_user, catalog) -> None:
    _owner, asset_id = catalog
    sales = make_user("sales")
    auth.login(sales.email)
    token = csrf_from(client.get(f"/assets/{asset_id}").get_data(as_text=True))
    bad = client.post(f"/assets/{asset_id}/rating", data={"csrf_token": token, "stars": "9", "comment": "Хорошо"})
    assert bad.status_code == 400
    body = bad.get_data(as_text=True)
    assert "Stars must be a whole number from 1 to 5" in body and "Хорошо" in body
    ok = client.post(f"/assets/{asset_id}/rating", data={"csrf_token": token, "stars": "4", "comment": "Полезно"})
    assert ok.status_code == 302
    page = client.get(f"/assets/{asset_id}").get_data(as_text=True)
    assert "★ 4.0" in page and "Полезно" in page
    removed = client.post(f"/assets/{asset_id}/rating", data={"csrf_token": token, "action": "remove"})
    assert removed.status_code == 302
    assert "No ratings of this version yet" in client.get(f"/assets/{asset_id}").get_data(as_text=True)


def test_api_rating_flags_queue_and_notifications(app, client, db, make_user, catalog) -> None:
    owner, asset_id = catalog
    sales = make_user("sales")
    headers = _token(db, sales)
    marketing = _token(db, owner)

    rated = client.put(f"/api/v1/assets/{asset_id}/rating", json={"stars": 2, "comment": "устарел"}, headers=headers)
    assert rated.status_code == 200 and rated.json["current_version"] == {"average": 2.0, "count": 1}
    for stars in (0, 6, "x", 2.5, True, None):
        bad = client.put(f"/api/v1/assets/{asset_id}/rating", json={"stars": stars}, headers=headers)
        assert bad.status_code == 400 and bad.json["error"]["field"] == "stars", stars
    not_json = client.put(f"/api/v1/assets/{asset_id}/rating", data="[1,2", headers=headers)
    assert not_json.status_code == 400

    first = client.post(f"/api/v1/assets/{asset_id}/flags", json={"reason": "prices_outdated"}, headers=headers)
    assert first.status_code == 201 and first.json["joined"] is False
    again = client.post(
        f"/api/v1/assets/{asset_id}/flags", json={"reason": "specs_wrong", "comment": "ТТХ"}, headers=headers
    )
    assert again.status_code == 200 and again.json["joined"] is True
    assert again.json["reasons"] == ["prices_outdated", "specs_wrong"] and again.json["reports"] == 2
    missing = client.post(f"/api/v1/assets/{asset_id}/flags", json={"reason": "missing_info"}, headers=headers)
    assert missing.status_code == 400 and missing.json["error"]["field"] == "comment"
    listed = client.get(f"/api/v1/assets/{asset_id}/flags", headers=headers).json
    assert listed["open"] == 1

    flag_id = first.json["id"]
    assert client.post(f"/api/v1/flags/{flag_id}/dismiss", json={"note": "нет"}, headers=headers).status_code == 403
    assert client.get("/api/v1/freshness/queue", headers=headers).status_code == 403
    queue = client.get("/api/v1/freshness/queue", headers=marketing).json
    assert queue["items"][0]["asset"]["id"] == asset_id
    assert queue["items"][0]["reasons"][0]["code"] == "flagged"
    assert "open flag" in queue["items"][0]["reasons"][0]["text"]

    no_note = client.post(f"/api/v1/flags/{flag_id}/dismiss", json={}, headers=marketing)
    assert no_note.status_code == 400 and no_note.json["error"]["field"] == "note"
    dismissed = client.post(f"/api/v1/flags/{flag_id}/dismiss", json={"note": "Цены верны"}, headers=marketing)
    assert dismissed.status_code == 200 and dismissed.json["status"] == "dismissed"
    twice = client.post(f"/api/v1/flags/{flag_id}/dismiss", json={"note": "ещё"}, headers=marketing)
    assert twice.status_code == 409
    assert client.post("/api/v1/flags/999999/dismiss", json={"note": "x"}, headers=marketing).status_code == 404

    confirmed = client.post(f"/api/v1/assets/{asset_id}/confirm", headers=marketing)
    assert confirmed.status_code == 200 and confirmed.json["next_review_on"]
    assert client.post(f"/api/v1/assets/{asset_id}/confirm", headers=headers).status_code == 403

    notes = client.get("/api/v1/notifications", headers=headers).json
    assert notes["unread"] == 1 and notes["items"][0]["kind"] == "flag_dismissed"
    assert "was dismissed" in notes["items"][0]["text"]
    marked = client.post("/api/v1/notifications/read", json={"ids": [notes["items"][0]["id"]]}, headers=headers)
    assert marked.json == {"marked_read": 1}
    assert client.post("/api/v1/notifications/read", json={"ids": "all"}, headers=headers).status_code == 400

    publisher_for(app).set_status(owner.id, asset_id, "archived")
    archived = client.post(
        f"/api/v1/assets/{asset_id}/flags", json={"reason": "other", "comment": "x"}, headers=_token(db, owner)
    )
    assert archived.status_code == 409
    assert (
        client.post(
            f"/api/v1/assets/{asset_id}/flags", json={"reason": "other", "comment": "x"}, headers=headers
        ).status_code
        == 404
    )


def test_follow_hears_of_new_versions(app, client, db, make_user, catalog) -> None:
    owner, asset_id = catalog
    sales = make_user("sales")
    headers = _token(db, sales)
    assert client.put(f"/api/v1/assets/{asset_id}/follow", headers=headers).json == {
        "asset_id": asset_id,
        "following": True,
    }
    publisher_for(app).add_version(owner.id, asset_id, text_upload("новая редакция"), "Новая редакция")
    notes = client.get("/api/v1/notifications", headers=headers).json
    assert [n["kind"] for n in notes["items"]] == ["new_version"] and "new version 2" in notes["items"][0]["text"]
    assert client.delete(f"/api/v1/assets/{asset_id}/follow", headers=headers).json["following"] is False
    publisher_for(app).add_version(owner.id, asset_id, text_upload("третья редакция"), "Третья")
    assert len(client.get("/api/v1/notifications", headers=headers).json["items"]) == 1


def test_kb_notify_digest_twice_creates_nothing_new(app, instance_dir, monkeypatch, make_user, catalog) -> None:
    from datetime import date, timedelta

    from click.testing import CliRunner

    from conftest import SECRET_KEY
    from kb.cli import main

    owner, asset_id = catalog
    sales = make_user("sales")
    from kb import feedback

    feedback.raise_flag(app.extensions["kb_db"], sales.id, asset_id, "prices_outdated")
    monkeypatch.setenv("KB_INSTANCE_DIR", str(instance_dir))
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{instance_dir / 'kb.sqlite3'}")
    monkeypatch.setenv("KB_SECRET_KEY", SECRET_KEY)
    day = (date.today() + timedelta(days=95)).isoformat()  # past the catalog's 90-day review
    first = CliRunner().invoke(main, ["notify", "digest", "--date", day])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("1 review-due notice(s), 1 digest(s)")
    second = CliRunner().invoke(main, ["notify", "digest", "--date", day])
    assert second.exit_code == 0 and second.output.startswith("0 review-due notice(s), 0 digest(s)")
    bad = CliRunner().invoke(main, ["notify", "digest", "--date", "31.12.2026"])
    assert bad.exit_code == 2 and "Invalid value" in bad.output


@pytest.mark.parametrize(("language", "mark"), [("ru", "Следующая проверка: "), ("en", "Next review: ")])
def test_confirming_as_current_says_the_next_review_date_once(client, auth, db, catalog, language, mark) -> None:
    owner, asset_id = catalog
    accounts.update_profile(db, owner.id, language=language)
    auth.login(owner.email)
    token = csrf_from(client.get(f"/assets/{asset_id}").get_data(as_text=True))
    page = client.post(f"/assets/{asset_id}/confirm", data={"csrf_token": token}, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and mark in html
    sentence = html.split(mark, 1)[1].split("<", 1)[0]
    assert not sentence.endswith(".."), sentence  # Russian dates end in "г.": no second period after them
