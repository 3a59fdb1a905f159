"""Audiences: an asset restricted to an audience exists only for its members, its owner and admins.

The walk visits every route and API endpoint of the app as people outside the audience (sales and marketing):
routes naming the restricted asset (or its flag) answer exactly as for an asset that never existed, and no page,
export, count, facet or suggestion mentions it; the same walk as a member finds it.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from conftest import Auth, csrf_from
from kb import audiences, feedback, notifications
from kb.models import Notification
from publishing_helpers import fields, publisher_for, text_upload, worker_for

TITLE = "Стратегия тендера Зеленоград"
WORD = "квазистратегия"  # only in the restricted asset
TYPO = "квазистратегиа"  # one letter off: "did you mean" must not offer WORD
PRODUCT = "Изделие-секрет"  # the restricted asset's product: no facet or filter may list it
MISSING = 987_654_321


@pytest.fixture
def world(app: Flask, make_user) -> dict[str, Any]:
    db = app.extensions["kb_db"]
    owner = make_user("marketing", display_name="Анна Владелица")
    people = {
        "owner": owner,
        "member": make_user("sales", display_name="Мила Участница"),
        "sales": make_user("sales", display_name="Сергей Посторонний"),
        "marketing": make_user("marketing", display_name="Марк Посторонний"),
        "admin": make_user("admin", display_name="Ада Админ"),
    }
    audience_id = audiences.create_audience(db, "Тендер МВД-2027")
    audiences.add_member(db, audience_id, people["member"].email)
    publisher = publisher_for(app)
    public = publisher.create_asset(
        owner.id, fields(owner, title="Каталог насосов общий"), text_upload("# Насосы\n\nнасосы для всех", "a.md")
    )
    restricted = publisher.create_asset(
        owner.id,
        fields(owner, title=TITLE, product=PRODUCT, audiences=[audience_id], tags=["тендер"]),
        text_upload(f"# План\n\nнасосы и {WORD} для тендера", "b.md"),
    )
    publisher.add_version(
        owner.id, restricted.asset_id, text_upload(f"# План 2\n\nнасосы и {WORD} снова", "b.md"), "v2"
    )
    worker_for(app).run_until_idle()
    feedback.rate(db, people["member"].id, restricted.asset_id, 5, "полезно")
    flag = feedback.raise_flag(db, people["member"].id, restricted.asset_id, "prices_outdated", "цены старые")
    notifications.follow(db, people["member"].id, restricted.asset_id)
    worker_for(app).run_until_idle()
    return {
        **people,
        "audience_id": audience_id,
        "public_id": public.asset_id,
        "asset_id": restricted.asset_id,
        "flag_id": flag.flag_id,
    }


def _client(app: Flask, user) -> FlaskClient:
    client = app.test_client()
    assert Auth(client).login(user.email).status_code == 302
    return client


def _values(rule: Rule, world: dict[str, Any], asset_id: int, flag_id: int) -> dict[str, Any] | None:
    """Values for the rule's placeholders: the restricted asset's (or a missing one's) ids, harmless others."""
    values: dict[str, Any] = {}
    for name in rule.arguments:
        values[name] = {
            "asset_id": asset_id,
            "flag_id": flag_id,
            "number": 1,
            "page": 1,
            "audience_id": world["audience_id"],
            "user_id": world["member"].id,
            "token_id": 1,
            "job_id": 1,
            "group_id": 1,
            "term_id": 1,
            "name": "product",
            "token": "x",
            "filename": "kb.css",
        }.get(name)
        if values[name] is None:
            raise AssertionError(f"the walk does not know the placeholder {name} of {rule.rule}: add it")
    return values


def _text(response) -> str:
    data = response.get_data()
    if data[:2] == b"PK":  # an XLSX export: its sheets' XML
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return data.decode("utf-8", "replace")


def _request(client: FlaskClient, method: str, url: str, token: str) -> Any:
    if url.startswith("/api/"):
        return client.open(url, method=method, json={}, headers={"X-CSRFToken": token})
    return client.open(url, method=method, data={"csrf_token": token})


def _leaks(text: str, world: dict[str, Any], *, word: bool = True, product: bool = True) -> list[str]:
    found = []
    if TITLE in text:
        found.append("title")
    if word and WORD in text:
        found.append("word")
    if product and PRODUCT in text:
        found.append("product")
    if re.search(rf"/assets/{world['asset_id']}(?!\d)", text):
        found.append("link")
    return found


#: Never walked: signing out would end the walk; the static files hold no data.
SKIPPED = {"auth.logout", "static"}
#: The product vocabulary is a shared list (README: a term a restricted asset brought in is a term like any
#: other); these pages offer its terms, not assets.
VOCABULARY_PAGES = {"api.list_vocabularies", "assets.new", "imports.new", "vocabularies.index"}


@pytest.mark.parametrize("who", ["sales", "marketing"])
def test_people_outside_the_audience_find_the_asset_nowhere(app: Flask, world, who: str) -> None:
    client = _client(app, world[who])
    token = csrf_from(client.get("/profile").get_data(as_text=True))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED]
    searches = []
    walked = 0
    for rule in rules:
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if {"asset_id", "flag_id"} & set(rule.arguments):
                # The restricted asset's routes answer exactly as a missing asset's: no way to tell it exists.
                secret = rule.build(_values(rule, world, world["asset_id"], world["flag_id"]), append_unknown=False)[1]
                none = rule.build(_values(rule, world, MISSING, MISSING), append_unknown=False)[1]
                got = _request(client, method, secret, token)
                missing = _request(client, method, none, token)
                assert got.status_code == missing.status_code, (method, secret, got.status_code, missing.status_code)
                assert got.status_code in (400, 403, 404), (method, secret, got.status_code)
                # The page may repeat its own address (the language switch's "back to" link): nothing else.
                assert _leaks(_text(got).replace(secret, ""), world) == [], (method, secret)
                walked += 1
            elif method == "GET":
                url = rule.build(_values(rule, world, 0, 0), append_unknown=False)[1]
                if rule.endpoint in ("search.results", "search.api"):
                    searches.append(url)
                    continue
                response = client.get(url)
                assert response.status_code < 500, url
                leaks = _leaks(_text(response), world, product=rule.endpoint not in VOCABULARY_PAGES)
                assert leaks == [], (url, leaks)
                walked += 1
    # Searches last: the content analytics page lists what people searched, and would echo these words.
    for url in searches:
        for query in (WORD, "Зеленоград стратегия", "насосы", "тендер"):
            response = client.get(url, query_string={"q": query})
            assert response.status_code == 200
            assert _leaks(_text(response), world, word=False) == [], (url, query)
        typo = client.get(url, query_string={"q": TYPO})
        assert _leaks(_text(typo), world) == [], (url, "typo")
    # The gap form names assets by number: the restricted one is as unknown as a missing one.
    secret = client.post(
        "/reports/content/gaps",
        data={"csrf_token": token, "query": "x", "status": "covered", "asset_id": str(world["asset_id"])},
    )
    missing = client.post(
        "/reports/content/gaps", data={"csrf_token": token, "query": "x", "status": "covered", "asset_id": str(MISSING)}
    )
    assert secret.status_code == missing.status_code
    assert walked > 60


