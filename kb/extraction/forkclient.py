"""The worker's side of the fork server (``kb.extraction.forkserver``): ``ForkServer`` starts one, sends it a file
at a time and collects what the forked child wrote and how it ended.

The server is started on first use with the sandbox's minimal environment, and again whenever it has died. For
each file the worker makes two pipes, for the child's JSON result and for its stderr, and passes their write
ends with the request: the child writes straight into them, so no file's text goes through the server. The
worker keeps the wall-clock timeout; past it, the server kills the child's process group. The protocol is
described in ``kb.extraction.forkserver``.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The largest message either side sends (a request holds a path: a few KiB at most).
MAX_MESSAGE = 64 * 1024
#: The end of a child's stderr kept by the worker (``run._result`` logs the last 4 KiB of it).
_STDERR_KEPT_BYTES = 64 * 1024
#: How long the worker waits for the exit status of a child it had killed before it gives the server up.
_KILL_WAIT_S = 5.0


class ForkServerUnavailable(Exception):
    """The fork server could not be started, or could not fork: the caller runs the spawned sandbox instead."""


class _ServerGone(Exception):
    """The server's end of the socket closed before it forked the child: a new server may take the request."""


@dataclass(frozen=True)
class Outcome:
    """How a forked child ended: its exit status as ``subprocess`` gives it, what it wrote, and whether the
    wall-clock timeout ended it (then ``returncode`` is None)."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False


@dataclass(frozen=True)
class Child:
    """A forked child and this process's read ends of its result and stderr pipes."""

    pid: int
    result_fd: int
    stderr_fd: int


