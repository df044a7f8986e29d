"""The one exception handler: every error leaves the API in the SPEC §5 shape.

``{"message": ...}`` always; ``422`` adds ``errors`` keyed by dotted field paths. Unexpected
exceptions are logged and answered ``500 {"message": "Server Error."}``; a lost database, and a
request past its lock or statement timeout (``optiflow.db.timeouts``), is ``503``. Nothing ever
answers with HTML or a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from optiflow.api.parsers import DRF_JSON_ERROR_PREFIX
from optiflow.db.timeouts import database_timeout
from optiflow.errors import NON_FIELD, Conflict, DomainError
from tenants.middleware import TenantGone

logger = logging.getLogger("optiflow.api")

VALIDATION_MESSAGE = "The given data was invalid."
MESSAGES = {
    exceptions.NotAuthenticated: "Unauthenticated.",
    exceptions.AuthenticationFailed: "Unauthenticated.",
    exceptions.PermissionDenied: "This action is unauthorized.",
    exceptions.Throttled: "Too Many Attempts.",
}


class BadRequest(exceptions.APIException):
    """A malformed request or an unknown query parameter value (``400``)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "Bad request."


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"items.0.quantity": ["..."]}``."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            path = key if not prefix else f"{prefix}.{key}"
            if key in (NON_FIELD, "non_field_errors") and prefix:
                path = prefix
            for sub_key, messages in flatten_errors(value, path).items():
                flat.setdefault(sub_key, []).extend(messages)
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or NON_FIELD: [str(item) for item in detail]} if detail else {}
        flat = {}
        for index, item in enumerate(detail):
            path = f"{prefix}.{index}" if prefix else str(index)
            for sub_key, messages in flatten_errors(item, path).items():
                flat.setdefault(sub_key, []).extend(messages)
        return flat
    return {prefix or NON_FIELD: [str(detail)]}


def validation_body(errors: dict[str, list[str]], message: str | None = None) -> dict:
    if message is None:
        message = VALIDATION_MESSAGE
    return {"message": message, "errors": errors}


def exception_handler(exc: Exception, context: dict) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(validation_body(exc.errors, exc.message), status=422)
    if isinstance(exc, Conflict):
        set_rollback()
        return Response({"message": exc.message}, status=409)
    if isinstance(exc, IntegrityError):
        # Services check every rule before writing; a constraint that still fires means a
        # concurrent request changed the same rows in between (e.g. deleted a referenced
        # product). The client's request was fine: it can retry.
        logger.warning("Integrity error, answered as a conflict", exc_info=exc)
        set_rollback()
        return Response(
            {"message": "The request conflicts with a concurrent change; retry it."}, status=409
        )
    if isinstance(exc, DataError):
        # A value past what a column stores (a stock level or total beyond numeric(14,2))
        # that no serializer bound could foresee: the request is at fault, not the server.
        set_rollback()
        message = "A value is out of the range this API stores."
        return Response(validation_body({NON_FIELD: [message]}, message), status=422)
    if isinstance(exc, Http404):
        # Django's own 404s word the lookup for developers ("No Invoice matches ..."); the
        # tenant check's says what the client needs, as the tenant middleware's 404 does.
        exc = exceptions.NotFound(str(exc) if isinstance(exc, TenantGone) else None)
    elif isinstance(exc, PermissionDenied):  # raised by tenants.access, with its reason if any
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif timed_out := database_timeout(exc):
        set_rollback()
        headers["Retry-After"] = str(timed_out.retry_after)
        return Response({"message": timed_out.message}, status=503, headers=headers)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        logger.exception("Database unavailable")
        return Response({"message": "Service unavailable."}, status=503)

    if not isinstance(exc, exceptions.APIException):
        logger.exception("Unhandled error", exc_info=exc)
        set_rollback()
        return Response({"message": "Server Error."}, status=500)

    set_rollback()
    if isinstance(exc, exceptions.ValidationError):
        return Response(validation_body(flatten_errors(exc.detail)), status=422)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = "Bearer"
        return Response({"message": "Unauthenticated."}, status=401, headers=headers)
    if isinstance(exc, exceptions.Throttled):
        headers["Retry-After"] = str(int(exc.wait or 1))
        headers["X-RateLimit-Remaining"] = "0"
        return Response({"message": MESSAGES[exceptions.Throttled]}, status=429, headers=headers)
    if isinstance(exc, exceptions.ParseError):
        detail = str(exc.detail)
        if detail.startswith(DRF_JSON_ERROR_PREFIX):
            detail = "Malformed JSON: " + detail.removeprefix(DRF_JSON_ERROR_PREFIX)
        return Response({"message": detail}, status=400)
    if isinstance(exc, exceptions.NotFound):
        message = exc.detail if exc.detail != exceptions.NotFound.default_detail else "Not found."
        return Response({"message": str(message)}, status=404)
    if isinstance(exc, exceptions.PermissionDenied):
        message = exc.detail if exc.detail != exceptions.PermissionDenied.default_detail else None
        return Response(
            {"message": str(message or MESSAGES[exceptions.PermissionDenied])}, status=403
        )
    return Response({"message": str(exc.detail)}, status=exc.status_code)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """``handler400``: what Django refuses before any view (a ``Host`` outside
    ``ALLOWED_HOSTS``, another suspicious request) answers JSON too."""
    return JsonResponse({"message": "Bad request."}, status=400)


@csrf_exempt
def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """``handler404``: unknown URLs answer JSON, on every host. Exempt from CSRF, or an unknown
    ``POST``/``DELETE`` URL (also routed here) would answer the HTML CSRF page with a ``403``."""
    return JsonResponse({"message": "Not found."}, status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    """``handler500``: an error outside DRF still answers JSON, never a traceback."""
    return JsonResponse({"message": "Server Error."}, status=500)
