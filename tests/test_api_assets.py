"""The assets API: create with a file, versions, list, read, edit, download; errors as JSON with a 4xx."""

from __future__ import annotations

import io

import pytest

from kb import accounts
from publishing_helpers import worker_for


@pytest.fixture
def marketing_token(make_user, db):
    user = make_user("marketing", display_name="Мария")
    return user, {"Authorization": f"Bearer {accounts.create_token(db, user.id, 'crm').secret}"}


def _create(client, headers, **overrides):
    data = {
        "title": "Price offer template",
        "kind": "tender_template",
        "segments": "B2G",
        "language": "en",
        "tags": "tender, 44-FZ",
        "change_note": "first",
        "file": (io.BytesIO(b"# Price offer\n\nTotal: ___ RUB incl. VAT"), "price-offer.md"),
    }
    data.update(overrides)
    data = {name: value for name, value in data.items() if value is not None}
    return client.post("/api/v1/assets", data=data, headers=headers, content_type="multipart/form-data")


def test_create_asset_answers_201_with_the_asset(client, marketing_token) -> None:
    user, headers = marketing_token
    response = _create(client, headers)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["title"] == "Price offer template" and body["kind"] == "tender_template"
    assert body["status"] == "published" and body["current_version"] == 1
    assert body["owner"]["id"] == user.id and body["segments"] == ["B2G"]
    assert body["review_interval_days"] == 365
    (version,) = body["versions"]
    assert version["number"] == 1 and version["file_name"] == "price-offer.md"
    assert version["extraction_status"] == "pending" and version["extraction_error"] is None
    assert len(version["sha256"]) == 64 and version["size"] == 39
    assert body["warnings"] == []


def test_an_asset_sent_without_a_title_is_titled_after_its_file(client, marketing_token) -> None:
    _user, headers = marketing_token
    response = _create(client, headers, title=None)
    assert response.status_code == 201, response.json
    assert response.json["title"] == "price offer"


def test_draft_version_flow_and_extraction_status(app, client, marketing_token) -> None:
    _user, headers = marketing_token
    created = _create(client, headers, status="draft").json
    assert created["status"] == "draft"
    asset_id = created["id"]
    added = client.post(
        f"/api/v1/assets/{asset_id}/versions",
        data={"file": (io.BytesIO(b"# Price offer v2"), "v2.md"), "change_note": "new clause"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert added.status_code == 201 and added.json["number"] == 2 and added.json["change_note"] == "new clause"
    worker_for(app).run_until_idle()
    body = client.get(f"/api/v1/assets/{asset_id}", headers=headers).json
    assert [v["extraction_status"] for v in body["versions"]] == ["done", "done"]
    download = client.get(body["versions"][1]["download_url"], headers=headers)
    data = download.data
    download.close()
    assert data == b"# Price offer v2" and "attachment" in download.headers["Content-Disposition"]


def test_patch_edits_metadata_and_status(client, marketing_token) -> None:
    _user, headers = marketing_token
    asset_id = _create(client, headers).json["id"]
    response = client.patch(
        f"/api/v1/assets/{asset_id}",
        json={"title": "Renamed", "tags": ["a", "b"], "status": "archived"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json["title"] == "Renamed" and response.json["status"] == "archived"
    assert sorted(response.json["tags"]) == ["a", "b"] and len(response.json["versions"]) == 1


def test_list_assets_with_filters_and_paging(client, marketing_token) -> None:
    _user, headers = marketing_token
    for n in range(3):
        _create(client, headers, title=f"T{n}", file=(io.BytesIO(f"file {n}".encode()), f"f{n}.md"))
    body = client.get("/api/v1/assets?kind=tender_template&per_page=2&page=2", headers=headers).json
    assert body["total"] == 3 and body["page"] == 2 and len(body["items"]) == 1
    assert client.get("/api/v1/assets?kind=poster", headers=headers).status_code == 400
    assert client.get("/api/v1/assets?page=zero", headers=headers).json["error"]["field"] == "page"


@pytest.mark.parametrize(
    ("overrides", "status", "field"),
    [
        ({"file": None}, 400, "file"),
        ({"title": "x" * 301}, 400, "title"),  # an empty one is the file's name
        ({"kind": "poster"}, 400, "kind"),
        ({"status": "archived"}, 400, "status"),
        ({"review_interval_days": "soon"}, 400, "review_interval_days"),
        ({"owner": "nobody@example.com"}, 400, "owner_id"),
        ({"file": (io.BytesIO(b"GIF89a" + bytes(range(256))), "logo.gif")}, 400, "file"),
    ],
)
def test_bad_input_is_a_json_4xx(client, marketing_token, overrides, status, field) -> None:
    _user, headers = marketing_token
    if overrides.get("file", 1) is None:
        overrides = {**overrides}
        overrides.pop("file")
        data = {"title": "x", "kind": "catalog"}
        response = client.post("/api/v1/assets", data=data, headers=headers, content_type="multipart/form-data")
    else:
        response = _create(client, headers, **overrides)
    assert response.status_code == status, response.json
    assert response.json["error"]["field"] == field and response.json["error"]["message"]


def test_identical_version_is_a_409(client, marketing_token) -> None:
    _user, headers = marketing_token
    asset_id = _create(client, headers).json["id"]
    again = client.post(
        f"/api/v1/assets/{asset_id}/versions",
        data={"file": (io.BytesIO(b"# Price offer\n\nTotal: ___ RUB incl. VAT"), "same.md"), "change_note": "dup"},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"


def test_duplicate_of_another_asset_is_a_warning(client, marketing_token) -> None:
    _user, headers = marketing_token
    first = _create(client, headers).json
    second = _create(client, headers, title="Copy")
    assert second.status_code == 201
    assert second.json["warnings"][0]["asset_id"] == first["id"]


def test_patch_needs_a_json_object(client, marketing_token) -> None:
    _user, headers = marketing_token
    asset_id = _create(client, headers).json["id"]
    for body in (None, [], {}):
        response = client.patch(f"/api/v1/assets/{asset_id}", json=body, headers=headers)
        assert response.status_code == 400
    assert client.patch(f"/api/v1/assets/{asset_id}", json={"colour": "red"}, headers=headers).status_code == 400
    assert client.patch("/api/v1/assets/999", json={"title": "x"}, headers=headers).status_code == 404


def test_sales_can_read_but_not_write(client, marketing_token, make_user, db) -> None:
    _user, headers = marketing_token
    asset_id = _create(client, headers).json["id"]
    sales = make_user("sales")
    sales_headers = {"Authorization": f"Bearer {accounts.create_token(db, sales.id, 'x').secret}"}
    assert client.get(f"/api/v1/assets/{asset_id}", headers=sales_headers).status_code == 200
    refused = _create(client, sales_headers)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    "body",
    [
        {"title": 5},
        {"segments": "B2B"},
        {"segments": [1]},
        {"tags": {"a": 1}},
        {"owner_id": "abc"},
        {"owner_id": True},
        {"review_interval_days": "30"},
        {"language": None},
        {"status": 7},
    ],
)
def test_patch_with_wrong_types_is_a_400(client, marketing_token, body) -> None:
    _user, headers = marketing_token
    asset_id = _create(client, headers).json["id"]
    response = client.patch(f"/api/v1/assets/{asset_id}", json=body, headers=headers)
    assert response.status_code == 400, response.json
