"""``page`` / ``per_page`` pagination with Laravel-style ``meta`` and ``links`` (SPEC §5–§6)."""

from __future__ import annotations

import math
from collections import OrderedDict

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from optiflow.api.exceptions import BadRequest
from optiflow.api.query import parse_integer

DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100


def positive_int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = parse_integer(raw)
    if value is None or value < 1:
        raise BadRequest(f"The {name} parameter must be an integer of at least 1.")
    return value


class PageNumberPagination(pagination.BasePagination):
    """A page past the end answers an empty ``data`` with correct ``meta`` (not a 404), and
    ``per_page`` above 100 is capped, not refused."""

    page_query_param = "page"
    page_size_query_param = "per_page"

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list:
        self.request = request
        self.page = positive_int_param(request, self.page_query_param, 1)
        self.per_page = min(
            positive_int_param(request, self.page_size_query_param, DEFAULT_PER_PAGE), MAX_PER_PAGE
        )
        self.total = queryset.count()
        offset = (self.page - 1) * self.per_page
        rows = list(queryset[offset : offset + self.per_page]) if offset < self.total else []
        self.count_on_page = len(rows)
        self.offset = offset
        return rows

    def page_url(self, number: int) -> str:
        url = self.request.build_absolute_uri()
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_paginated_response(self, data) -> Response:
        last_page = max(1, math.ceil(self.total / self.per_page))
        has_rows = self.count_on_page > 0
        return Response(
            OrderedDict(
                data=data,
                meta={
                    "current_page": self.page,
                    "from": self.offset + 1 if has_rows else None,
                    "last_page": last_page,
                    "path": self.request.build_absolute_uri(self.request.path),
                    "per_page": self.per_page,
                    "to": self.offset + self.count_on_page if has_rows else None,
                    "total": self.total,
                },
                links={
                    "first": self.page_url(1),
                    "last": self.page_url(last_page),
                    "prev": self.page_url(self.page - 1) if self.page > 1 else None,
                    "next": self.page_url(self.page + 1) if self.page < last_page else None,
                },
            )
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["data", "meta", "links"],
            "properties": {
                "data": schema,
                "meta": {"$ref": "#/components/schemas/PageMeta"},
                "links": {"$ref": "#/components/schemas/PageLinks"},
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number, from 1. A page past the end returns empty `data`.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "description": f"Rows per page; values above {MAX_PER_PAGE} are capped.",
                "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_PER_PAGE},
            },
        ]