def test_search_counts_and_facets_leave_the_restricted_asset_out(app: Flask, world) -> None:
    outsider = _client(app, world["marketing"])
    body = outsider.get("/api/v1/search", query_string={"q": "насосы"}).json
    assert body["total"] == 1 and [h["asset_id"] for h in body["results"]] == [world["public_id"]]
    assert PRODUCT not in str(body["facets"])
    assert outsider.get("/api/v1/search", query_string={"q": WORD}).json["total"] == 0
    assert outsider.get("/api/v1/assets").json["total"] == 1
    member = _client(app, world["member"])
    body = member.get("/api/v1/search", query_string={"q": "насосы"}).json
    assert body["total"] == 2 and PRODUCT in str(body["facets"])
    assert member.get("/api/v1/assets").json["total"] == 2


@pytest.mark.parametrize("who", ["member", "owner", "admin"])
def test_members_the_owner_and_admins_find_it_everywhere(app: Flask, world, who: str) -> None:
    client = _client(app, world[who])
    asset_id = world["asset_id"]
    page = client.get(f"/assets/{asset_id}").get_data(as_text=True)
    assert TITLE in page and "Restricted to: Тендер МВД-2027" in page
    with client.get(f"/assets/{asset_id}/versions/1/download") as download:
        assert download.status_code == 200
    assert client.get(f"/assets/{asset_id}/changes", query_string={"from": 1, "to": 2}).status_code == 200
    assert client.get(f"/api/v1/assets/{asset_id}").json["audiences"] == [
        {"id": world["audience_id"], "name": "Тендер МВД-2027"}
    ]
    assert TITLE in client.get("/search", query_string={"q": WORD}).get_data(as_text=True)
    assert TITLE in client.get("/assets").get_data(as_text=True)


