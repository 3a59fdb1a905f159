"""The command line around publishing: the worker, the jobs list, ``kb check`` and the demo library."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from conftest import SECRET_KEY
from kb import vocabularies
from kb.cli import main
from kb.models import Asset, AssetVersion, ExtractionStatus, Rating, StaleFlag
from publishing_helpers import fields, publisher_for, text_upload

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture
def cli_env(instance_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KB_") and name not in ("KB_PREVIEWS", "KB_OCR"):  # conftest turns these off
            monkeypatch.delenv(name)
    monkeypatch.setenv("KB_INSTANCE_DIR", str(instance_dir))
    monkeypatch.setenv("KB_SECRET_KEY", SECRET_KEY)


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_worker_once_extracts_pending_versions(cli_env, app, make_user, db) -> None:
    owner = make_user("marketing")
    publisher_for(app).create_asset(owner.id, fields(owner), text_upload("Текст для поиска"))
    result = run("worker", "--once")
    assert result.exit_code == 0 and "ran 2 job(s)" in result.output  # extraction, then one index job
    with db.session() as session:
        assert session.scalars(select(AssetVersion.extraction_status)).one() == ExtractionStatus.DONE
    assert "done: 2" in run("jobs", "list").output
    retry = run("jobs", "retry", "1")
    assert retry.exit_code == 1 and "No such failed job." in retry.output


def test_check_reports_missing_mismatched_and_orphan_files(cli_env, app, make_user) -> None:
    owner = make_user("marketing")
    publisher = publisher_for(app)
    first = publisher.create_asset(owner.id, fields(owner, title="A"), text_upload("alpha"))
    second = publisher.create_asset(owner.id, fields(owner, title="B"), text_upload("beta"))
    ok = run("check")
    assert ok.exit_code == 0 and "checked 2 version file(s)" in ok.output and ok.output.strip().endswith("OK")

    with app.extensions["kb_db"].session() as session:
        sha_a = session.get(AssetVersion, first.version_id).sha256
        sha_b = session.get(AssetVersion, second.version_id).sha256
    path_a = publisher.blobs.path_for(sha_a)
    path_a.chmod(0o644)
    path_a.write_bytes(b"tampered")
    publisher.blobs.path_for(sha_b).unlink()
    orphan = publisher.blobs.put_bytes(b"nobody refers to me")
    bad = run("check")
    assert bad.exit_code == 1
    assert "MISMATCH  asset" in bad.output and "MISSING   asset" in bad.output
    assert f"orphan    {orphan}" in bad.output and "PROBLEMS FOUND" in bad.output


def test_check_remove_orphans_keeps_young_files(cli_env, app) -> None:
    blobs = publisher_for(app).blobs
    digest = blobs.put_bytes(b"young orphan")
    result = run("check", "--remove-orphans")
    assert f"orphan    {digest}  (less than an hour old: --remove-orphans keeps it" in result.output
    assert "removed 0 file(s)" in result.output and blobs.exists(digest)
    old = blobs.path_for(digest)
    os.utime(old, (1, 1))
    result = run("check", "--remove-orphans")
    assert f"orphan    {digest}\n" in result.output and "removed 1 file(s)" in result.output
    assert not blobs.exists(digest)


#: A process that stages an upload from its standard input, as the server stages a request body: it writes what
#: arrives to a ``.incoming-*`` file and waits for more.
_UPLOADER = (
    "import sys; from pathlib import Path; from kb.blobs import BlobStore; "
    "BlobStore(Path(sys.argv[1])).stage(sys.stdin.buffer.raw)"
)


def _start_upload(blobs) -> subprocess.Popen:
    """An upload under way in another process: part of the file has arrived, its ``.incoming-*`` file is open."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    child = subprocess.Popen([sys.executable, "-c", _UPLOADER, str(blobs.root)], stdin=subprocess.PIPE, env=env)
    assert child.stdin is not None
    child.stdin.write(b"%PDF-1.7 the first part of a big upload")
    child.stdin.flush()
    deadline = time.monotonic() + 30
    while not blobs.stray_temporaries():
        assert time.monotonic() < deadline and child.poll() is None, "the upload did not start"
        time.sleep(0.05)
    return child


def test_an_upload_file_left_by_a_killed_server_is_removed_at_once(cli_env, app) -> None:
    blobs = publisher_for(app).blobs
    child = _start_upload(blobs)
    _kill(child)  # the server is killed mid-upload: SIGKILL, no clean-up
    (left,) = blobs.stray_temporaries()

    report = run("check")
    removal = run("check", "--remove-orphans")

    assert "1 unfinished upload file(s) of uploads that stopped or began over an hour ago (removed with " in (
        report.output
    )
    assert "removed 1 file(s)" in removal.output and not left.exists()
    assert "unfinished" not in run("check").output


