"""SPEC §7: exact sliding-window limits per user and per IP, shared by every server process
through PostgreSQL or Redis, their headers, and what happens while Redis is down."""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from optiflow import ratelimit
from optiflow.ratelimit import FailOpen, PostgresStore, Rate, RedisStore, parse_rate
from tests.factories import make_user
from tests.servers import RedisServer, redis_server, web_servers

# --- the rule, in process -----------------------------------------------------------------


@override_settings(OPTIFLOW_RATE_LIMIT_USER="3/min")
def test_user_limit_headers_and_429(api):
    remaining = [api.get("/me")["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    response = api.get("/me")
    assert response.status_code == 429
    assert response.json() == {"message": "Too Many Attempts."}
    assert response["X-RateLimit-Limit"] == "3"
    assert response["X-RateLimit-Remaining"] == "0"
    assert 59 <= int(response["Retry-After"]) <= 60


@override_settings(OPTIFLOW_RATE_LIMIT_USER="2/2s")
def test_refused_requests_are_not_counted_and_retry_after_is_when_the_oldest_leaves(api):
    """Hammering while limited does not keep the window full: once ``Retry-After`` has passed,
    the next request is served."""
    assert [api.get("/me").status_code for _ in range(2)] == [200, 200]
    refused = [api.get("/me") for _ in range(5)]
    assert {response.status_code for response in refused} == {429}
    retry_after = int(refused[-1]["Retry-After"])
    assert retry_after in (1, 2)
    time.sleep(retry_after + 0.05)
    assert api.get("/me").status_code == 200


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


@pytest.mark.parametrize(
    ("text", "rate"),
    [("60/min", Rate(60, 60)), ("5/10s", Rate(5, 10)), ("100 / 2 hour", Rate(100, 7200))],
)
def test_rates_read_a_count_per_window(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["60", "60/fortnight", "x/min", "5/0s"])
def test_rates_refuse_nonsense(text):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(text)


# --- the stores ---------------------------------------------------------------------------


@pytest.fixture(params=["postgresql", "redis"])
def store(request) -> Iterator[ratelimit.Store]:
    """Each store, as the server processes use it."""
    if request.param == "postgresql":
        request.getfixturevalue("django_db_setup")
        store = PostgresStore()
        yield store
        store.close()
        return
    with redis_server() as redis:
        store = RedisStore(redis.url)
        yield store
        store.close()


def test_concurrent_checks_never_exceed_the_limit(store):
    """40 threads, 5 checks each, at once, against a limit of 30: exactly 30 are counted."""
    rate = Rate(30, 60)
    barrier = threading.Barrier(40)

    def hits(_: int) -> list[bool]:
        barrier.wait()
        return [store.hit("concurrent", rate).allowed for _ in range(5)]

    with ThreadPoolExecutor(40) as pool:
        allowed = [ok for batch in pool.map(hits, range(40)) for ok in batch]
    assert allowed.count(True) == 30


def test_the_window_slides(store):
    """3 per 3 s: a 4th is refused until the first leaves the window, then one more fits, not
    three (as a new fixed window would allow)."""
    rate = Rate(3, 3)
    first = store.hit("slide", rate)
    assert (first.allowed, first.remaining) == (True, 2)
    time.sleep(1.5)
    assert [store.hit("slide", rate).allowed for _ in range(2)] == [True, True]
    refused = store.hit("slide", rate)
    assert (refused.allowed, refused.remaining) == (False, 0)
    assert refused.retry_after in (1, 2)  # when the first leaves: 3 s after it, rounded up
    time.sleep(1.6)  # the first has left; the two later ones stay for another 1.4 s
    assert [store.hit("slide", rate).allowed for _ in range(2)] == [True, False]


# --- failing open -------------------------------------------------------------------------


def test_a_stalled_store_fails_open_once_per_cooldown_and_recovers(monkeypatch, caplog):
    """While Redis is stalled, the first check waits for the client timeout, the following ones
    pass at once; one warning is logged; when Redis answers again limits are enforced."""
    monkeypatch.setattr(ratelimit, "BREAKER_COOLDOWN_SECONDS", 0.5)
    rate = Rate(2, 60)
    with redis_server() as redis:
        limiter = FailOpen(RedisStore(redis.url), "redis")
        assert [limiter.hit("k", rate).counted for _ in range(2)] == [True, True]
        redis.pause()
        caplog.set_level(logging.WARNING, logger="optiflow.ratelimit")
        started = time.monotonic()
        decisions = [limiter.hit("k", rate) for _ in range(50)]
        elapsed = time.monotonic() - started
        assert all(d.allowed and not d.counted for d in decisions)
        assert elapsed < ratelimit.STORE_TIMEOUT_SECONDS + 0.5  # one timeout, not fifty
        time.sleep(0.6)
        limiter.hit("k", rate)  # the breaker tries again, and fails again: no new warning
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
        redis.resume()
        time.sleep(0.6)
        assert limiter.hit("k", rate).allowed is False  # the 2 counted before are still there
        assert "back" in caplog.records[-1].getMessage()


# --- real server processes ----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    sent: float
    received: float


class Client:
    """One kept-alive connection to a server, as an API client library holds it."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.host = urlparse(url)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.connection = http.client.HTTPConnection(self.host.hostname, self.host.port, timeout=10)

    def get(self, path: str) -> Answer:
        sent = time.monotonic()
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        response.read()
        return Answer(response.status, sent, time.monotonic())


@pytest.fixture(scope="module")
def limited_servers(provisioned, django_db_blocker) -> Iterator[dict[str, list[str]]]:
    """Two server processes counting in PostgreSQL, two counting in Redis: users 60/min, as
    the default; anonymous clients 10 per 3 s, a short window with the same rule."""
    env = {"OPTIFLOW_RATE_LIMIT_USER": "60/min", "OPTIFLOW_RATE_LIMIT_ANON": "10/3s"}
    with redis_server() as redis, web_servers(env, count=2) as pg_urls:
        with web_servers({**env, "REDIS_URL": redis.url}, count=2) as redis_urls:
            yield {"postgresql": pg_urls, "redis": redis_urls}


def run_both(work: Callable[[str, list[str]], object], servers: dict[str, list[str]]) -> dict:
    """The PostgreSQL and Redis variants at the same time: the same wall time for both."""
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(work, name, urls) for name, urls in servers.items()}
        return {name: future.result() for name, future in futures.items()}


def test_exactly_60_of_200_requests_in_30_seconds_across_two_processes(
    limited_servers, committed_tenant
):
    """One token, 200 requests spread over 30 s by 4 clients alternating between two server
    processes: exactly 60 are served, every other one is a 429 — with Redis and without."""
    tokens = {name: make_user(workspace=committed_tenant.workspace)[1] for name in limited_servers}

    def traffic(name: str, urls: list[str]) -> list[int]:
        clients = [Client(urls[i % 2], tokens[name]) for i in range(4)]
        start = time.monotonic()

        def client_loop(index: int) -> list[int]:
            statuses = []
            for n in range(50):  # 4 × 50 = 200, one request every 150 ms overall
                time.sleep(max(0.0, start + (n * 4 + index) * 0.15 - time.monotonic()))
                statuses.append(clients[index].get("/t/conc/api/v1/me").status)
            return statuses

        with ThreadPoolExecutor(4) as pool:
            statuses = [s for batch in pool.map(client_loop, range(4)) for s in batch]
        assert time.monotonic() - start < 45
        return statuses

    for name, statuses in run_both(traffic, limited_servers).items():
        assert len(statuses) == 200, name
        assert statuses.count(200) == 60, (name, statuses)
        assert statuses.count(429) == 140, (name, statuses)


def test_a_burst_across_window_boundaries_never_exceeds_the_limit(limited_servers):
    """Anonymous clients (10 per 3 s) hammer both processes for 7.5 s. Each allowed request
    was counted somewhere between its sending and its answer; any 11 allowed ones must then
    span more than the window. A fixed window lets 20 through around each boundary."""
    window, limit = 3.0, 10

    def burst(name: str, urls: list[str]) -> list[Answer]:
        stop = time.monotonic() + 7.5

        def client_loop(index: int) -> list[Answer]:
            client, answers = Client(urls[index % 2]), []
            while time.monotonic() < stop:
                answers.append(client.get("/t/conc/api/v1/me"))
            return answers

        with ThreadPoolExecutor(4) as pool:
            return [a for batch in pool.map(client_loop, range(4)) for a in batch]

    for name, answers in run_both(burst, limited_servers).items():
        assert {a.status for a in answers} <= {401, 429}, name
        allowed = sorted((a for a in answers if a.status == 401), key=lambda a: a.sent)
        assert len(allowed) >= 2 * limit, (name, len(allowed))  # the window does slide on
        for first in range(len(allowed) - limit):
            group = allowed[first : first + limit + 1]
            span = max(a.received for a in group) - min(a.sent for a in group)
            assert span >= window, (name, first, span)


def test_redis_killed_mid_traffic_fails_open_fast_and_limits_return(committed_tenant):
    """A server counting in a Redis of the test's own. Redis stalls, then dies, under steady
    traffic: no 5xx, no answer waits for more than the store's timeout (not Redis' 5 s
    default, nor a timeout per request); Redis comes back on the same port and
    within a few seconds the limit holds again."""
    if RedisServer.BINARY is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    token = make_user(workspace=committed_tenant.workspace)[1]
    with redis_server() as redis:
        env = {"REDIS_URL": redis.url, "OPTIFLOW_RATE_LIMIT_USER": "5/min"}
        with web_servers(env, workers=2) as [url]:
            client = Client(url, token)
            assert [client.get("/t/conc/api/v1/me").status for _ in range(6)] == [200] * 5 + [429]

            answers: list[Answer] = []
            stop = threading.Event()

            def traffic() -> None:
                traffic_client = Client(url, token)
                while not stop.is_set():
                    answers.append(traffic_client.get("/t/conc/api/v1/me"))

            background = threading.Thread(target=traffic)
            background.start()
            try:
                time.sleep(0.5)
                redis.pause()
                time.sleep(2)
                redis.kill()
                time.sleep(2)
            finally:
                stop.set()
                background.join()

            outage = [a for a in answers if a.status != 429]
            assert outage, "requests passed while Redis was down"
            assert {a.status for a in answers} <= {200, 429}
            # The store's timeout is 250 ms; the rest is margin for a loaded machine.
            assert max(a.received - a.sent for a in answers) < 1.5

            redis.start()
            deadline = time.monotonic() + 20
            statuses: list[int] = []
            while 429 not in statuses[-1:] and time.monotonic() < deadline:
                statuses.append(client.get("/t/conc/api/v1/me").status)
                time.sleep(0.1)
            assert statuses[-1] == 429, statuses
            assert statuses[-6:] == [200] * 5 + [429]  # counted from zero in the new Redis