def test_a_version_download_and_a_diff_are_404_like_a_missing_asset(app: Flask, world) -> None:
    client = _client(app, world["sales"])
    for path in (
        f"/assets/{world['asset_id']}/versions/1/download",
        f"/assets/{world['asset_id']}/versions/2/inline",
        f"/api/v1/assets/{world['asset_id']}/versions/1/download",
        f"/assets/{world['asset_id']}/changes?from=1&to=2",
    ):
        response = client.get(path)
        assert response.status_code == 404 and WORD not in response.get_data(as_text=True), path


def test_notifications_of_a_restricted_asset_do_not_reach_people_outside_it(app: Flask, world) -> None:
    db = app.extensions["kb_db"]
    owner, outsider, member = world["owner"], world["sales"], world["member"]
    publisher = publisher_for(app)
    # The outsider followed and flagged the public asset; then marketing restricts it to the audience.
    public_id = world["public_id"]
    notifications.follow(db, outsider.id, public_id)
    notifications.follow(db, member.id, public_id)
    feedback.raise_flag(db, outsider.id, public_id, "specs_wrong", "")  # the new version resolves it
    publisher.update_metadata(owner.id, public_id, {"audiences": [world["audience_id"]]})
    publisher.add_version(owner.id, public_id, text_upload("# Насосы 2\n\nновое", "a.md"), "новая версия")
    worker_for(app).run_until_idle()
    with db.session() as session:
        mine = session.query(Notification).filter_by(user_id=outsider.id).all()
        theirs = session.query(Notification).filter_by(user_id=member.id, asset_id=public_id).all()
    assert [n for n in mine if n.asset_id == public_id] == []
    assert any(n.kind == "new_version" for n in theirs)
    with db.session() as session:
        assert feedback.list_flags(session, public_id)[0].status == "resolved"  # its flagger is not told
    client = _client(app, outsider)
    assert _leaks(client.get("/notifications").get_data(as_text=True), world) == []
    assert client.get("/api/v1/notifications").json["unread"] == 0


def test_unknown_audiences_on_the_form_and_the_api_are_400_with_a_message(app: Flask, world) -> None:
    client = _client(app, world["owner"])
    page = client.get(f"/assets/{world['public_id']}/edit").get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(page),
        "title": "Каталог насосов общий",
        "kind": "catalog",
        "language": "ru",
        "owner_id": str(world["owner"].id),
        "audiences": str(MISSING),
    }
    response = client.post(f"/assets/{world['public_id']}/edit", data=form)
    assert response.status_code == 400 and f"There is no audience number {MISSING}" in response.get_data(as_text=True)
    token = {"X-CSRFToken": csrf_from(page)}
    bad = client.patch(f"/api/v1/assets/{world['public_id']}", json={"audiences": [MISSING]}, headers=token)
    assert bad.status_code == 400 and bad.json["error"]["field"] == "audiences"
    wrong_type = client.patch(f"/api/v1/assets/{world['public_id']}", json={"audiences": "all"}, headers=token)
    assert wrong_type.status_code == 400
    created = client.post(
        "/api/v1/assets",
        data={"kind": "catalog", "audiences": "abc", "file": (io.BytesIO(b"# x\n\ny"), "x.md")},
        headers=token,
    )
    assert created.status_code == 400 and "audiences" in created.json["error"]["message"].lower()
    # A good one restricts it, and re-indexes it: outsiders stop finding it at once.
    ok = client.patch(f"/api/v1/assets/{world['public_id']}", json={"audiences": [world["audience_id"]]}, headers=token)
    assert ok.status_code == 200 and ok.json["audiences"][0]["id"] == world["audience_id"]
    worker_for(app).run_until_idle()
    outsider = _client(app, world["sales"])
    assert outsider.get("/api/v1/search", query_string={"q": "насосы"}).json["total"] == 0
    assert outsider.get(f"/assets/{world['public_id']}").status_code == 404


