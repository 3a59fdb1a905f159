"""The publishing pages: upload form, asset page, versions, downloads, diffs, Markdown, visibility by role."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select
from werkzeug.test import EnvironBuilder

from conftest import Auth, csrf_from
from kb.models import Asset, AssetVersion, UsageEvent, UsageKind
from publishing_helpers import fields, publisher_for, text_upload, worker_for


def _new_asset_form(client, mode: str = "file") -> str:
    return client.get("/assets/new" + ("?mode=markdown" if mode == "markdown" else "")).get_data(as_text=True)


def _post_new(client, data: dict, file: tuple[bytes, str] | None = None):
    page = _new_asset_form(client, data.get("mode", "file"))
    form = {
        "csrf_token": csrf_from(page),
        "mode": "file",
        "title": "Каталог насосов НВ",
        "kind": "catalog",
        "product": "Насосы НВ",
        "segments": ["B2B", "B2G"],
        "region": "Россия",
        "language": "ru",
        "tags": "насосы, НВ-250/4",
        "status": "published",
        **data,
    }
    if "owner_id" not in form:
        form["owner_id"] = re.search(r'<option selected value="(\d+)"', page).group(1)
    if file is not None:
        form["file"] = (io.BytesIO(file[0]), file[1])
    return client.post("/assets", data=form, content_type="multipart/form-data")


def test_marketing_uploads_a_new_asset_through_the_form(app, signed_in, client, db) -> None:
    signed_in("marketing")
    response = _post_new(client, {}, (b"# Catalog\n\nPump HB-250/4 specs", "catalog.md"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with db.session() as session:
        asset = session.scalars(select(Asset)).one()
    assert response.headers["Location"] == f"/assets/{asset.id}"
    page = client.get(f"/assets/{asset.id}").get_data(as_text=True)
    assert "Каталог насосов НВ" in page and "text extraction in progress" in page
    worker_for(app).run_until_idle()
    page = client.get(f"/assets/{asset.id}").get_data(as_text=True)
    assert "text extracted" in page and "Pump HB-250/4 specs" in page


def test_form_errors_keep_the_input_and_the_good_file(signed_in, client, db) -> None:
    signed_in("marketing")
    response = _post_new(client, {"kind": "", "description": "Оставить этот текст"}, (b"# ok", "ok.md"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This field is required." in html and "Оставить этот текст" in html
    assert "Kept from your last try: ok.md" in html
    kept = re.search(r'name="kept_file" type="hidden" value="([^"]+)"', html).group(1)
    again = _post_new(client, {"kind": "catalog", "kept_file": kept})
    assert again.status_code == 302
    with db.session() as session:
        version = session.scalars(select(AssetVersion)).one()
        assert version.original_filename == "ok.md"


def test_an_empty_title_is_the_file_name_and_markdown_needs_one(signed_in, client, db) -> None:
    signed_in("marketing")
    page = _new_asset_form(client)
    assert "Leave it empty to use the file's name." in page and "title-from-file.js" in page
    response = _post_new(client, {"title": ""}, (b"# ok", "Прайс_НВ-250 2026.md"))
    assert response.status_code == 302, response.get_data(as_text=True)
    with db.session() as session:
        assert session.scalars(select(Asset.title)).one() == "Прайс НВ-250 2026"
    markdown = _post_new(client, {"mode": "markdown", "title": "", "markdown": "# Памятка"})
    assert markdown.status_code == 400 and "This field is required." in markdown.get_data(as_text=True)
    assert "file's name" not in _new_asset_form(client, "markdown")


def test_the_forms_offer_the_terms_and_a_closed_list_refuses_beside_the_field(app, signed_in, client, db) -> None:
    from kb import vocabularies

    user = signed_in("marketing")
    publisher = publisher_for(app)
    existing = publisher.create_asset(user.id, fields(user, product="Насосы НВ", region="Урал"), text_upload("а"))
    page = _new_asset_form(client)
    assert 'list="product-terms"' in page and '<option value="Насосы НВ">' in page
    assert '<datalist id="region-terms"><option value="Урал">' in page
    assert "type a new one: it joins the list" in page
    vocabularies.set_closed(db, "product", True)
    page = _new_asset_form(client)
    assert "Only values from the list; an admin adds new ones." in page
    response = _post_new(
        client, {"title": "Прайс", "description": "Оставить", "product": "НВ"}, (b"# price", "price.md")
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    field = html[html.index('<label for="product">') : html.index('<label for="region">')]
    assert "“НВ” is not in the list of products. Did you mean “Насосы НВ”?" in field
    assert 'aria-invalid="true"' in field and 'value="НВ"' in field
    assert "Оставить" in html and "Kept from your last try: price.md" in html
    kept = re.search(r'name="kept_file" type="hidden" value="([^"]+)"', html).group(1)
    again = _post_new(client, {"title": "Прайс", "product": "насосы нв", "kept_file": kept})
    assert again.status_code == 302
    with db.session() as session:
        assert session.scalars(select(Asset.product).order_by(Asset.id)).all() == ["Насосы НВ", "Насосы НВ"]
    edit = client.get(f"/assets/{existing.asset_id}/edit").get_data(as_text=True)
    assert 'list="product-terms"' in edit and "Only values from the list" in edit
    refused = client.post(
        f"/assets/{existing.asset_id}/edit",
        data={
            "csrf_token": csrf_from(edit),
            "title": "Переименован",
            "kind": "catalog",
            "product": "Насосы",
            "region": "Урал",
            "language": "ru",
            "owner_id": str(user.id),
        },
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "Did you mean “Насосы НВ”?" in html and 'value="Переименован"' in html
    with db.session() as session:
        assert session.get(Asset, existing.asset_id).title == fields(user).title


def test_a_bad_file_is_the_one_thing_to_choose_again(signed_in, client, db) -> None:
    signed_in("marketing")
    response = _post_new(client, {"description": "сохранить"}, (b"%PDF-1.7 but really a lie" * 3, "price.docx"))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Accepted:" in html and "сохранить" in html and "Kept from your last try" not in html
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0


def test_missing_file_is_a_400_beside_the_field(signed_in, client) -> None:
    signed_in("marketing")
    response = _post_new(client, {})
    assert response.status_code == 400 and "Choose a file to upload." in response.get_data(as_text=True)


def test_upload_over_the_limit_is_a_413_page(instance_dir) -> None:
    from conftest import app_config
    from kb import create_app
    from kb.accounts import create_user

    app = create_app(app_config(instance_dir, KB_MAX_UPLOAD_MB=1))
    user = create_user(app.extensions["kb_db"], "big@example.com", "long enough pw", "marketing")
    client = app.test_client()
    Auth(client).login(user.email, "long enough pw")
    page = client.get("/assets/new").get_data(as_text=True)
    builder = EnvironBuilder(
        path="/assets",
        method="POST",
        data={"csrf_token": csrf_from(page), "title": "big", "file": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "big.txt")},
    )
    environ = builder.get_environ()
    try:
        response = client.open(environ)
    finally:
        environ["wsgi.input"].close()  # the test client spools the big body to a temporary file
    assert response.status_code == 413
    assert "larger than the limit of 1 MB" in response.get_data(as_text=True)
    app.extensions["kb_db"].dispose()


def test_new_version_page_and_history(app, signed_in, client, db) -> None:
    user = signed_in("marketing")
    first = publisher_for(app).create_asset(user.id, fields(user), text_upload("Цена: 100 000 ₽\nСрок: 10 дней"))
    page = client.get(f"/assets/{first.asset_id}/versions/new").get_data(as_text=True)
    missing_note = client.post(
        f"/assets/{first.asset_id}/versions",
        data={"csrf_token": csrf_from(page), "file": (io.BytesIO(b"new"), "v2.md"), "change_note": ""},
        content_type="multipart/form-data",
    )
    assert missing_note.status_code == 400 and "This field is required." in missing_note.get_data(as_text=True)
    kept = re.search(r'name="kept_file" type="hidden" value="([^"]+)"', missing_note.get_data(as_text=True)).group(1)
    response = client.post(
        f"/assets/{first.asset_id}/versions",
        data={"csrf_token": csrf_from(page), "kept_file": kept, "change_note": "Цены обновлены"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    same = client.post(
        f"/assets/{first.asset_id}/versions",
        data={"csrf_token": csrf_from(page), "file": (io.BytesIO(b"new"), "v3.md"), "change_note": "again"},
        content_type="multipart/form-data",
    )
    assert same.status_code == 409 and "identical to the current version 2" in same.get_data(as_text=True)
    html = client.get(f"/assets/{first.asset_id}").get_data(as_text=True)
    assert "Цены обновлены" in html and "Version 2" in html
    assert html.count("/download") >= 3  # button + one per version


def test_download_sends_exact_bytes_with_a_cyrillic_name(app, signed_in, client) -> None:
    user = signed_in("sales")
    marketing = app.extensions["kb_db"]
    from kb.accounts import create_user

    owner = create_user(marketing, "owner@example.com", "long enough pw", "marketing")
    content = "<script>alert(1)</script># Прайс".encode()
    published = publisher_for(app).create_asset(
        owner.id, fields(owner), text_upload(content.decode(), "../Прайс лист 2026.md")
    )
    response = client.get(f"/assets/{published.asset_id}/versions/1/download")
    body = response.data
    response.close()
    assert response.status_code == 200 and body == content
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%D0%9F%D1%80%D0%B0%D0%B9%D1%81%20%D0%BB%D0%B8%D1%81%D1%82%202026.md" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "text/markdown"
    with app.extensions["kb_db"].session() as session:
        kinds = session.scalars(select(UsageEvent.kind).where(UsageEvent.user_id == user.id)).all()
    assert kinds == [UsageKind.DOWNLOAD]
    assert client.get(f"/assets/{published.asset_id}/versions/1/inline").status_code == 404  # not a PDF


def test_asset_page_records_a_view(app, signed_in, client, db) -> None:
    user = signed_in("marketing")
    published = publisher_for(app).create_asset(user.id, fields(user), text_upload("x"))
    client.get(f"/assets/{published.asset_id}")
    with db.session() as session:
        assert session.scalars(select(UsageEvent.kind)).all() == [UsageKind.VIEW]


def test_markdown_is_sanitised_on_the_asset_page_and_in_the_preview(app, signed_in, client) -> None:
    user = signed_in("marketing")
    hostile = (
        "# Заголовок\n\n<script>alert('x')</script>\n\n[click](javascript:alert(1))\n\n"
        '<img src="x" onerror="alert(2)">\n\n<a href="https://intranet/doc" onclick="steal()">ok</a>'
    )
    published = publisher_for(app).create_asset(user.id, fields(user), text_upload(hostile))
    html = client.get(f"/assets/{published.asset_id}").get_data(as_text=True)
    body = html[html.index('class="markdown-body"') :]
    assert "<h1>Заголовок</h1>" in body
    for bad in ("<script>alert", "javascript:", "onerror", "onclick"):
        assert bad not in body
    page = client.get(f"/assets/{published.asset_id}/write").get_data(as_text=True)
    preview = client.post(
        f"/assets/{published.asset_id}/write",
        data={"csrf_token": csrf_from(page), "markdown": hostile, "change_note": "", "action": "preview"},
    ).get_data(as_text=True)
    section = preview[preview.index('class="preview') :]
    assert "<h1>Заголовок</h1>" in section and "<script>alert" not in section and "javascript:" not in section


def test_markdown_written_in_the_browser_becomes_a_version(app, signed_in, client, db) -> None:
    user = signed_in("marketing")
    page = _new_asset_form(client, "markdown")
    response = client.post(
        "/assets",
        data={
            "csrf_token": csrf_from(page),
            "mode": "markdown",
            "title": "Памятка по тендерам",
            "kind": "tender_template",
            "language": "ru",
            "owner_id": str(user.id),
            "status": "published",
            "markdown": "# Памятка\n\n- 44-ФЗ\n- 223-ФЗ",
        },
    )
    assert response.status_code == 302
    asset_id = int(response.headers["Location"].rsplit("/", 1)[1])
    write = client.get(f"/assets/{asset_id}/write").get_data(as_text=True)
    assert "# Памятка" in write  # the editor opens with the current text
    saved = client.post(
        f"/assets/{asset_id}/write",
        data={
            "csrf_token": csrf_from(write),
            "markdown": "# Памятка\n\n- 44-ФЗ\n- 223-ФЗ\n- 615-ПП",
            "change_note": "Добавлено 615-ПП",
            "action": "save",
        },
    )
    assert saved.status_code == 302
    with db.session() as session:
        versions = session.scalars(select(AssetVersion).where(AssetVersion.asset_id == asset_id)).all()
        assert [v.number for v in versions] == [1, 2] and versions[1].change_note == "Добавлено 615-ПП"
        assert versions[1].original_filename.endswith(".md")


def test_what_changed_between_versions(app, signed_in, client) -> None:
    user = signed_in("marketing")
    publisher = publisher_for(app)
    first = publisher.create_asset(
        user.id, fields(user), text_upload("Модель НВ-250/4\nЦена 100 000 ₽\nГарантия 2 года")
    )
    publisher.add_version(
        user.id, first.asset_id, text_upload("Модель НВ-250/4\nЦена 107 000 ₽\nГарантия 2 года"), "+7%"
    )
    worker_for(app).run_until_idle()
    html = client.get(f"/assets/{first.asset_id}/changes?from=1&to=2").get_data(as_text=True)
    assert '<li class="diff-removed">' in html and "Цена 100 000 ₽" in html
    assert '<li class="diff-added">' in html and "Цена 107 000 ₽" in html
    assert client.get(f"/assets/{first.asset_id}/changes?from=2&to=2").status_code == 400
    assert client.get(f"/assets/{first.asset_id}/changes?from=1&to=9").status_code == 404


def test_drafts_and_archived_assets_are_hidden_from_sales(app, make_user, db) -> None:
    from kb.models import AssetStatus

    owner = make_user("marketing")
    publisher = publisher_for(app)
    draft = publisher.create_asset(
        owner.id, fields(owner, title="Черновик"), text_upload("d"), status=AssetStatus.DRAFT
    )
    archived = publisher.create_asset(owner.id, fields(owner, title="Архив"), text_upload("a"))
    publisher.set_status(owner.id, archived.asset_id, "archived")
    visible = publisher.create_asset(owner.id, fields(owner, title="Опубликован"), text_upload("p"))
    sales = app.test_client()
    Auth(sales).login(make_user("sales").email)
    listing = sales.get("/assets").get_data(as_text=True)
    assert "Опубликован" in listing and "Черновик" not in listing and "Архив" not in listing
    assert sales.get(f"/assets/{draft.asset_id}").status_code == 404  # never theirs to see
    assert sales.get(f"/assets/{draft.asset_id}/versions/1/download").status_code == 404
    gone = sales.get(f"/assets/{archived.asset_id}")  # an old link: it says what happened
    assert gone.status_code == 410 and "Архив" in gone.get_data(as_text=True)
    assert sales.get(f"/assets/{archived.asset_id}/versions/1/download").status_code == 410
    assert sales.get(f"/assets/{visible.asset_id}").status_code == 200
    marketing = app.test_client()
    Auth(marketing).login(owner.email)
    assert "Черновик" in marketing.get("/assets").get_data(as_text=True)
    assert marketing.get(f"/assets/{draft.asset_id}").status_code == 200


def test_edit_details_and_status_buttons(app, signed_in, client, db) -> None:
    user = signed_in("marketing")
    published = publisher_for(app).create_asset(user.id, fields(user), text_upload("x"))
    page = client.get(f"/assets/{published.asset_id}/edit").get_data(as_text=True)
    assert 'value="Каталог насосов НВ"' in page
    response = client.post(
        f"/assets/{published.asset_id}/edit",
        data={
            "csrf_token": csrf_from(page),
            "title": "Переименован",
            "kind": "catalog",
            "language": "ru",
            "owner_id": str(user.id),
            "segments": ["B2C"],
            "tags": "x",
        },
    )
    assert response.status_code == 302
    bad = client.post(
        f"/assets/{published.asset_id}/edit",
        data={
            "csrf_token": csrf_from(page),
            "title": "",
            "kind": "catalog",
            "language": "ru",
            "owner_id": str(user.id),
        },
    )
    assert bad.status_code == 400
    archive = client.post(
        f"/assets/{published.asset_id}/status", data={"csrf_token": csrf_from(page), "status": "archived"}
    )
    assert archive.status_code == 302
    nonsense = client.post(
        f"/assets/{published.asset_id}/status", data={"csrf_token": csrf_from(page), "status": "gone"}
    )
    assert nonsense.status_code == 400
    with db.session() as session:
        asset = session.get(Asset, published.asset_id)
        assert asset.title == "Переименован" and asset.status == "archived"
        assert session.scalar(select(func.count()).select_from(AssetVersion)) == 1


def test_markdown_in_cp1251_is_shown_readable(app, signed_in, client) -> None:
    from kb.publishing import FileUpload

    user = signed_in("marketing")
    data = "# Прайс-лист\n\nЦены указаны с НДС. Поставка по всей России.".encode("cp1251")
    published = publisher_for(app).create_asset(user.id, fields(user), FileUpload(io.BytesIO(data), "прайс.md"))
    html = client.get(f"/assets/{published.asset_id}").get_data(as_text=True)
    assert "<h1>Прайс-лист</h1>" in html and "Поставка по всей России." in html


def _archive(client, asset_id: int, replaced_by: str):
    page = client.get(f"/assets/{asset_id}").get_data(as_text=True)
    return client.post(
        f"/assets/{asset_id}/status",
        data={"csrf_token": csrf_from(page), "status": "archived", "replaced_by": replaced_by},
    )


def test_an_archived_asset_tells_an_old_link_what_replaced_it(app, make_user, db) -> None:
    from kb.models import AssetStatus

    owner = make_user("marketing")
    publisher = publisher_for(app)
    old = publisher.create_asset(owner.id, fields(owner, title="Прайс-лист 2025"), text_upload("цены 2025"))
    new = publisher.create_asset(owner.id, fields(owner, title="Прайс-лист 2026"), text_upload("цены 2026"))
    draft = publisher.create_asset(
        owner.id, fields(owner, title="Черновик"), text_upload("d"), status=AssetStatus.DRAFT
    )
    marketing = app.test_client()
    Auth(marketing).login(owner.email)

    bad = [
        ("не номер", "Give the asset as its number or a link to its page."),
        (str(old.asset_id), "An asset cannot replace itself."),
        (str(draft.asset_id), f"Asset {draft.asset_id} is not a published asset"),
        ("999999", "Asset 999999 is not a published asset"),
        ("-5", "Give the asset as its number or a link to its page."),
    ]
    for typed, message in bad:
        response = _archive(marketing, old.asset_id, typed)
        assert response.status_code == 400 and message in response.get_data(as_text=True), typed
        with db.session() as session:
            assert session.get(Asset, old.asset_id).status == "published"  # nothing changed

    done = _archive(marketing, old.asset_id, f"http://kb.example/assets/{new.asset_id}?s=3")
    assert done.status_code == 302
    page = marketing.get(f"/assets/{old.asset_id}").get_data(as_text=True)
    assert "Archived on" in page and "Прайс-лист 2026" in page  # marketing sees it, marked, with its replacement

    sales = app.test_client()
    Auth(sales).login(make_user("sales").email)
    gone = sales.get(f"/assets/{old.asset_id}")
    html = gone.get_data(as_text=True)
    assert gone.status_code == 410
    assert "Прайс-лист 2025" in html and "was archived on" in html
    assert f'href="/assets/{new.asset_id}"' in html and "Прайс-лист 2026" in html
    from kb import accounts

    token = accounts.create_token(db, owner.id, "t").secret
    sales_token = accounts.create_token(db, _sales_id(db), "t").secret
    api = sales.get(f"/api/v1/assets/{old.asset_id}", headers={"Authorization": f"Bearer {sales_token}"})
    assert api.status_code == 410
    assert api.json["error"]["code"] == "archived" and api.json["error"]["replaced_by"]["id"] == new.asset_id
    assert api.json["error"]["archived_on"]
    mine = sales.get(f"/api/v1/assets/{old.asset_id}", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200 and mine.json["replaced_by"] == new.asset_id and mine.json["archived_at"]

    # Restored, it is published again and forgets the replacement.
    page = marketing.get(f"/assets/{old.asset_id}").get_data(as_text=True)
    marketing.post(f"/assets/{old.asset_id}/status", data={"csrf_token": csrf_from(page), "status": "published"})
    with db.session() as session:
        restored = session.get(Asset, old.asset_id)
        assert restored.status == "published" and restored.archived_at is None and restored.replaced_by_id is None
    assert sales.get(f"/assets/{old.asset_id}").status_code == 200


def _sales_id(db) -> int:
    from kb.models import User

    with db.session() as session:
        return session.scalars(select(User.id).where(User.role == "sales")).first()


def test_search_marks_archived_assets_for_marketing_and_hides_them_from_sales(app, make_user) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    gone = publisher.create_asset(owner.id, fields(owner, title="Старый каталог клапанов"), text_upload("клапаны"))
    publisher.set_status(owner.id, gone.asset_id, "archived")
    worker_for(app).run_until_idle()
    marketing = app.test_client()
    Auth(marketing).login(owner.email)
    html = marketing.get("/search?q=клапаны").get_data(as_text=True)
    hit = html[html.index("Старый каталог клапанов") :][:600]
    assert 'class="badge badge-archived"' in hit and "fresh-fresh" not in hit
    sales = app.test_client()
    Auth(sales).login(make_user("sales").email)
    assert "Старый каталог клапанов" not in sales.get("/search?q=клапаны").get_data(as_text=True)


def test_sales_read_what_the_text_state_means_for_them_not_the_jargon(app, make_user) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    published = publisher.create_asset(owner.id, fields(owner, title="Каталог"), text_upload("# Насосы"))
    sales = app.test_client()
    Auth(sales).login(make_user("sales").email)
    pending = sales.get(f"/assets/{published.asset_id}").get_data(as_text=True)
    assert "search will find its text in a moment" in pending and "text extraction" not in pending
    worker_for(app).run_until_idle()
    done = sales.get(f"/assets/{published.asset_id}").get_data(as_text=True)
    assert "text extracted" not in done and 'class="extraction' not in done  # all is well: nothing to say


def test_only_text_written_in_kb_offers_to_edit_its_text(app, signed_in, client, tmp_path) -> None:
    user = signed_in("marketing")
    publisher = publisher_for(app)
    note = publisher.create_asset(user.id, fields(user, title="Заметка"), text_upload("# Текст", "note.md"))
    import io

    import fixtures_files as F
    from kb.publishing import FileUpload

    path = F.make_pdf(tmp_path / "c.pdf", ["Каталог насосов"])
    pdf = publisher.create_asset(
        user.id, fields(user, title="Каталог PDF"), FileUpload(io.BytesIO(path.read_bytes()), "c.pdf")
    )
    assert f'href="/assets/{note.asset_id}/write"' in client.get(f"/assets/{note.asset_id}").get_data(as_text=True)
    page = client.get(f"/assets/{pdf.asset_id}").get_data(as_text=True)
    assert "/write" not in page and f'href="/assets/{pdf.asset_id}/versions/new"' in page
