"""Base views: every API endpoint derives from these, so authentication, rate limits, the
workspace context, permissions, the ``{"data": ...}`` envelope and the list grammar are
applied in one place.

``ApiViewSet.get_queryset`` owns workspace scoping (``scoped``) and neither can be
overridden: subclasses supply ``base_queryset()``. A workspace-scoped viewset only ever sees
rows of the request's workspace, so a record of another workspace is a plain 404. Where a
viewset's queryset is its class's, its detail read is compiled once (``detail_query``)
from that same scoped queryset, the id and the workspace left as parameters.

Two request headers make the handler run in one transaction (``ApiViewMixin.call_handler``):
``Idempotency-Key`` on a ``POST`` (its result is stored with the change, SPEC §5) and
``If-Match`` on a write (``ApiViewSet.get_object`` locks the record and compares its ETag
before the service runs; the service's own lock of the row is then already held).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import connection, transaction
from django.db.models import Model, Q, QuerySet
from django.db.models.query import MAX_GET_RESULTS
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, status
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, CharField, DictField
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from idempotency import services as idempotency
from optiflow.api import conditional
from optiflow.api.access import resolve_access
from optiflow.api.exceptions import BadRequest
from optiflow.api.fetch import prefetch
from optiflow.api.idempotency import keyed_request, rendered_body, replay
from optiflow.api.query import (
    DIGITS,
    apply_filters,
    apply_includes,
    include_lookups,
    parse_includes,
    parse_sort,
)
from optiflow.api.renderers import FileRenderer
from optiflow.api.rendering import dumps, plan_for, planned
from optiflow.api.serializers import shown_fields, validated_data
from optiflow.api.throttling import rate_limit_headers
from optiflow.db.records import CompiledQuery, shape
from optiflow.health import readiness
from tenants.models import Workspace

DETAIL_ACTIONS = frozenset({"retrieve", "create", "update", "partial_update"})


class ApiViewMixin:
    """Request set-up shared by plain API views and viewsets."""

    #: True for the few endpoints reachable without a token (health, token issuance).
    public: ClassVar[bool] = False
    #: Error statuses the OpenAPI document lists beyond those every endpoint of its kind has.
    error_statuses: ClassVar[tuple[str, ...]] = ()
    #: Door 1: action (or lower-case method for plain views) → the permissions it needs in the
    #: request's workspace (``optiflow.api.permissions.permission_table``).
    required_permissions: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Door 2: action → checks of the record it touches (``has_object_permission``).
    record_checks: ClassVar[dict[str, tuple[BasePermission, ...]]] = {}

    def initial(self, request: Request, *args, **kwargs) -> None:
        # A method the route does not have is 405 whatever the token or workspace header.
        if not hasattr(self, request.method.lower()):
            self.http_method_not_allowed(request)
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(
            request
        )
        request.version, request.versioning_scheme = self.determine_version(
            request, *args, **kwargs
        )
        # A failed authentication still counts against the anonymous limit (SPEC §7), so the
        # throttle runs on both paths.
        try:
            self.perform_authentication(request)
        except exceptions.APIException:
            self.check_throttles(request)
            raise
        self.check_throttles(request)
        if request.user.is_authenticated:
            request.access = resolve_access(request)
        self.check_permissions(request)
        # Every query parameter has one value (lists are comma-separated): a repeated one is
        # ambiguous, so it is refused rather than silently reduced to its last value.
        repeated = sorted(name for name, values in request.query_params.lists() if len(values) > 1)
        if repeated:
            raise BadRequest(f"Query parameter {repeated[0]} is given more than once.")
        # PostgreSQL stores no NUL in text, so no filter or search can hold one.
        nul = sorted(name for name, value in request.query_params.items() if "\x00" in value)
        if nul:
            raise BadRequest(f"Query parameter {nul[0]} contains a NUL character.")

    def dispatch(self, request, *args, **kwargs):
        # DRF's `APIView.dispatch`, with one change: the handler runs through `call_handler`.
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            method = request.method.lower()
            handler = (
                getattr(self, method, self.http_method_not_allowed)
                if method in self.http_method_names
                else self.http_method_not_allowed
            )
            response = self.call_handler(handler, request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def call_handler(self, handler, request: Request, *args, **kwargs) -> Response:
        """Run the handler; in one transaction when the request carries an ``Idempotency-Key``
        (lock, replay or refusal, then the result stored with the change) or an ``If-Match``
        (checked by ``get_object`` in the same transaction as the write). Authentication and
        rate limiting stay outside it: a retry must not queue behind the first request."""
        keyed = keyed_request(request)
        if keyed is None and not conditional.wants_precondition(request):
            return handler(request, *args, **kwargs)
        with transaction.atomic():
            if keyed is not None:
                idempotency.idempotency_lock(user=request.user, key=keyed.key)
                stored = idempotency.idempotency_result_get(user=request.user, request=keyed)
                if stored is not None:
                    return replay(stored)
            response = handler(request, *args, **kwargs)
            if not status.is_success(response.status_code):
                transaction.set_rollback(True)
            elif keyed is not None:
                idempotency.idempotency_result_store(
                    user=request.user,
                    request=keyed,
                    status_code=response.status_code,
                    response_body=rendered_body(response),
                )
            return response

    def check_if_match(self, current_etag: str) -> None:
        """``412`` unless the request's ``If-Match`` (if any) holds ``current_etag``: for a
        write, called under the lock of the record it changes (``ApiViewSet.get_object``
        does it for the URL's record)."""
        if not conditional.if_match_holds(self.request, current_etag):
            raise conditional.PreconditionFailed()

    def get_permissions(self) -> list[BasePermission]:
        action = getattr(self, "action", None) or self.request.method.lower()
        return [*super().get_permissions(), *self.record_checks.get(action, ())]

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        response = self.conditional_response(request, response)
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.status_code >= 400:
            # Errors are JSON (SPEC §5) even where the client negotiated a file: a request for
            # a PDF of an unknown invoice is a JSON 404, never a broken PDF.
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        for header, value in rate_limit_headers(request).items():
            if header not in response:
                response[header] = value
        return response

    @staticmethod
    def conditional_response(request: Request, response: Response) -> Response:
        """Every successful single-record answer carries an ``ETag`` (resource viewsets set
        the canonical one; other records, answered without includes, are their own canonical
        form), and a read whose ``If-None-Match`` holds it is a bodiless ``304``."""
        data = getattr(response, "data", None)
        single = isinstance(data, dict) and isinstance(data.get("data"), dict)
        if not (status.is_success(response.status_code) and single):
            return response
        if "ETag" not in response:
            response["ETag"] = conditional.etag(data["data"])
        if request.method in ("GET", "HEAD") and conditional.if_none_match_hits(
            request, response["ETag"]
        ):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": response["ETag"]})
        return response


class ApiView(ApiViewMixin, APIView):
    """A plain endpoint (``/me``, ``/auth/token``)."""

    @staticmethod
    def envelope(data: Any, status_code: int = status.HTTP_200_OK) -> Response:
        return Response({"data": data}, status=status_code)


class ApiViewSet(ApiViewMixin, GenericViewSet):
    """Base of every resource viewset.

    Declare ``serializer_class`` (output), ``input_serializers`` (action → input serializer),
    ``required_permissions``, and for lists the grammar attributes read by
    ``optiflow.api.query``: ``filterset_class``, ``smart_fields``, ``sort_fields``,
    ``default_sort``, ``include_prefetches``.
    """

    workspace_scoped: ClassVar[bool] = False
    #: ORM path from the model to its workspace, for workspace-scoped resources.
    #: A tuple of paths means "visible in any of these workspaces" (a transfer's two ends).
    workspace_lookup: ClassVar[str | tuple[str, ...]] = "workspace"
    input_serializers: ClassVar[dict[str, type[BaseSerializer]]] = {}
    #: Includes embedded on single-record responses whether asked for or not.
    detail_includes: ClassVar[frozenset[str]] = frozenset()
    smart_fields: ClassVar[tuple[str, ...]] = ()
    #: Names a list may be sorted by, each a field of the model (``sort=name,-created_at``).
    sort_fields: ClassVar[tuple[str, ...]] = ()
    default_sort: ClassVar[str] = ""
    include_prefetches: ClassVar[dict[str, tuple]] = {}
    filter_backends: ClassVar[list] = []  # the grammar is applied in filter_queryset
    lookup_value_regex = r"[0-9]+"
    #: What a row's id looks like where it names a cursor position (``after=``, SPEC §6).
    row_id_pattern: ClassVar[str] = DIGITS

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("get_queryset", "scoped"):
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} overrides {name}, which owns workspace scoping; "
                    "implement base_queryset() instead."
                )

    # --- querysets ----------------------------------------------------------------------

    def base_queryset(self) -> QuerySet:
        return self.queryset.all()

    def get_queryset(self) -> QuerySet:
        return self.scoped(self.base_queryset(), self.request_workspace())

    def request_workspace(self) -> Workspace | None:
        """The workspace whose rows a workspace-scoped viewset sees (``None`` for a
        tenant-wide one)."""
        return self.request.access.require_workspace() if self.workspace_scoped else None

    @classmethod
    def scoped(cls, queryset: QuerySet, workspace: Workspace | int | None) -> QuerySet:
        """``queryset``'s rows visible in ``workspace`` (all of them for ``None``), through
        ``workspace_lookup``."""
        if workspace is None:
            return queryset
        lookups = cls.workspace_lookup
        visible = Q()
        for lookup in (lookups,) if isinstance(lookups, str) else lookups:
            visible |= Q(**{lookup: workspace})
        return queryset.filter(visible)

    def include_lookups(self, path: str) -> tuple:
        """The prefetch lookups of include ``path``: its ``include_prefetches`` entry. A view
        whose lookups depend on the caller builds them here, so only for the paths asked for."""
        return self.include_prefetches.get(path, ())

    @property
    def includes(self) -> frozenset[str]:
        if not hasattr(self, "_includes"):
            requested = parse_includes(self.request, self)
            extra = self.detail_includes if self.action in DETAIL_ACTIONS else frozenset()
            self._includes = requested | extra
        return self._includes

    def filterset_kwargs(self) -> dict[str, Any]:
        """What the FilterSet needs beyond the query string, given by the view (e.g. the
        workspaces whose stock the caller may see)."""
        return {}

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action == "list":
            # A list's includes are fetched for its page only (ListMixin.list).
            queryset = apply_filters(queryset, self.request, self)
            return queryset.order_by(*parse_sort(self.request, self))
        queryset = apply_includes(queryset, self.includes, self)
        return self.file_queryset(queryset) if self.answers_file() else queryset

    def answers_file(self) -> bool:
        """Whether this request is answered with a file (a PDF, a ZIP) rather than JSON."""
        return isinstance(getattr(self.request, "accepted_renderer", None), FileRenderer)

    def file_queryset(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` with what a file answer shows beyond the JSON body (a document's PDF:
        its contact, taxes, payments), loaded with the records. A hook rather than an override
        of ``filter_queryset``, so that the JSON detail read stays the compiled one
        (``detail_query``)."""
        return queryset

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        # Schema generation runs a fake view: leaving `include` out documents every include
        # (as an optional field) instead of none.
        if not getattr(self, "swagger_fake_view", False):
            context["include"] = self.includes
        return context

    def get_input_serializer_class(self) -> type[BaseSerializer]:
        return self.input_serializers[self.action]

    def validated_input(self, **kwargs) -> dict[str, Any]:
        """The body, validated by the action's input serializer; fields the resource shows
        (``serializer_class``) may be sent back and are ignored, any other unknown one is a
        ``422``."""
        serializer = self.get_input_serializer_class()(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        return validated_data(serializer, shown_fields(self.get_serializer_class()))

    # --- single records ------------------------------------------------------------------

    #: Actions whose record is not the one the URL's id names (a workspace's member): they
    #: check ``If-Match`` themselves, with ``check_if_match``.
    own_precondition_actions: ClassVar[frozenset[str]] = frozenset()

    def get_object(self) -> Model:
        """The URL's record through the scoped queryset (``404`` if not visible), its object
        permissions checked. A write with ``If-Match`` gets it locked and compared first
        (``412``, nothing written)."""
        instance = self.read_object()
        self.check_object_permissions(self.request, instance)
        if conditional.wants_precondition(self.request) and (
            self.action not in self.own_precondition_actions
        ):
            instance = self.lock_for_write(instance)
            self.check_if_match(self.etag(instance))
        return instance

    def read_object(self) -> Model:
        """The URL's record through the scoped queryset with the request's includes, as
        DRF's ``get_object`` reads it (``404`` if not visible): by the viewset's
        ``detail_query`` where it has one (the same query, compiled once), else by the
        ORM (always for a file, which loads more: ``file_queryset``)."""
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        query = None if self.answers_file() else detail_query(type(self))
        if query is None:
            queryset = self.filter_queryset(self.get_queryset())
            return get_object_or_404(queryset, **{self.lookup_field: value})
        # In the order the ORM's path meets them: the workspace (403), the includes (400),
        # then the record (404).
        workspace = self.request_workspace()
        lookups = include_lookups(self.includes, self)
        model = self.queryset.model
        try:
            pk = model._meta.pk.get_prep_value(value)
        except (TypeError, ValueError) as error:
            raise Http404 from error
        try:
            instance = query.get(pk) if workspace is None else query.get(pk, workspace.pk)
        except model.DoesNotExist as error:
            raise Http404 from error
        prefetch([instance], lookups)
        return instance

    def lock_for_write(self, instance: Model) -> Model:
        """Re-read ``instance`` under ``SELECT ... FOR UPDATE`` through the scoped queryset,
        its canonical lines prefetched; ``call_handler`` holds the transaction open until the
        write is done."""
        queryset = apply_includes(self.get_queryset(), self.detail_includes, self)
        return queryset.select_for_update(of=("self",)).get(pk=instance.pk)

    def render_rows(self, rows: Iterable[Model], includes: frozenset[str] | None = None) -> list:
        """``rows`` as the output serializer shows them with ``includes`` (the request's by
        default), through its compiled plan (``optiflow.api.rendering``)."""
        includes = self.includes if includes is None else includes
        plan = plan_for(self.get_serializer_class(), includes)
        return plan.render(rows, {**self.get_serializer_context(), "include": includes})

    def etag(self, instance: Model) -> str:
        """The ETag of ``instance``'s canonical representation: its detail body without
        optional includes, whatever ``include=`` this request asks for."""
        return conditional.etag_of(dumps(self.render_rows([instance], self.detail_includes)[0]))

    def record_response(self, instance: Model, status_code: int = status.HTTP_200_OK) -> Response:
        """``instance`` in the envelope, with its ETag."""
        (data,) = self.render_rows([instance])
        canonical = self.includes == self.detail_includes
        headers = {"ETag": conditional.etag_of(dumps(data)) if canonical else self.etag(instance)}
        return planned(Response({"data": data}, status=status_code, headers=headers))

    def respond(
        self,
        instance: Model,
        status_code: int = status.HTTP_200_OK,
        queryset: QuerySet | None = None,
    ) -> Response:
        """Re-read the written record through the view's queryset (scoping and includes
        applied; or ``queryset``, for a record the request's workspace need not see) and
        answer it in the envelope; or answer the body its event just read and rendered, when
        that is this answer (``RecordedDetail``)."""
        recorded = getattr(instance, RECORDED_DETAIL, None)
        if queryset is None and recorded is not None and recorded.answers(instance, self):
            headers = {"ETag": conditional.etag_of(dumps(recorded.data))}
            return planned(Response({"data": recorded.data}, status=status_code, headers=headers))
        queryset = self.get_queryset() if queryset is None else queryset
        fresh = self.filter_queryset(queryset).get(pk=instance.pk)
        return self.record_response(fresh, status_code)


@functools.cache
def detail_query(viewset: type[ApiViewSet]) -> CompiledQuery | None:
    """``viewset``'s detail read (``ApiViewSet.read_object``) compiled once, its values the
    record's id and, for a workspace-scoped viewset, the request's workspace; ``None`` unless
    the viewset's queryset is the same for every request but for those two: its rows are its
    class's ``queryset`` (``base_queryset`` and ``filter_queryset`` not overridden: includes
    are prefetched afterwards, ``optiflow.api.query``; a file's ``file_queryset`` is read by
    the ORM), scoped by ``scoped``, looked up by ``pk``, and ``optiflow.db.records`` may build
    them. It reads what ``QuerySet.get`` reads: no ordering, at most ``MAX_GET_RESULTS``
    rows."""
    if (
        viewset.base_queryset is not ApiViewSet.base_queryset
        or viewset.filter_queryset is not ApiViewSet.filter_queryset
        or viewset.get_queryset is not ApiViewSet.get_queryset
        or viewset.scoped.__func__ is not ApiViewSet.scoped.__func__
        or viewset.lookup_field != "pk"
        or not isinstance(viewset.queryset, QuerySet)
        or shape(viewset.queryset) is None
    ):
        return None

    def get(pk: int, workspace: int | None = None) -> QuerySet:
        scoped = viewset.scoped(viewset.queryset.all(), workspace)
        return scoped.filter(pk=pk).order_by()[:MAX_GET_RESULTS]

    if viewset.workspace_scoped:
        return CompiledQuery(get)
    return CompiledQuery(lambda pk: get(pk))


#: The attribute under which ``detail_renderer`` leaves a ``RecordedDetail`` on the record.
RECORDED_DETAIL = "_recorded_detail"


@dataclass(frozen=True)
class RecordedDetail:
    """A record's detail body as its last event rendered it, as the write's transaction held
    it (``detail_renderer``). The service that recorded the event usually returns the record
    right after, so ``respond`` answers this body rather than reading and rendering the same
    again."""

    viewset: type[ApiViewSet]
    updated_at: Any
    data: dict[str, Any]

    def answers(self, instance: Model, view: ApiViewSet) -> bool:
        """Whether this is ``view``'s answer for ``instance``: the view's canonical body (no
        optional include asked for), and the record unchanged since the event. Services record
        their event after their last write; one that writes after it saves the record again,
        which moves ``updated_at`` (on the instance, or on the row and then on the instance
        by ``refresh_from_db``), and the record is then read again."""
        return (
            isinstance(view, self.viewset)
            and view.includes == view.detail_includes
            and self.updated_at is not None
            and getattr(instance, "updated_at", None) == self.updated_at
        )


def detail_renderer(viewset: type[ApiViewSet]) -> Callable[[Model, bool], dict[str, Any]]:
    """A function that reads a record afresh (unless its caller holds it ``current``, as that
    read would return it: ``optiflow.events.event_record``) and renders it as ``viewset``'s
    detail endpoint does (its serializer, with its ``detail_includes``): the object of outbox
    events (SPEC §8.10), registered by each app in ``optiflow.events.EVENT_SOURCES``. The body
    is left on the record as a ``RecordedDetail``, for ``respond``."""

    def render(record: Model, current: bool) -> dict[str, Any]:
        includes, view = viewset.detail_includes, viewset()
        if current:
            fresh = record
        else:
            fresh = apply_includes(view.base_queryset(), includes, view).get(pk=record.pk)
        plan = plan_for(viewset.serializer_class, includes)
        data = plan.render([fresh], {"include": includes})[0]
        recorded = RecordedDetail(viewset, getattr(fresh, "updated_at", None), data)
        setattr(record, RECORDED_DETAIL, recorded)
        return data

    return render


class ListMixin:
    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        # One query per include, as prefetch_related, for a fraction of its CPU.
        prefetch(page, include_lookups(self.includes, self))
        return planned(self.get_paginated_response(self.render_rows(page)))


class RetrieveMixin:
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return self.record_response(self.get_object())


class CreateMixin:
    def create(self, request: Request, *args, **kwargs) -> Response:
        instance = self.perform_create(self.validated_input())
        return self.respond(instance, status.HTTP_201_CREATED)

    def perform_create(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError


class UpdateMixin:
    # PUT and PATCH both validate partially against the current record: a client sends the
    # fields it changes (stated in the OpenAPI description).
    def update(self, request: Request, *args, **kwargs) -> Response:
        instance = self.get_object()
        data = self.validated_input(instance=instance, partial=True)
        return self.respond(self.perform_update(instance, data))

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        return self.update(request, *args, **kwargs)

    def perform_update(self, instance: Model, data: dict[str, Any]) -> Model:
        raise NotImplementedError


class DestroyMixin:
    def destroy(self, request: Request, *args, **kwargs) -> Response:
        self.perform_destroy(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def perform_destroy(self, instance: Model) -> None:
        raise NotImplementedError


class HealthView(ApiView):
    """Liveness and database check; no token, no rate limit."""

    public = True
    authentication_classes: ClassVar[list] = []
    throttle_classes: ClassVar[list] = []

    @extend_schema(
        auth=[],
        responses=inline_serializer("Health", {"status": CharField()}),
    )
    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return self.envelope({"status": "ok"})


CHECKS = DictField(
    child=DictField(),
    help_text="Each check by name: `status` (`ok` or `failed`), `duration_ms`, "
    "and for a failure `error`.",
)


class ReadinessView(ApiView):
    """Whether this process can serve: the database, Redis when configured, the webhook queue's
    backlog. No token, no rate limit; `503` names the failed checks (and carries
    `Retry-After`). The bare host's `/health/ready` answers even while the database is down;
    a tenant address needs the database to find its tenant first."""

    public = True
    authentication_classes: ClassVar[list] = []
    throttle_classes: ClassVar[list] = []

    @extend_schema(
        auth=[],
        responses={
            200: inline_serializer("Readiness", {"status": CharField(), "checks": CHECKS}),
            503: inline_serializer("NotReady", {"message": CharField(), "checks": CHECKS}),
        },
    )
    def get(self, request: Request) -> Response:
        checks = readiness()
        failed = [name for name, result in checks.items() if result["status"] != "ok"]
        if failed:
            message = f"Not ready: {', '.join(failed)}."
            return Response({"message": message, "checks": checks}, status=503)
        return self.envelope({"status": "ok", "checks": checks})
