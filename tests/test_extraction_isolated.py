"""Extraction in a child process: the same result as in-process, and a readable failure when limits are hit, whether
the child is forked by the fork server (the default) or spawned as a new Python process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import fixtures_files as F
from kb.extraction import MAX_TEXT_CHARS, extract, extract_isolated, run
from kb.extraction.forkclient import ForkServer
from kb.extraction.run import _child_environment, _result
from kb.extraction.types import DOCX, MARKDOWN, PDF, PPTX, TXT, XLSX
from kb.models import ExtractionStatus

pytestmark = [pytest.mark.extraction_isolation, pytest.mark.slow]  # child processes

#: Enough for the interpreter, kb and a parser (about 150 MiB of address space), far from enough for the
#: pathological file below.
SMALL_MEMORY_MB = 240

BOTH_WAYS = pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "spawned"])


@pytest.fixture(autouse=True)
def fresh_fork_servers() -> Iterator[None]:
    """Each test starts without a fork server and lets its own go: a test that replaces or kills one leaves
    nothing for the next."""
    run.stop_fork_servers()
    yield
    run.stop_fork_servers()


def long_text(path: Path) -> Path:
    """About 10 MB of text: most of a second to read, so a child reading it is still there a moment later."""
    path.write_text(("Длинная строка текста для проверки вывода. " * 40 + "\n") * 3500, encoding="utf-8")
    return path


def fork_servers_running(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """Makes ``extract_isolated`` use fork servers that run ``code`` before serving (with ``run``, ``sandbox``,
    ``os`` and ``signal`` imported): how a test puts a hostile parser into the forked children."""
    prelude = "import os, signal\nfrom kb.extraction import run, sandbox\n"
    command = [sys.executable, "-c", f"{prelude}{code}\nfrom kb.extraction import forkserver\nforkserver.main()\n"]
    monkeypatch.setattr(
        run, "_new_fork_server", lambda: ForkServer(command, env=_child_environment(), cwd=run._project_root())
    )


#: Children of a server running this stop themselves before they extract, until the test kills them or lets
#: them go on (SIGCONT): a child killed "from outside" while it works, without a race.
STOPPED_FIRST = (
    "real = sandbox.extract\n"
    "def stopped_first(*args, **kwargs):\n"
    "    os.kill(os.getpid(), signal.SIGSTOP)\n"
    "    return real(*args, **kwargs)\n"
    "sandbox.extract = stopped_first\n"
)

#: Children of a server running this crash as a parser in C would on the files named so.
CRASHING = (
    "import ctypes\n"
    "real = sandbox.extract\n"
    "def crashing(path, file_type, **kwargs):\n"
    "    if path.name == 'abort.txt':\n"
    "        os.abort()\n"
    "    if path.name == 'segfault.txt':\n"
    "        ctypes.string_at(0)\n"
    "    return real(path, file_type, **kwargs)\n"
    "sandbox.extract = crashing\n"
)


def watching_children(monkeypatch: pytest.MonkeyPatch, on_child) -> list[int]:  # type: ignore[no-untyped-def]
    """Calls ``on_child(pid)`` for each forked child as soon as the server has answered its pid; returns the
    list of those pids."""
    real = ForkServer._start_child
    pids: list[int] = []

    def start_child(self: ForkServer, request):  # type: ignore[no-untyped-def]
        child = real(self, request)
        pids.append(child.pid)
        on_child(child.pid)
        return child

    monkeypatch.setattr(ForkServer, "_start_child", start_child)
    return pids


def process_state(pid: int) -> str | None:
    """The state letter of a process (R, S, T, Z...), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def wait_for_state(pid: int, states: set[str | None], seconds: float = 10) -> str | None:
    deadline = time.monotonic() + seconds
    while (state := process_state(pid)) not in states and time.monotonic() < deadline:
        time.sleep(0.005)
    return state


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(entry.decode().split("=", 1) for entry in raw.split(b"\0") if entry)


def resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


# --- the same result as in this process ----------------------------------------------------------------------


@BOTH_WAYS
def test_a_normal_file_gives_the_same_result_as_in_process(tmp_path: Path, fork_server: bool) -> None:
    path = F.make_pptx(tmp_path / "deck.pptx", [("Предложение", F.RU_OFFER, "Заметки"), ("Итоги", "Спасибо", "")])

    result = extract_isolated(path, PPTX, fork_server=fork_server)

    assert result.status == ExtractionStatus.DONE
    assert result == extract(path, PPTX)


def test_every_kind_of_file_gives_the_same_result_from_the_fork_server(tmp_path: Path) -> None:
    files = [
        (F.write_text(tmp_path / "notes.md", "# Насосы\n\n" + F.RU_LETTER, "utf-8"), MARKDOWN),
        (F.make_docx(tmp_path / "offer.docx", [F.RU_OFFER, F.RU_TERMS], table=[["НВ-250", "1 250 000"]]), DOCX),
        (F.make_pdf(tmp_path / "price.pdf", [F.RU_PRICE, F.RU_TERMS]), PDF),
        # numbers and dates too: the fork server reads spreadsheets without numpy
        (F.make_xlsx(tmp_path / "prices.xlsx", {"Цены": [["Модель", "Цена"], ["НВ-250", 1250000.5]]}), XLSX),
    ]

    for path, file_type in files:
        result = extract_isolated(path, file_type)
        assert result.status == ExtractionStatus.DONE, path.name
        assert result == extract(path, file_type), path.name


@BOTH_WAYS
def test_a_huge_result_comes_back_whole(tmp_path: Path, fork_server: bool) -> None:
    path = long_text(tmp_path / "long.txt")

    result = extract_isolated(path, TXT, fork_server=fork_server)

    assert result.status == ExtractionStatus.DONE and result.truncated
    assert MAX_TEXT_CHARS - 100 < len(result.pages[0].text) <= MAX_TEXT_CHARS


@BOTH_WAYS
def test_the_time_budget_reaches_the_child_and_its_pages_come_back(tmp_path: Path, fork_server: bool) -> None:
    path = F.make_long_pdf(tmp_path / "catalogue.pdf", 6)

    result = extract_isolated(path, PDF, timeout_s=60, time_budget_s=0, fork_server=fork_server)

    assert result.status == ExtractionStatus.DONE and result.page_count == 6
    assert result.pages_read == 1 and [page.number for page in result.pages] == [1]
    assert (result.note or "").startswith("Only pages 1–1 of 6 were read")


# --- limits and failures -------------------------------------------------------------------------------------


@BOTH_WAYS
def test_a_timeout_kills_the_child_and_says_so(tmp_path: Path, fork_server: bool) -> None:
    path = long_text(tmp_path / "long.txt")

    result = extract_isolated(path, TXT, timeout_s=0.2, fork_server=fork_server)

    assert result.status == ExtractionStatus.FAILED
    assert result.error == "Extraction took longer than 0.2 s."


def test_a_timed_out_child_is_killed_and_the_server_serves_the_next_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = long_text(tmp_path / "long.txt")
    small = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")
    children = watching_children(monkeypatch, lambda pid: None)

    assert extract_isolated(small, TXT).status == ExtractionStatus.DONE
    [server] = run.fork_server_pids()
    result = extract_isolated(long, TXT, timeout_s=0.2)

    assert result.error == "Extraction took longer than 0.2 s."
    assert process_state(children[1]) is None  # killed and reaped before the answer came back
    assert extract_isolated(small, TXT).pages[0].text == F.RU_LETTER
    assert run.fork_server_pids() == [server]


