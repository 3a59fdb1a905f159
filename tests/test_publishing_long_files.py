"""A file too long to read in the time extraction has: its first pages are stored and found by search, and the
version is marked as read in part, which marketing sees on the asset page (issue #12: a 619-page PDF took 116 of
the 120 s on a busy machine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import fixtures_files as F
import kb.publishing
from conftest import PASSWORD, Auth
from kb import accounts
from kb.models import AssetVersion, ExtractedPage, ExtractionStatus
from kb.publishing import FileUpload
from kb.search.backend import SearchRequest
from publishing_helpers import fields, publisher_for, worker_for
from search_helpers import SearchIndex

NOTE = "Only pages 1–1 of 30 were read: reading more took too long. Search finds the text of these pages."
NOTE_RU = "Прочитаны только страницы 1–1 из 30: читать дальше было слишком долго. Поиск находит текст этих страниц."


@pytest.fixture(autouse=True)
def fresh_searchers():
    yield
    SearchIndex.close_all()


@pytest.fixture
def partly_read(app, make_user, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A 30-page catalogue published and extracted with no time to spare: only its first page is read."""
    monkeypatch.setattr(kb.publishing, "EXTRACTION_TIME_BUDGET_S", 0)
    pages = ["Насосы для водоотведения, серия НВ."] + [f"Раздел {n}." for n in range(2, 30)] + ["Вентиляторы ВР-80."]
    pdf = F.make_pdf(tmp_path / "catalogue.pdf", pages)
    owner = make_user("marketing")
    details = fields(owner, title="Каталог оборудования", description="", product="", tags=[])
    with pdf.open("rb") as handle:
        published = publisher_for(app).create_asset(owner.id, details, FileUpload(handle, "catalogue.pdf"))
    worker_for(app).run_until_idle()
    return published


def test_the_first_pages_are_stored_and_the_version_says_it_was_read_in_part(db, partly_read) -> None:
    with db.session() as session:
        version = session.get(AssetVersion, partly_read.version_id)
        numbers = list(session.scalars(select(ExtractedPage.number).where(ExtractedPage.version_id == version.id)))

    assert version.extraction_status == ExtractionStatus.DONE and version.page_count == 30
    assert version.extraction_error == NOTE
    assert numbers == [1]


def test_search_finds_the_text_of_the_pages_read(app, partly_read) -> None:
    index = SearchIndex(app.config["KB_SETTINGS"].index_dir)

    assert [hit.asset_id for hit in index.search(SearchRequest(text="водоотведение")).hits] == [partly_read.asset_id]
    assert index.search(SearchRequest(text="вентиляторы")).total == 0


def _asset_page(app, user, asset_id: int) -> str:
    client = app.test_client()
    Auth(client).login(user.email, PASSWORD)
    return client.get(f"/assets/{asset_id}").get_data(as_text=True)


def test_marketing_sees_the_note_on_the_asset_page_in_its_language(app, make_user, partly_read) -> None:
    english = _asset_page(app, make_user("marketing"), partly_read.asset_id)
    russian = _asset_page(app, make_user("marketing", preferred_language="ru"), partly_read.asset_id)
    sales = _asset_page(app, make_user("sales"), partly_read.asset_id)

    assert f"text extracted: {NOTE}" in english
    assert NOTE_RU in russian
    assert "Only pages" not in sales and NOTE_RU not in sales


def test_the_api_gives_the_note_with_the_version(client, db, make_user, partly_read) -> None:
    user = make_user("sales")
    headers = {"Authorization": f"Bearer {accounts.create_token(db, user.id, 'crm').secret}"}

    version = client.get(f"/api/v1/assets/{partly_read.asset_id}", headers=headers).json["versions"][0]

    assert version["extraction_status"] == "done" and version["extraction_error"] == NOTE


def test_stored_reasons_and_notes_are_shown_in_the_reader_s_language(app) -> None:
    from kb.web.templating import extraction_message

    with app.test_request_context(headers={"Accept-Language": "ru"}):
        assert extraction_message(NOTE) == NOTE_RU
        assert extraction_message("Extraction took longer than 120 s.") == "Извлечение текста заняло больше 120 с."
        assert extraction_message("The file is corrupt: EOF marker not found") == (
            "Файл повреждён: EOF marker not found"
        )
        assert extraction_message("Something kb never says.") == "Something kb never says."
