"""List pagination (SPEC §6): page numbers with Laravel-style ``meta`` and ``links``, or
cursors (``after`` / ``before``) for sync and deep lists.

A cursor list is a keyset query: the rows strictly after (or before) a position in the
list's own order (its ``sort``, ``id`` last), so its cost does not grow with depth and rows
inserted or deleted elsewhere never shift a page. The position is a row id (as inFlow's
``entityId``; looked up in the filtered list) or the opaque cursor the ``links`` carry, which
holds the boundary row's sort values and so keeps working after that row is deleted.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q, QuerySet
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.response import Response

from optiflow.api.exceptions import BadRequest
from optiflow.api.query import DIGITS, parse_integer
from optiflow.db.records import records

DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100
PAGE, PER_PAGE, AFTER, BEFORE = "page", "per_page", "after", "before"
CURSOR = re.compile(r"[A-Za-z0-9_-]*")


def positive_int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = parse_integer(raw)
    if value is None or value < 1:
        raise BadRequest(f"The {name} parameter must be an integer of at least 1.")
    return value


# --- keyset ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One column of a list's order. PostgreSQL puts NULLs last ascending and first
    descending, which ``beyond``/``reach`` follow (the queries never say NULLS FIRST/LAST)."""

    path: str
    descending: bool
    field: models.Field
    nullable: bool

    def python_value(self, value: Any) -> Any:
        """A cursor's JSON value as the column's Python value (a generated column's through
        its output field)."""
        return getattr(self.field, "output_field", self.field).to_python(value)

    def flipped(self) -> SortKey:
        return SortKey(self.path, not self.descending, self.field, self.nullable)

    def beyond(self, value: Any) -> Q | None:
        """Rows strictly after ``value`` in this column's direction; ``None``: none."""
        if self.descending:
            if value is None:
                return Q(**{f"{self.path}__isnull": False})
            return Q(**{f"{self.path}__lt": value})
        if value is None:
            return None
        after = Q(**{f"{self.path}__gt": value})
        return after | Q(**{f"{self.path}__isnull": True}) if self.nullable else after

    def reach(self, value: Any) -> Q | None:
        """Rows at or after ``value``: redundant with the keyset condition, but a plain range
        on the leading column that an index can serve. ``None``: every row."""
        if self.descending:
            return None if value is None else Q(**{f"{self.path}__lte": value})
        if value is None:
            return Q(**{f"{self.path}__isnull": True})
        reach = Q(**{f"{self.path}__gte": value})
        return reach | Q(**{f"{self.path}__isnull": True}) if self.nullable else reach

    def same(self, value: Any) -> Q:
        return Q(**{f"{self.path}__isnull": True} if value is None else {self.path: value})


def sort_keys(queryset: QuerySet) -> list[SortKey]:
    """The queryset's order (its ``order_by``, else the model's), ending with the primary
    key so that every position is unique."""
    model = queryset.model
    ordering = list(queryset.query.order_by or model._meta.ordering)
    keys = []
    for item in ordering:
        if not isinstance(item, str) or item == "?":
            raise TypeError(f"Cursor pagination needs field names to order by, not {item!r}.")
        path = item.removeprefix("-")
        path = model._meta.pk.name if path == "pk" else path
        keys.append(SortKey(path, item.startswith("-"), *resolve(model, path)))
    if not keys or keys[-1].path != model._meta.pk.name:
        keys.append(SortKey(model._meta.pk.name, False, model._meta.pk, False))
    return keys


def resolve(model: type[models.Model], path: str) -> tuple[models.Field, bool]:
    """The field ``path`` ends on and whether it can be NULL there (any nullable hop)."""
    nullable = False
    *hops, name = path.split("__")
    for hop in hops:
        relation = model._meta.get_field(hop)
        nullable |= relation.null
        model = relation.related_model
    field = model._meta.get_field(name)
    return field, nullable or field.null


def keyset(keys: list[SortKey], values: list[Any]) -> Q | None:
    """Rows strictly after the position ``values`` in the order ``keys``; ``None``: none."""
    branches: list[Q] = []
    equal = Q()
    for key, value in zip(keys, values, strict=True):
        beyond = key.beyond(value)
        if beyond is not None:
            branches.append(equal & beyond)
        equal &= key.same(value)
    if not branches:
        return None
    condition = branches[0]
    for branch in branches[1:]:
        condition |= branch
    reach = keys[0].reach(values[0])
    return condition if reach is None else reach & condition


