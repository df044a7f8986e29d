"""Readiness (``GET /health/ready``): whether this process can serve, as a list of named
checks — the database, Redis when configured, the webhook queue's backlog. The answer names
each with its status, and a failure makes it a ``503``. A check that needs another (the queue
lives in the database) is not run once that one failed: it fails naming it, so a probe with the
database down waits for one connection timeout, not one per check.

A check is a callable that returns when ready and raises otherwise. ``NotReady`` carries a
message for the answer; any other error shows only its class name, since the endpoint needs no
token and an error's text can hold host names and addresses.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.db import connection
from redis.backoff import NoBackoff
from redis.retry import Retry

CHECK_TIMEOUT_SECONDS = 1.0


class NotReady(Exception):
    """A check's finding, shown as is in the answer."""


@dataclass(frozen=True)
class Check:
    name: str
    probe: Callable[[], None]
    #: Checks that must pass for this one to mean anything.
    needs: tuple[str, ...] = ()


def database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@cache
def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


def redis_ping() -> None:
    redis_client(settings.REDIS_URL).ping()


def queue_age(
    oldest_pending_age: Callable[[], dt.timedelta | None], *, max_age: dt.timedelta
) -> Callable[[], None]:
    """A check that a job queue keeps up: the oldest job still waiting (``None``: none) has
    waited at most ``max_age``. A dead or swamped worker pool shows here before clients
    notice."""

    def probe() -> None:
        age = oldest_pending_age()
        if age is not None and age > max_age:
            raise NotReady(
                f"oldest pending job waiting {age.total_seconds():.0f} s "
                f"(limit {max_age.total_seconds():.0f} s)"
            )

    return probe


#: Checks that apps add from their ``AppConfig.ready`` (the webhooks app: its delivery queue),
#: so this module imports none of them.
READINESS_CHECKS: list[Check] = []


def readiness_checks() -> list[Check]:
    checks = [Check("database", database)]
    if settings.REDIS_URL:
        checks.append(Check("redis", redis_ping))
    return [*checks, *READINESS_CHECKS]


def readiness() -> dict[str, dict]:
    """Each check's outcome by name: ``{"status": "ok" | "failed", "duration_ms", "error"?}``."""
    results: dict[str, dict] = {}
    for check in readiness_checks():
        started = time.perf_counter()
        failed_needs = [name for name in check.needs if results[name]["status"] != "ok"]
        try:
            if failed_needs:
                raise NotReady(f"{', '.join(failed_needs)} not ready")
            check.probe()
            result = {"status": "ok"}
        except NotReady as finding:
            result = {"status": "failed", "error": str(finding)}
        except Exception as error:  # a check reports its failure; it never raises
            result = {"status": "failed", "error": type(error).__name__}
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[check.name] = result
    return results
