"""Runs one request of the preview sandbox (``kb.previews.sandbox``) in a child process and reads its answer.

The child starts a session of its own, so on a timeout the whole process group goes (the child, LibreOffice,
Tesseract); it limits its own address space and CPU time before it reads the file, runs with a minimal
environment (no secrets, no proxy) and never takes this process down: whatever happens to it comes back as an
``Outcome`` with a reason.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from kb.extraction.run import _child_environment, _project_root
from kb.previews import messages
from kb.previews.sandbox import EXIT_OUT_OF_MEMORY

log = logging.getLogger(__name__)
_STDERR_TAIL = 2000


@dataclass
class Outcome:
    """What the sandbox answered: ``error`` is None when it did what was asked; ``data`` is its answer."""

    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: Killed from outside (not by a limit of its own): worth another try.
    retryable: bool = False


def run_sandbox(request: dict[str, Any], *, timeout_s: float, memory_mb: int) -> Outcome:
    """Runs ``request`` in a new sandbox process, killing its process group after ``timeout_s`` seconds."""
    body = {**request, "memory_mb": memory_mb, "cpu_seconds": max(1, math.ceil(timeout_s))}
    child = subprocess.Popen(
        [sys.executable, "-m", "kb.previews.sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_environment(),
        cwd=_project_root(),
        start_new_session=True,
    )
    try:
        stdout, stderr = child.communicate(json.dumps(body).encode("utf-8"), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(child)
        return Outcome(messages.TIMED_OUT % {"seconds": f"{timeout_s:g}"})
    finally:
        _kill_group(child)  # anything it left running (a LibreOffice that outlived it) goes with it
    tail = stderr[-_STDERR_TAIL:].decode("utf-8", errors="replace")
    if child.returncode == EXIT_OUT_OF_MEMORY:
        return Outcome(messages.OUT_OF_MEMORY)
    if child.returncode == -signal.SIGXCPU:
        return Outcome(messages.TIMED_OUT % {"seconds": f"{timeout_s:g}"})
    if child.returncode != 0:
        log.warning("preview sandbox exited with %s; stderr ends: %s", child.returncode, tail)
        retryable = child.returncode in (-signal.SIGKILL, -signal.SIGTERM)
        detail = f"signal {-child.returncode}" if child.returncode < 0 else f"exit status {child.returncode}"
        if "MemoryError" in tail:
            return Outcome(messages.OUT_OF_MEMORY)
        return Outcome(messages.CRASHED % {"detail": detail}, retryable=retryable)
    try:
        data = json.loads(stdout)
    except ValueError:
        log.warning("preview sandbox printed no valid result; stderr ends: %s", tail)
        return Outcome(messages.CRASHED % {"detail": "no result"})
    if not data.get("ok"):
        return Outcome(str(data.get("error") or messages.CRASHED % {"detail": "no reason"}))
    return Outcome(None, data)


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if child.returncode is None:
        child.communicate()
