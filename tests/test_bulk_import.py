"""Bulk import (kb.bulk_import): a real folder of mixed files, ZIPs with Cyrillic and hostile names, manifests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fixtures_files import RU_OFFER, make_docx, make_gif, make_legacy_doc, make_pdf, make_xlsx
from kb import bulk_import, vocabularies
from kb.bulk_import import ImportDefaults, parse_manifest, read_folder, read_uploads, read_zip, run_import
from kb.errors import Forbidden, ValidationError
from kb.models import Asset, AssetSegment, AssetStatus, AssetTag, AssetVersion, Job
from kb.publishing import FileUpload
from publishing_helpers import fields, publisher_for, text_upload


def _reasons(pairs) -> dict[str, str]:
    return {path: str(reason) for path, reason in pairs}


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """An empty folder to import (``tmp_path`` itself holds the test's instance)."""
    path = tmp_path / "import"
    path.mkdir()
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder as marketing keeps one: documents in subfolders, a picture, an old .doc, a copy, OS junk."""
    root = tmp_path / "Материалы"
    (root / "Каталоги" / "2025").mkdir(parents=True)
    (root / "Презентации").mkdir()
    (root / ".git").mkdir()
    make_pdf(root / "Каталоги" / "Каталог_насосов-НВ.pdf", [RU_OFFER, "Насосы НВ-250/4"])
    make_docx(root / "Презентации" / "Коммерческое предложение.docx", [RU_OFFER])
    make_xlsx(root / "Каталоги" / "2025" / "Прайс.xlsx", {"Прайс": [["Насос", "Цена"], ["НВ-250/4", 125000]]})
    (root / "readme.md").write_text("# Как выбрать насос\n\nПодбор по подаче и напору.", encoding="utf-8")
    make_gif(root / "фото.gif")
    make_legacy_doc(root / "старый.doc")
    (root / "Каталоги" / "копия.md").write_text("# Как выбрать насос\n\nПодбор по подаче и напору.", encoding="utf-8")
    (root / "пустой.txt").write_bytes(b"")
    (root / "архив.zip").write_bytes(_zip({"a.md": b"# inside"}))
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "Презентации" / "~$мерческое предложение.docx").write_bytes(b"lock")
    (root / ".git" / "config").write_text("[core]", encoding="utf-8")
    (root / "ссылка.md").symlink_to(root / "readme.md")
    return root


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip_with_oem_names(members: dict[str, bytes]) -> bytes:
    """A ZIP as Windows' "compressed folder" on a Russian system writes it: names in cp866, no UTF-8 flag."""
    buffer = io.BytesIO()
    placeholders = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (name, data) in enumerate(members.items()):
            raw = name.encode("cp866")
            placeholder = chr(ord("A") + number).encode() * len(raw)
            placeholders[placeholder] = raw
            archive.writestr(placeholder.decode(), data)
    data = buffer.getvalue()
    for placeholder, raw in placeholders.items():
        assert data.count(placeholder) == 2  # the local header and the central directory
        data = data.replace(placeholder, raw)
    return data


def test_a_folder_of_mixed_files_publishes_each_good_one_and_says_why_not_the_others(
    app, make_user, db, folder
) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    defaults = ImportDefaults(kind="catalog", product="Насосы НВ", segments=("B2B",), tags=("импорт",))
    seen = []
    with read_folder(folder) as batch:
        report = run_import(publisher, owner.id, batch, defaults, progress=lambda *step: seen.append(step))

    imported = dict(report.imported)
    assert set(imported) == {
        "Каталоги/Каталог_насосов-НВ.pdf",
        "Каталоги/2025/Прайс.xlsx",
        "Презентации/Коммерческое предложение.docx",
        "readme.md",
    }
    skipped = _reasons(report.skipped)
    assert list(skipped) == ["Каталоги/копия.md"]  # the same bytes as readme.md, published a moment before
    assert skipped["Каталоги/копия.md"] == f"Already stored as asset {imported['readme.md']} «readme»."
    refused = _reasons(report.refused)
    assert set(refused) == {"фото.gif", "старый.doc", "пустой.txt", "архив.zip", "ссылка.md"}
    assert "not a type kb accepts" in refused["фото.gif"]
    assert refused["пустой.txt"] == "The file is empty."
    assert refused["архив.zip"] == bulk_import.ARCHIVE_INSIDE
    assert "link" in refused["ссылка.md"]
    assert refused["старый.doc"].startswith("Old binary Office files (.doc, .xls, .ppt) are not accepted")
    assert report.ignored == 4  # .DS_Store, Thumbs.db, the ~$ lock file and the .git folder
    assert not report.ok
    # Progress: once per file read, in order, with the totals.
    assert [step[:2] for step in seen] == [(n, len(seen)) for n in range(1, len(seen) + 1)]
    assert len(seen) == 9

    with db.session() as session:
        catalog = session.get(Asset, imported["Каталоги/Каталог_насосов-НВ.pdf"])
        assert catalog.title == "Каталог насосов НВ"  # from the file's name
        assert (catalog.kind, catalog.product, catalog.status, catalog.owner_id) == (
            "catalog",
            "Насосы НВ",
            AssetStatus.PUBLISHED,
            owner.id,
        )
        assert [s.segment for s in catalog.segments] == ["B2B"] and [t.tag for t in catalog.tags] == ["импорт"]
        assert session.scalar(select(func.count()).select_from(Asset)) == 4
        # Each asset waits for its text extraction and its index job, like any upload.
        kinds = session.scalars(select(Job.kind)).all()
        assert sorted(kinds).count("extract_version") == 4 and sorted(kinds).count("index_asset") == 4


def test_importing_the_same_folder_again_skips_every_stored_file(app, make_user, db, folder) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    with read_folder(folder) as batch:
        first = run_import(publisher, owner.id, batch, ImportDefaults(kind="catalog"))
    with read_folder(folder) as batch:
        again = run_import(publisher, owner.id, batch, ImportDefaults(kind="datasheet"))
    assert again.imported == []
    assert {path for path, _ in again.skipped} == {path for path, _ in first.imported} | {"Каталоги/копия.md"}
    assert {path for path, _ in again.refused} == {path for path, _ in first.refused}
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 4


def test_a_file_already_published_by_hand_is_skipped_with_its_asset(app, make_user, here) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    published = publisher.create_asset(owner.id, fields(owner, title="Прайс вручную"), text_upload("цены"))
    (here / "прайс.md").write_text("цены", encoding="utf-8")
    with read_folder(here) as batch:
        report = run_import(publisher, owner.id, batch, ImportDefaults(kind="catalog"))
    assert _reasons(report.skipped) == {"прайс.md": f"Already stored as asset {published.asset_id} «Прайс вручную»."}
    assert report.ok


def test_a_dry_run_checks_everything_and_publishes_nothing(app, make_user, db, folder) -> None:
    owner = make_user("marketing")
    with read_folder(folder) as batch:
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(kind="catalog"), dry_run=True)
    assert len(report.imported) == 4 and all(asset_id is None for _path, asset_id in report.imported)
    assert _reasons(report.skipped) == {"Каталоги/копия.md": "The same file as readme.md in this import."}
    assert len(report.refused) == 5
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0
        assert session.scalar(select(func.count()).select_from(Job)) == 0
    assert publisher_for(app).blobs.stray_temporaries() == []


