"""The import page (/assets/import): many files, a ZIP and a folder at once; its result page; the indexing notice."""

from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import func, select

from conftest import csrf_from
from fixtures_files import RU_OFFER, make_docx, make_gif
from kb.models import Asset, AssetStatus
from publishing_helpers import fields, publisher_for, text_upload, worker_for
from search_helpers import SearchIndex


def _form(client, **values):
    """The import form's fields as the page sends them, with the person signed in as owner (its default)."""
    html = client.get("/assets/import").get_data(as_text=True)
    owner = re.search(r'<option selected value="(\d+)"', html)
    assert owner, "the signed-in person is the default owner"
    data = {"csrf_token": csrf_from(html), "owner_id": owner.group(1), "kind": "catalog", "language": "ru"}
    data["status"] = "published"
    data.update(values)
    return data


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_publish_page_leads_to_the_import_page_with_its_limits(signed_in, client) -> None:
    signed_in("marketing")
    assert 'href="/assets/import"' in client.get("/assets/new").get_data(as_text=True)
    html = client.get("/assets/import").get_data(as_text=True)
    assert 'type="file"' in html and "multiple" in html and "webkitdirectory" in html
    assert "100 MB" in html and "import-drop.js" in html
    assert 'enctype="multipart/form-data"' in html


