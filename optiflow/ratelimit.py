"""Sliding-window rate limiting (SPEC §7): at most N requests in *any* window of W seconds.

A sliding log: for each client key the store keeps the times of its counted requests inside
the window. A check drops the times that have left the window, counts the rest, and records the
new request only if fewer than N remain — in one atomic step, so concurrent requests of one
client (in any process, on any machine sharing the store) can never together exceed N. Neither
a fixed window (2N across a boundary) nor a token bucket or GCRA (N plus the refill) holds that.

A refused request is **not** recorded: a client that keeps retrying while limited must still see
its window drain, and ``Retry-After`` (seconds until the oldest counted request leaves the
window) stays true.

Two stores, chosen by the settings:

* :class:`RedisStore` when ``REDIS_URL`` is set: a sorted set per key, one Lua script per check;
* :class:`PostgresStore` otherwise: one row per key in the public schema, one function call per
  check, so ``make run``'s several worker processes share the count without Redis.

Both read the time from the store's own clock, so machines with skewed clocks agree. Either store
being unreachable or slow must not take the API down: :class:`FailOpen` lets requests through
(within the client timeouts set below), stops asking a store that failed for a few seconds (so
requests do not each pay the timeout), logs once per interval, and recovers by itself.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

import psycopg
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger("optiflow.ratelimit")

#: Timeout of each store round trip; past it the request goes through uncounted.
STORE_TIMEOUT_SECONDS = 0.25
#: After a store failure, requests go through uncounted for this long before it is tried again.
BREAKER_COOLDOWN_SECONDS = 5.0
#: While a store stays down, at most one warning per this many seconds.
LOG_INTERVAL_SECONDS = 60.0

UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
RATE = re.compile(r"^\s*(?P<limit>\d+)\s*/\s*(?P<count>\d+)?\s*(?P<unit>[a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    window: int  # seconds


@functools.lru_cache(maxsize=64)
def parse_rate(rate: str) -> Rate:
    """``"60/min"`` → 60 per 60 s; a multiplier is allowed: ``"5/10s"``, ``"100/2h"``. Every
    request's throttle parses a setting's rate: each one once."""
    match = RATE.match(rate.lower())
    if not match or match["unit"] not in UNITS or int(match["count"] or 1) < 1:
        raise ImproperlyConfigured(f"Invalid rate limit {rate!r}; use e.g. '60/min' or '5/10s'.")
    return Rate(int(match["limit"]), int(match["count"] or 1) * UNITS[match["unit"]])


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    #: Seconds until a request would be counted again (0 when allowed).
    retry_after: int
    #: False when the store could not be asked and the request went through uncounted.
    counted: bool = True


def decision(rate: Rate, *, allowed: bool, hits: int, oldest: float, now: float) -> Decision:
    """The answer to one check, from the count after it and the oldest time still counted."""
    retry_after = 0 if allowed else max(1, math.ceil(oldest + rate.window - now))
    return Decision(allowed, rate.limit, max(0, rate.limit - hits), retry_after)


class Store(Protocol):
    #: What the store raises when it is unreachable or too slow: the request then fails open.
    errors: tuple[type[Exception], ...]

    def hit(self, key: str, rate: Rate) -> Decision: ...

    def reset(self) -> None:
        """Forget every count (tests)."""

    def close(self) -> None: ...


# --- Redis ----------------------------------------------------------------------------------

# Members must be unique in a sorted set, hence the caller's random id beside the score.
# Times are integer microseconds from Redis' own clock (exact in a Lua double: < 2^53).
SLIDING_WINDOW_LUA = """
local window = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local hits = redis.call('ZCARD', KEYS[1])
local allowed = 0
if hits < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    hits = hits + 1
    allowed = 1
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
return {allowed, hits, tonumber(oldest or now), now}
"""


class RedisStore:
    def __init__(self, url: str) -> None:
        # redis-py retries failed commands with backoff by default: during an outage that
        # multiplies the wait of every request. One try, bounded by the timeouts.
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=STORE_TIMEOUT_SECONDS,
            socket_timeout=STORE_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self.script = self.client.register_script(SLIDING_WINDOW_LUA)
        self.errors = (redis.RedisError,)

    def hit(self, key: str, rate: Rate) -> Decision:
        allowed, hits, oldest, now = self.script(
            keys=[f"ratelimit:{key}"], args=[rate.limit, rate.window * 1_000_000, uuid.uuid4().hex]
        )
        return decision(rate, allowed=bool(allowed), hits=hits, oldest=oldest / 1e6, now=now / 1e6)

    def reset(self) -> None:
        keys = list(self.client.scan_iter("ratelimit:*"))
        if keys:
            self.client.delete(*keys)

    def close(self) -> None:
        self.client.close()


# --- PostgreSQL -----------------------------------------------------------------------------


HIT_QUERY = """
SELECT allowed, counted, extract(epoch FROM oldest), extract(epoch FROM checked_at)
  FROM public.optiflow_rate_limit_hit(%s, %s, %s)