@BOTH_WAYS
def test_the_memory_limit_stops_a_pathological_allocation(tmp_path: Path, fork_server: bool) -> None:
    # 20 MB of text with one astral character: Python stores it at four bytes a character, and decoding and
    # cleaning make several copies, far more than SMALL_MEMORY_MB.
    path = tmp_path / "wide.txt"
    path.write_text(("😀 " + "x" * 98 + "\n") * 200_000, encoding="utf-8")
    small = F.write_text(tmp_path / "small.txt", F.RU_LETTER, "utf-8")

    assert extract_isolated(small, TXT, memory_mb=SMALL_MEMORY_MB, fork_server=fork_server).status == "done"
    result = extract_isolated(path, TXT, memory_mb=SMALL_MEMORY_MB, fork_server=fork_server)

    assert result.status == ExtractionStatus.FAILED
    assert result.error == "Reading the file needed more memory than extraction may use."
    assert extract_isolated(small, TXT, memory_mb=SMALL_MEMORY_MB, fork_server=fork_server).status == "done"


def test_the_cpu_limit_ends_the_sandbox_with_sigxcpu() -> None:
    code = "from kb.extraction.sandbox import limit_resources\nlimit_resources(512, 1)\nwhile True: pass\n"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=False)

    assert child.returncode == -signal.SIGXCPU
    result = _result(child.returncode, child.stdout, child.stderr, timeout_s=1)
    assert result.status == ExtractionStatus.FAILED and result.error == "Extraction took longer than 1 s."


def test_a_loop_in_a_forked_child_ends_with_the_cpu_limit(tmp_path: Path) -> None:
    code = (
        "from kb.extraction import sandbox, forkserver\n"
        "def looping(*args, **kwargs):\n"
        "    while True:\n"
        "        pass\n"
        "sandbox.extract = looping\n"
        "forkserver.main()\n"
    )
    server = ForkServer([sys.executable, "-c", code], env=_child_environment(), cwd=run._project_root())
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")
    request = {"path": str(path), "type_name": "txt", "memory_mb": 512, "cpu_seconds": 1, "time_budget_s": None}
    try:
        outcome = server.run(request, timeout_s=60)  # one second of CPU time, a minute of wall-clock time
        again = server.run(request, timeout_s=60)
    finally:
        server.close()

    assert outcome.returncode == again.returncode == -signal.SIGXCPU
    result = _result(outcome.returncode, outcome.stdout, outcome.stderr, timeout_s=1)
    assert result.status == ExtractionStatus.FAILED and result.error == "Extraction took longer than 1 s."


@BOTH_WAYS
def test_a_crashing_child_gives_a_readable_failure(tmp_path: Path, fork_server: bool) -> None:
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")

    result = extract_isolated(path, replace(TXT, name="no-such-type"), fork_server=fork_server)

    assert result.status == ExtractionStatus.FAILED
    assert result.error == "Extraction stopped unexpectedly (exit status 2)."


def test_a_child_that_aborts_or_segfaults_fails_that_file_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fork_servers_running(monkeypatch, CRASHING)
    letter = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")
    aborting = F.write_text(tmp_path / "abort.txt", F.RU_LETTER, "utf-8")
    segfaulting = F.write_text(tmp_path / "segfault.txt", F.RU_LETTER, "utf-8")

    assert extract_isolated(letter, TXT).status == ExtractionStatus.DONE
    [server] = run.fork_server_pids()
    aborted = extract_isolated(aborting, TXT)
    crashed = extract_isolated(segfaulting, TXT)

    assert aborted.error == f"Extraction stopped unexpectedly (signal {signal.SIGABRT.value})."
    assert crashed.error == f"Extraction stopped unexpectedly (signal {signal.SIGSEGV.value})."
    assert not aborted.retryable and not crashed.retryable
    assert extract_isolated(letter, TXT).pages[0].text == F.RU_LETTER
    assert run.fork_server_pids() == [server]  # the same server, untouched


