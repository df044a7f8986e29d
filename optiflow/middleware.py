"""Request-wide middleware that belongs to no single app."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MAX_REQUEST_LINE_BYTES = 8192


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


class RequestLimitsMiddleware:
    """SPEC §5 limits, refused before any other work (no tenant lookup, no body read), in the
    JSON error shape: a request line over 8 KB is ``414``, a body over
    ``OPTIFLOW_MAX_BODY_BYTES`` is ``413``.

    The web server (``uwsgi.ini``, ``buffer-size``) lets request lines up to 64 KB through so
    that this answers them; past that the server drops the connection."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request_line_length(request) > MAX_REQUEST_LINE_BYTES:
            return JsonResponse(
                {"message": f"Request line too long (over {MAX_REQUEST_LINE_BYTES} bytes)."},
                status=414,
            )
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"message": "Invalid Content-Length header."}, status=400)
        if length > settings.OPTIFLOW_MAX_BODY_BYTES:
            return JsonResponse(
                {"message": f"Request body too large (over {settings.OPTIFLOW_MAX_BODY_BYTES} "
                 "bytes)."},
                status=413,
            )  # fmt: skip
        return self.get_response(request)


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
