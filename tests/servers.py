"""Real processes for tests that must go through HTTP from outside: uWSGI with the committed
``uwsgi.ini`` serving the test database, as ``make run`` serves the real one; task-queue
workers; and a Redis server of the test's own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest

from tests.conftest import test_database_url

ROOT = Path(__file__).resolve().parents[1]
UWSGI = Path(sys.executable).with_name("uwsgi")


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


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen

    def worker_pids(self) -> list[int]:
        """The master's children: its workers and the HTTP router."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]


@contextmanager
def web_server(env: dict[str, str] | None = None, *, workers: int = 1) -> Iterator[Server]:
    """Start a server (with ``workers`` worker processes) on the test database and yield it
    once it answers; stop it afterwards. Its log goes to a temporary file, shown if it fails
    to start."""
    port = free_port()
    environment = process_environment(
        {"WEB_CONCURRENCY": str(workers), **(env or {}), "PORT": str(port)}
    )
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [UWSGI, "--ini", "uwsgi.ini"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: stop() can end all of it
        )
        try:
            server = Server(f"http://127.0.0.1:{port}", process)
            wait_until_serving(server.url, process, log)
            yield server
        finally:
            stop(process)


@contextmanager
def web_servers(
    env: dict[str, str] | None = None, *, count: int = 1, workers: int = 1
) -> Iterator[list[str]]:
    """``count`` servers as :func:`web_server` starts them; yields their base URLs."""
    with ExitStack() as stack:
        yield [stack.enter_context(web_server(env, workers=workers)).url for _ in range(count)]


def wait_until_serving(url: str, process: subprocess.Popen | None = None, log=None) -> None:
    """Until ``/health`` answers: a 503 (no database) is a server that serves; a 502 is the
    router with no worker ready yet."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            log.seek(0)
            raise AssertionError(f"server exited:\n{log.read().decode(errors='replace')}")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=5)
            return
        except urllib.error.HTTPError as error:
            if error.code != 502:
                return
            time.sleep(0.2)
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def stop(process: subprocess.Popen) -> None:
    """The whole process group at once: a graceful stop waits seconds for each worker's
    threads, and nothing a test checks happens during it."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def terminate(process: subprocess.Popen) -> None:
    """A graceful stop, for workers: they finish the job in hand (a test that kills one
    mid-delivery does so itself)."""
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
            stack.callback(terminate, process)
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


class RedisServer:
    """A ``redis-server`` of the test's own on a free port, which a test may stall
    (``pause``), kill and start again on the same port."""

    BINARY = shutil.which("redis-server")

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.BINARY,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def pause(self) -> None:
        """Stalled, not gone: connections open, nothing answers (a Redis under a long fork or
        swap, or a network black hole)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.kill()


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A started :class:`RedisServer`; the test is skipped, visibly, where none is installed."""
    if RedisServer.BINARY is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
