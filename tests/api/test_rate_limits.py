"""SPEC §7: per-user and per-IP limits, their headers, and a limit shared across processes.

The limits here are per day, not per minute: a window that starts on the wall-clock minute
rolled over between two requests of a test about once in a hundred runs and started the count
again. A sliding window never does; a fixed day window only for a run straddling midnight UTC.
"""

import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from django.test import override_settings

from tests.servers import free_port, gunicorn


@override_settings(OPTIFLOW_RATE_LIMIT_USER="3/day")
def test_user_limit_headers_and_429(api):
    remaining = [api.get("/me")["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    response = api.get("/me")
    assert response.status_code == 429
    assert response.json() == {"message": "Too Many Attempts."}
    assert response["X-RateLimit-Limit"] == "3"
    assert response["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(response["Retry-After"]) <= 24 * 3600


@override_settings(OPTIFLOW_RATE_LIMIT_ANON="2/day")
def test_failed_authentication_counts_against_the_ip_limit(api):
    anonymous = api.as_token("1|wrong")
    assert [anonymous.get("/me").status_code for _ in range(2)] == [401, 401]
    assert anonymous.get("/me").status_code == 429


@override_settings(OPTIFLOW_RATE_LIMIT_USER="2/day")
def test_users_have_separate_counters(api, member_api):
    other = member_api()
    for _ in range(2):
        api.get("/me")
    assert api.get("/me").status_code == 429
    assert other.get("/me").status_code == 200


@override_settings(OPTIFLOW_RATE_LIMIT_ANON="1/day")
def test_health_is_exempt(client, tenant):
    statuses = {client.get("/t/acme/api/v1/health").status_code for _ in range(5)}
    assert statuses == {200}


@contextmanager
def private_redis() -> Iterator[str]:
    """A Redis server of this test's own on a free port: the machine's shared one is used by
    other checkouts' test runs too, whose counters (same client IP, same window) and flushes
    would mix with this test's."""
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"redis://127.0.0.1:{port}/0"
            deadline = time.monotonic() + 30
            while True:
                try:
                    redis.Redis.from_url(url).ping()
                    break
                except redis.ConnectionError:
                    assert server.poll() is None and time.monotonic() < deadline, "no Redis"
                    time.sleep(0.05)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def status_of(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_limit_is_shared_by_two_server_processes_through_redis(provisioned, db):
    """Two gunicorn processes on the same Redis: 6 anonymous requests, alternating between
    them, against a limit of 4 → exactly 4 answered, then 429 from both."""
    with private_redis() as redis_url:
        env = {"REDIS_URL": redis_url, "OPTIFLOW_RATE_LIMIT_ANON": "4/day"}
        with gunicorn(env, count=2) as urls:
            statuses = [status_of(f"{urls[i % 2]}/t/acme/api/v1/me") for i in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