def test_bad_defaults_or_a_sales_actor_stop_the_import_before_any_file(app, make_user, db, folder) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    with read_folder(folder) as batch:
        with pytest.raises(ValidationError) as no_kind:
            run_import(publisher, owner.id, batch, ImportDefaults())
        assert no_kind.value.field == "kind"
        with pytest.raises(ValidationError) as bad_kind:
            run_import(publisher, owner.id, batch, ImportDefaults(kind="brochure"))
        assert bad_kind.value.field == "kind"
        with pytest.raises(ValidationError) as bad_segment:
            run_import(publisher, owner.id, batch, ImportDefaults(kind="catalog", segments=("B2X",)))
        assert bad_segment.value.field == "segments"
        sales = make_user("sales")
        with pytest.raises(ValidationError) as bad_owner:
            run_import(publisher, owner.id, batch, ImportDefaults(kind="catalog", owner_id=sales.id))
        assert bad_owner.value.field == "owner_id"
        with pytest.raises(Forbidden):
            run_import(publisher, sales.id, batch, ImportDefaults(kind="catalog"))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0


def test_drafts_on_request(app, make_user, db, here) -> None:
    owner = make_user("marketing")
    (here / "a.md").write_text("# A", encoding="utf-8")
    with read_folder(here) as batch:
        report = run_import(
            publisher_for(app), owner.id, batch, ImportDefaults(kind="datasheet", status=AssetStatus.DRAFT)
        )
    with db.session() as session:
        assert session.get(Asset, report.imported[0][1]).status == AssetStatus.DRAFT