"""


class PostgresStore:
    """Calls ``public.optiflow_rate_limit_hit`` (migration ``0002_rate_limit_windows``), which
    locks the key's row, trims, counts and appends in one statement.

    It uses a connection of its own rather than the request's: a count must be committed whatever
    becomes of the request's transaction (a test's, a caller's ``atomic``), it must not show in a
    request's query count, and it must not depend on the session's ``search_path`` (hence the
    schema-qualified names). psycopg connections are thread-safe, so a process keeps one.
    """

    def __init__(self) -> None:
        self.errors = (psycopg.Error,)
        self._lock = threading.Lock()
        self._connection = None
        self._pid = 0

    def connection(self) -> psycopg.Connection:
        with self._lock:
            # A forked worker must not share its parent's socket.
            if self._connection is None or self._connection.closed or self._pid != os.getpid():
                params = connections["default"].settings_dict
                self._connection = psycopg.connect(
                    dbname=params["NAME"],
                    user=params["USER"],
                    password=params["PASSWORD"],
                    host=params["HOST"],
                    port=params["PORT"],
                    connect_timeout=2,  # libpq's smallest
                    autocommit=True,
                    # No server-side prepared statements: safe behind PgBouncer's pooling.
                    prepare_threshold=None,
                )
                self._pid = os.getpid()
            return self._connection

    def hit(self, key: str, rate: Rate) -> Decision:
        try:
            cursor = self.connection().execute(HIT_QUERY, (key, rate.limit, rate.window))
            allowed, hits, oldest, now = cursor.fetchone()
        except self.errors:
            self.close()  # reconnect on the next check
            raise
        return decision(rate, allowed=allowed, hits=hits, oldest=float(oldest), now=float(now))

    def reset(self) -> None:
        self.connection().execute("DELETE FROM public.optiflow_rate_limit_window")

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
            self._connection = None


# --- failing open ---------------------------------------------------------------------------


class FailOpen:
    """A circuit breaker around a store. Closed: every check asks the store. A failure opens it:
    for ``BREAKER_COOLDOWN_SECONDS`` checks answer "allowed, uncounted" at once. Then one request
    (only one, however many threads) tries the store again: success closes the breaker, failure
    opens it for another cooldown."""

    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._trial = threading.Lock()
        self._last_warning = -math.inf
        self._failing = False

    def hit(self, key: str, rate: Rate) -> Decision:
        if time.monotonic() < self._open_until:
            return self.uncounted(rate)
        if not self._failing:
            return self.ask(key, rate)
        # Half-open: one request tries the store; the others pass uncounted meanwhile rather
        # than each wait for a store that is probably still down.
        if not self._trial.acquire(blocking=False):
            return self.uncounted(rate)
        try:
            return self.ask(key, rate)
        finally:
            self._trial.release()

    def ask(self, key: str, rate: Rate) -> Decision:
        try:
            result = self.store.hit(key, rate)
        except self.store.errors as error:
            self.failed(error)
            return self.uncounted(rate)
        if self._failing:
            self._failing = False
            logger.warning("Rate-limit store %s is back; limits are enforced again.", self.name)
        return result

    def failed(self, error: Exception) -> None:
        with self._lock:
            self._open_until = time.monotonic() + BREAKER_COOLDOWN_SECONDS
            self._failing = True
            now = time.monotonic()
            if now - self._last_warning >= LOG_INTERVAL_SECONDS:
                self._last_warning = now
                logger.warning(
                    "Rate-limit store %s unavailable (%s: %s); requests pass uncounted, "
                    "retrying every %.0f s.",
                    self.name,
                    type(error).__name__,
                    error,
                    BREAKER_COOLDOWN_SECONDS,
                )

    @staticmethod
    def uncounted(rate: Rate) -> Decision:
        return Decision(True, rate.limit, rate.limit, 0, counted=False)

    def reset(self) -> None:
        self.store.reset()

    def close(self) -> None:
        self.store.close()


_limiter: FailOpen | None = None
_limiter_lock = threading.Lock()


def limiter() -> FailOpen:
    """The process's limiter, built on first use from the settings."""
    global _limiter
    if _limiter is None:
        with _limiter_lock:
            if _limiter is None:
                if settings.REDIS_URL:
                    _limiter = FailOpen(RedisStore(settings.REDIS_URL), "redis")
                else:
                    _limiter = FailOpen(PostgresStore(), "postgresql")
    return _limiter


def rate_limit_hit(*, key: str, rate: Rate) -> Decision:
    return limiter().hit(key, rate)
