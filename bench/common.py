"""What every benchmark module shares: Django set up against the configured database, and
progress messages on stderr (stdout carries only the figures)."""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    # WhiteNoise warns about the collected static folder, which only `make run` creates.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optiflow.settings")
    django.setup()
    # One access-log line per in-process request would bury the progress messages.
    logging.getLogger("optiflow.access").setLevel(logging.WARNING)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    rows = [tuple(header), *map(tuple, rows)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def positive_int(value: str) -> int:
    """An ``argparse`` type for counts."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    port: int, env: dict[str, str], log_file=subprocess.DEVNULL, *, module: str | None = None
) -> subprocess.Popen:
    """``make run``'s web server (``uwsgi.ini``) on the configured database, in a process group
    of its own (``stop_server`` ends all of it); ``module`` serves another WSGI application
    with the same settings."""
    override = [] if module is None else ["--module", module]
    return subprocess.Popen(
        [Path(sys.executable).with_name("uwsgi"), "--ini", "uwsgi.ini", *override],
        cwd=ROOT,
        env={**os.environ, **env, "PORT": str(port)},
        stdout=log_file,
        stderr=log_file,
        start_new_session=True,
    )


def stop_server(process: subprocess.Popen, *, kill: bool = False) -> None:
    """A graceful stop (the workers finish their requests), or with ``kill`` an immediate
    one, for a server whose figures are taken (a graceful stop can wait out a worker thread
    for tens of seconds, and measures nothing)."""
    os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
    process.wait(timeout=30)


@contextmanager
def web_server(env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """``make run``'s web server with ``workers`` worker processes (4 threads each); yields its
    base URL once it answers ``/health``."""
    port = free_port()
    process = start_server(port, {**env, "WEB_CONCURRENCY": str(workers)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the web server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        stop_server(process)