# --- ZIPs ----------------------------------------------------------------------------------------------------


def _zip_batch(data: bytes, name: str = "import.zip", **kwargs):
    return read_zip(io.BytesIO(data), name, **kwargs)


def test_zip_names_in_cp866_and_in_utf8_are_read_as_written(app, make_user, db) -> None:
    owner = make_user("marketing")
    oem = _zip_with_oem_names({"Прайс-лист 2025.md": "цены 2025".encode(), "Каталоги/Насосы НВ.md": b"# NV"})
    utf8 = _zip({"Презентация ёлки.md": "ёлки".encode(), "Папка/Условия оплаты.md": "условия".encode()})
    with zipfile.ZipFile(io.BytesIO(oem)) as check:  # the fixture really is what Windows writes
        assert all(not info.flag_bits & 0x800 for info in check.infolist())
    with zipfile.ZipFile(io.BytesIO(utf8)) as check:
        assert all(info.flag_bits & 0x800 for info in check.infolist())

    with _zip_batch(oem) as batch:
        assert [item.path for item in batch.items] == ["Прайс-лист 2025.md", "Каталоги/Насосы НВ.md"]
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(kind="catalog"))
    with _zip_batch(utf8) as batch:
        assert [item.path for item in batch.items] == ["Презентация ёлки.md", "Папка/Условия оплаты.md"]
        report_utf8 = run_import(publisher_for(app), owner.id, batch, ImportDefaults(kind="catalog"))
    assert report.ok and report_utf8.ok
    with db.session() as session:
        titles = set(session.scalars(select(Asset.title)))
        files = set(session.scalars(select(AssetVersion.original_filename)))
    assert titles == {"Прайс лист 2025", "Насосы НВ", "Презентация ёлки", "Условия оплаты"}
    assert "Прайс-лист 2025.md" in files


def test_a_zip_name_in_utf8_without_the_flag_and_the_unicode_path_field() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        unicode_field = ZipInfoWithUnicodePath("price.md", "Прайс.md")
        archive.writestr(unicode_field, b"x")
        archive.writestr("XXXXXXXX.md", b"y")  # becomes the UTF-8 bytes of "Цены.md", unflagged
    data = buffer.getvalue().replace(b"XXXXXXXX.md", "Цены.md".encode())
    with _zip_batch(data) as batch:
        assert [item.path for item in batch.items] == ["Прайс.md", "Цены.md"]


def ZipInfoWithUnicodePath(raw: str, unicode_name: str) -> zipfile.ZipInfo:  # noqa: N802 - reads as a constructor
    info = zipfile.ZipInfo(raw)
    name = unicode_name.encode("utf-8")
    info.extra = struct.pack("<HHBI", 0x7075, 5 + len(name), 1, zlib.crc32(raw.encode())) + name
    return info


