"""Tenant admin for webhooks (SPEC §8.10, §9): subscriptions are created, changed and deleted
through the API's services (the secret shows once, as a message), their delivery log is
read-only with a redeliver action, and the dashboard shows the latest failed attempts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime

from optiflow.admin_base import ReadOnlyAdmin, ReadOnlyInline, ServiceAdmin, ServiceModelForm
from optiflow.admin_sites import tenant_admin
from optiflow.dashboard import DASHBOARD_PANELS, Panel, Row
from optiflow.events import EVENT_TYPES
from tenants.models import Workspace
from webhooks import selectors, services
from webhooks.models import ALL_EVENTS, WebhookAttempt, WebhookDelivery, WebhookSubscription


class WebhookSubscriptionForm(ServiceModelForm):
    url = forms.URLField(max_length=2048, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(ALL_EVENTS, "Every event type (*)")] + [(t, t) for t in sorted(EVENT_TYPES)]
    )
    workspaces = forms.ModelMultipleChoiceField(
        queryset=Workspace.objects.all(), required=False, help_text="None selected: all."
    )

    class Meta:
        model = WebhookSubscription
        fields = ["url", "description", "events", "is_active"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.workspace_ids:
            self.fields["workspaces"].initial = self.instance.workspace_ids

    def service_input(self) -> dict[str, Any]:
        """The subscription as the API's body carries it (`workspace_ids`: null for all)."""
        data = self.cleaned_data
        workspaces = data["workspaces"]
        return {
            "url": data["url"],
            "description": data["description"],
            "events": data["events"],
            "is_active": data["is_active"],
            "workspace_ids": [w.pk for w in workspaces] if workspaces else None,
        }


@admin.register(WebhookSubscription, site=tenant_admin)
class WebhookSubscriptionAdmin(ServiceAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "events", "workspace_ids", "is_active", "disabled_reason"]
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["disabled_reason", "created_at", "updated_at"]
    actions = ["rotate_secret", "ping"]

    def service_create(
        self, request: HttpRequest, data: dict, form: WebhookSubscriptionForm
    ) -> WebhookSubscription:
        subscription = services.subscription_create(**form.service_input())
        messages.success(request, f"Signing secret (shown only once): {subscription.secret}")
        return subscription

    def service_update(
        self, request: HttpRequest, obj: WebhookSubscription, data: dict, form
    ) -> WebhookSubscription:
        return services.subscription_update(subscription=obj, data=form.service_input())

    def service_delete(self, request: HttpRequest, obj: WebhookSubscription) -> None:
        services.subscription_delete(subscription=obj)

    @admin.action(description="Rotate the signing secret")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        for subscription in queryset:
            rotated = services.subscription_secret_rotate(subscription=subscription)
            messages.success(
                request,
                f"{rotated.url}: new secret (shown only once; the previous one signs too for "
                f"24 hours): {rotated.secret}",
            )

    @admin.action(description="Send a ping")
    def ping(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.run_action(
            request,
            queryset,
            lambda subscription: services.subscription_ping(subscription=subscription),
            "Queued {count} ping(s); see the deliveries.",
        )


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["at", "duration_ms", "response_status", "response_body", "error"]
    readonly_fields = fields
    show_change_link = False


@admin.register(WebhookDelivery, site=tenant_admin)
class WebhookDeliveryAdmin(ServiceAdmin, ReadOnlyAdmin):
    """The delivery log: read-only; redelivering queues one more attempt."""

    list_display = ["id", "subscription", "event_type", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "subscription"]
    list_select_related = ["subscription", "event"]
    search_fields = ["event__public_id", "event__type"]
    fields = [
        "subscription",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.display(description="event type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    @admin.display(description="event id")
    def event_id(self, delivery: WebhookDelivery) -> str:
        return delivery.event.public_id

    @admin.action(description="Redeliver (one more attempt, now)")
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.run_action(
            request,
            queryset,
            lambda delivery: services.delivery_redeliver(delivery=delivery),
            "Queued {count} attempt(s).",
        )


# --- dashboard ------------------------------------------------------------------------------


def webhook_failures_panel(request: HttpRequest) -> Panel | None:
    """The latest failed delivery attempts: a receiver that is down or refusing."""
    if not request.user.has_perm("webhooks.view_webhookdelivery"):
        return None
    rows = [
        Row(
            cells=[
                date_format(localtime(attempt.at), "SHORT_DATETIME_FORMAT"),
                attempt.delivery.event.type,
                attempt.delivery.subscription.url,
                str(attempt.response_status or attempt.error or "failed"),
            ],
            link=reverse("admin:webhooks_webhookdelivery_change", args=[attempt.delivery_id]),
        )
        for attempt in selectors.webhook_failures_recent(limit=5)
    ]
    return Panel(
        title="Webhook failures",
        order=30,
        headers=["When", "Event", "Receiver", "Answer"],
        rows=rows,
        empty="No failed webhook delivery.",
        more=("Delivery log", reverse("admin:webhooks_webhookdelivery_changelist")),
    )


DASHBOARD_PANELS.append(webhook_failures_panel)
