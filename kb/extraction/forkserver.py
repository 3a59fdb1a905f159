"""The fork server of ``extract_isolated``: a long-lived process that forks one sandbox child per file.

Starting Python and importing kb and the parsers costs a fifth to half a second per file; forking a process
that has done so once costs a few milliseconds. The worker starts the server (``kb.extraction.forkclient``),
``python -m kb.extraction.forkserver FD``, with the sandbox's minimal environment; the server imports every
parser once, then forks a child per request. The child is the sandbox of ``kb.extraction.sandbox``: it limits
its own address space and CPU time before it opens the file, writes its JSON result into the result pipe and
anything else into the stderr pipe, both passed by the worker with the request, and exits. The server answers
the child's pid, then its exit status; the worker keeps the wall-clock timeout and asks for the child to be
killed (its process group) when it runs out.

The protocol, one request at a time, over a ``SOCK_SEQPACKET`` socket pair (one JSON object a message)::

    server -> {"ready": SERVER_PID}               once, when the parsers are imported
    worker -> {"path": ..., "type_name": ..., "memory_mb": ..., "cpu_seconds": ..., "time_budget_s": ...}
              with two file descriptors: the write ends of the result pipe and the stderr pipe
    server -> {"pid": CHILD_PID}                  forked
    worker -> {"kill": CHILD_PID}                 only when the wall-clock timeout has passed
    server -> {"pid": CHILD_PID, "status": S}     S like subprocess's returncode: -signal, or the exit status
    server -> {"error": MESSAGE}                  instead of the pid, when the request was bad or fork failed

The server exits when the worker's end of the socket closes (the worker exited or let it go), killing a child
still running; a child dies with its server (``PR_SET_PDEATHSIG``). The server keeps nothing of a file: it
only forks and waits, so it does not grow however many files it serves. The package never imports this module:
it is the server's ``__main__``.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from kb.extraction.forkclient import MAX_MESSAGE

_EXIT_USAGE = 2
_PR_SET_PDEATHSIG = 1


def main(argv: Sequence[str] | None = None) -> None:
    """The server: imports the parsers, says it is ready, then serves requests until the worker's end closes."""
    args = sys.argv[1:] if argv is None else list(argv)
    control = socket.socket(fileno=int(args[-1]))
    _preload()
    _send(control, {"ready": os.getpid()})
    while True:
        try:
            data, fds, _flags, _address = socket.recv_fds(control, MAX_MESSAGE, 2)
        except OSError:
            return
        if not data:
            return  # the worker exited or let this server go
        message = _message(data)
        if len(fds) == 2 and isinstance(message.get("path"), str):
            if not _serve(control, message, fds[0], fds[1]):
                return
            continue
        for fd in fds:
            _close_quietly(fd)
        if "kill" not in message:  # a kill for a child already reaped is late, not wrong: its status was sent
            _send(control, {"error": "a request is a JSON object with a path, sent with two descriptors"})


#: Small files of the text types, read once by the server before it serves: their readers do their first-call
#: work there (Markdown looks its extensions up and compiles its patterns: 40 ms), not in every child.
_WARM_UP_FILES = {
    "markdown": "# kb\n\nWarm-up *text* with a [link](https://example.com).\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    "html": "<html><head><title>kb</title></head><body><p>Warm-up text</p></body></html>",
    "txt": "Warm-up text\n",
    "csv": "a,b\n1,2\n",
}


def _preload() -> None:
    """Imports everything a child needs, once: kb's extraction and every parser, and reads a small file of each
    text type. Then freezes the objects so a child's garbage collector does not touch (and copy) the server's
    pages. Nothing here depends on the files served later, so the server does not grow."""
    from kb.extraction import run, sandbox
    from kb.extraction.types import BY_NAME

    sandbox.without_numpy()
    for module, _function in run._EXTRACTORS.values():
        importlib.import_module(f"kb.extraction.{module}")
    sandbox.quiet_libraries()
    with tempfile.TemporaryDirectory(prefix="kb-forkserver-") as directory:
        for type_name, content in _WARM_UP_FILES.items():
            path = Path(directory) / f"warm-up.{type_name}"
            path.write_text(content, encoding="utf-8")
            run.extract(path, BY_NAME[type_name])
    _libc_prctl()
    gc.collect()
    gc.freeze()


