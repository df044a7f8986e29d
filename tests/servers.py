"""Real server processes for tests that must go through HTTP from outside: gunicorn serving
the test database, as ``make run`` serves the real one, and task-queue workers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg

from tests.conftest import test_database_url

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_environment(env: dict[str, str] | None) -> dict[str, str]:
    """The environment of a process a test starts: the test database, the server settings
    (``tests/server_settings.py``), and ``env`` over them."""
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.server_settings",
        **(env or {}),
    }


@contextmanager
def gunicorn(
    env: dict[str, str] | None = None, *, count: int = 1, options: Sequence[str] = ()
) -> Iterator[list[str]]:
    """Start ``count`` gunicorn servers on the test database and yield their base URLs once
    they answer ``/health``; stop them afterwards. Their log goes to a temporary file, shown
    if one fails to start."""
    environment = process_environment(env)
    with ExitStack() as stack:
        urls = []
        for _ in range(count):
            port = free_port()
            log = stack.enter_context(tempfile.TemporaryFile())
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "optiflow.wsgi",
                    "--workers",
                    "1",
                    "--bind",
                    f"127.0.0.1:{port}",
                    *options,
                ],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=log,
            )
            stack.callback(stop, process)
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(url, process, log)
            urls.append(url)
        yield urls


def wait_until_serving(url: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise AssertionError(f"server exited:\n{log.read().decode()}")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return  # it died (or a test killed it)
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def call(
    method: str, url: str, *, token: str | None = None, body: Any = None, timeout: float = 60
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request from outside: status, headers and the JSON body (``None`` if empty)."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, answer, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer, raw = error.code, error.headers, error.read()
    return status, dict(answer), json.loads(raw) if raw else None


@contextmanager
def workers(env: dict[str, str] | None = None, *, count: int = 1) -> Iterator[list[Worker]]:
    """Start ``count`` task-queue workers (``manage.py procrastinate worker``, as ``make run``
    does) on the test database; stop them afterwards. Unless ``env`` says otherwise they send
    webhooks to loopback over plain HTTP, retry after 1, 2 and 4 seconds, look for due retries
    twice a second (new jobs wake them at once), and beat every second (so a killed one counts
    as dead after 3)."""
    environment = process_environment(
        {
            "OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE": "1",
            "OPTIFLOW_WEBHOOKS_ALLOW_HTTP": "1",
            "OPTIFLOW_WEBHOOK_RETRY_SCHEDULE": "1,2,4",
            "OPTIFLOW_WORKER_HEARTBEAT_SECONDS": "1",
            "PROCRASTINATE_WORKER_FETCH_JOB_POLLING_INTERVAL": "0.5",
            **(env or {}),
        }
    )
    queue_clear()
    with ExitStack() as stack:
        started = []
        for _ in range(count):
            log = stack.enter_context(tempfile.TemporaryFile())
            process = subprocess.Popen(
                [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", "4"],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=log,
            )
            stack.callback(stop, process)
            started.append(Worker(process, log))
        yield started


def queue_clear() -> None:
    """Drop the jobs earlier tests left queued in the test database (deliveries for the
    fuzzer's subscriptions, say): workers a test starts send only what that test causes, and
    only where it points them. Through a connection of its own, committed at once."""
    with psycopg.connect(test_database_url(), autocommit=True) as connection:
        connection.execute("DELETE FROM procrastinate_jobs WHERE status = 'todo'")


@dataclass
class Worker:
    process: subprocess.Popen
    log: IO[bytes]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")
