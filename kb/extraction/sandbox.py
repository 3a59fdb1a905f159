"""The child process of ``extract_isolated``: limits its own resources, extracts one file, prints JSON.

Usage: ``python -m kb.extraction.sandbox PATH TYPE_NAME [--memory-mb N] [--cpu-seconds N] [--time-budget-s S]``.
The address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``) are limited before the file is opened; a CPU
overrun ends the process with SIGXCPU. Past ``--time-budget-s`` seconds, reading stops between pages. The
result is the only thing written to standard output: anything a library prints is sent to standard error
instead. Running out of memory exits with status ``run.EXIT_OUT_OF_MEMORY``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import warnings
from pathlib import Path

from kb.extraction.run import EXIT_OUT_OF_MEMORY, extract
from kb.extraction.types import BY_NAME

_MEBIBYTE = 1024 * 1024


def limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    """Caps this process's address space and CPU time (soft CPU limit first, so SIGXCPU comes before SIGKILL)."""
    memory = memory_mb * _MEBIBYTE
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb.extraction.sandbox", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("type_name", choices=sorted(BY_NAME))
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--cpu-seconds", type=int, default=60)
    parser.add_argument("--time-budget-s", type=float, default=None)
    args = parser.parse_args(argv)

    result_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints, even from C code, go to stderr
    # The parent keeps only the end of stderr; library warnings about odd files would only fill it.
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)

    limit_resources(args.memory_mb, args.cpu_seconds)
    try:
        result = extract(args.path, BY_NAME[args.type_name], time_budget_s=args.time_budget_s)
        payload = json.dumps(result.to_dict(), ensure_ascii=False).encode("utf-8")
    except MemoryError:
        os._exit(EXIT_OUT_OF_MEMORY)
    with os.fdopen(result_fd, "wb") as out:
        out.write(payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