def test_an_upload_under_way_is_left_alone(cli_env, app) -> None:
    blobs = publisher_for(app).blobs
    child = _start_upload(blobs)
    try:
        (writing,) = blobs.stray_temporaries()

        result = run("check", "--remove-orphans")

        assert "1 upload(s) under way (left alone)" in result.output and "unfinished" not in result.output
        assert "removed 0 file(s)" in result.output and writing.exists()
    finally:
        _kill(child)


def _kill(child: subprocess.Popen) -> None:
    child.kill()
    child.wait()
    assert child.stdin is not None
    child.stdin.close()


def _small_manifest(tmp_path: Path) -> Path:
    manifest = json.loads((CONTENT / "manifest.json").read_text(encoding="utf-8"))
    multi = [a for a in manifest["assets"] if len(a["versions"]) >= 2][:2]
    single = [a for a in manifest["assets"] if len(a["versions"]) == 1][:2]
    manifest["assets"] = multi + single
    titles = [entry["title"] for entry in manifest["assets"]]
    email = manifest["feedback"]["people"][0]["email"]
    manifest["feedback"]["ratings"] = [
        {"asset": titles[0], "by": email, "stars": 2, "comment": "устарело"},
        {"asset": titles[1], "by": email, "stars": 5, "comment": ""},
    ]
    manifest["feedback"]["flags"] = [
        {"asset": titles[0], "by": email, "reason": "prices_outdated", "comment": "цены 2025", "page": None}
    ]
    for entry in manifest["assets"]:
        for version in entry["versions"]:
            target = tmp_path / version["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(CONTENT / version["file"], target)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return path


def test_demo_load_is_idempotent(cli_env, tmp_path: Path, db) -> None:
    manifest = _small_manifest(tmp_path)
    first = run("demo", "load", "--manifest", str(manifest))
    assert first.exit_code == 0, first.output
    assert "4 asset(s) created" in first.output
    assert "2 rating(s) and 1 flag(s) added" in first.output
    with db.session() as session:
        assets_before = session.scalar(select(func.count()).select_from(Asset))
        versions_before = session.scalar(select(func.count()).select_from(AssetVersion))
        products = set(session.scalars(select(Asset.product).where(Asset.product != "")))
        terms = {term.value for term in vocabularies.terms(session, "product")}
    assert assets_before == 4 and versions_before >= 6
    assert products and terms == products  # each product of the library is a term of its vocabulary
    second = run("demo", "load", "--manifest", str(manifest))
    assert "0 asset(s) created, 0 version(s) added, 4 unchanged" in second.output
    assert "0 account(s) created, 0 rating(s) and 0 flag(s) added" in second.output
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AssetVersion)) == versions_before
        flag = session.scalars(select(StaleFlag)).one()
        assert flag.reports == 1 and flag.reason == "prices_outdated"
        assert session.scalar(select(func.count()).select_from(Rating)) == 2


def test_the_shipped_demo_library_is_complete() -> None:
    manifest = json.loads((CONTENT / "manifest.json").read_text(encoding="utf-8"))
    assets = manifest["assets"]
    assert len(assets) >= 40
    assert sum(len(a["versions"]) >= 2 for a in assets) >= 10
    extensions = {Path(v["file"]).suffix for a in assets for v in a["versions"]}
    assert {".pdf", ".docx", ".pptx", ".xlsx", ".md"} <= extensions
    assert {a["language"] for a in assets} >= {"ru", "en", "mixed"}
    titles = {a["title"] for a in assets}
    feedback = manifest["feedback"]
    assert feedback["flags"] and feedback["ratings"]
    assert {f["asset"] for f in feedback["flags"] + feedback["ratings"]} <= titles
    for entry in assets:
        for version in entry["versions"]:
            assert (CONTENT / version["file"]).is_file(), version["file"]


@pytest.mark.parametrize(
    "name",
    [".incoming-k2j4h5g6", ".incoming-4242-0123456789ab-k2j4h5g6"],
    ids=["named-before-writers-were", "another-machine"],
)
def test_an_upload_file_whose_writer_cannot_be_told_goes_once_an_hour_old(cli_env, app, name: str) -> None:
    blobs = publisher_for(app).blobs
    left = blobs.root / name
    left.write_bytes(b"%PDF-1.7 part")

    young = run("check", "--remove-orphans")
    os.utime(left, (1, 1))
    old = run("check", "--remove-orphans")

    assert "1 upload(s) under way (left alone)" in young.output and "removed 0 file(s)" in young.output
    assert "1 unfinished upload file(s)" in old.output and "removed 1 file(s)" in old.output
    assert not left.exists()
