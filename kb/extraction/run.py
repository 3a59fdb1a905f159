"""Runs extraction: in this process (``extract``) or in a resource-limited child process (``extract_isolated``).

The child is forked by a fork server (``kb.extraction.forkserver``) that has the parsers imported, one per
thread extracting at the same time, started on first use; without ``fork`` or with ``fork_server=False``
(``KB_EXTRACTION_FORKSERVER=0``) it is a new Python process per file (``python -m kb.extraction.sandbox``).
Either way the child limits its own memory and CPU time before it opens the file.

``MAX_TEXT_CHARS`` caps the text kept per version: 5,000,000 characters (after cleaning) across all pages,
about 2,500 pages of dense prose. Past it the text is cut and ``Extraction.truncated`` is set. Spreadsheets are
also cut at ``xlsx.MAX_ROWS`` rows and ``xlsx.MAX_COLUMNS`` columns per sheet. A time budget (``time_budget_s``)
stops reading between pages, slides or sheets once it is spent, keeping the text read so far: a long PDF on a
busy machine is then indexed in part instead of failing at the hard time limit. Either way ``Extraction.note``
says what was left out.
"""

from __future__ import annotations

import atexit
import importlib
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kb.errors import N_
from kb.extraction.forkclient import ForkServer, ForkServerUnavailable
from kb.extraction.result import CUT, PARTIAL, Document, Extraction, ExtractionFailed
from kb.extraction.text import TextBudget
from kb.extraction.types import ZIP_TYPES, FileType
from kb.extraction.zipguard import CorruptZip, UnsafeZip, check_zip

MAX_TEXT_CHARS = 5_000_000

#: Exit status of the sandbox when it ran out of memory, so the parent can say so.
EXIT_OUT_OF_MEMORY = 3

CORRUPT = N_("The file is corrupt: %(detail)s")
OUT_OF_MEMORY = N_("Reading the file needed more memory than extraction may use.")
TIMED_OUT = N_("Extraction took longer than %(seconds)s s.")
CRASHED = N_("Extraction stopped unexpectedly (%(detail)s).")
KILLED = N_(
    "The extraction process was killed (%(detail)s), most likely because the machine ran short of memory; "
    "it was tried again and killed again."
)

#: The extractor of each type, as (module, function): imported on first use, so the sandbox loads one parser.
_EXTRACTORS: dict[str, tuple[str, str]] = {
    "pdf": ("pdf", "extract"),
    "docx": ("docx", "extract"),
    "pptx": ("pptx", "extract"),
    "xlsx": ("xlsx", "extract"),
    "odt": ("odf", "extract_text"),
    "odp": ("odf", "extract_presentation"),
    "ods": ("odf", "extract_spreadsheet"),
    "markdown": ("markup", "extract_markdown"),
    "html": ("markup", "extract_html"),
    "txt": ("plaintext", "extract_text"),
    "csv": ("plaintext", "extract_csv"),
    "png": ("image", "extract"),
    "jpeg": ("image", "extract"),
    "tiff": ("image", "extract"),
}
_DETAIL_MAX_CHARS = 200
_STDERR_TAIL_BYTES = 4096

logger = logging.getLogger(__name__)


def extract(path: Path, file_type: FileType, *, time_budget_s: float | None = None) -> Extraction:
    """The text of the file at ``path``, read as ``file_type``, in this process.

    A damaged, unreadable or hostile file gives ``failed`` with a reason; this never raises because of the
    file's content. It raises ``OSError`` only when the file cannot be opened at all (missing, no permission).
    ZIP containers are checked against zip bombs again here, in case the file never went through ``detect``.
    With ``time_budget_s``, no page, slide or sheet is begun after that many seconds but the first.
    """
    if file_type.problem:
        return Extraction.failed(file_type.problem)
    budget = TextBudget(MAX_TEXT_CHARS, seconds=time_budget_s)
    _check_readable(path)
    extractor = _extractor(file_type.name)
    try:
        if file_type.name in ZIP_TYPES:
            check_zip(path)
        document = extractor(path, budget)
    except ExtractionFailed as exc:
        return Extraction.failed(exc.reason)
    except UnsafeZip as exc:
        return Extraction.failed(str(exc))
    except MemoryError:
        return Extraction.failed(OUT_OF_MEMORY)
    except Exception as exc:  # parsers raise anything on malformed input; the file, not kb, is at fault
        logger.info("extraction of %s as %s failed", path.name, file_type.name, exc_info=True)
        return Extraction.failed(CORRUPT % {"detail": _detail(exc, path)})
    return Extraction.of_pages(
        document.pages,
        document.page_count,
        truncated=budget.truncated,
        pages_read=budget.pages_read,
        note=_note(budget, document.page_count, file_type.unit),
    )


