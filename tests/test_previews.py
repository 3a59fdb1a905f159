"""Previews and OCR (kb.previews): page images of every accepted format, scans made searchable, hostile files
failing alone, the viewer and the images behind the same access as downloads. Real LibreOffice, PDFium and
Tesseract: marked ``slow`` and ``previews``."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

import fixtures_files as F
from kb.blobs import BlobStore
from kb.extraction import detect
from kb.models import AssetStatus, AssetVersion, ExtractedPage, PreviewStatus
from kb.previews import build, messages
from kb.previews.run import run_sandbox
from kb.previews.store import PreviewStore
from kb.publishing import FileUpload
from publishing_helpers import fields, publisher_for, worker_for

pytestmark = [pytest.mark.slow, pytest.mark.previews]

#: A file of every accepted format, made by the fixture builders.
FORMATS = {
    "pdf": lambda d: F.make_pdf(d / "a.pdf", [F.RU_OFFER, F.RU_TERMS]),
    "docx": lambda d: F.make_docx(d / "a.docx", [F.RU_OFFER]),
    "pptx": lambda d: F.make_pptx(d / "a.pptx", [("Заголовок", F.RU_OFFER, "Заметки"), ("Второй", F.RU_TERMS, "")]),
    "xlsx": lambda d: F.make_xlsx(d / "a.xlsx", {"Лист": [["Товар", 1], ["Насос", 2]]}),
    "odt": lambda d: F.make_odt(d / "a.odt", [F.RU_OFFER]),
    "odp": lambda d: F.make_odp(d / "a.odp", [("Заголовок", F.RU_OFFER, "")]),
    "ods": lambda d: F.make_ods(d / "a.ods", {"Лист": [["Товар"]]}),
    "markdown": lambda d: F.write_text(d / "a.md", "# Заголовок\n\n" + F.RU_OFFER, "utf-8"),
    "html": lambda d: F.write_text(d / "a.html", f"<h1>Заголовок</h1><p>{F.RU_OFFER}</p>", "utf-8"),
    "txt": lambda d: F.write_text(d / "a.txt", F.RU_LETTER, "utf-8"),
    "csv": lambda d: F.write_text(d / "a.csv", "Товар;Цена\nНасос;100\n", "utf-8"),
    "png": lambda d: _saved(F.make_scan(None), d / "a.png"),
    "jpeg": lambda d: _saved(F.make_scan(None), d / "a.jpg"),
    "tiff": lambda d: _saved(F.make_scan(None), d / "a.tif"),
}


def _saved(picture, path: Path) -> Path:
    picture.save(path)
    return path


def test_every_accepted_format_gets_page_images(tmp_path: Path) -> None:
    from kb.extraction.types import ACCEPTED

    assert {t.name for t in ACCEPTED} == set(FORMATS)
    blobs, store = BlobStore(tmp_path / "blobs"), PreviewStore(tmp_path / "previews")
    for name, make in FORMATS.items():
        path = make(tmp_path)
        sha = blobs.put_bytes(path.read_bytes())
        file_type = detect(path.read_bytes()[:65536], blobs.path_for(sha), path.name)
        assert file_type.name == name
        source = build.source_for(blobs, store, sha, file_type, convert=True)
        count = build.render_pages(source, store, sha, list(range(1, 21)), timeout_s=60)
        assert count >= 1, name
        for kind in ("page", "thumb"):
            image = store.image_path(sha, 1, kind)
            assert image.read_bytes()[:4] == b"RIFF" and image.read_bytes()[8:12] == b"WEBP", (name, kind)


def _publish(app, owner, path: Path, *, status: AssetStatus = AssetStatus.PUBLISHED, title: str = "") -> int:
    published = publisher_for(app).create_asset(
        owner.id,
        fields(owner, title=title or path.stem),
        FileUpload(io.BytesIO(path.read_bytes()), path.name),
        status=status,
    )
    return published.asset_id


def _version(app, asset_id: int) -> AssetVersion:
    with app.extensions["kb_db"].session() as session:
        return session.scalars(select(AssetVersion).where(AssetVersion.asset_id == asset_id)).one()


def test_a_scanned_certificate_becomes_searchable_and_is_marked_as_recognised(
    app, client, make_user, signed_in, tmp_path: Path
) -> None:
    owner = make_user("marketing")
    scan = F.make_scan(None)
    png_id = _publish(app, owner, _saved(scan, tmp_path / "сертификат.png"), title="Сертификат PNG")
    pdf_id = _publish(app, owner, F.make_image_pdf(tmp_path / "сертификат.pdf", [scan]), title="Сертификат PDF")
    worker_for(app).run_until_idle()

    for asset_id in (png_id, pdf_id):
        version = _version(app, asset_id)
        assert version.extraction_status == "done" and version.preview_status == PreviewStatus.DONE
        with app.extensions["kb_db"].session() as session:
            page = session.get(ExtractedPage, (version.id, 1))
            assert page.ocr and "Гидромаш" in page.text and "центробежные" in page.text

    signed_in("sales")
    html = client.get("/search?q=Гидромаш центробежные").get_data(as_text=True)
    assert "Сертификат PNG" in html and "Сертификат PDF" in html
    assert html.count("text recognised from a scan") >= 2
    assert f"/assets/{png_id}/versions/1/thumbnails/1.webp" in html
    key = re.search(rf"/assets/{pdf_id}/versions/1/pages/1\?s=([\w-]+)", html).group(1)
    viewer = client.get(f"/assets/{pdf_id}/versions/1/pages/1?s={key}").get_data(as_text=True)
    assert "<mark>Гидромаш</mark>" in viewer and "Text recognised from a scan" in viewer
    image = client.get(f"/assets/{pdf_id}/versions/1/previews/1.webp")
    assert image.status_code == 200 and image.mimetype == "image/webp"
    assert "immutable" in image.headers["Cache-Control"] and image.headers["X-Content-Type-Options"] == "nosniff"
    image.close()


def test_previews_of_a_draft_are_not_found_for_sales(app, client, make_user, auth, tmp_path: Path) -> None:
    owner = make_user("marketing")
    draft = _publish(app, owner, F.make_pdf(tmp_path / "черновик.pdf", ["Черновик"]), status=AssetStatus.DRAFT)
    worker_for(app).run_until_idle()
    urls = [
        f"/assets/{draft}/versions/1/pages/1",
        f"/assets/{draft}/versions/1/previews/1.webp",
        f"/assets/{draft}/versions/1/thumbnails/1.webp",
    ]
    auth.login(owner.email)
    assert [_status(client, url) for url in urls] == [200, 200, 200]
    assert client.get(f"/assets/{draft}/versions/1/pages/2").status_code == 404  # a one-page PDF
    assert client.get(f"/assets/{draft}/versions/2/previews/1.webp").status_code == 404
    auth.logout()
    sales = make_user("sales")
    auth.login(sales.email)
    assert [_status(client, url) for url in urls] == [404, 404, 404]


def _status(client, url: str) -> int:
    response = client.get(url)
    response.close()
    return response.status_code


def test_a_conversion_over_its_time_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    source = F.make_docx(tmp_path / "a.docx", [F.RU_OFFER] * 50)
    started = time.monotonic()
    outcome = run_sandbox(
        {
            "op": "convert",
            "source": str(source),
            "type_name": "docx",
            "pdf_out": str(tmp_path / "out.pdf"),
            "timeout_s": 60,
        },
        timeout_s=0.5,
        memory_mb=1536,
    )
    assert outcome.error == messages.TIMED_OUT % {"seconds": "0.5"}
    assert time.monotonic() - started < 10 and not (tmp_path / "out.pdf").exists()
    time.sleep(0.5)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_soffice_of(p, tmp_path)]
    assert not leftovers


def _is_soffice_of(proc: Path, tmp_path: Path) -> bool:
    try:
        return str(tmp_path) in (proc / "cmdline").read_bytes().decode(errors="replace") and "soffice" in (
            proc / "cmdline"
        ).read_bytes().decode(errors="replace")
    except OSError:
        return False


def test_hostile_files_fail_their_own_preview_and_nothing_else(app, make_user, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(build, "CONVERT_TIMEOUT_S", 25)  # the huge sheet meets it (180 s in production)
    owner = make_user("marketing")
    huge = F.make_xlsx_with_huge_dimension(tmp_path / "огромный.xlsx", [["a", 1]])
    laughs = F.rewrite_zip_member(
        F.make_docx(tmp_path / "смех.docx", ["x"]),
        "word/document.xml",
        lambda xml: (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(
                b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
            )
            + b"]>"
            + xml.split(b"?>", 1)[1].replace(b"<w:t>x</w:t>", b"<w:t>&lol9;</w:t>")
        ),
    )
    truncated = F.truncated_copy(F.make_pdf(tmp_path / "good.pdf", ["x"] * 3), tmp_path / "обрезанный.pdf")
    good = F.make_pptx(tmp_path / "хороший.pptx", [("Хороший", "слайд", "")])
    ids = [_publish(app, owner, path) for path in (huge, laughs, truncated, good)]
    worker_for(app).run_until_idle()

    versions = [_version(app, asset_id) for asset_id in ids]
    for version in versions[:3]:
        assert version.preview_status in (PreviewStatus.DONE, PreviewStatus.FAILED), version.original_filename
        if version.preview_status == PreviewStatus.FAILED:
            assert version.preview_error and "Traceback" not in version.preview_error
    assert versions[2].preview_status == PreviewStatus.FAILED  # a PDF cut in half has no pages to draw
    assert versions[3].preview_status == PreviewStatus.DONE and versions[3].preview_pages == 1