class ForkServer:
    """One fork server process, started on first use and again whenever it has died; one request at a time.

    ``command`` starts the server; the descriptor number of its end of the socket is added as the last
    argument. Not thread-safe: ``kb.extraction.run`` gives each thread a server of its own."""

    def __init__(self, command: Sequence[str], *, env: Mapping[str, str], cwd: Path, start_timeout_s: float = 60):
        self._command = list(command)
        self._env = dict(env)
        self._cwd = cwd
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs (tests look at it)."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    def run(self, request: Mapping[str, Any], *, timeout_s: float) -> Outcome:
        """Has a child extract as ``request`` says and gives it ``timeout_s`` seconds from when it is forked.

        A server found dead (killed since the last file, or dying before it forked) is replaced, and the request
        sent again once. Raises ``ForkServerUnavailable`` when no server can be had."""
        for attempt in (1, 2):
            self._ensure_started()
            try:
                child = self._start_child(request)
            except _ServerGone:
                self.close()
                if attempt == 2:
                    raise ForkServerUnavailable("the fork server died before it forked the child") from None
                continue
            except TimeoutError:
                self.close()
                raise ForkServerUnavailable("the fork server did not answer with the child's pid") from None
            return self._collect(child, time.monotonic() + timeout_s)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Lets the server go: it exits when its socket closes. Waits for it (killing it if it lingers)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.wait(timeout=_KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def abandon(self) -> None:
        """Forgets a server inherited through ``fork`` without touching it: it belongs to the parent process."""
        if self._socket is not None:
            self._socket.close()  # this process's copy of the descriptor: the parent's stays open
            self._socket = None
        self._process = None

    # -- internals

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None and self._socket is not None:
            return
        self.close()
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError as exc:  # a system without sequenced-packet Unix sockets (macOS)
            raise ForkServerUnavailable(f"the fork server needs a Unix socket pair: {exc}") from exc
        try:
            process = subprocess.Popen(
                [*self._command, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,  # a Ctrl+C at the worker's terminal is the worker's to handle
            )
        except OSError as exc:
            ours.close()
            raise ForkServerUnavailable(f"the fork server could not be started: {exc}") from exc
        finally:
            theirs.close()
        self._process, self._socket = process, ours
        try:
            ready = self._receive(time.monotonic() + self._start_timeout_s)
        except (_ServerGone, TimeoutError):
            ready = None
        if not ready or ready.get("ready") != process.pid:
            self.close()
            raise ForkServerUnavailable(f"the fork server did not start (it answered {ready!r})")

    def _start_child(self, request: Mapping[str, Any]) -> Child:
        """Sends the request with the write ends of two new pipes; returns the forked child."""
        assert self._socket is not None
        result_r, result_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        try:
            try:
                socket.send_fds(self._socket, [json.dumps(dict(request)).encode()], [result_w, stderr_w])
            except OSError as exc:  # EPIPE, ECONNRESET: the server died since the last file
                raise _ServerGone() from exc
            finally:
                os.close(result_w)
                os.close(stderr_w)
            answer = self._receive(time.monotonic() + self._start_timeout_s)
            if "error" in answer:
                raise ForkServerUnavailable(f"the fork server could not fork: {answer['error']}")
            return Child(int(answer["pid"]), result_r, stderr_r)
        except BaseException:
            os.close(result_r)
            os.close(stderr_r)
            raise

    def _collect(self, child: Child, deadline: float) -> Outcome:
        """Reads the child's result and stderr until both pipes close and its exit status is in, or until the
        deadline; past it, has the child killed."""
        assert self._socket is not None
        result, stderr = bytearray(), bytearray()
        status: int | None = None
        server_gone = False
        with selectors.DefaultSelector() as selector:
            selector.register(child.result_fd, selectors.EVENT_READ, result)
            selector.register(child.stderr_fd, selectors.EVENT_READ, stderr)
            selector.register(self._socket, selectors.EVENT_READ, None)
            try:
                while len(selector.get_map()) > 0:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    for key, _events in selector.select(remaining):
                        if key.data is None:  # the server: the exit status, or its end
                            message = self._read_message()
                            if message is None:
                                server_gone = True  # the child died with it (PR_SET_PDEATHSIG)
                            elif message.get("pid") != child.pid or "status" not in message:
                                continue
                            else:
                                status = int(message["status"])
                            selector.unregister(key.fileobj)
                            continue
                        data = os.read(key.fd, 1 << 20)
                        if not data:
                            selector.unregister(key.fd)
                            continue
                        key.data.extend(data)
                        if key.data is stderr and len(stderr) > _STDERR_KEPT_BYTES:
                            del stderr[: len(stderr) - _STDERR_KEPT_BYTES]
            finally:
                os.close(child.result_fd)
                os.close(child.stderr_fd)
        if server_gone:
            self.close()
            return Outcome(-signal.SIGKILL, bytes(result), bytes(stderr))
        if status is None:
            self._kill(child)
            return Outcome(None, bytes(result), bytes(stderr), timed_out=True)
        return Outcome(status, bytes(result), bytes(stderr))

    def _kill(self, child: Child) -> None:
        """Has the server kill the child (it can do so safely: the child is not reaped before it answers) and
        waits for its status, so the server is ready for the next file; a server that does not answer is let go,
        and the child dies with it."""
        assert self._socket is not None
        try:
            self._socket.send(json.dumps({"kill": child.pid}).encode())
            deadline = time.monotonic() + _KILL_WAIT_S
            while (message := self._receive(deadline)).get("pid") != child.pid or "status" not in message:
                pass
        except (OSError, _ServerGone, TimeoutError):
            self.close()

    def _receive(self, deadline: float) -> dict[str, Any]:
        """The server's next message; raises ``TimeoutError`` past the deadline, ``_ServerGone`` at its end."""
        assert self._socket is not None
        remaining = deadline - time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(self._socket, selectors.EVENT_READ)
            if remaining <= 0 or not selector.select(remaining):
                raise TimeoutError("the fork server did not answer in time")
        message = self._read_message()
        if message is None:
            raise _ServerGone()
        return message

    def _read_message(self) -> dict[str, Any] | None:
        assert self._socket is not None
        try:
            data = self._socket.recv(MAX_MESSAGE)
        except OSError:
            return None
        if not data:
            return None
        try:
            message = json.loads(data)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None