def rows_after(queryset: QuerySet, keys: list[SortKey], values: list[Any] | None) -> QuerySet:
    """``queryset``'s rows after the position ``values``; all of them from ``None``, the
    start."""
    if values is None:
        return queryset
    condition = keyset(keys, values)
    return queryset.none() if condition is None else queryset.filter(condition)


# --- cursors --------------------------------------------------------------------------------


def encode_cursor(keys: list[SortKey], values: list[Any]) -> str:
    def plain(value: Any) -> Any:
        # isoformat keeps microseconds (Django's JSON encoder would cut them to milliseconds,
        # and a page boundary inside a millisecond would then skip or repeat rows).
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        return str(value) if isinstance(value, Decimal) else value

    payload = {"o": order_signature(keys), "v": [plain(value) for value in values]}
    text = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def decode_cursor(cursor: str, keys: list[SortKey]) -> list[Any]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(text)
        order, raw = payload["o"], payload["v"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise BadRequest("Malformed cursor; use a row id or a cursor from `links`.") from None
    if order != order_signature(keys) or not isinstance(raw, list) or len(raw) != len(keys):
        raise BadRequest("The cursor belongs to another sort order; start from `links.first`.")
    try:
        return [
            None if value is None else key.python_value(value)
            for key, value in zip(keys, raw, strict=True)
        ]
    except (ValidationError, TypeError, ValueError):
        raise BadRequest("Malformed cursor; use a row id or a cursor from `links`.") from None


def order_signature(keys: list[SortKey]) -> str:
    return ",".join(("-" if key.descending else "") + key.path for key in keys)


# --- the paginator --------------------------------------------------------------------------


class ListPagination(pagination.BasePagination):
    """``page``/``per_page`` by default: a page past the end answers an empty ``data`` with
    correct ``meta`` (not a 404), and ``per_page`` above 100 is capped, not refused. With
    ``after`` or ``before``, a keyset page: ``meta {path, per_page, has_more}`` and ``links
    {first, prev, next}`` (null at the ends), no totals and no ``COUNT``."""

    def paginate_queryset(self, queryset: QuerySet, request: Request, view=None) -> list:
        self.request = request
        self.view = view
        self.link_parts: tuple | None = None
        self.per_page = min(positive_int_param(request, PER_PAGE, DEFAULT_PER_PAGE), MAX_PER_PAGE)
        given = [name for name in (PAGE, AFTER, BEFORE) if name in request.query_params]
        if len(given) > 1:
            raise BadRequest(f"Use one of page, after and before, not {' and '.join(given)}.")
        if AFTER in given or BEFORE in given:
            return self.paginate_by_cursor(queryset, given[0])
        self.cursor_mode = False
        self.page = positive_int_param(request, PAGE, 1)
        self.total = queryset.count()
        offset = (self.page - 1) * self.per_page
        rows = records(queryset[offset : offset + self.per_page]) if offset < self.total else []
        self.count_on_page = len(rows)
        self.offset = offset
        return rows

    def paginate_by_cursor(self, queryset: QuerySet, direction: str) -> list:
        self.cursor_mode = True
        keys = sort_keys(queryset)
        position = self.position(queryset, keys, self.request.query_params[direction])
        # The cursor values of each row come with it, whatever the paths cross.
        names = [f"cursor_key_{index}" for index in range(len(keys))]
        annotated = queryset.annotate(**{n: F(k.path) for n, k in zip(names, keys, strict=True)})
        travel = keys if direction == AFTER else [key.flipped() for key in keys]
        ordered = annotated.order_by(*(("-" if k.descending else "") + k.path for k in travel))
        rows = records(rows_after(ordered, travel, position)[: self.per_page + 1])
        self.has_more = len(rows) > self.per_page
        rows = rows[: self.per_page]
        # Is there anything the other way, from the row nearest the position (or from the
        # position itself, on an empty page)? One EXISTS instead of a count; nothing, from
        # either end of the list.
        edge = [getattr(rows[0], name) for name in names] if rows else position
        behind = position is not None and (
            rows_after(queryset, [key.flipped() for key in travel], edge).exists()
        )
        if direction == BEFORE:
            rows.reverse()
        more_forward, more_backward = (
            (self.has_more, behind) if direction == AFTER else (behind, self.has_more)
        )
        if rows:
            first, last = ([getattr(row, name) for name in names] for row in (rows[0], rows[-1]))
            self.prev_cursor = encode_cursor(keys, first) if more_backward else None
            self.next_cursor = encode_cursor(keys, last) if more_forward else None
        else:  # nothing beyond the position: the way back starts from it
            here = None if position is None else encode_cursor(keys, position)
            self.prev_cursor = here if more_backward else None
            self.next_cursor = here if more_forward else None
        return rows

    def position(self, queryset: QuerySet, keys: list[SortKey], cursor: str) -> list[Any] | None:
        """The sort values of the cursor's position; ``None`` for an empty cursor: the start
        (``after=``) or the end (``before=``) of the list."""
        if cursor == "":
            return None
        if not CURSOR.fullmatch(cursor):
            raise BadRequest("Malformed cursor; use a row id or a cursor from `links`.")
        # A row's id as its URL names it (an integer; an event's `evt_…`), or an opaque cursor.
        lookup = getattr(self.view, "lookup_field", "pk")
        if not re.fullmatch(getattr(self.view, "row_id_pattern", DIGITS), cursor):
            return decode_cursor(cursor, keys)
        row = queryset.filter(**{lookup: cursor}).values_list(*(key.path for key in keys))
        values = row.first()
        if values is None:
            raise BadRequest(f"No row {cursor} in this list (with these filters).")
        return list(values)

    def url_with(self, **params: Any) -> str:
        """The request's URL without its position (``page``, ``after``, ``before``), with
        ``params``: what DRF's ``remove_query_param`` and ``replace_query_param`` give, with the
        URL parsed once per request rather than once per parameter of every link."""
        if self.link_parts is None:
            scheme, netloc, path, query, fragment = urlsplit(self.request.build_absolute_uri())
            kept = parse_qs(query, keep_blank_values=True)
            for name in (PAGE, AFTER, BEFORE):
                kept.pop(name, None)
            self.link_parts = (scheme, netloc, path, fragment, kept)
        scheme, netloc, path, fragment, kept = self.link_parts
        given = {name: [str(value)] for name, value in params.items()}
        query = urlencode(sorted({**kept, **given}.items()), doseq=True)
        return urlunsplit((scheme, netloc, path, query, fragment))

    def page_url(self, number: int) -> str:
        return self.url_with() if number == 1 else self.url_with(page=number)

    def get_paginated_response(self, data) -> Response:
        path = self.request.build_absolute_uri(self.request.path)
        if self.cursor_mode:
            return Response(
                OrderedDict(
                    data=data,
                    meta={"path": path, "per_page": self.per_page, "has_more": self.has_more},
                    links={
                        "first": self.url_with(after=""),
                        "prev": self.prev_cursor and self.url_with(before=self.prev_cursor),
                        "next": self.next_cursor and self.url_with(after=self.next_cursor),
                    },
                )
            )
        last_page = max(1, math.ceil(self.total / self.per_page))
        has_rows = self.count_on_page > 0
        return Response(
            OrderedDict(
                data=data,
                meta={
                    "current_page": self.page,
                    "from": self.offset + 1 if has_rows else None,
                    "last_page": last_page,
                    "path": path,
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
        def either(*names: str) -> dict:
            return {"anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in names]}

        return {
            "type": "object",
            "required": ["data", "meta", "links"],
            "properties": {
                "data": schema,
                "meta": either("PageMeta", "CursorMeta"),
                "links": either("PageLinks", "CursorLinks"),
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        cursor = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}
        return [
            {
                "name": PAGE,
                "in": "query",
                "required": False,
                # No schema `default`: generated clients would send it, and `page` excludes
                # `after`/`before`.
                "description": "Page number, from 1 (the default). A page past the end returns "
                "empty `data`.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": PER_PAGE,
                "in": "query",
                "required": False,
                "description": f"Rows per page; values above {MAX_PER_PAGE} are capped.",
                "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_PER_PAGE},
            },
            {
                "name": AFTER,
                "in": "query",
                "required": False,
                "description": "Cursor pagination: the rows that follow this position in the "
                "list's order (same `sort` and filters), instead of `page`. A row id of the "
                "list, the cursor of `links.next`/`links.prev` (which stays valid after its "
                "row is deleted), or empty for the start of the list. An id not in the list, "
                "or with `page` or `before`: `400`. The answer's `meta` is `{path, per_page, "
                "has_more}`, without totals.",
                "schema": cursor,
            },
            {
                "name": BEFORE,
                "in": "query",
                "required": False,
                "description": "Cursor pagination: the rows that precede this position, as "
                "`after` (empty: the end of the list); they keep the list's order.",
                "schema": cursor,
            },
        ]
