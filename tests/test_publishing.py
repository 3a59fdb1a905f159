"""Publishing in the domain: versions, all-or-nothing writes, duplicates, concurrency, extraction jobs."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from kb import jobs
from kb.blobs import BlobStore
from kb.errors import Conflict, Forbidden, ValidationError
from kb.models import Asset, AssetStatus, AssetVersion, ExtractedPage, ExtractionStatus, Job, JobStatus
from kb.publishing import title_from_filename
from publishing_helpers import fields, publisher_for, text_upload, worker_for


@pytest.fixture
def marketing(make_user):
    return make_user("marketing", display_name="Мария")


@pytest.fixture
def publisher(app):
    return publisher_for(app)


def test_create_asset_publishes_version_one_and_queues_extraction(app, db, publisher, marketing) -> None:
    published = publisher.create_asset(marketing.id, fields(marketing), text_upload("# Каталог\n\nНасос НВ-250/4"))
    assert published.number == 1 and published.duplicates == []
    with db.session() as session:
        asset = session.get(Asset, published.asset_id)
        version = session.get(AssetVersion, published.version_id)
        assert asset.status == AssetStatus.PUBLISHED and asset.current_version_id == version.id
        assert asset.review_interval_days == 90  # default for catalogs
        assert asset.next_review_on == date.today() + timedelta(days=90)
        assert sorted(s.segment for s in asset.segments) == ["B2B", "B2G"]
        assert sorted(t.tag for t in asset.tags) == sorted(["насосы", "НВ-250/4"])
        assert version.extraction_status == ExtractionStatus.PENDING
        assert version.media_type.startswith("text/markdown")
        queued = {(job.kind, tuple(sorted(job.payload.items()))) for job in session.scalars(select(Job))}
        assert queued == {
            ("extract_version", (("version_id", version.id),)),
            ("index_asset", (("asset_id", asset.id),)),
        }
    assert BlobStore(app.config["KB_SETTINGS"].blob_dir).exists(version.sha256)

    # Extraction first; it asks for the index job publishing queued, which then indexes the text: one index job
    assert worker_for(app).run_until_idle() == 2
    with db.session() as session:
        version = session.get(AssetVersion, published.version_id)
        assert version.extraction_status == ExtractionStatus.DONE
        pages = session.scalars(select(ExtractedPage).where(ExtractedPage.version_id == version.id)).all()
        assert "НВ-250/4" in pages[0].text
        assert {job.status for job in session.scalars(select(Job))} == {JobStatus.DONE}


def test_review_interval_defaults_by_kind(publisher, marketing, db) -> None:
    for kind, days in (("presentation", 180), ("tender_template", 365)):
        published = publisher.create_asset(
            marketing.id, fields(marketing, kind=kind, title=kind), text_upload(f"# {kind}", f"{kind}.md")
        )
        with db.session() as session:
            assert session.get(Asset, published.asset_id).review_interval_days == days


def test_new_versions_are_numbered_and_the_old_ones_stay(publisher, marketing, db) -> None:
    first = publisher.create_asset(marketing.id, fields(marketing), text_upload("версия 1"))
    second = publisher.add_version(marketing.id, first.asset_id, text_upload("версия 2"), "Обновлены цены")
    third = publisher.add_version(marketing.id, first.asset_id, text_upload("версия 3"), "Новая модель")
    assert (second.number, third.number) == (2, 3)
    with db.session() as session:
        numbers = session.scalars(
            select(AssetVersion.number).where(AssetVersion.asset_id == first.asset_id).order_by(AssetVersion.number)
        ).all()
        assert numbers == [1, 2, 3]
        assert session.get(Asset, first.asset_id).current_version_id == third.version_id


def test_change_note_is_required_for_a_new_version(publisher, marketing) -> None:
    first = publisher.create_asset(marketing.id, fields(marketing), text_upload("v1"))
    with pytest.raises(ValidationError) as caught:
        publisher.add_version(marketing.id, first.asset_id, text_upload("v2"), "   ")
    assert caught.value.field == "change_note"


def test_identical_bytes_to_the_current_version_are_refused(publisher, marketing, db) -> None:
    first = publisher.create_asset(marketing.id, fields(marketing), text_upload("same"))
    with pytest.raises(Conflict, match="identical to the current version 1"):
        publisher.add_version(marketing.id, first.asset_id, text_upload("same"), "again")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AssetVersion)) == 1


def test_same_bytes_as_another_assets_current_version_are_accepted_with_a_warning(app, publisher, marketing) -> None:
    first = publisher.create_asset(marketing.id, fields(marketing, title="A"), text_upload("shared bytes"))
    second = publisher.create_asset(marketing.id, fields(marketing, title="B"), text_upload("shared bytes"))
    assert [d.asset_id for d in second.duplicates] == [first.asset_id]
    blob_files = list(BlobStore(app.config["KB_SETTINGS"].blob_dir).all_digests())
    assert len(blob_files) == 1  # stored once


def test_failure_after_the_blob_is_written_leaves_nothing_half_done(app, publisher, marketing, db, monkeypatch) -> None:
    first = publisher.create_asset(marketing.id, fields(marketing), text_upload("good version"))
    original_commit = BlobStore.commit

    def commit_then_crash(self, staged):  # type: ignore[no-untyped-def]
        original_commit(self, staged)
        raise OSError("disk went away")

    monkeypatch.setattr(BlobStore, "commit", commit_then_crash)
    with pytest.raises(OSError):
        publisher.add_version(marketing.id, first.asset_id, text_upload("doomed version"), "will fail")
    with db.session() as session:
        asset = session.get(Asset, first.asset_id)
        assert asset.current_version_id == first.version_id
        assert session.scalar(select(func.count()).select_from(AssetVersion)) == 1
        assert {job.payload.get("version_id") for job in session.scalars(select(Job))} == {first.version_id, None}
        for version in session.scalars(select(AssetVersion)):
            assert publisher.blobs.exists(version.sha256)  # no row points at a missing file
    assert publisher.blobs.stray_temporaries() == []


def test_failure_before_the_blob_is_written_stores_nothing(app, publisher, marketing, db, monkeypatch) -> None:
    def broken_enqueue(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(jobs, "enqueue", broken_enqueue)
    with pytest.raises(RuntimeError):
        publisher.create_asset(marketing.id, fields(marketing), text_upload("never stored"))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0
    assert list(publisher.blobs.all_digests()) == []
    assert publisher.blobs.stray_temporaries() == []


def test_concurrent_new_versions_get_distinct_ordered_numbers(app, marketing, db) -> None:
    publisher = publisher_for(app)
    first = publisher.create_asset(marketing.id, fields(marketing), text_upload("base"))
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def publish(n: int) -> None:
        try:
            barrier.wait()
            publisher_for(app).add_version(marketing.id, first.asset_id, text_upload(f"concurrent {n}"), f"note {n}")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.session() as session:
        versions = session.scalars(
            select(AssetVersion).where(AssetVersion.asset_id == first.asset_id).order_by(AssetVersion.number)
        ).all()
        assert [v.number for v in versions] == list(range(1, 8))
        published_times = [v.published_at for v in versions]
        assert published_times == sorted(published_times)
        assert session.get(Asset, first.asset_id).current_version_id == versions[-1].id


def test_validation_names_the_field(publisher, marketing, make_user) -> None:
    sales = make_user("sales")
    cases = [
        (fields(marketing, title="Я" * 301), "title"),  # an empty one is taken from the file's name
        (fields(marketing, kind="brochure"), "kind"),
        (fields(marketing, segments=["B2X"]), "segments"),
        (fields(marketing, language="de"), "language"),
        (fields(sales), "owner_id"),
        (fields(marketing, review_interval_days=0), "review_interval_days"),
        (fields(marketing, tags=[f"t{n}" for n in range(30)]), "tags"),
    ]
    for bad, field_name in cases:
        with pytest.raises(ValidationError) as caught:
            publisher.create_asset(marketing.id, bad, text_upload(f"file for {field_name}"))
        assert caught.value.field == field_name, field_name
    assert list(publisher.blobs.all_digests()) == []  # refused uploads leave no file behind


@pytest.mark.parametrize(
    ("filename", "title"),
    [
        ("Каталог НВ 2026.pdf", "Каталог НВ 2026"),
        ("katalog_nasosov-NV__2026.docx", "katalog nasosov NV 2026"),
        ("Прайс-лист НВ-250 2025-2026.xlsx", "Прайс лист НВ-250 2025-2026"),  # codes and year ranges keep dashes
        ("  КП   для  МУП.final.pptx", "КП для МУП.final"),
        ("C:\\Users\\maria\\Desktop\\Памятка_44-ФЗ.md", "Памятка 44-ФЗ"),
        ("README", "README"),
        ("_.pdf", "_.pdf"),  # nothing left but the name itself
        ("Я" * 400 + ".pdf", "Я" * 196),  # a stored file name has at most 200 characters
    ],
)
def test_a_title_from_the_file_name(filename: str, title: str) -> None:
    assert title_from_filename(filename) == title


def test_an_upload_without_a_title_is_titled_after_its_file(publisher, marketing, db) -> None:
    published = publisher.create_asset(
        marketing.id, fields(marketing, title="  "), text_upload("# Прайс", "Прайс_лист-насосы НВ.md")
    )
    with db.session() as session:
        assert session.get(Asset, published.asset_id).title == "Прайс лист насосы НВ"
    with pytest.raises(ValidationError) as caught:  # Markdown written in the browser has no file name to use
        publisher.save_markdown(marketing.id, "# Памятка", fields=fields(marketing, title=""))
    assert caught.value.field == "title"


def test_only_marketing_may_publish(publisher, make_user) -> None:
    sales = make_user("sales")
    marketing = make_user("marketing")
    with pytest.raises(Forbidden):
        publisher.create_asset(sales.id, fields(marketing), text_upload("nope"))


def test_empty_file_is_refused(publisher, marketing) -> None:
    with pytest.raises(ValidationError, match="empty"):
        publisher.create_asset(marketing.id, fields(marketing), text_upload("", "empty.txt"))


def test_file_names_are_made_safe_but_keep_cyrillic(publisher, marketing, db) -> None:
    published = publisher.create_asset(
        marketing.id, fields(marketing), text_upload("x", "../../etc/Прайс лист 2026 (итог).md")
    )
    with db.session() as session:
        assert session.get(AssetVersion, published.version_id).original_filename == "Прайс лист 2026 (итог).md"


def test_metadata_edit_creates_no_version_and_moves_review_date(publisher, marketing, db) -> None:
    first = publisher.create_asset(marketing.id, fields(marketing), text_upload("v1"))
    publisher.update_metadata(
        marketing.id,
        first.asset_id,
        {"title": "Новое название", "segments": ["B2C"], "tags": "a, b, A", "review_interval_days": 30},
    )
    with db.session() as session:
        asset = session.get(Asset, first.asset_id)
        assert asset.title == "Новое название"
        assert [s.segment for s in asset.segments] == ["B2C"]
        assert sorted(t.tag for t in asset.tags) == ["a", "b"]
        assert asset.next_review_on == date.today() + timedelta(days=30)
        assert session.scalar(select(func.count()).select_from(AssetVersion)) == 1
    with pytest.raises(ValidationError, match="Unknown field"):
        publisher.update_metadata(marketing.id, first.asset_id, {"sha256": "x"})


def test_archive_restore_and_drafts(publisher, marketing, db) -> None:
    draft = publisher.create_asset(marketing.id, fields(marketing), text_upload("draft"), status=AssetStatus.DRAFT)
    publisher.set_status(marketing.id, draft.asset_id, "published")
    publisher.set_status(marketing.id, draft.asset_id, "archived")
    with pytest.raises(Conflict, match="archived"):
        publisher.add_version(marketing.id, draft.asset_id, text_upload("v2"), "note")
    with pytest.raises(Conflict):
        publisher.set_status(marketing.id, draft.asset_id, "draft")
    with pytest.raises(ValidationError):
        publisher.set_status(marketing.id, draft.asset_id, "deleted")
    publisher.set_status(marketing.id, draft.asset_id, "published")
    with db.session() as session:
        assert session.get(Asset, draft.asset_id).status == AssetStatus.PUBLISHED


def test_extraction_statuses_match_the_model() -> None:
    from kb.extraction.result import STATUSES

    assert set(STATUSES) == {s.value for s in ExtractionStatus} - {"pending"}


def _every_format(tmp_path):  # type: ignore[no-untyped-def]
    import fixtures_files as F

    text = "Насос НВ-250/4 - pump for водоканал"
    return {
        "Каталог.pdf": F.make_pdf(tmp_path / "a.pdf", ["Первая страница", text]),
        "Описание.docx": F.make_docx(tmp_path / "a.docx", [text]),
        "Презентация.pptx": F.make_pptx(
            tmp_path / "a.pptx", [("Титул", "вступление", ""), ("Насосы", text, "заметки")]
        ),
        "Прайс.xlsx": F.make_xlsx(
            tmp_path / "a.xlsx", {"Цены": [["Модель", "Цена"], ["НВ-250/4", 120000]], "Лист2": [[text]]}
        ),
        "Текст.odt": F.make_odt(tmp_path / "a.odt", [text]),
        "Слайды.odp": F.make_odp(tmp_path / "a.odp", [("Титул", "вступление", ""), ("Насосы", text, "")]),
        "Таблица.ods": F.make_ods(tmp_path / "a.ods", {"Лист": [["Модель"], [text]]}),
        "Памятка.md": F.write_text(tmp_path / "a.md", f"# Памятка\n\n{text}", "utf-8"),
        "Страница.html": F.write_text(
            tmp_path / "a.html", f"<html><body><p>{text}</p><script>x()</script></body></html>", "utf-8"
        ),
        "Заметка.txt": F.write_text(tmp_path / "a.txt", f"{text}\nСрок поставки 10 дней", "cp1251"),
        "Таблица.csv": F.write_text(tmp_path / "a.csv", f"модель;описание\nНВ-250/4;{text}\n", "koi8-r"),
    }


@pytest.mark.slow  # a sandbox child per format
@pytest.mark.extraction_isolation  # the real path: the worker, the store and the sandbox's child process
def test_every_format_is_extracted_from_the_store_through_the_worker(app, publisher, marketing, db, tmp_path) -> None:
    """Stored blobs have no file extension; every reader must cope with that."""
    from kb.publishing import FileUpload

    files = _every_format(tmp_path)
    for name, path in files.items():
        with path.open("rb") as handle:
            publisher.create_asset(marketing.id, fields(marketing, title=name), FileUpload(handle, name))
    assert worker_for(app).run_until_idle() == 2 * len(files)  # an extraction and one index job each
    with db.session() as session:
        for version in session.scalars(select(AssetVersion)):
            assert version.extraction_status == ExtractionStatus.DONE, (
                version.original_filename,
                version.extraction_error,
            )
            text = " ".join(session.scalars(select(ExtractedPage.text).where(ExtractedPage.version_id == version.id)))
            assert "НВ-250/4" in text, version.original_filename


def test_encrypted_and_unsupported_variants_are_stored_and_marked_failed(
    app, publisher, marketing, db, tmp_path
) -> None:
    import fixtures_files as F
    from kb.publishing import FileUpload

    files = {
        "Секрет.pdf": F.make_pdf(tmp_path / "s.pdf", ["тайна"], password="secret"),
        "Секрет.docx": F.make_encrypted_ooxml(tmp_path / "s.docx"),
        "Строгий.docx": F.make_strict_docx(tmp_path / "strict.docx", ["строгий"]),
        "Книга.xlsb": F.make_xlsb(tmp_path / "b.xlsb"),
        "Битый.pdf": F.truncated_copy(F.make_pdf(tmp_path / "ok.pdf", ["целый"] * 3), tmp_path / "broken.pdf"),
    }
    for name, path in files.items():
        with path.open("rb") as handle:
            publisher.create_asset(marketing.id, fields(marketing, title=name), FileUpload(handle, name))
    worker_for(app).run_until_idle()
    with db.session() as session:
        results = {
            v.original_filename: (v.extraction_status, v.extraction_error)
            for v in session.scalars(select(AssetVersion))
        }
    assert set(results) == set(files)
    for name, (status, error) in results.items():
        assert status == ExtractionStatus.FAILED and error, name
    assert "password" in results["Секрет.pdf"][1] and "password" in results["Секрет.docx"][1]
    assert ".xlsb" in results["Книга.xlsb"][1] and "Strict" in results["Строгий.docx"][1]


def test_hostile_uploads_are_refused_before_anything_is_stored(publisher, marketing, db, tmp_path) -> None:
    import fixtures_files as F
    from kb.extraction import RejectedFile
    from kb.publishing import FileUpload

    pdf = F.make_pdf(tmp_path / "real.pdf", ["x"])
    cases = {
        "bomb.docx": F.make_zip_bomb(tmp_path / "bomb.docx"),
        "price.docx": pdf,  # a PDF whose name lies
        "logo.gif": F.make_gif(tmp_path / "logo.gif"),
        "old.doc": F.make_legacy_doc(tmp_path / "old.doc"),
    }
    for name, path in cases.items():
        with path.open("rb") as handle, pytest.raises(RejectedFile) as caught:
            publisher.create_asset(marketing.id, fields(marketing, title=name), FileUpload(handle, name))
        assert caught.value.field == "file", name
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0
    assert list(publisher.blobs.all_digests()) == [] and publisher.blobs.stray_temporaries() == []