def _note(budget: TextBudget, page_count: int | None, unit: str) -> str | None:
    """What the uploader should know of a text read in part: the pages left unread, or the cut."""
    if budget.pages_read is not None:
        return PARTIAL[unit] % {"read": budget.pages_read, "total": page_count}
    if budget.truncated:
        return CUT % {"limit": f"{MAX_TEXT_CHARS:,}"}
    return None


def _extractor(type_name: str) -> Callable[[Path, TextBudget], Document]:
    module, function = _EXTRACTORS[type_name]
    extractor: Callable[[Path, TextBudget], Document] = getattr(
        importlib.import_module(f"kb.extraction.{module}"), function
    )
    return extractor


def _check_readable(path: Path) -> None:
    """Raises ``OSError`` for a file that cannot be opened: a fault of the storage, not of the file's content."""
    path.open("rb").close()


def _detail(exc: BaseException, path: Path) -> str:
    """A short description of what the parser met, without the server's file paths."""
    if isinstance(exc, CorruptZip):
        message = "the ZIP container is damaged"
    else:
        message = str(exc).replace(str(path), path.name) or type(exc).__name__
    message = " ".join(message.split())
    if len(message) > _DETAIL_MAX_CHARS:
        message = message[: _DETAIL_MAX_CHARS - 1] + "…"
    return message


#: Whether ``extract_isolated`` starts a child process (always, but in test suites that do not test the sandbox).
_isolate = True


def set_isolation(enabled: bool) -> bool:
    """Turns the child process of ``extract_isolated`` on or off; returns the previous setting.

    Off, the same extraction runs in this process, with the same result for any well-formed file but none of
    the limits: for test suites whose files are their own (a child costs a tenth of a second or more)."""
    global _isolate
    previous, _isolate = _isolate, enabled
    return previous


def extract_isolated(
    path: Path,
    file_type: FileType,
    *,
    timeout_s: float = 60,
    memory_mb: int = 1024,
    time_budget_s: float | None = None,
    fork_server: bool = True,
) -> Extraction:
    """``extract`` in a child process, so a hostile file cannot hurt this one.

    The child is forked by this thread's fork server (started on first use, and again if it died), or, with
    ``fork_server=False``, where ``fork`` is missing or when no fork server can be started, spawned as
    ``python -m kb.extraction.sandbox``. Either way it limits its own address space to ``memory_mb`` MiB and its
    CPU time to ``timeout_s`` (rounded up) before it reads the file, and runs with a minimal environment (no
    secrets of this process). It is killed after ``timeout_s`` seconds of wall-clock time. A child that is
    killed, crashes, runs out of memory or writes no valid result gives ``failed`` with a reason; this never
    raises because of the file's content. ``time_budget_s`` (less than ``timeout_s``) is passed on to
    ``extract``, so a long file keeps what was read.
    """
    if file_type.problem:
        return Extraction.failed(file_type.problem)
    if not _isolate:
        return extract(path, file_type, time_budget_s=time_budget_s)
    _check_readable(path)
    request = {
        "path": str(Path(path).resolve()),
        "type_name": file_type.name,
        "memory_mb": memory_mb,
        "cpu_seconds": max(1, math.ceil(timeout_s)),
        "time_budget_s": None if time_budget_s is None else float(time_budget_s),
    }
    if fork_server and _CAN_FORK:
        try:
            return _forked(request, timeout_s=timeout_s)
        except ForkServerUnavailable as exc:
            logger.warning("extraction runs in a new process: %s", exc)
    return _spawned(request, timeout_s=timeout_s)


def _spawned(request: dict[str, Any], *, timeout_s: float) -> Extraction:
    """The request run by a new Python process, ``python -m kb.extraction.sandbox``."""
    command = [
        sys.executable,
        "-m",
        "kb.extraction.sandbox",
        request["path"],
        request["type_name"],
        "--memory-mb",
        str(request["memory_mb"]),
        "--cpu-seconds",
        str(request["cpu_seconds"]),
    ]
    if request["time_budget_s"] is not None:
        command += ["--time-budget-s", repr(request["time_budget_s"])]
    child = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_environment(),
        cwd=_project_root(),
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return Extraction.failed(TIMED_OUT % {"seconds": f"{timeout_s:g}"})
    return _result(child.returncode, stdout, stderr, timeout_s=timeout_s)


