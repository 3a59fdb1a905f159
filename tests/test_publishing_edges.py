"""Regression tests for bad input and failure paths around publishing (found in review)."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import event, select, update

from conftest import csrf_from
from kb import accounts
from kb.blobs import BlobStore
from kb.models import Asset, AssetVersion, ExtractionStatus, Job
from publishing_helpers import fields, publisher_for, text_upload, worker_for


@pytest.fixture
def owner(make_user):
    return make_user("marketing")


def _form(client, path: str) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def test_domain_errors_on_the_upload_forms_keep_the_file_and_answer_4xx(app, signed_in, client) -> None:
    user = signed_in("marketing")
    data = {
        "csrf_token": _form(client, "/assets/new"),
        "mode": "file",
        "title": "Много тегов",
        "kind": "catalog",
        "language": "ru",
        "owner_id": str(user.id),
        "status": "published",
        "tags": ", ".join(f"t{n}" for n in range(25)),
        "file": (io.BytesIO(b"# file"), "ok.md"),
    }
    response = client.post("/assets", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Kept from your last try: ok.md" in response.get_data(as_text=True)

    published = publisher_for(app).create_asset(user.id, fields(user), text_upload("v1"))
    publisher_for(app).set_status(user.id, published.asset_id, "archived")
    response = client.post(
        f"/assets/{published.asset_id}/versions",
        data={"csrf_token": _form(client, "/profile"), "file": (io.BytesIO(b"v2"), "v2.md"), "change_note": "x"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 409 and "restore it" in response.get_data(as_text=True)
    assert publisher_for(app).blobs.stray_temporaries() == []


def test_extraction_that_gives_up_marks_the_version_failed(app, owner, db) -> None:
    published = publisher_for(app).create_asset(owner.id, fields(owner), text_upload("text"))
    worker = worker_for(app)

    def broken(_context, _payload):  # type: ignore[no-untyped-def]
        raise RuntimeError("parser crashed")

    worker.handlers = {"extract_version": broken}
    for _ in range(3):
        with db.transaction() as session:
            session.execute(update(Job).values(run_after=Job.created_at))
        worker.run_once()
    with db.session() as session:
        version = session.get(AssetVersion, published.version_id)
    assert version.extraction_status == ExtractionStatus.FAILED
    assert "parser crashed" in version.extraction_error


def test_diff_of_repetitive_documents_finishes(app, owner, signed_in, client) -> None:
    from kb.changes import diff

    lines = diff(["0"] * 5000, ["0", "1"] * 2500)
    assert lines and all(line.kind in {"same", "added", "removed", "gap", "page"} for line in lines)


def test_large_markdown_is_shown_as_text_not_rendered(app, signed_in, client) -> None:
    user = signed_in("marketing")
    big = "# Большой документ\n\n" + ("Строка текста про насосы НВ-250/4.\n\n" * 8000)
    published = publisher_for(app).create_asset(user.id, fields(user), text_upload(big, "big.md"))
    worker_for(app).run_until_idle()
    html = client.get(f"/assets/{published.asset_id}").get_data(as_text=True)
    assert 'class="markdown-body"' not in html and "Строка текста про насосы" in html


def test_patch_is_all_or_nothing(client, owner, db, app) -> None:
    headers = {"Authorization": f"Bearer {accounts.create_token(db, owner.id, 't').secret}"}
    published = publisher_for(app).create_asset(owner.id, fields(owner), text_upload("x"))
    for body, status in (
        ({"title": "CHANGED", "status": "bogus"}, 400),
        ({"title": "CHANGED", "status": "draft"}, 409),
    ):
        response = client.patch(f"/api/v1/assets/{published.asset_id}", json=body, headers=headers)
        assert response.status_code == status
    with db.session() as session:
        assert session.get(Asset, published.asset_id).title == "Каталог насосов НВ"


def test_absurd_numbers_and_strings_are_4xx(app, signed_in, client, db) -> None:
    user = signed_in("marketing")
    published = publisher_for(app).create_asset(user.id, fields(user), text_upload("x"))
    huge = "9" * 25
    for url in (
        f"/assets/{huge}",
        f"/assets/{published.asset_id}/versions/{huge}/download",
        f"/assets/{published.asset_id}/versions/{huge}/inline",
        f"/api/v1/assets/{huge}",
        f"/assets/{published.asset_id}?version={huge}",
    ):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/assets?page={huge}").status_code == 200
    assert client.get(f"/api/v1/assets?page={huge}").status_code == 400
    token = {"Authorization": f"Bearer {accounts.create_token(db, user.id, 't').secret}"}
    for raw in ('{"owner_id": 1180591620717411303424}', '{"title": "a\\ud800b"}'):
        response = client.patch(
            f"/api/v1/assets/{published.asset_id}", data=raw, content_type="application/json", headers=token
        )
        assert response.status_code == 400, raw
    nested = client.patch(
        f"/api/v1/assets/{published.asset_id}", data="[" * 100_000, content_type="application/json", headers=token
    )
    assert nested.status_code == 400
    created = client.post(
        "/api/v1/assets",
        data={"title": "x", "kind": "catalog", "owner_id": huge, "file": (io.BytesIO(b"y"), "y.md")},
        headers=token,
        content_type="multipart/form-data",
    )
    assert created.status_code == 400 and created.json["error"].get("field") == "owner_id", created.json


def test_nul_in_tags_is_dropped(app, owner, db) -> None:
    published = publisher_for(app).create_asset(owner.id, fields(owner, tags=["на\x00сос"]), text_upload("x"))
    with db.session() as session:
        assert [t.tag for t in session.get(Asset, published.asset_id).tags] == ["насос"]


def test_a_missing_file_is_a_404_not_a_500(app, signed_in, client, db) -> None:
    user = signed_in("marketing")
    published = publisher_for(app).create_asset(user.id, fields(user), text_upload("# gone", "gone.md"))
    with db.session() as session:
        sha = session.get(AssetVersion, published.version_id).sha256
    BlobStore(app.config["KB_SETTINGS"].blob_dir).path_for(sha).unlink()
    assert client.get(f"/assets/{published.asset_id}").status_code == 200
    assert client.get(f"/assets/{published.asset_id}/versions/1/download").status_code == 404
    token = {"Authorization": f"Bearer {accounts.create_token(db, user.id, 't').secret}"}
    api = client.get(f"/api/v1/assets/{published.asset_id}/versions/1/download", headers=token)
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"


def test_text_downloads_keep_their_charset_and_a_readable_ascii_name(app, signed_in, client) -> None:
    from kb.publishing import FileUpload

    user = signed_in("marketing")
    data = "модель;цена\nНВ-250/4;120000\n".encode("cp1251")
    published = publisher_for(app).create_asset(user.id, fields(user), FileUpload(io.BytesIO(data), "Прайс.csv"))
    response = client.get(f"/assets/{published.asset_id}/versions/1/download")
    body = response.data
    response.close()
    assert body == data
    assert response.headers["Content-Type"] == "text/csv; charset=windows-1251"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Prays.csv\"; filename*=UTF-8''%D0%9F%D1%80%D0%B0%D0%B9%D1%81.csv"
    )


def test_orphans_in_use_again_are_not_removed(app, owner, db) -> None:
    import os

    from kb import integrity

    blobs = publisher_for(app).blobs
    digest = blobs.put_bytes(b"# reused")
    report = integrity.check_blobs(db, blobs)
    assert report.orphans == [digest]
    os.utime(blobs.path_for(digest), (1, 1))
    publisher_for(app).create_asset(owner.id, fields(owner), text_upload("# reused"))  # uses it after the report
    assert integrity.remove_orphans(db, blobs, report, min_age_s=0) == 0
    assert blobs.exists(digest)


def test_asset_page_queries_do_not_grow_with_pages(app, signed_in, client, db) -> None:
    user = signed_in("marketing")
    import fixtures_files as F
    from kb.publishing import FileUpload

    tmp = app.config["KB_SETTINGS"].instance_dir

    def queries_for(sheets: int) -> tuple[int, str]:
        path = F.make_xlsx(tmp / f"{sheets}.xlsx", {f"Лист {n}": [[f"значение {n}"]] for n in range(sheets)})
        with path.open("rb") as handle:
            published = publisher_for(app).create_asset(
                user.id, fields(user, title=f"{sheets} листов"), FileUpload(handle, f"{sheets}.xlsx")
            )
        worker_for(app).run_until_idle()
        statements: list[str] = []

        def count(*args):  # type: ignore[no-untyped-def]
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            html = client.get(f"/assets/{published.asset_id}").get_data(as_text=True)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements), html

    one, _html = queries_for(1)
    sixty, html = queries_for(60)
    assert "значение 59" in html
    assert sixty == one, (one, sixty)


def test_long_markdown_from_the_new_asset_form_is_accepted(signed_in, client, db) -> None:
    user = signed_in("marketing")
    text = "# Памятка\n\n" + "длинный текст " * 60_000  # about 1.5 MB of UTF-8
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(
        path="/assets",
        method="POST",
        data={
            "csrf_token": _form(client, "/assets/new?mode=markdown"),
            "mode": "markdown",
            "title": "Длинная памятка",
            "kind": "presentation",
            "language": "ru",
            "owner_id": str(user.id),
            "status": "published",
            "markdown": text,
        },
        content_type="multipart/form-data",
    )
    environ = builder.get_environ()
    try:
        response = client.open(environ)
    finally:
        environ["wsgi.input"].close()  # the test client spools a big body to a temporary file
    assert response.status_code == 302
    with db.session() as session:
        assert session.scalars(select(AssetVersion.size_bytes)).one() > 1_000_000


def test_sanitised_markdown_keeps_no_ids() -> None:
    from kb.rendering import markdown_to_html

    html = markdown_to_html('<p id="csrf_token">x</p>')
    assert "id=" not in html and re.search(r"<p>x</p>", html)
