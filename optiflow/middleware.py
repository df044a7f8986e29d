"""Request-wide middleware that belongs to no single app."""

from __future__ import annotations

import contextlib
import functools
import re
import time
import uuid
from typing import Any

import structlog
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve
from django.utils.functional import SimpleLazyObject, empty

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MAX_REQUEST_LINE_BYTES = 8192
ROUTE_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")

access_log = structlog.get_logger("optiflow.access")


class RequestIdMiddleware:
    """Every response carries ``X-Request-Id``: the client's, when well-formed, else a new one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-Id", "")
        request.request_id = supplied if REQUEST_ID.match(supplied) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-Id"] = request.request_id
        return response


class AccessLogMiddleware:
    """One structured line per request (logger ``optiflow.access``): request id, tenant, user
    and token ids, method, route (the URL pattern, so one endpoint is one value whatever the
    ids in its path), status, duration and the number of SQL queries. It wraps everything but
    the request id, so refusals by the limits and the tenant lookup are logged too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        structlog.contextvars.bind_contextvars(request_id=request.request_id)
        queries = QueryCounter()
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(queries):
                response = self.get_response(request)
            tenant = getattr(request, "tenant", None)
            token = getattr(request, "auth", None)
            access_log.info(
                "request",
                tenant=getattr(tenant, "slug", None),
                user_id=authenticated_user_id(request),
                token_id=getattr(token, "pk", None),
                method=request.method,
                route=route_of(request),
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                queries=queries.count,
            )
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        return response


class QueryCounter:
    """A ``connection.execute_wrapper`` that counts the statements a request runs: cheap
    enough for every request, unlike ``DEBUG``'s query log."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql: str, params: Any, many: bool, context: dict) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def authenticated_user_id(request: HttpRequest) -> int | None:
    """The user the API authenticated (DRF sets it on the request), or the admin's session
    user if something already loaded it; never a lookup of its own once the response is
    made (the tenant's schema is gone by then)."""
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        return None
    return user.pk if user is not None and user.is_authenticated else None


def route_of(request: HttpRequest) -> str | None:
    """The URL pattern that served the request, ``/api/v1/invoices/{pk}`` for DRF's router
    regexes; ``None`` for a request no pattern matched."""
    match = getattr(request, "resolver_match", None)
    return None if match is None else route_template(match.route)


@functools.lru_cache(maxsize=1024)
def route_template(route: str) -> str:
    """``api/v1/invoices/(?P<pk>[0-9]+)$`` → ``/api/v1/invoices/{pk}``: one per URL pattern,
    written once."""
    return "/" + ROUTE_GROUP.sub(r"{\1}", route.replace("^", "").replace("$", ""))


class RequestLimitsMiddleware:
    """SPEC §5 limits, refused before any other work (no tenant lookup, no body read), in the
    JSON error shape: a request line over 8 KB is ``414``, a body over
    ``OPTIFLOW_MAX_BODY_BYTES`` is ``413``.

    The web server (``uwsgi.ini``, ``buffer-size``) lets request lines up to 64 KB through so
    that this answers them; past that the server drops the connection.

    It also keeps kept-alive connections usable after a request whose body the application
    never read (refused before parsing: a bad token, an unknown workspace). Left unread, the
    worker's close resets uWSGI's router, which then drops the client's connection without
    the ``Connection: close`` that would have warned it: the next request on it fails. So the
    rest of such a body is read here; a refusal that does not read it says ``close``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self.refusal(request)
        if refusal is not None:
            refusal["Connection"] = "close"  # the unread body must not be taken for a request
            return refusal
        response = self.get_response(request)
        with contextlib.suppress(OSError):  # a client gone mid-body: its connection is too
            while request.read(64 * 1024):
                pass
        return response

    @staticmethod
    def refusal(request: HttpRequest) -> JsonResponse | None:
        if request_line_length(request) > MAX_REQUEST_LINE_BYTES:
            message = f"Request line too long (over {MAX_REQUEST_LINE_BYTES} bytes)."
            return JsonResponse({"message": message}, status=414)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"message": "Invalid Content-Length header."}, status=400)
        if length > settings.OPTIFLOW_MAX_BODY_BYTES:
            message = f"Request body too large (over {settings.OPTIFLOW_MAX_BODY_BYTES} bytes)."
            return JsonResponse({"message": message}, status=413)
        return None


def request_line_length(request: HttpRequest) -> int:
    """``METHOD target HTTP/1.1`` as the client sent it: the raw target where the server gives
    it (uWSGI's ``REQUEST_URI``), else rebuilt percent-encoded."""
    target = request.META.get("REQUEST_URI") or request.get_full_path()
    return len(request.method) + len(target) + len(request.META.get("SERVER_PROTOCOL", "")) + 2


class RetryAfterMiddleware:
    """Every ``503`` carries ``Retry-After`` (SPEC §5), whichever layer answered it: the
    exception handler, the tenant middleware, the readiness check."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 503 and not response.has_header("Retry-After"):
            response["Retry-After"] = str(settings.OPTIFLOW_RETRY_AFTER_SECONDS)
        return response


class ReadinessMiddleware:
    """Serves the bare host's ``/health/ready`` ahead of the tenant lookup, through the public
    URLconf: that lookup needs the database, and a readiness check must report a database
    that is down, not fail with it. (On a tenant's host that path is otherwise a 404.)"""

    PATH = "/health/ready"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != self.PATH:
            return self.get_response(request)
        request.resolver_match = resolve(self.PATH, settings.PUBLIC_SCHEMA_URLCONF)
        # Django's handler renders a view's response; called from here, it is ours to do.
        return request.resolver_match.func(request).render()


# --- the admin's middleware, skipped for the API ---------------------------------------------
# Sessions, the session user and flash messages serve the admin's pages. The API authenticates
# each request by its bearer token (DRF sets ``request.user``) and reads no session, cookie or
# message, so on a path under ``/api/`` these three only cost time: a session store and a
# lazy user built, two message stores set up and flushed. Skipping them changes no response:
# the session middleware adds ``Vary: Cookie`` and cookies only for a session that was read or
# written, and the message middleware writes only messages that were added. The other Django
# middleware (security headers, X-Frame-Options, CSRF, CORS) runs for every path, as before.
# ``TenantMiddleware`` runs first: by then ``path_info`` has lost any ``/t/{slug}`` prefix.

API_PATH_PREFIX = "/api/"


class AdminOnlyMiddleware:
    """Base of the admin-only middleware below: an API request goes straight on."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PATH_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(AdminOnlyMiddleware, sessions_middleware.SessionMiddleware):
    """Django's ``SessionMiddleware``, for every path but the API's."""


class AuthenticationMiddleware(AdminOnlyMiddleware, auth_middleware.AuthenticationMiddleware):
    """Django's ``AuthenticationMiddleware`` (the session's user), for every path but the
    API's, whose user is its token's."""


class MessageMiddleware(AdminOnlyMiddleware, messages_middleware.MessageMiddleware):
    """Django's ``MessageMiddleware``, for every path but the API's."""