def test_several_files_are_imported_and_a_refused_one_is_shown_with_its_reason(signed_in, client, db, tmp_path) -> None:
    user = signed_in("marketing")
    docx = make_docx(tmp_path / "Коммерческое предложение.docx", [RU_OFFER])
    gif = make_gif(tmp_path / "фото.gif")
    data = _form(client, segments=["B2B", "B2G"], tags="импорт, насосы", product="Насосы НВ")
    data["files"] = [
        (io.BytesIO(docx.read_bytes()), "Коммерческое предложение.docx"),
        (io.BytesIO("# Насосы\n\nПодбор насоса".encode()), "Насосы_НВ.md"),
        (io.BytesIO(gif.read_bytes()), "фото.gif"),
    ]
    response = client.post("/assets/import", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    with db.session() as session:
        assets = {a.title: a for a in session.scalars(select(Asset))}
    assert set(assets) == {"Коммерческое предложение", "Насосы НВ"}
    for asset in assets.values():
        assert f'href="/assets/{asset.id}"' in html
        assert (asset.kind, asset.product, asset.owner_id, asset.status) == (
            "catalog",
            "Насосы НВ",
            user.id,
            AssetStatus.PUBLISHED,
        )
    refused = html[html.index('id="refused"') : html.index("</section>", html.index('id="refused"'))]
    assert "фото.gif" in refused and "This file is not a type kb accepts." in refused
    assert "2 new files are still being indexed" in html
    assert "/admin/jobs" not in html  # the Jobs page is an admin's


def test_a_zip_and_a_folder_in_one_upload_and_a_second_import_skips_them(signed_in, client, db) -> None:
    signed_in("admin")
    zipped = _zip({"Каталоги/Прайс.md": "# Прайс".encode(), "inner.zip": _zip({"a.md": b"# a"})})
    data = _form(client, kind="datasheet")
    data["files"] = [
        (io.BytesIO(zipped), "Материалы.zip"),
        (io.BytesIO(b"# Folder file"), "Папка/Вложенная/условия.md"),
        (io.BytesIO(b"\x00\x00\x00\x01Bud1"), "Папка/.DS_Store"),
    ]
    html = client.post("/assets/import", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert "Каталоги/Прайс.md" in html and "Папка/Вложенная/условия.md" in html
    assert "An archive inside the import is not opened" in html
    assert "1 hidden or system file (such as .DS_Store or Thumbs.db) was left out." in html
    assert 'href="/admin/jobs"' in html  # admins get the Jobs page beside the count
    jobs_page = client.get("/admin/jobs").get_data(as_text=True)
    assert "2 new files are still being indexed" in jobs_page
    assert '<tr><td>extract_version</td><td data-label="queued">2</td>' in jobs_page
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 2
        price_id = session.scalar(select(Asset.id).where(Asset.title == "Прайс"))

    again = _form(client, kind="datasheet")
    again["files"] = [(io.BytesIO(zipped), "Материалы.zip")]
    html = client.post("/assets/import", data=again, content_type="multipart/form-data").get_data(as_text=True)
    skipped = html[html.index('id="skipped"') :]
    assert f'<a href="/assets/{price_id}">Already stored as asset {price_id} «Прайс».</a>' in skipped


def test_a_manifest_sent_with_a_folder_gives_its_files_their_metadata(signed_in, client, db) -> None:
    signed_in("marketing")
    data = _form(client, kind="")
    # A folder's files come with the folder's name first; the manifest was written from inside the folder.
    data["files"] = [(io.BytesIO(b"# a"), "Материалы/a.md"), (io.BytesIO(b"# b"), "Материалы/КП/b.md")]
    manifest = "file;title;kind\na.md;Первый;case_study\nКП/b.md;Второй;datasheet\nc.md;Третий;catalog\n"
    data["manifest"] = (io.BytesIO(manifest.encode("cp1251")), "metadata.csv")
    html = client.post("/assets/import", data=data, content_type="multipart/form-data").get_data(as_text=True)
    with db.session() as session:
        assert {title: kind for title, kind in session.execute(select(Asset.title, Asset.kind))} == {
            "Первый": "case_study",
            "Второй": "datasheet",
        }
    assert "No file «c.md» in the import." in html


def test_the_files_imported_on_the_page_can_be_restricted_to_an_audience(signed_in, client, db, make_user) -> None:
    from kb import audiences
    from kb.models import AssetAudience

    dealers = audiences.create_audience(db, "Дилерский отдел")
    signed_in("marketing")
    data = _form(client)
    assert "Дилерский отдел" in client.get("/assets/import").get_data(as_text=True)
    data["audiences"] = [str(dealers)]
    data["files"] = [(io.BytesIO("# Прайс дилеров".encode()), "прайс.md")]
    assert client.post("/assets/import", data=data, content_type="multipart/form-data").status_code == 200
    with db.session() as session:
        asset_id = session.scalars(select(Asset.id)).one()
        assert session.scalars(select(AssetAudience.audience_id).where(AssetAudience.asset_id == asset_id)).all() == [
            dealers
        ]
    data = _form(client)
    data["audiences"] = ["999"]
    data["files"] = [(io.BytesIO(b"# other"), "other.md")]
    refused = client.post("/assets/import", data=data, content_type="multipart/form-data")
    assert refused.status_code == 400 and "There is no audience number 999." in refused.get_data(as_text=True)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 1


def test_bad_input_is_a_400_with_the_message_beside_the_field(signed_in, client, db) -> None:
    signed_in("marketing")
    no_files = client.post("/assets/import", data=_form(client), content_type="multipart/form-data")
    assert no_files.status_code == 400
    assert 'id="files-error">Choose files, a ZIP or a folder to import.' in no_files.get_data(as_text=True)

    wrong_kind = _form(client, kind="brochure")
    wrong_kind["files"] = [(io.BytesIO(b"# a"), "a.md")]
    response = client.post("/assets/import", data=wrong_kind, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="kind-error">Choose a kind: catalog, presentation' in html

    no_kind = _form(client, kind="")
    no_kind["files"] = [(io.BytesIO(b"# a"), "a.md")]
    response = client.post("/assets/import", data=no_kind, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose a kind for the files, or give each file&#39;s kind in the manifest." in response.get_data(
        as_text=True
    )

    bad_manifest = _form(client)
    bad_manifest["files"] = [(io.BytesIO(b"# a"), "a.md")]
    bad_manifest["manifest"] = (io.BytesIO(b"title;kind\nA;catalog\n"), "metadata.csv")
    response = client.post("/assets/import", data=bad_manifest, content_type="multipart/form-data")
    assert response.status_code == 400 and 'id="manifest-error">The manifest needs a column named file' in (
        response.get_data(as_text=True)
    )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0


def test_without_a_csrf_token_nothing_is_imported(signed_in, client, db) -> None:
    signed_in("marketing")
    data = {"kind": "catalog", "files": [(io.BytesIO(b"# a"), "a.md")]}
    response = client.post("/assets/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0


def test_an_upload_over_the_limit_gets_the_friendly_413_page(app, signed_in, client) -> None:
    signed_in("marketing")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    data = _form(client)
    data["files"] = [(io.BytesIO(b"x" * 100_000), "big.md")]
    response = client.post("/assets/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "The upload is larger than the limit of" in response.get_data(as_text=True)


def test_the_import_pages_speak_russian(signed_in, client, db) -> None:
    user = signed_in("marketing")
    client.post("/language", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True)), "language": "ru"})
    html = client.get("/assets/import").get_data(as_text=True)
    assert "Импорт" in html
    data = _form(client)
    data["files"] = [(io.BytesIO(b"GIF89a" + bytes(range(256))), "фото.gif"), (io.BytesIO(b"# a"), "a.md")]
    html = client.post("/assets/import", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert "Этот файл" in html or "не принимает" in html, html
    assert "новый файл ещё индексируется" in html
    assert user


def test_search_says_how_many_new_files_are_still_being_indexed(app, signed_in, client, make_user) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    for title in ("Каталог насосов", "Прайс насосов", "Буклет насосов"):
        publisher.create_asset(owner.id, fields(owner, title=title), text_upload(f"{title}: насосы"))
    signed_in("sales")
    html = client.get("/search?q=насосы").get_data(as_text=True)
    assert "3 new files are still being indexed" in html
    worker_for(app).run_until_idle()
    html = client.get("/search?q=насосы").get_data(as_text=True)
    assert "still being indexed" not in html and "3 assets found" in html
    SearchIndex.close_all()