def test_hostile_zip_parts_are_refused_alone(app, make_user, db) -> None:
    owner = make_user("marketing")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.md", b"# good")
        archive.writestr("../../etc/evil.md", b"# evil")
        archive.writestr("/abs/evil.md", b"# evil")
        archive.writestr("C:\\Windows\\evil.md", b"# evil")
        archive.writestr("folder/", b"")
        archive.writestr("__MACOSX/._good.md", b"junk")
        archive.writestr("inner.zip", _zip({"x.md": b"# x"}))
        link = zipfile.ZipInfo("link.md")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("bomb.txt", b"0" * (3 * 1024 * 1024))
        archive.writestr("big.md", b"# " + b"x" * 5000)
    with _zip_batch(buffer.getvalue(), max_file_bytes=4096) as batch:
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(kind="catalog"))
    assert [path for path, _ in report.imported] == ["good.md"]
    refused = _reasons(report.refused)
    outside = "The path leads out of the import; the file is not read."
    assert refused["../../etc/evil.md"] == outside
    assert refused["/abs/evil.md"] == outside
    assert refused["C:\\Windows\\evil.md"] == outside
    assert refused["inner.zip"] == bulk_import.ARCHIVE_INSIDE
    assert "link" in refused["link.md"]
    assert "compressed more than 200 to 1" in refused["bomb.txt"]
    assert refused["big.md"] == "The file is larger than the upload limit."
    assert report.ignored == 1
    with db.session() as session:
        assert session.scalars(select(AssetVersion.original_filename)).all() == ["good.md"]


def test_an_encrypted_part_is_refused_and_a_damaged_part_does_not_stop_the_rest(app, make_user) -> None:
    owner = make_user("marketing")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.md", b"# first file body")
        archive.writestr("b.md", b"# second file body")
        archive.writestr("c.md", b"# third file body")
    data = bytearray(buffer.getvalue())
    data[data.index(b"# second file body")] ^= 0xFF  # a damaged part: its CRC no longer matches
    # The encryption flag of c.md (the last entry) in the central directory, which zipfile reads.
    data[data.rindex(b"PK\x01\x02") + 8] |= 0x1
    with _zip_batch(bytes(data)) as batch:
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(kind="catalog"))
    assert [path for path, _ in report.imported] == ["a.md"]
    refused = _reasons(report.refused)
    assert refused["b.md"].startswith("The file could not be read: ")
    assert "password" in refused["c.md"]


def test_a_damaged_or_oversized_zip_is_refused_whole() -> None:
    with _zip_batch(b"PK\x03\x04 this is not a zip at all") as batch:
        assert batch.items == [] and _reasons(batch.refused) == {
            "import.zip": "The ZIP is damaged or is not a ZIP file."
        }
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for number in range(12):
            archive.writestr(f"{number}.md", b"x")
    data = many.getvalue()
    at = data.rindex(b"PK\x05\x06")
    forged = data[: at + 8] + struct.pack("<HH", 60000, 60000) + data[at + 12 :]  # declares 60,000 parts
    with _zip_batch(forged) as batch:
        assert batch.items == [] and "more than 10000 files" in str(batch.refused[0][1])


def test_uploads_from_a_browser_open_zips_and_keep_folder_paths(app, make_user) -> None:
    uploads = [
        FileUpload(io.BytesIO(b"# one"), "one.md"),
        FileUpload(io.BytesIO(b"# two"), "Папка/Вложенная/two.md"),
        FileUpload(io.BytesIO(_zip({"Внутри/three.md": b"# three"})), "Архив.ZIP"),
        FileUpload(io.BytesIO(b"\x00\x00\x00\x01Bud1"), "Папка/.DS_Store"),
        FileUpload(io.BytesIO(b"# four"), "../four.md"),
        FileUpload(io.BytesIO(b"# five"), "C:\\Users\\Мария\\Documents\\five.md"),  # an old browser's full path
    ]
    with read_uploads(uploads) as batch:
        paths = [item.path for item in batch.items]
        assert paths == ["one.md", "Папка/Вложенная/two.md", "Внутри/three.md", "five.md"]
        assert batch.ignored == 1 and [path for path, _ in batch.refused] == ["../four.md"]
        owner = make_user("marketing")
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(kind="catalog"))
    assert len(report.imported) == 4