#: Whether this platform can run the fork server (``fork``, and file descriptors passed over a Unix socket).
_CAN_FORK = hasattr(os, "fork") and hasattr(socket, "send_fds") and hasattr(socket, "SOCK_SEQPACKET")
_fork_servers_lock = threading.Lock()
#: Fork servers no thread is using now. A thread takes one (or starts one) for each file and puts it back, so
#: there are as many servers as threads that extracted at the same time, and one for a worker.
_idle_fork_servers: list[ForkServer] = []


def _forked(request: dict[str, Any], *, timeout_s: float) -> Extraction:
    """The request run by a child of a fork server."""
    with _fork_servers_lock:
        server = _idle_fork_servers.pop() if _idle_fork_servers else _new_fork_server()
    try:
        outcome = server.run(request, timeout_s=timeout_s)
    except BaseException:
        server.close()
        raise
    with _fork_servers_lock:
        _idle_fork_servers.append(server)
    if outcome.timed_out:
        return Extraction.failed(TIMED_OUT % {"seconds": f"{timeout_s:g}"})
    assert outcome.returncode is not None
    return _result(outcome.returncode, outcome.stdout, outcome.stderr, timeout_s=timeout_s)


def _new_fork_server() -> ForkServer:
    """A fork server (not yet started) with the sandbox's environment."""
    return ForkServer([sys.executable, "-m", "kb.extraction.forkserver"], env=_child_environment(), cwd=_project_root())


def fork_server_pids() -> list[int]:
    """The process ids of this process's fork servers that are running and idle (for tests and monitoring)."""
    with _fork_servers_lock:
        return [pid for server in _idle_fork_servers if (pid := server.pid) is not None]


def stop_fork_servers() -> None:
    """Lets this process's fork servers go (each exits when its socket closes); the next file starts a new one.
    Called at exit; tests call it to start from a fresh server."""
    with _fork_servers_lock:
        servers = list(_idle_fork_servers)
        _idle_fork_servers.clear()
    for server in servers:
        server.close()


def _forget_fork_servers_after_fork() -> None:
    """In a child forked from this process, the servers (and their sockets) are the parent's: leave them be."""
    global _fork_servers_lock
    _fork_servers_lock = threading.Lock()
    for server in _idle_fork_servers:
        server.abandon()
    _idle_fork_servers.clear()


atexit.register(stop_fork_servers)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_fork_servers_after_fork)


def _result(returncode: int, stdout: bytes, stderr: bytes, *, timeout_s: float) -> Extraction:
    """The child's answer: its JSON when it exited cleanly, otherwise the reason it did not."""
    tail = stderr[-_STDERR_TAIL_BYTES:].decode("utf-8", errors="replace")
    if returncode == EXIT_OUT_OF_MEMORY:
        return Extraction.failed(OUT_OF_MEMORY)
    if returncode == -signal.SIGXCPU:
        return Extraction.failed(TIMED_OUT % {"seconds": f"{timeout_s:g}"})
    if returncode == 0:
        try:
            return Extraction.from_dict(json.loads(stdout))
        except (ValueError, KeyError, TypeError):
            logger.warning("extraction sandbox printed no valid result; stderr ends: %s", tail)
            return Extraction.failed(CRASHED % {"detail": "no result"})
    logger.warning("extraction sandbox exited with %s; stderr ends: %s", returncode, tail)
    if returncode in (-signal.SIGKILL, -signal.SIGTERM):  # from outside (the OOM killer, a shutdown): try again
        return Extraction.failed(KILLED % {"detail": f"signal {-returncode}"}, retryable=True)
    if returncode < 0:
        return Extraction.failed(CRASHED % {"detail": f"signal {-returncode}"})
    return Extraction.failed(CRASHED % {"detail": f"exit status {returncode}"})


def _project_root() -> Path:
    """The directory holding the ``kb`` package, so the child imports the same code as this process."""
    return Path(__file__).resolve().parent.parent.parent


def _child_environment() -> dict[str, str]:
    """Only what Python needs: no database URLs, keys or tokens reach the process that parses untrusted files."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(_project_root()),
    }
    if "VIRTUAL_ENV" in os.environ:
        env["VIRTUAL_ENV"] = os.environ["VIRTUAL_ENV"]
    return env
