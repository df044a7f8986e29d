"""Request-wide middleware that belongs to no single app."""

from __future__ import annotations

import re
import uuid

from django.http import HttpRequest, HttpResponse

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


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