# --- the manifest ------------------------------------------------------------------------------------------


MANIFEST_SEMICOLON = """\ufefffile;title;kind;product;segments;tags;owner;review_interval_days;colour
Каталоги/Каталог_насосов-НВ.pdf;Каталог НВ 2025;Catalog;Насосы НВ;B2B, B2G;насосы, НВ-250/4;{owner};90;red
readme.md;Как выбрать насос;datasheet;;;;;;
Презентации/Коммерческое предложение.docx;КП;presentation;;;;nobody@example.com;;
прайс.xlsx;;;;;;;;
нет-такого.pdf;Нет;catalog;;;;;;
README.MD;Второй раз;catalog;;;;;;
фото.gif;Фото;catalog;;;;;раз в год;
;Без файла;catalog;;;;;;
"""


def test_a_manifest_with_semicolons_gives_each_file_its_metadata_and_its_bad_lines_their_reasons(
    app, make_user, db, folder
) -> None:
    owner = make_user("marketing")
    colleague = make_user("marketing", email="olga@example.com")
    manifest = parse_manifest(MANIFEST_SEMICOLON.format(owner=colleague.email).encode("utf-8"))
    with read_folder(folder) as batch:
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(kind="case_study"), manifest=manifest)

    imported = dict(report.imported)
    with db.session() as session:
        catalog = session.get(Asset, imported["Каталоги/Каталог_насосов-НВ.pdf"])
        assert (catalog.title, catalog.kind, catalog.product, catalog.owner_id, catalog.review_interval_days) == (
            "Каталог НВ 2025",
            "catalog",
            "Насосы НВ",
            colleague.id,
            90,
        )
        assert session.scalars(select(AssetSegment.segment).where(AssetSegment.asset_id == catalog.id)).all() == [
            "B2B",
            "B2G",
        ]
        assert set(session.scalars(select(AssetTag.tag).where(AssetTag.asset_id == catalog.id))) == {
            "насосы",
            "НВ-250/4",
        }
        readme = session.get(Asset, imported["readme.md"])
        assert (readme.title, readme.kind, readme.owner_id) == ("Как выбрать насос", "datasheet", owner.id)
        # Not in the manifest (or only by name, with empty cells): the defaults and the file's name.
        price = session.get(Asset, imported["Каталоги/2025/Прайс.xlsx"])
        assert (price.title, price.kind) == ("Прайс", "case_study")

    refused = _reasons(report.refused)
    assert refused["Презентации/Коммерческое предложение.docx"] == (
        "Manifest line 4: No active marketing user has the e-mail nobody@example.com."
    )
    assert refused["фото.gif"] == (
        "Manifest line 8: review_interval_days must be a whole number of days, not «раз в год»."
    )
    problems = {line: str(reason) for line, reason in report.manifest}
    assert problems == {
        1: "Unknown column «colour» is ignored; the columns are: " + ", ".join(bulk_import.MANIFEST_COLUMNS) + ".",
        6: "No file «нет-такого.pdf» in the import.",
        7: "«README.MD» is on line 3 already; this line is ignored.",
        9: "The line names no file.",
    }


