"""``kb import``: a folder or a ZIP from the command line, its report and exit codes, and ``kb jobs list`` after."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from conftest import SECRET_KEY
from fixtures_files import RU_OFFER, make_docx, make_gif
from kb.cli import main
from kb.models import Asset, AssetStatus
from kb.search import SearchRequest, backend_of, search


@pytest.fixture
def cli_env(instance_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KB_") and name not in ("KB_PREVIEWS", "KB_OCR"):  # conftest turns these off
            monkeypatch.delenv(name)
    monkeypatch.setenv("KB_INSTANCE_DIR", str(instance_dir))
    monkeypatch.setenv("KB_SECRET_KEY", SECRET_KEY)


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "выгрузка"
    (root / "КП").mkdir(parents=True)
    make_docx(root / "КП" / "Предложение Атлас.docx", [RU_OFFER])
    (root / "насосы.md").write_text("# Насосы НВ\n\nЦентробежные насосы для водоканалов.", encoding="utf-8")
    make_gif(root / "фото.gif")
    (root / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "metadata.csv").write_text(
        "file;title;kind;tags\nКП/Предложение Атлас.docx;КП на сервер Атлас;presentation;атлас, кп\n",
        encoding="utf-8-sig",
    )
    return root


def test_a_folder_is_imported_with_a_report_of_what_was_refused_and_found_by_search_after_the_worker(
    cli_env, app, make_user, db, folder
) -> None:
    marketing = make_user("marketing")
    result = run(
        "import",
        str(folder),
        "--manifest",
        str(folder / "metadata.csv"),
        "--as",
        marketing.email,
        "--kind",
        "datasheet",
        "--segment",
        "B2B",
        "--segment",
        "B2G",
        "--tag",
        "насосы",
    )
    assert result.exit_code == 1, result.output  # one file was refused
    lines = result.stdout.splitlines()
    refused = [line for line in lines if line.startswith("refused\t")]
    assert len(refused) == 1 and refused[0].startswith("refused\tфото.gif\tThis file is not a type kb accepts.")
    assert lines[-2:] == [
        "imported 2, skipped 0, refused 1; 1 hidden or system file(s) left out",
        "the worker now extracts their text and indexes them (kb jobs list shows what is left)",
    ]
    with db.session() as session:
        assets = {a.title: a for a in session.scalars(select(Asset))}
        assert set(assets) == {"КП на сервер Атлас", "насосы"}  # the manifest itself is not an asset
        offer = assets["КП на сервер Атлас"]
        assert offer.kind == "presentation" and sorted(t.tag for t in offer.tags) == ["атлас", "кп"]
        pumps = assets["насосы"]
        assert pumps.kind == "datasheet" and sorted(s.segment for s in pumps.segments) == ["B2B", "B2G"]
        assert [t.tag for t in pumps.tags] == ["насосы"]

    waiting = run("jobs", "list")
    assert "queued: 4" in waiting.output
    assert "  extract_version: 2 queued" in waiting.output and "  index_asset: 2 queued" in waiting.output
    assert "2 new file(s) still being indexed" in waiting.output

    assert run("worker", "--once").exit_code == 0
    after = run("jobs", "list").output
    assert "queued" not in after and "still being indexed" not in after
    found = search(backend_of(app.config["KB_SETTINGS"]), SearchRequest(text="водоканалов"))
    assert [hit.title for hit in found.hits] == ["насосы"]


def test_a_zip_is_imported_and_a_second_run_skips_every_file(cli_env, make_user, tmp_path) -> None:
    marketing = make_user("marketing")
    archive = tmp_path / "Материалы.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("Прайс.md", "# Прайс\n\nЦены на насосы".encode())
        zipped.writestr("Папка/Условия.md", "# Условия поставки".encode())
    first = run("import", str(archive), "--as", marketing.email, "--kind", "catalog")
    assert first.exit_code == 0, first.output
    assert "imported 2, skipped 0, refused 0" in first.stdout
    again = run("import", str(archive), "--as", marketing.email, "--kind", "catalog")
    assert again.exit_code == 0
    assert "skipped\tПрайс.md\tAlready stored as asset 1 «Прайс»." in again.stdout
    assert "imported 0, skipped 2, refused 0" in again.stdout


def test_drafts_an_owner_and_a_dry_run(cli_env, make_user, db, tmp_path) -> None:
    marketing = make_user("marketing")
    colleague = make_user("marketing")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.md").write_text("# A", encoding="utf-8")
    dry = run("import", str(tmp_path / "files"), "--as", marketing.email, "--kind", "catalog", "--dry-run")
    assert dry.exit_code == 0 and "would import 1, skipped 0, refused 0" in dry.stdout
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0
    args = ("--as", marketing.email, "--kind", "catalog", "--draft", "--owner", colleague.email)
    assert run("import", str(tmp_path / "files"), *args).exit_code == 0
    with db.session() as session:
        asset = session.scalars(select(Asset)).one()
        assert (asset.status, asset.owner_id, asset.created_by_id) == (AssetStatus.DRAFT, colleague.id, marketing.id)


def test_imported_assets_restricted_to_an_audience(cli_env, make_user, db, tmp_path) -> None:
    from kb import audiences
    from kb.models import AssetAudience

    marketing = make_user("marketing")
    dealers = audiences.create_audience(db, "Дилерский отдел")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "прайс.md").write_text("# Прайс дилеров", encoding="utf-8")
    args = ("--as", marketing.email, "--kind", "catalog", "--audience", str(dealers))
    result = run("import", str(tmp_path / "files"), *args)
    assert result.exit_code == 0, result.output
    with db.session() as session:
        asset = session.scalars(select(Asset)).one()
        assert session.scalars(select(AssetAudience.audience_id).where(AssetAudience.asset_id == asset.id)).all() == [
            dealers
        ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "catalog", "--audience", "999"], "Invalid value for --audience: There is no audience number 999."),
        (["--kind", "brochure"], "Invalid value for --kind: Choose a kind: catalog, presentation"),
        ([], "Invalid value for --kind: Choose a kind for the files, or give each file's kind in the manifest."),
        (["--kind", "catalog", "--segment", "B2X"], "Invalid value for --segment: Unknown segment B2X."),
        (["--kind", "catalog", "--language", "de"], "Invalid value for --language: Choose a language"),
        (["--kind", "catalog", "--owner", "nobody@example.com"], "Invalid value for --owner: no user with the e-mail"),
    ],
    ids=["unknown audience", "unknown kind", "no kind", "unknown segment", "unknown language", "unknown owner"],
)
def test_bad_arguments_exit_2_before_anything_is_published(cli_env, make_user, db, tmp_path, args, message) -> None:
    marketing = make_user("marketing")
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.md").write_text("# A", encoding="utf-8")
    result = run("import", str(tmp_path / "files"), "--as", marketing.email, *args)
    assert result.exit_code == 2 and message in result.output, result.output
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Asset)) == 0


def test_who_imports_and_what_path_and_manifest_are_checked(cli_env, make_user, tmp_path) -> None:
    sales = make_user("sales")
    marketing = make_user("marketing")
    (tmp_path / "files").mkdir()
    (tmp_path / "not-a-zip.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "bad.csv").write_text("title;kind\nA;catalog\n", encoding="utf-8")
    files = str(tmp_path / "files")
    assert run("import", files, "--kind", "catalog").exit_code == 2  # --as is required
    as_sales = run("import", files, "--as", sales.email, "--kind", "catalog")
    assert as_sales.exit_code == 2 and "Publishing needs the marketing role." in as_sales.output
    unknown = run("import", files, "--as", "nobody@example.com", "--kind", "catalog")
    assert unknown.exit_code == 2 and "--as" in unknown.output
    not_zip = run("import", str(tmp_path / "not-a-zip.pdf"), "--as", marketing.email, "--kind", "catalog")
    assert not_zip.exit_code == 2 and "give a folder or a ZIP file" in not_zip.output
    manifest = run("import", files, "--as", marketing.email, "--manifest", str(tmp_path / "bad.csv"))
    assert manifest.exit_code == 2 and "needs a column named file" in manifest.output
    missing = run("import", str(tmp_path / "nowhere"), "--as", marketing.email, "--kind", "catalog")
    assert missing.exit_code == 2


def test_an_empty_folder_imports_nothing_and_says_so(cli_env, make_user, tmp_path) -> None:
    marketing = make_user("marketing")
    (tmp_path / "empty").mkdir()
    result = run("import", str(tmp_path / "empty"), "--as", marketing.email, "--kind", "catalog")
    assert result.exit_code == 0 and result.stdout.strip() == "imported 0, skipped 0, refused 0"


def test_a_damaged_zip_is_reported_as_refused(cli_env, make_user, tmp_path) -> None:
    marketing = make_user("marketing")
    broken = tmp_path / "broken.zip"
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zipped:
        zipped.writestr("a.md", b"# A")
    broken.write_bytes(data.getvalue()[:-30])  # the end record cut off
    result = run("import", str(broken), "--as", marketing.email, "--kind", "catalog")
    assert result.exit_code == 1
    assert "refused\tbroken.zip\tThe ZIP is damaged or is not a ZIP file." in result.stdout
