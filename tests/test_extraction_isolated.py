"""Extraction in a child process: the same result as in-process, and a readable failure when limits are hit."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import fixtures_files as F
from kb.extraction import MAX_TEXT_CHARS, extract, extract_isolated
from kb.extraction.run import _child_environment, _result
from kb.extraction.types import PDF, PPTX, TXT
from kb.models import ExtractionStatus

pytestmark = [pytest.mark.extraction_isolation, pytest.mark.slow]  # child processes

#: Enough for the interpreter, kb and a parser (about 150 MiB of address space), far from enough for the
#: pathological file below.
SMALL_MEMORY_MB = 240


def test_a_normal_file_gives_the_same_result_as_in_process(tmp_path: Path) -> None:
    path = F.make_pptx(tmp_path / "deck.pptx", [("Предложение", F.RU_OFFER, "Заметки"), ("Итоги", "Спасибо", "")])

    result = extract_isolated(path, PPTX)

    assert result.status == ExtractionStatus.DONE
    assert result == extract(path, PPTX)


def test_a_huge_result_comes_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text(("Длинная строка текста для проверки вывода. " * 40 + "\n") * 3500, encoding="utf-8")

    result = extract_isolated(path, TXT)

    assert result.status == ExtractionStatus.DONE and result.truncated
    assert MAX_TEXT_CHARS - 100 < len(result.pages[0].text) <= MAX_TEXT_CHARS


def test_a_timeout_kills_the_child_and_says_so(tmp_path: Path) -> None:
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")

    result = extract_isolated(path, TXT, timeout_s=0.01)

    assert result.status == ExtractionStatus.FAILED
    assert result.error == "Extraction took longer than 0.01 s."


def test_the_memory_limit_stops_a_pathological_allocation(tmp_path: Path) -> None:
    # 20 MB of text with one astral character: Python stores it at four bytes a character, and decoding and
    # cleaning make several copies, far more than SMALL_MEMORY_MB.
    path = tmp_path / "wide.txt"
    path.write_text(("😀 " + "x" * 98 + "\n") * 200_000, encoding="utf-8")
    small = F.write_text(tmp_path / "small.txt", F.RU_LETTER, "utf-8")

    assert extract_isolated(small, TXT, memory_mb=SMALL_MEMORY_MB).status == ExtractionStatus.DONE
    result = extract_isolated(path, TXT, memory_mb=SMALL_MEMORY_MB)

    assert result.status == ExtractionStatus.FAILED
    assert result.error == "Reading the file needed more memory than extraction may use."


def test_the_cpu_limit_ends_the_sandbox_with_sigxcpu() -> None:
    code = "from kb.extraction.sandbox import limit_resources\nlimit_resources(512, 1)\nwhile True: pass\n"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=False)

    assert child.returncode == -signal.SIGXCPU
    result = _result(child.returncode, child.stdout, child.stderr, timeout_s=1)
    assert result.status == ExtractionStatus.FAILED and result.error == "Extraction took longer than 1 s."


def test_a_crashing_child_gives_a_readable_failure(tmp_path: Path) -> None:
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")

    result = extract_isolated(path, replace(TXT, name="no-such-type"))

    assert result.status == ExtractionStatus.FAILED
    assert result.error == "Extraction stopped unexpectedly (exit status 2)."


def test_known_problems_fail_without_starting_a_child(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    path.write_bytes(b"%PDF-1.7\n")

    result = extract_isolated(path, replace(PDF, problem="The PDF is password-protected."), timeout_s=0.000001)

    assert result.error == "The PDF is password-protected."


def test_a_missing_file_is_an_error_of_the_caller_not_a_result(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        extract_isolated(tmp_path / "gone.txt", TXT)
    with pytest.raises(FileNotFoundError):
        extract(tmp_path / "gone.txt", TXT)


def test_the_child_gets_no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("KB_DATABASE_URL", "postgresql://user:password@db/kb")

    environment = _child_environment()

    assert "KB_SECRET_KEY" not in environment and "KB_DATABASE_URL" not in environment
    assert "do-not-leak" not in "".join(environment.values())


def test_stray_output_of_a_library_does_not_spoil_the_result(tmp_path: Path) -> None:
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")
    code = (
        "import sys, kb.extraction.run as run\n"
        "real = run.extract\n"
        "def noisy(*args, **kwargs):\n"
        "    print('library chatter on stdout')\n"
        "    return real(*args, **kwargs)\n"
        "import kb.extraction.sandbox as sandbox\n"
        "sandbox.extract = noisy\n"
        f"sys.exit(sandbox.main([{str(path)!r}, 'txt']))\n"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=False)

    result = _result(child.returncode, child.stdout, child.stderr, timeout_s=60)

    assert b"library chatter" in child.stderr
    assert result.status == ExtractionStatus.DONE and result.pages[0].text == F.RU_LETTER


def test_the_time_budget_reaches_the_child_and_its_pages_come_back(tmp_path: Path) -> None:
    path = F.make_long_pdf(tmp_path / "catalogue.pdf", 6)

    result = extract_isolated(path, PDF, timeout_s=60, time_budget_s=0)

    assert result.status == ExtractionStatus.DONE and result.page_count == 6
    assert result.pages_read == 1 and [page.number for page in result.pages] == [1]
    assert (result.note or "").startswith("Only pages 1–1 of 6 were read")


def _killing_popen(kills: list[int], times: int):  # type: ignore[no-untyped-def]
    """``subprocess.Popen`` whose first ``times`` extraction children are killed with SIGKILL once started, as
    the OOM killer would: a real process, really killed."""
    real = subprocess.Popen

    def popen(*args, **kwargs):  # type: ignore[no-untyped-def]
        child = real(*args, **kwargs)
        if len(kills) < times:
            child.send_signal(signal.SIGKILL)
            kills.append(child.pid)
        return child

    return popen


@pytest.mark.parametrize("killed_times", [1, 3], ids=["killed once, read on the retry", "killed every time"])
def test_an_extraction_killed_from_outside_is_tried_again_before_it_fails(
    app, make_user, monkeypatch, killed_times: int
) -> None:
    from sqlalchemy import select, update

    from conftest import Auth
    from kb import accounts
    from kb.extraction import run
    from kb.models import AssetVersion, Job, JobStatus, utcnow
    from publishing_helpers import fields, publisher_for, text_upload, worker_for

    owner = make_user("marketing")
    published = publisher_for(app).create_asset(owner.id, fields(owner), text_upload("# Насосы\n\nНВ-250 на складе"))
    kills: list[int] = []
    monkeypatch.setattr(run.subprocess, "Popen", _killing_popen(kills, killed_times))
    db = app.extensions["kb_db"]
    worker = worker_for(app)
    for _ in range(4):  # the retry waits a few seconds: make it due now, as time would
        worker.run_until_idle()
        with db.transaction() as session:
            session.execute(update(Job).where(Job.status == JobStatus.QUEUED).values(run_after=utcnow()))
    with db.session() as session:
        version = session.get(AssetVersion, published.version_id)
        extract_job = session.scalars(select(Job).where(Job.kind == "extract_version")).one()
    if killed_times == 1:
        assert len(kills) == 1 and version.extraction_status == ExtractionStatus.DONE
        assert extract_job.status == JobStatus.DONE and extract_job.attempts == 2
        return
    assert len(kills) == 3 and version.extraction_status == ExtractionStatus.FAILED  # three tries, then it fails
    assert version.extraction_error == run.KILLED % {"detail": "signal 9"}
    accounts.update_profile(db, owner.id, language="ru")
    client = app.test_client()
    Auth(client).login(owner.email)
    page = client.get(f"/assets/{published.asset_id}").get_data(as_text=True)
    assert "Процесс извлечения текста был остановлен (signal 9)" in page  # the reason, in the reader's language