def test_known_problems_fail_without_starting_a_child(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    path.write_bytes(b"%PDF-1.7\n")

    result = extract_isolated(path, replace(PDF, problem="The PDF is password-protected."), timeout_s=0.000001)

    assert result.error == "The PDF is password-protected."
    assert run.fork_server_pids() == []


def test_a_missing_file_is_an_error_of_the_caller_not_a_result(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        extract_isolated(tmp_path / "gone.txt", TXT)
    with pytest.raises(FileNotFoundError):
        extract(tmp_path / "gone.txt", TXT)


# --- the environment and stray output ------------------------------------------------------------------------


def test_the_child_gets_no_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("KB_DATABASE_URL", "postgresql://user:password@db/kb")

    environment = _child_environment()

    assert "KB_SECRET_KEY" not in environment and "KB_DATABASE_URL" not in environment
    assert "do-not-leak" not in "".join(environment.values())


def test_the_fork_server_and_its_children_run_with_the_minimal_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KB_SECRET_KEY", "do-not-leak")
    monkeypatch.setenv("KB_DATABASE_URL", "postgresql://user:password@db/kb")
    environments: list[dict[str, str]] = []
    watching_children(monkeypatch, lambda pid: environments.append(environment_of(pid)))

    result = extract_isolated(long_text(tmp_path / "long.txt"), TXT)  # the child lives long enough to be read

    [server] = run.fork_server_pids()
    assert result.status == ExtractionStatus.DONE
    for environment in (environment_of(server), *environments):
        assert environment == _child_environment()
        assert "do-not-leak" not in "".join(environment.values()) and "password" not in "".join(environment)


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


def test_stray_output_in_a_forked_child_goes_to_its_stderr(tmp_path: Path) -> None:
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")
    code = (
        "import os, sys\nfrom kb.extraction import sandbox, forkserver\n"
        "real = sandbox.extract\n"
        "def noisy(*args, **kwargs):\n"
        "    print('python chatter on stdout')\n"
        "    os.write(1, b'C chatter on descriptor 1\\n')\n"
        "    return real(*args, **kwargs)\n"
        "sandbox.extract = noisy\n"
        "forkserver.main()\n"
    )
    server = ForkServer([sys.executable, "-c", code], env=_child_environment(), cwd=run._project_root())
    request = {"path": str(path), "type_name": "txt", "memory_mb": 1024, "cpu_seconds": 60, "time_budget_s": None}
    try:
        outcome = server.run(request, timeout_s=60)
    finally:
        server.close()

    assert outcome.returncode == 0
    assert b"python chatter" in outcome.stderr and b"C chatter" in outcome.stderr
    result = _result(outcome.returncode, outcome.stdout, outcome.stderr, timeout_s=60)
    assert result.pages[0].text == F.RU_LETTER


# --- the fork server's life ----------------------------------------------------------------------------------


def test_one_fork_server_serves_file_after_file_without_growing(tmp_path: Path) -> None:
    paths = [F.write_text(tmp_path / f"letter{n}.txt", f"{F.RU_LETTER} {n}", "utf-8") for n in range(40)]

    for path in paths[:10]:
        assert extract_isolated(path, TXT).status == ExtractionStatus.DONE
    [server] = run.fork_server_pids()
    resident_before = resident_kib(server)
    for path in paths[10:]:
        assert extract_isolated(path, TXT).pages[0].text == path.read_text(encoding="utf-8")

    assert run.fork_server_pids() == [server]
    assert resident_kib(server) - resident_before < 1024  # KiB: nothing of a file stays in the server


def test_a_killed_fork_server_is_replaced_at_the_next_file(tmp_path: Path) -> None:
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")
    assert extract_isolated(path, TXT).status == ExtractionStatus.DONE
    [server] = run.fork_server_pids()

    os.kill(server, signal.SIGKILL)
    wait_for_state(server, {"Z", None})

    assert extract_isolated(path, TXT).pages[0].text == F.RU_LETTER
    [replacement] = run.fork_server_pids()
    assert replacement != server and process_state(server) is None  # the dead one was reaped


def test_a_fork_server_killed_while_its_child_works_fails_the_file_for_a_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")
    assert extract_isolated(small, TXT).status == ExtractionStatus.DONE
    [server] = run.fork_server_pids()
    children = watching_children(monkeypatch, lambda pid: os.kill(server, signal.SIGKILL))

    result = extract_isolated(long_text(tmp_path / "long.txt"), TXT)

    assert result.status == ExtractionStatus.FAILED and result.retryable
    assert result.error == run.KILLED % {"detail": "signal 9"}
    assert wait_for_state(children[0], {"Z", None}) in {"Z", None}  # the child died with its server
    monkeypatch.undo()
    assert extract_isolated(small, TXT).status == ExtractionStatus.DONE
    [replacement] = run.fork_server_pids()
    assert replacement != server


def test_threads_extracting_at_once_each_get_a_fork_server(tmp_path: Path) -> None:
    paths = [F.write_text(tmp_path / f"letter{n}.txt", f"{F.RU_LETTER} {n}", "utf-8") for n in range(2)]
    barrier = threading.Barrier(2)
    texts: dict[int, list[str]] = {0: [], 1: []}

    def extract_twice(n: int) -> None:
        barrier.wait()
        for _ in range(2):
            texts[n].append(extract_isolated(paths[n], TXT).pages[0].text)

    threads = [threading.Thread(target=extract_twice, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert texts == {n: [f"{F.RU_LETTER} {n}"] * 2 for n in range(2)}
    assert len(set(run.fork_server_pids())) == 2  # the first files were read at the same time


def test_without_a_fork_server_extraction_starts_a_new_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(
        run,
        "_new_fork_server",
        lambda: ForkServer([sys.executable, "-c", "raise SystemExit(1)"], env=_child_environment(), cwd=Path("/")),
    )
    path = F.write_text(tmp_path / "letter.txt", F.RU_LETTER, "utf-8")

    result = extract_isolated(path, TXT)

    assert result.pages[0].text == F.RU_LETTER
    assert "extraction runs in a new process: the fork server did not start" in caplog.text
    assert run.fork_server_pids() == []


# --- killed from outside, through the worker -----------------------------------------------------------------


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


def _killing_forked_children(monkeypatch: pytest.MonkeyPatch, kills: list[int], times: int) -> None:
    """The first ``times`` forked children are killed with SIGKILL while they work (they stop themselves before
    extracting: no race), as the OOM killer would; the others are let go on."""
    fork_servers_running(monkeypatch, STOPPED_FIRST)

    def kill_or_continue(pid: int) -> None:
        assert wait_for_state(pid, {"T"}) == "T"
        if len(kills) < times:
            os.kill(pid, signal.SIGKILL)
            kills.append(pid)
        else:
            os.kill(pid, signal.SIGCONT)

    watching_children(monkeypatch, kill_or_continue)


@pytest.mark.parametrize(
    "app",
    [{"KB_EXTRACTION_FORKSERVER": "1"}, {"KB_EXTRACTION_FORKSERVER": "0"}],
    ids=["forked", "spawned"],
    indirect=True,
)
@pytest.mark.parametrize("killed_times", [1, 3], ids=["killed once, read on the retry", "killed every time"])
def test_an_extraction_killed_from_outside_is_tried_again_before_it_fails(
    app, make_user, monkeypatch, killed_times: int
) -> None:
    from sqlalchemy import select, update

    from conftest import Auth
    from kb import accounts
    from kb.models import AssetVersion, Job, JobStatus, utcnow
    from publishing_helpers import fields, publisher_for, text_upload, worker_for

    owner = make_user("marketing")
    published = publisher_for(app).create_asset(owner.id, fields(owner), text_upload("# Насосы\n\nНВ-250 на складе"))
    kills: list[int] = []
    if app.config["KB_SETTINGS"].extraction_fork_server:
        _killing_forked_children(monkeypatch, kills, killed_times)
    else:
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
    assert all(process_state(pid) is None for pid in kills)  # really killed, and reaped
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
