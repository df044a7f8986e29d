"""SPEC §7: per-user and per-IP limits, their headers, and a limit shared across processes."""

import socket
import urllib.error
import urllib.request

import pytest
from django.test import override_settings

from tests.servers import web_servers


@override_settings(OPTIFLOW_RATE_LIMIT_USER="3/min")
def test_user_limit_headers_and_429(api):
    remaining = [api.get("/me")["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    response = api.get("/me")
    assert response.status_code == 429
    assert response.json() == {"message": "Too Many Attempts."}
    assert response["X-RateLimit-Limit"] == "3"
    assert response["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(response["Retry-After"]) <= 60


@override_settings(OPTIFLOW_RATE_LIMIT_ANON="2/min")
def test_failed_authentication_counts_against_the_ip_limit(api):
    anonymous = api.as_token("1|wrong")
    assert [anonymous.get("/me").status_code for _ in range(2)] == [401, 401]
    assert anonymous.get("/me").status_code == 429


@override_settings(OPTIFLOW_RATE_LIMIT_USER="2/min")
def test_users_have_separate_counters(api, member_api):
    other = member_api()
    for _ in range(2):
        api.get("/me")
    assert api.get("/me").status_code == 429
    assert other.get("/me").status_code == 200


@override_settings(OPTIFLOW_RATE_LIMIT_ANON="1/min")
def test_health_is_exempt(client, tenant):
    statuses = {client.get("/t/acme/api/v1/health").status_code for _ in range(5)}
    assert statuses == {200}


def redis_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


def status_of(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.skipif(not redis_reachable(), reason="no Redis at 127.0.0.1:6379")
def test_limit_is_shared_by_two_server_processes_through_redis(provisioned, db):
    """Two server processes on the same Redis: 6 anonymous requests, alternating between
    them, against a limit of 4 → exactly 4 answered, then 429 from both."""
    import redis

    redis.Redis.from_url("redis://127.0.0.1:6379/15").flushdb()
    env = {
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "OPTIFLOW_RATE_LIMIT_ANON": "4/min",
    }
    with web_servers(env, count=2) as urls:
        statuses = [status_of(f"{urls[i % 2]}/t/acme/api/v1/me") for i in range(6)]
    assert statuses == [401, 401, 401, 401, 429, 429]