def test_a_manifest_in_windows_1251_with_commas_and_quoted_lists(app, make_user, db, here) -> None:
    owner = make_user("marketing")
    (here / "a.md").write_text("# A", encoding="utf-8")
    text = (
        'file,title,kind,segments,tags,description\r\na.md,Прайс-лист,datasheet,"B2B,B2C","прайс, цены",Для дилеров\r\n'
    )
    manifest = parse_manifest(text.encode("cp1251"))
    with read_folder(here) as batch:
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(), manifest=manifest)
    assert report.ok and report.manifest == []
    with db.session() as session:
        asset = session.get(Asset, report.imported[0][1])
        assert (asset.title, asset.kind, asset.description) == ("Прайс-лист", "datasheet", "Для дилеров")
        assert sorted(s.segment for s in asset.segments) == ["B2B", "B2C"]
        assert sorted(t.tag for t in asset.tags) == ["прайс", "цены"]


def test_manifest_values_publishing_refuses_refuse_only_their_file(app, make_user, db, here) -> None:
    owner = make_user("marketing")
    vocabularies.set_closed(app.extensions["kb_db"], "product", True)
    for name in ("a.md", "b.md", "c.md"):
        (here / name).write_text(f"# {name}", encoding="utf-8")
    manifest = parse_manifest(
        "file;kind;product;language\na.md;brochure;;\nb.md;catalog;Неизвестный;\nc.md;;;ru\n".encode()
    )
    with read_folder(here) as batch:
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(kind="catalog"), manifest=manifest)
    assert [path for path, _ in report.imported] == ["c.md"]
    refused = _reasons(report.refused)
    assert refused["a.md"].startswith("Choose a kind: ")
    assert "Неизвестный" in refused["b.md"]


def test_a_copy_of_the_manifest_among_the_files_is_not_imported(app, make_user) -> None:
    owner = make_user("marketing")
    data = b"file;kind\na.md;datasheet\n"
    uploads = [FileUpload(io.BytesIO(b"# a"), "a.md"), FileUpload(io.BytesIO(data), "Папка/metadata.csv")]
    with read_uploads(uploads) as batch:
        report = run_import(publisher_for(app), owner.id, batch, ImportDefaults(), manifest=parse_manifest(data))
    assert [path for path, _ in report.imported] == ["a.md"]
    assert _reasons(report.skipped) == {"Папка/metadata.csv": "This is the manifest; it is not imported."}


def test_a_manifest_without_a_file_column_or_of_binary_bytes_is_refused_whole() -> None:
    with pytest.raises(ValidationError) as no_column:
        parse_manifest(b"title;kind\nA;catalog\n")
    assert no_column.value.field == "manifest"
    with pytest.raises(ValidationError):
        parse_manifest(b"file\x00\x01\x02")
    with pytest.raises(ValidationError):
        parse_manifest(b"")


def test_the_manifest_inside_the_folder_is_not_imported(here) -> None:
    (here / "a.md").write_text("# A", encoding="utf-8")
    (here / "metadata.csv").write_text("file,kind\na.md,datasheet\n", encoding="utf-8")
    with read_folder(here, exclude=[here / "metadata.csv"]) as batch:
        assert [item.path for item in batch.items] == ["a.md"]


def test_paths_are_cleaned_and_junk_is_recognised() -> None:
    assert bulk_import.clean_path("./Папка\\файл.pdf") == "Папка/файл.pdf"
    assert bulk_import.clean_path("a//b/./c.md") == "a/b/c.md"
    assert bulk_import.clean_path("a/../../b.md") is None
    assert bulk_import.clean_path("/etc/passwd") is None
    assert bulk_import.clean_path("D:/x.md") is None
    assert bulk_import.clean_path("") is None
    # macOS writes names decomposed; the import reads them composed, as a manifest typed on Windows has them.
    assert bulk_import.clean_path("и\u0306од.md") == "йод.md"
    for junk in (".DS_Store", "._report.pdf", "Thumbs.db", "desktop.ini", "~$отчёт.docx", "__MACOSX"):
        assert bulk_import.is_junk(junk), junk
    assert not bulk_import.is_junk("отчёт.docx")
