"""Rate limits (SPEC §7) as fixed one-window counters with atomic increments in the cache.

DRF's stock throttles keep a history list per client and read-modify-write it, which loses
counts when two processes race; ``cache.incr`` is a single atomic operation in Redis (and under
a lock in the local-memory cache), so the limit holds across processes sharing ``REDIS_URL``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

PERIODS = {
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


def parse_rate(rate: str) -> tuple[int, int]:
    """``"60/min"`` → ``(60, 60)``: requests, window in seconds."""
    try:
        count, period = rate.split("/")
        return int(count), PERIODS[period.strip().lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(f"Invalid rate limit {rate!r}; use e.g. '60/min'.") from None


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    retry_after: int


class RateLimitThrottle(BaseThrottle):
    """Per user and tenant when authenticated, per client IP otherwise. The state is kept on
    the request so the base view can add ``X-RateLimit-*`` headers to every response."""

    def allow_request(self, request: Request, view) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            rate = settings.OPTIFLOW_RATE_LIMIT_USER
            tenant = getattr(request._request, "tenant", None)
            ident = f"user:{tenant.schema_name if tenant else '-'}:{user.pk}"
        else:
            rate = settings.OPTIFLOW_RATE_LIMIT_ANON
            ident = f"anon:{self.get_ident(request)}"
        limit, window = parse_rate(rate)
        now = time.time()
        window_start = int(now // window) * window
        key = f"ratelimit:{ident}:{window_start}"
        cache.add(key, 0, timeout=window + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 1)
            count = 1
        retry_after = max(1, int(window_start + window - now + 0.999))
        request.rate_limit = RateLimitState(limit, max(0, limit - count), retry_after)
        self.retry_after = retry_after
        return count <= limit

    def wait(self) -> float | None:
        return self.retry_after


def rate_limit_headers(request: Request) -> dict[str, str]:
    state: RateLimitState | None = getattr(request, "rate_limit", None)
    if state is None:
        return {}
    return {"X-RateLimit-Limit": str(state.limit), "X-RateLimit-Remaining": str(state.remaining)}
