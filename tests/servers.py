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
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.conftest import test_database_url

ROOT = Path(__file__).resolve().parents[1]
UWSGI = Path(sys.executable).with_name("uwsgi")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def web_servers(
    env: dict[str, str] | None = None, *, count: int = 1, workers: int = 1
) -> Iterator[list[str]]:
    """Start ``count`` servers (each with ``workers`` worker processes) on the test database
    and yield their base URLs once they answer ``/health``; stop them afterwards. Their log
    goes to a temporary file, shown if one fails to start."""
    environment = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "WEB_CONCURRENCY": str(workers),
        **(env or {}),
    }
    with ExitStack() as stack:
        urls = []
        for _ in range(count):
            port = free_port()
            log = stack.enter_context(tempfile.TemporaryFile())
            process = subprocess.Popen(
                [UWSGI, "--ini", "uwsgi.ini"],
                cwd=ROOT, env={**environment, "PORT": str(port)}, stdout=log, stderr=log,
                start_new_session=True,  # its own process group: stop() can end all of it
            )  # fmt: skip
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
            raise AssertionError(f"server exited:\n{log.read().decode(errors='replace')}")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not start")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)  # uwsgi.ini: die-on-term, workers and router too
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
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
