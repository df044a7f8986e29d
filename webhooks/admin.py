"""Tenant admin for webhooks (SPEC §8.10, §9): subscriptions are created and changed through
the API's services (the secret shows once, as a message), and their delivery log is
read-only, with a redeliver action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from optiflow.admin_sites import tenant_admin
from optiflow.errors import DomainError
from optiflow.events import EVENT_TYPES
from tenants.models import Workspace
from webhooks import services
from webhooks.models import ALL_EVENTS, WebhookAttempt, WebhookDelivery, WebhookSubscription


class WebhookSubscriptionForm(forms.ModelForm):
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

    def clean(self) -> dict[str, Any]:
        """The services' own rules, as form errors."""
        data = super().clean()
        for field, check in (("url", services.url_clean), ("events", services.events_clean)):
            if field in data:
                try:
                    check(data[field])
                except DomainError as error:
                    self.add_error(field, error.message)
        return data

    def service_input(self) -> dict[str, Any]:
        data = self.cleaned_data
        workspaces = data["workspaces"]
        return {
            "url": data["url"], "description": data["description"], "events": data["events"],
            "is_active": data["is_active"],
            "workspace_ids": [w.pk for w in workspaces] if workspaces else None,
        }  # fmt: skip


@admin.register(WebhookSubscription, site=tenant_admin)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "description", "events", "workspace_ids", "is_active",
                    "disabled_reason", "created_at"]  # fmt: skip
    list_filter = ["is_active"]
    search_fields = ["url", "description"]
    readonly_fields = ["disabled_reason", "created_at", "updated_at"]
    actions = ["rotate_secret", "ping"]

    def save_model(
        self, request: HttpRequest, obj: WebhookSubscription, form, change: bool
    ) -> None:
        data = form.service_input()
        if change:
            saved = services.subscription_update(subscription=obj, data=data)
        else:
            saved = services.subscription_create(**data)
            messages.success(request, f"Signing secret (shown only once): {saved.secret}")
        obj.__dict__.update(saved.__dict__)  # the admin logs and redirects with `obj`

    def delete_model(self, request: HttpRequest, obj: WebhookSubscription) -> None:
        services.subscription_delete(subscription=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for subscription in queryset:
            services.subscription_delete(subscription=subscription)

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
        for subscription in queryset:
            services.subscription_ping(subscription=subscription)
        messages.success(request, f"Queued {queryset.count()} ping(s); see the deliveries.")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["at", "duration_ms", "response_status", "response_body", "error"]
    readonly_fields = fields
    can_delete = False
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery, site=tenant_admin)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log: read-only; redelivering queues one more attempt."""

    list_display = ["id", "subscription", "event_type", "status", "attempts",
                    "next_attempt_at", "created_at"]  # fmt: skip
    list_filter = ["status", "subscription"]
    list_select_related = ["subscription", "event"]
    search_fields = ["event__public_id", "event__type"]
    fields = ["subscription", "event_id", "event_type", "status", "attempts", "next_attempt_at",
              "created_at", "updated_at"]  # fmt: skip
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.display(description="event type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    @admin.display(description="event id")
    def event_id(self, delivery: WebhookDelivery) -> str:
        return delivery.event.public_id

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Redeliver (one more attempt, now)")
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        for delivery in queryset:
            services.delivery_redeliver(delivery=delivery)
        messages.success(request, f"Queued {queryset.count()} attempt(s).")