def test_admins_manage_audiences_and_members_on_their_page(app: Flask, world) -> None:
    client = _client(app, world["admin"])
    page = client.get("/admin/audiences").get_data(as_text=True)
    assert "Тендер МВД-2027" in page and world["member"].email in page
    token = csrf_from(page)
    assert client.post("/admin/audiences", data={"csrf_token": token, "name": "Дилеры"}).status_code == 302
    twice = client.post("/admin/audiences", data={"csrf_token": token, "name": " дилеры "})
    assert twice.status_code == 409 and "already an audience" in twice.get_data(as_text=True)
    assert client.post("/admin/audiences", data={"csrf_token": token, "name": "a=b"}).status_code == 400
    audience_id = world["audience_id"]
    unknown = client.post(f"/admin/audiences/{audience_id}/members", data={"csrf_token": token, "email": "no@x.y"})
    assert unknown.status_code == 400 and "No account has the e-mail" in unknown.get_data(as_text=True)
    added = client.post(
        f"/admin/audiences/{audience_id}/members", data={"csrf_token": token, "email": world["sales"].email}
    )
    assert added.status_code == 302
    assert TITLE in _client(app, world["sales"]).get(f"/assets/{world['asset_id']}").get_data(as_text=True)
    client.post(f"/admin/audiences/{audience_id}/members/{world['sales'].id}/remove", data={"csrf_token": token})
    assert _client(app, world["sales"]).get(f"/assets/{world['asset_id']}").status_code == 404
    # Sales and marketing may not manage audiences.
    assert _client(app, world["marketing"]).get("/admin/audiences").status_code == 403
    # Deleting the audience makes its assets everyone's again.
    assert client.post(f"/admin/audiences/{audience_id}/delete", data={"csrf_token": token}).status_code == 302
    worker_for(app).run_until_idle()
    assert _client(app, world["sales"]).get(f"/assets/{world['asset_id']}").status_code == 200


def test_the_cli_lists_creates_and_manages_members(app: Flask, world) -> None:
    from click.testing import CliRunner

    from conftest import SECRET_KEY
    from kb.cli import main

    db = app.extensions["kb_db"]
    env = {"KB_DATABASE_URL": db.url, "KB_SECRET_KEY": SECRET_KEY}
    runner = CliRunner()
    created = runner.invoke(main, ["audiences", "create", "Дилеры"], env=env)
    assert created.exit_code == 0 and "created audience" in created.output
    added = runner.invoke(main, ["audiences", "add-member", "Дилеры", world["sales"].email], env=env)
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["audiences", "list"], env=env)
    assert "Дилеры\t1 member(s)\t0 asset(s)" in listed.output
    assert "Тендер МВД-2027\t1 member(s)\t1 asset(s)" in listed.output
    removed = runner.invoke(main, ["audiences", "remove-member", "Дилеры", world["sales"].email], env=env)
    assert removed.exit_code == 0 and "removed" in removed.output
    missing = runner.invoke(main, ["audiences", "add-member", "Нет такой", world["sales"].email], env=env)
    assert missing.exit_code != 0 and "no audience" in missing.output
