"""The event feed (``/events``), webhook subscriptions (``/webhooks``) and their delivery log
(``/webhooks/{id}/deliveries``), SPEC §8.10. Thin: who may see and reach what is
``tenants.access``'s answer (``webhooks.permissions.MayCoverEvents`` for what a subscription
reaches), what is valid ``webhooks.services``."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from optiflow.api.permissions import AUTHENTICATED, permission_table
from optiflow.api.views import (
    ApiViewSet,
    CreateMixin,
    DestroyMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
)
from optiflow.events import EVENT_PERMISSIONS
from optiflow.models import Event
from tenants.access import Access
from webhooks import selectors, services
from webhooks.filters import EventFilterSet, WebhookDeliveryFilterSet, WebhookFilterSet
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.permissions import MANAGE, MayCoverEvents
from webhooks.serializers import (
    EventSerializer,
    WebhookDeliveryDetailSerializer,
    WebhookDeliverySerializer,
    WebhookSecretSerializer,
    WebhookSerializer,
    WebhookWriteSerializer,
)


def managed_subscriptions(access: Access) -> QuerySet[WebhookSubscription]:
    """The subscriptions the caller manages: those whose workspaces all lie where they hold
    `webhooks:manage` (the ones for every workspace only where they hold it everywhere)."""
    if access.holds_everywhere(MANAGE):
        return selectors.subscription_list(workspace_ids=None)
    return selectors.subscription_list(workspace_ids=access.visible_workspace_ids(MANAGE))


EVENT_ID = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="The event's id, `evt_` and 32 hex digits."
)


@extend_schema_view(retrieve=extend_schema(parameters=[EVENT_ID]))
class EventViewSet(ListMixin, RetrieveMixin, ApiViewSet):
    """Domain events in id order (oldest first), kept 30 days. A caller sees an event when they
    hold its kind's view permission (`invoice.*`: `invoices:view`, `payment.*`:
    `payments:view`, `quotation.*`: `quotations:view`, `product.*` and `stock.*`:
    `inventory:view`) in one of its workspaces. A consumer that missed webhooks catches up
    with `after={last event id}` (cursor pagination, SPEC §6)."""

    serializer_class = EventSerializer
    required_permissions = permission_table(read=AUTHENTICATED)
    filterset_class = EventFilterSet
    lookup_field = "public_id"
    lookup_url_kwarg = "pk"
    # Any segment routes here, so an id that is no event id is a 404 after authentication.
    lookup_value_regex = r"[^/]+"
    row_id_pattern = r"evt_[0-9a-f]{32}"

    def base_queryset(self) -> QuerySet[Event]:
        access = self.request.access
        return selectors.event_list(
            visible={
                permission: None
                if access.holds_everywhere(permission)
                else access.visible_workspace_ids(permission)
                for permission in set(EVENT_PERMISSIONS.values())
            }
        )


class WebhookViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ApiViewSet):
    """Webhook subscriptions (`webhooks:manage`). Each event of the listed `events` types (or
    `["*"]`) in the listed `workspace_ids` (null: all) is POSTed to `url`, signed with the
    subscription's secret: `X-OptiFlow-Signature: t={unix},v1={hex HMAC-SHA256 of
    "{t}.{body}"}`. The secret (`whsec_…`) is returned once, at creation and by
    `rotate-secret`; after a rotation the previous secret signs too (a second `v1=`) for 24
    hours. Failed deliveries are retried for about 3 days; a `410` or 3 days of failures
    disable the subscription (`disabled_reason`), and `PATCH {"is_active": true}` turns it
    back on.

    A subscription is seen and managed by callers holding `webhooks:manage` in every
    workspace it covers, and may only cover events the caller can read in the feed there
    (else `403`). The URL must be https and resolve to a public address (`422` on `url`)."""

    serializer_class = WebhookSerializer
    input_serializers = dict.fromkeys(
        ["create", "update", "partial_update"], WebhookWriteSerializer
    )
    required_permissions = permission_table(
        read=MANAGE, create=MANAGE, update=MANAGE, destroy=MANAGE, rotate_secret=MANAGE, ping=MANAGE
    )
    record_checks = dict.fromkeys(["create", "update", "partial_update"], (MayCoverEvents(),))
    filterset_class = WebhookFilterSet
    sort_fields = ("id", "created_at")
    default_sort = "id"

    def base_queryset(self) -> QuerySet[WebhookSubscription]:
        return managed_subscriptions(self.request.access)

    @extend_schema(responses={201: WebhookSecretSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        data = self.validated_input()
        # Door 2 asked about the subscription as it would be created.
        candidate = WebhookSubscription(
            events=data["events"], workspace_ids=data.get("workspace_ids")
        )
        self.check_object_permissions(request, candidate)
        subscription = services.subscription_create(**data)
        return self.with_secret(subscription, status.HTTP_201_CREATED)

    def perform_update(
        self, instance: WebhookSubscription, data: dict[str, Any]
    ) -> WebhookSubscription:
        # get_object() asked about the stored subscription; now about it as it would be.
        candidate = WebhookSubscription(
            events=data.get("events", instance.events),
            workspace_ids=data.get("workspace_ids", instance.workspace_ids),
        )
        self.check_object_permissions(self.request, candidate)
        return services.subscription_update(subscription=instance, data=data)

    def perform_destroy(self, instance: WebhookSubscription) -> None:
        services.subscription_delete(subscription=instance)

    @extend_schema(request=None, responses=WebhookSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """A new secret, shown this once; the previous one keeps signing for 24 hours."""
        subscription = services.subscription_secret_rotate(subscription=self.get_object())
        return self.with_secret(subscription, status.HTTP_200_OK)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def ping(self, request: Request, pk: str) -> Response:
        """Queue a `ping` event for this subscription alone, sent at once (also while it is
        disabled); the answer is its delivery, to follow in the delivery log."""
        delivery = services.subscription_ping(subscription=self.get_object())
        return Response(
            {"data": WebhookDeliverySerializer(delivery).data}, status=status.HTTP_202_ACCEPTED
        )

    @staticmethod
    def with_secret(subscription: WebhookSubscription, status_code: int) -> Response:
        return Response({"data": WebhookSecretSerializer(subscription).data}, status=status_code)


class WebhookDeliveryViewSet(ListMixin, RetrieveMixin, ApiViewSet):
    """A subscription's delivery log, newest first: each event sent to it, its status
    (`pending` while attempts remain), attempts, the next scheduled attempt and the last
    attempt's response. A single delivery lists every attempt (`attempt_log`)."""

    serializer_class = WebhookDeliverySerializer
    required_permissions = permission_table(read=MANAGE, redeliver=MANAGE)
    filterset_class = WebhookDeliveryFilterSet
    sort_fields = ("id", "created_at")
    default_sort = "-id"

    @cached_property
    def subscription(self) -> WebhookSubscription:
        visible = managed_subscriptions(self.request.access)
        return get_object_or_404(visible, pk=self.kwargs["webhook_pk"])

    def base_queryset(self) -> QuerySet[WebhookDelivery]:
        return selectors.delivery_list(
            subscription=self.subscription, attempts=self.action == "retrieve"
        )

    def get_serializer_class(self) -> type[WebhookDeliverySerializer]:
        if self.action == "retrieve":
            return WebhookDeliveryDetailSerializer
        return WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, webhook_pk: str, pk: str) -> Response:
        """Queue one more attempt of this delivery, made at once (`202`)."""
        delivery = services.delivery_redeliver(delivery=self.get_object())
        return Response(
            {"data": self.get_serializer(delivery).data}, status=status.HTTP_202_ACCEPTED
        )
