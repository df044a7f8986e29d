"""Shapes of events (the feed, and the body of every webhook), subscriptions and deliveries
(SPEC §8.10)."""

from __future__ import annotations

from rest_framework import serializers

from optiflow.api.serializers import ScopedRelatedField
from optiflow.models import Event
from tenants.models import Workspace
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from webhooks.permissions import MANAGE

# --- events ---------------------------------------------------------------------------------


class EventDataSerializer(serializers.Serializer):
    object = serializers.DictField(
        source="payload",
        help_text="The record as its detail endpoint showed it when the change committed; a "
        'record the change deleted carries `"deleted": true`.',
    )


class EventSerializer(serializers.ModelSerializer):
    """A domain event. Webhooks POST exactly this object (and, to test a subscription, a
    `ping` event whose object is the webhook)."""

    id = serializers.CharField(
        source="public_id", help_text="`evt_…`: unique across every tenant, never reused."
    )
    type = serializers.CharField(
        help_text="`invoice.created`, `invoice.updated`, `invoice.paid`, `invoice.cancelled`, "
        "`quotation.converted`, `payment.received`, `payment.voided`, `product.stock_low`, "
        "`stock.adjusted`, `stock.transferred`; and `ping`, sent only to test a webhook."
    )
    workspace_id = serializers.IntegerField(
        allow_null=True,
        help_text="The record's workspace (a transfer's source); null for tenant-wide records.",
    )
    data = EventDataSerializer(source="*")

    class Meta:
        model = Event
        fields = ["id", "type", "created_at", "workspace_id", "data"]
        read_only_fields = fields


# --- subscriptions --------------------------------------------------------------------------

SUBSCRIPTION_FIELDS = ["url", "description", "events", "workspace_ids", "is_active"]


class WebhookSerializer(serializers.ModelSerializer):
    workspace_ids = serializers.ListField(
        child=serializers.IntegerField(),
        allow_null=True,
        help_text="Only events of these workspaces (and tenant-wide ones); null: all.",
    )
    disabled_reason = serializers.CharField(
        help_text="Why the subscription was disabled automatically (`410 Gone`, or 3 days of "
        "failed deliveries); empty otherwise."
    )

    class Meta:
        model = WebhookSubscription
        fields = ["id", *SUBSCRIPTION_FIELDS, "disabled_reason", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookSecretSerializer(WebhookSerializer):
    """A subscription with its signing secret: shown at creation and rotation only."""

    secret = serializers.CharField(help_text="`whsec_…`: keep it; it is not shown again.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookWriteSerializer(serializers.Serializer):
    url = serializers.URLField(
        max_length=2048, help_text="https (http only where the server allows it)."
    )
    description = serializers.CharField(max_length=500, required=False, allow_blank=True)
    events = serializers.ListField(
        child=serializers.CharField(max_length=64),
        allow_empty=False,
        help_text='Event types, or `["*"]` for every type, present and future.',
    )
    workspace_ids = serializers.ListField(
        child=ScopedRelatedField(queryset=Workspace.objects.all(), permission=MANAGE),
        allow_null=True,
        allow_empty=False,
        required=False,
        help_text="Workspaces whose events are sent; null (default): all.",
    )
    is_active = serializers.BooleanField(
        required=False, help_text="`true` re-enables a disabled subscription."
    )

    def validate_workspace_ids(self, workspaces: list[Workspace] | None) -> list[int] | None:
        return None if workspaces is None else [workspace.pk for workspace in workspaces]


# --- deliveries -----------------------------------------------------------------------------


class WebhookAttemptSerializer(serializers.ModelSerializer):
    response_status = serializers.IntegerField(
        allow_null=True, help_text="null when no response came (see `error`)."
    )
    response_body = serializers.CharField(help_text="The first 2 KB of the response body.")

    class Meta:
        model = WebhookAttempt
        fields = ["at", "duration_ms", "response_status", "response_body", "error"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="event.public_id")
    event_type = serializers.CharField(source="event.type")
    attempts = serializers.IntegerField(help_text="Attempts made so far.")
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="When the retry schedule tries again; null when it will not."
    )
    last_attempt = WebhookAttemptSerializer(allow_null=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    attempt_log = WebhookAttemptSerializer(many=True, help_text="Every attempt, oldest first.")

    class Meta(WebhookDeliverySerializer.Meta):
        fields = [*WebhookDeliverySerializer.Meta.fields, "attempt_log"]
        read_only_fields = fields
