"""Real server processes for tests that must go through HTTP from outside: uWSGI with the
committed ``uwsgi.ini`` serving the test database, as ``make run`` serves the real one."""

from __future__ import annotations

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

import pytest

from tests.conftest import test_database_url

ROOT = Path(__file__).resolve().parents[1]
UWSGI = Path(sys.executable).with_name("uwsgi")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    environment = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "WEB_CONCURRENCY": str(workers),
        **(env or {}),
        "PORT": str(port),
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [UWSGI, "--ini", "uwsgi.ini"], cwd=ROOT, env=environment, stdout=log, stderr=log,
            start_new_session=True,  # its own process group: stop() can end all of it
        )  # fmt: skip
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
            urllib.request.urlopen(f"{url}/health", timeout=1)
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
            [self.BINARY, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
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
