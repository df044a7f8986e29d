"""Rate limits (SPEC §7) on the API: who is counted, and the headers that tell them.

The counting itself — an exact sliding window shared by every process, in Redis or PostgreSQL,
failing open when its store is down — is ``optiflow.ratelimit``. DRF's stock throttles keep a
history list per client and read-modify-write it, which loses counts when two processes race.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from optiflow.ratelimit import Decision, parse_rate, rate_limit_hit


class RateLimitThrottle(BaseThrottle):
    """Per user and tenant when authenticated, per client IP otherwise. The decision is kept on
    the request so the base view can add ``X-RateLimit-*`` headers to every response."""

    def allow_request(self, request: Request, view) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            rate = settings.OPTIFLOW_RATE_LIMIT_USER
            tenant = getattr(request._request, "tenant", None)
            key = f"user:{tenant.schema_name if tenant else '-'}:{user.pk}"
        else:
            rate = settings.OPTIFLOW_RATE_LIMIT_ANON
            key = f"anon:{self.get_ident(request)}"
        decision = rate_limit_hit(key=key, rate=parse_rate(rate))
        request.rate_limit = decision
        self.retry_after = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return self.retry_after


def rate_limit_headers(request: Request) -> dict[str, str]:
    """While the store is unreachable requests pass uncounted, and ``Remaining`` shows the
    whole limit: nothing is being counted against the client."""
    decision: Decision | None = getattr(request, "rate_limit", None)
    if decision is None:
        return {}
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }
