"""OpenAPI generation that describes the API as it really answers (SPEC §10).

* 2xx bodies are wrapped in ``{"data": ...}`` (named ``...Envelope`` components); lists use
  the paginator's ``data/meta/links``; files (PDF, ZIP) are ``format: binary``.
* Every operation lists the error responses it can produce, in the §5 shapes.
* List operations list their real ``filter[...]``, ``sort`` and ``include`` parameters, with
  patterns, read from the same viewset attributes the grammar enforces; every authenticated
  operation documents ``X-Workspace-ID``.
* Request bodies say exactly what is accepted (decimals as a number or a string of the
  field's pattern, bounds, ``minItems`` of line lists, partial ``PUT``), and responses what is
  sent (blank values of blank-able fields): schemathesis holds the server to it
  (``tests/fuzz``).
* The headers of the request conventions: ``Idempotency-Key`` on ``POST``, ``If-Match`` on a
  record's writes and ``If-None-Match`` on its reads, with ``ETag``, ``304``, ``409`` and
  ``412`` where they apply.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import (
    ResolvedComponent,
    force_instance,
    get_override,
    is_serializer,
)
from rest_framework import serializers

from idempotency.services import HEADER as IDEMPOTENCY_HEADER
from optiflow.api.access import WORKSPACE_HEADER
from optiflow.api.conditional import IF_MATCH, IF_NONE_MATCH
from optiflow.api.idempotency import REPLAYED
from optiflow.api.query import (
    AnyOfFilter,
    BoolFilter,
    DateRangeFilter,
    filter_pattern,
    filterset_for,
    names_pattern,
)
from optiflow.api.renderers import FileRenderer
from optiflow.api.serializers import decimal_bounds, decimal_pattern

ERROR = {"$ref": "#/components/schemas/Error"}
VALIDATION_ERROR = {"$ref": "#/components/schemas/ValidationError"}
ERROR_DESCRIPTIONS = {
    "400": "Malformed request: bad JSON, a malformed header (`X-Workspace-ID`, "
    "`Idempotency-Key`) or an unknown query parameter value.",
    "401": "Missing, malformed, unknown, expired or revoked token; or wrong credentials.",
    "403": "The caller lacks the permission, or no workspace is selected.",
    "404": "No such record (or `X-Workspace-ID` workspace) in this tenant and workspace.",
    "409": "Conflict: a request with the same `Idempotency-Key` is still in progress, or a "
    "concurrent change won the race; retry.",
    "412": "`If-Match` does not match the record's current `ETag`; nothing was written.",
    "415": "The request body is not JSON.",
    "422": "Validation failed or a business rule refused the change (or the "
    "`Idempotency-Key` was used for a different request).",
    "429": "Rate limit exceeded; retry after `Retry-After` seconds.",
}
#: A workspace id, as ``X-Workspace-ID`` takes it: anything else is a ``400``.
WORKSPACE_ID_SCHEMA = {"type": "integer", "minimum": 1}
#: Text without NUL, which no query value may hold (``ApiViewMixin.initial``).
NO_NUL = "^[^\\u0000]*$"
ETAG_HEADER = {
    "schema": {"type": "string"},
    "description": "Strong tag of the record's current version, for `If-None-Match` and "
    "`If-Match`. Embedded `include=` records do not take part.",
}
RATE_HEADERS = {
    "X-RateLimit-Limit": {"schema": {"type": "integer"}, "description": "Requests per window."},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Left in window."},
    "X-Request-Id": {"schema": {"type": "string"}, "description": "Correlation id."},
}

COMPONENTS = {
    "Error": {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    },
    "ValidationError": {
        "type": "object",
        "required": ["message", "errors"],
        "properties": {
            "message": {"type": "string"},
            "errors": {
                "type": "object",
                "description": "Field path (dotted for nested input, e.g. `items.0.quantity`, "
                "or `non_field_errors`) → messages.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
    "PageMeta": {
        "type": "object",
        "required": ["current_page", "from", "last_page", "path", "per_page", "to", "total"],
        "properties": {
            "current_page": {"type": "integer"},
            "from": {"type": "integer", "nullable": True},
            "last_page": {"type": "integer"},
            "path": {"type": "string", "format": "uri"},
            "per_page": {"type": "integer"},
            "to": {"type": "integer", "nullable": True},
            "total": {"type": "integer"},
        },
    },
    "PageLinks": {
        "type": "object",
        "required": ["first", "last", "prev", "next"],
        "properties": {
            name: {"type": "string", "format": "uri", "nullable": name in ("prev", "next")}
            for name in ("first", "last", "prev", "next")
        },
    },
    "CursorMeta": {
        "type": "object",
        "description": "A page of a cursor list (`after`/`before`): no totals.",
        "required": ["path", "per_page", "has_more"],
        "properties": {
            "path": {"type": "string", "format": "uri"},
            "per_page": {"type": "integer"},
            "has_more": {
                "type": "boolean",
                "description": "More rows lie beyond this page, in the direction travelled.",
            },
        },
    },
    "CursorLinks": {
        "type": "object",
        "required": ["first", "prev", "next"],
        "properties": {
            name: {"type": "string", "format": "uri", "nullable": name != "first"}
            for name in ("first", "prev", "next")
        },
    },
}


def query_param(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def model_field_allows_blank(field: serializers.Field) -> bool:
    """Whether ``field`` renders a model field declared ``blank=True``."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if not isinstance(field, (serializers.CharField, serializers.ChoiceField)) or model is None:
        return False
    try:
        return getattr(model._meta.get_field(field.source), "blank", False)
    except FieldDoesNotExist:
        return False


class AutoSchema(openapi.AutoSchema):
    def _view_attr(self, name: str, default: Any = None) -> Any:
        return getattr(self.view, name, default)

    def get_description(self) -> str:
        """The action's own docstring, else the view's own: never one inherited from a base
        class or mixin, which would describe the machinery instead of the endpoint."""
        action = getattr(self.view, "action", None)
        method = getattr(self.view, action or self.method.lower(), None)
        doc = getattr(method, "__doc__", None) or self.view.__class__.__dict__.get("__doc__")
        return inspect.cleandoc(doc) if doc else ""

    def get_request_serializer(self):
        getter = getattr(self.view, "get_input_serializer_class", None)
        action = getattr(self.view, "action", None)
        if getter is not None and action in self._view_attr("input_serializers", {}):
            return getter()
        return super().get_request_serializer()

    def _get_filter_parameters(self) -> list[dict]:
        # The grammar filters and sorts the `list` action only (`ApiViewSet.filter_queryset`),
        # not other actions that answer lists (`GET /invoices/{id}/payments`).
        if not self._is_list_view() or self._view_attr("action") != "list":
            return []
        params = []
        for name, flt in filterset_for(self.view).base_filters.items():
            schema = {"type": "string", "pattern": filter_pattern(flt) or NO_NUL}
            params.append(
                query_param(f"filter[{name}]", self.filter_description(name, flt), schema)
            )
        if self._view_attr("smart_fields"):
            fields = ", ".join(self.view.smart_fields)
            params.append(
                query_param(
                    "filter[smart]",
                    f"Case-insensitive search in: {fields}.",
                    {"type": "string", "pattern": NO_NUL},
                )
            )
        sort_fields = self._view_attr("sort_fields", ())
        if sort_fields:
            allowed = ", ".join(sorted(sort_fields))
            default = self._view_attr("default_sort") or "id"
            description = (
                f"Comma-separated fields, `-` for descending. Allowed: {allowed}. "
                f"Default: `{default}`; `id` always breaks ties."
            )
            schema = {"type": "string", "pattern": names_pattern(sort_fields, prefix="-?")}
            params.append(query_param("sort", description, schema))
        return params

    @staticmethod
    def filter_description(name: str, flt) -> str:
        if isinstance(flt, DateRangeFilter):
            return (
                f'Range on `{name}`: `{{"fromDate":"YYYY-MM-DD","toDate":"YYYY-MM-DD"}}` '
                "(inclusive, either bound optional) or one date."
            )
        if isinstance(flt, BoolFilter):
            return f"`{name}`: true, false, 1 or 0."
        if isinstance(flt, AnyOfFilter):
            choices = getattr(flt.extra.get("item_field"), "choices", None)
            values = f" One of: {', '.join(str(c[0]) for c in choices)}." if choices else ""
            return f"Exact `{name}`; `a,b` matches any of them.{values}"
        return f"Filter on `{name}`."

    def get_override_parameters(self) -> list:
        params = list(super().get_override_parameters())
        includes = self._view_attr("include_prefetches", {})
        action = self._view_attr("action")
        if includes and action in ("list", "retrieve", "create", "update", "partial_update"):
            params.append(
                openapi.OpenApiParameter(
                    "include",
                    {"type": "string", "pattern": names_pattern(includes)},
                    description="Comma-separated related records to embed. "
                    f"Allowed: {', '.join(sorted(includes))}.",
                )
            )
        if not self._view_attr("public", False):
            # Permissions are held per workspace, so the header matters to every authenticated
            # call; workspace-scoped resources also read and write only that workspace's rows.
            params.append(
                header_param(
                    WORKSPACE_HEADER,
                    WORKSPACE_ID_SCHEMA,
                    "Workspace to act in, whose permissions apply; default: the current "
                    "workspace, else the first membership. Not a positive integer: `400`; no "
                    "such workspace: `404`.",
                )
            )
            if self.method == "POST":
                params.append(
                    header_param(
                        IDEMPOTENCY_HEADER,
                        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
                        "Makes a retry safe: the first successful answer is stored for 24 hours "
                        "with the change and replayed (`Idempotent-Replayed: true`) to a retry "
                        "with the same key, path and body; the same key with another request is "
                        "a `422`, and while the first is still running a `409`.",
                    )
                )
        if self.is_record_path():
            if self.method in ("GET", "HEAD") and not self._is_list_view():
                description = "An `ETag` read before: `304` with no body while it is current."
                params.append(header_param(IF_NONE_MATCH, {"type": "string"}, description))
            elif self.method in ("POST", "PUT", "PATCH", "DELETE"):
                description = (
                    "The `ETag` the change is based on (or `*`: any version): if the record "
                    "has changed since (compared under its row lock), `412` and nothing is "
                    "written. Empty: no condition."
                )
                params.append(header_param(IF_MATCH, {"type": "string"}, description))
        return params

    def is_record_path(self) -> bool:
        """A path of one record (``/invoices/{id}`` and its actions) of an API viewset."""
        return "{id}" in self.path and hasattr(self.view, "get_object")

    def _get_request_for_media_type(self, serializer, direction="request"):
        # PUT is partial like PATCH (`UpdateMixin`): document the same all-optional body.
        if self.method == "PUT" and is_serializer(serializer):
            serializer = copy.copy(force_instance(serializer))
            serializer.partial = True
        return super()._get_request_for_media_type(serializer, direction)

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if field.read_only and model_field_allows_blank(field):
            # DRF drops `allow_blank` from read-only model fields; the stored value can still
            # be "" (a contact without email), so the response schema must admit it.
            field.allow_blank = True
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and schema.get("format") == "decimal":
            schema["pattern"] = decimal_pattern(field)
            if direction == "request" and not field.read_only:
                schema = self.decimal_input(field, schema)
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # DRF checks these in the list serializer itself, not as validators.
            least = max(0 if field.allow_empty else 1, field.min_length or 0)
            if least:
                schema["minItems"] = least
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema

    @staticmethod
    def decimal_input(field: serializers.DecimalField, string: dict) -> dict:
        """A decimal input: a JSON number or a decimal string (SPEC §5), both bounded as the
        server bounds them (``optiflow.api.serializers``)."""
        meta_keys = ("description", "nullable", "default", "title", "writeOnly", "deprecated")
        meta = {key: string.pop(key) for key in meta_keys if key in string}
        number = {"type": "number", **decimal_bounds(field)}
        return {"anyOf": [number, string], **meta}

    def _resolve_path_parameters(self, variables):
        # Routes match ids with `[0-9]+` (`lookup_value_regex`), which drf-spectacular
        # documents as a string; ids are integers (SPEC §5), and typed clients should say so.
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["schema"] == {"type": "string", "pattern": "^[0-9]+$"}:
                parameter["schema"] = {"type": "integer", "minimum": 0}
        return parameters

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if not get_override(serializer, "description") and not type(serializer).__doc__:
            # As for operations: a docstring inherited from a base class or mixin describes
            # the machinery (`IncludableSerializer`), not this shape.
            schema.pop("description", None)
        optional = getattr(getattr(serializer, "Meta", None), "include_fields", ())
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def _get_response_for_code(
        self, serializer, status_code, media_types=None, direction="response"
    ):
        response = super()._get_response_for_code(serializer, status_code, media_types, direction)
        paginated = self._is_list_view(serializer) and self._get_paginator() is not None
        files = {r.media_type for r in self.view.get_renderers() if isinstance(r, FileRenderer)}
        for media_type, media in response.get("content", {}).items():
            if media_type in files:
                media["schema"] = {"type": "string", "format": "binary"}
            elif status_code.startswith("2") and not paginated:
                media["schema"] = self.envelope(media["schema"])
        return response

    def envelope(self, data: dict) -> dict:
        """``{"data": ...}`` around a body; a named component (``InvoiceEnvelope``,
        ``WorkspaceListEnvelope``) when the body is one, so generated clients get one model per
        resource rather than one per operation and status."""
        schema = {"type": "object", "required": ["data"], "properties": {"data": data}}
        ref = data.get("$ref") or data.get("items", {}).get("$ref")
        if ref is None:
            return schema
        name = ref.rsplit("/", 1)[1] + ("Envelope" if "$ref" in data else "ListEnvelope")
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _get_response_headers_for_code(self, status_code, direction="response") -> dict:
        headers = super()._get_response_headers_for_code(status_code, direction)
        if self._view_attr("throttle_classes", None) != []:
            headers.update(RATE_HEADERS)
        if status_code in ("200", "201", "304") and self.answers_record():
            headers["ETag"] = ETAG_HEADER
        if self.method == "POST" and status_code.startswith("2") and self.is_idempotent():
            headers[REPLAYED] = {
                "schema": {"type": "string", "enum": ["true"]},
                "description": "Present on an answer replayed for an `Idempotency-Key`.",
            }
        if status_code == "429":
            headers["Retry-After"] = {"schema": {"type": "integer"}, "description": "Seconds."}
        return headers

    def _get_response_bodies(self, direction="response") -> dict:
        responses = super()._get_response_bodies(direction)
        codes = [] if self._view_attr("throttle_classes", None) == [] else ["429"]
        codes += self._view_attr("error_statuses", ())
        if not self._view_attr("public", False):
            codes += ["400", "401", "403", "404"]  # 400 and 404: a bad X-Workspace-ID
        if "{" in self.path:
            codes.append("404")
        if self._is_list_view() or self._view_attr("include_prefetches"):
            codes.append("400")
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["400", "415", "422"]
        if self.method == "DELETE":
            codes.append("422")
        if self.is_idempotent():
            codes.append("409")
        if self.is_record_path() and self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("412")
        if self.is_record_path() and self.method == "GET" and not self._is_list_view():
            responses["304"] = {
                "description": "Not modified: `If-None-Match` holds the current `ETag`.",
                "headers": self._get_response_headers_for_code("304", direction),
            }
        for code in sorted(set(codes)):
            if code in responses:
                continue
            responses[code] = {
                "description": ERROR_DESCRIPTIONS[code],
                "content": {
                    "application/json": {"schema": VALIDATION_ERROR if code == "422" else ERROR}
                },
            }
            headers = self._get_response_headers_for_code(code, direction)
            if headers:
                responses[code]["headers"] = headers
        return responses

    def is_idempotent(self) -> bool:
        return self.method == "POST" and not self._view_attr("public", False)

    def answers_record(self) -> bool:
        """A single record in the ``{"data": {...}}`` envelope, not a list."""
        return not self._is_list_view() and self.method != "DELETE"