def _serve(control: socket.socket, request: dict[str, Any], result_fd: int, stderr_fd: int) -> bool:
    """Forks a child for the request and answers its pid, then its exit status. False: the worker is gone."""
    server_pid = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError as exc:  # no memory or too many processes: the worker spawns the sandbox instead
        _close_quietly(result_fd)
        _close_quietly(stderr_fd)
        return _send(control, {"error": f"fork failed: {exc}"})
    if pid == 0:
        _child(control, request, result_fd, stderr_fd, server_pid)
    try:
        os.setpgid(pid, pid)  # here as well as in the child, so the group exists before the worker can kill it
    except OSError:
        pass  # the child has done it already, or has exited
    _close_quietly(result_fd)
    _close_quietly(stderr_fd)
    if not _send(control, {"pid": pid}):
        _kill_group(pid)
        os.waitpid(pid, 0)
        return False
    status, worker_there = _wait(control, pid)
    return worker_there and _send(control, {"pid": pid, "status": status})


def _wait(control: socket.socket, pid: int) -> tuple[int, bool]:
    """Waits for the child to exit, killing it when the worker asks; returns its status and whether the worker
    is still there (when it is not, the child is killed)."""
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3: look every few milliseconds
        pidfd = None
    worker_there = True
    try:
        while True:
            watched: list[Any] = [control] if worker_there else []
            if pidfd is not None:
                watched.append(pidfd)
            readable, _, _ = select.select(watched, [], [], None if pidfd is not None else 0.005)
            if control in readable:
                data = _recv_quietly(control)
                if not data:
                    worker_there = False
                    _kill_group(pid)
                elif _message(data).get("kill") == pid:
                    _kill_group(pid)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status), worker_there
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _child(
    control: socket.socket, request: dict[str, Any], result_fd: int, stderr_fd: int, server_pid: int
) -> NoReturn:
    """The forked child: the sandbox of one file. Never returns; ends with ``os._exit`` (no cleanup of the
    server's state, which is not the child's)."""
    status = 70  # EX_SOFTWARE: the child failed before it reached the extraction (a bug, not the file)
    try:
        control.close()
        _die_with_parent(server_pid)
        os.setpgid(0, 0)
        os.dup2(stderr_fd, 2)
        os.dup2(stderr_fd, 1)  # stray prints, even from C code, go to stderr: the result has a pipe of its own
        os.close(stderr_fd)
        from kb.extraction import sandbox
        from kb.extraction.types import BY_NAME

        type_name = request.get("type_name")
        if type_name not in BY_NAME:
            print(f"unknown file type {type_name!r}", file=sys.stderr)
            status = _EXIT_USAGE  # as the spawned sandbox's argument parser says it
        else:
            time_budget_s = request.get("time_budget_s")
            status = sandbox.extract_limited(
                Path(request["path"]),
                type_name,
                memory_mb=int(request["memory_mb"]),
                cpu_seconds=int(request["cpu_seconds"]),
                time_budget_s=None if time_budget_s is None else float(time_budget_s),
                result_fd=result_fd,
            )
    except BaseException:  # noqa: BLE001  # whatever it is, it ends this child alone, with a traceback on stderr
        status = 1  # as Python's own exit status after an uncaught exception
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001, S110  # even printing failed (no memory): the exit status says enough
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


_prctl: Any = None


def _libc_prctl() -> Any:
    """``prctl`` of the C library (Linux), looked up once in the server; None elsewhere."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        import ctypes

        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    return _prctl or None


def _die_with_parent(server_pid: int) -> None:
    """Asks the kernel to kill this child when the server dies, so no sandbox outlives it."""
    prctl = _libc_prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != server_pid:  # the server died before the request above took effect
        os._exit(128 + signal.SIGKILL)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:  # no such group yet or any more: the child itself, if it is still there
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _send(control: socket.socket, message: dict[str, Any]) -> bool:
    """Sends a message to the worker; False when the worker is gone."""
    try:
        control.send(json.dumps(message).encode())
    except OSError:
        return False
    return True


def _message(data: bytes) -> dict[str, Any]:
    try:
        message = json.loads(data)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


def _recv_quietly(control: socket.socket) -> bytes:
    try:
        return control.recv(MAX_MESSAGE)
    except OSError:
        return b""


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


if __name__ == "__main__":
    main()