def header_param(name: str, schema: dict, description: str) -> openapi.OpenApiParameter:
    return openapi.OpenApiParameter(
        name, schema, location=openapi.OpenApiParameter.HEADER, description=description
    )


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "optiflow.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token `{id}|{secret}` from `POST /auth/token` or `POST /tokens`.",
        }


def postprocess_tenant_servers(result: dict, generator, request, public) -> dict:
    """Add the shared components and the servers: the address the document was read from
    first (so Swagger UI's "Try it out" calls the host, port and tenant that served it), then
    the two tenant address forms."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(COMPONENTS)
    result["servers"] = servers(request)
    return result


def servers(request) -> list[dict]:
    scheme, host = "http", "127.0.0.1:8000"  # `manage.py spectacular`: what `make run` serves
    here: list[dict] = []
    if request is not None:
        scheme, host = request.scheme, request.get_host()
        prefix = getattr(request, "tenant_path_prefix", None)  # None: the bare host
        if prefix is not None:
            here = [{"url": f"{scheme}://{host}{prefix}", "description": "This tenant."}]
    port = f":{host.rsplit(':', 1)[1]}" if ":" in host.rsplit("]", 1)[-1] else ""
    return [
        *here,
        {
            "url": "{scheme}://{host}/t/{tenant}",
            "description": "Path-prefix addressing (works everywhere).",
            "variables": {
                "scheme": {"default": scheme, "enum": ["http", "https"]},
                "host": {"default": host},
                "tenant": {"default": "demo"},
            },
        },
        {
            "url": "{scheme}://{tenant}.{base_domain}",
            "description": "Subdomain addressing.",
            "variables": {
                "scheme": {"default": scheme, "enum": ["http", "https"]},
                "tenant": {"default": "demo"},
                "base_domain": {"default": settings.OPTIFLOW_BASE_DOMAIN + port},
            },
        },
    ]
