"""Webhook subscriptions, their deliveries and each delivery's attempts (SPEC §8.10).

A delivery is one event for one subscription; it is created in the transaction that records
the event (``webhooks.services.deliveries_create``) and attempted by task-queue workers
(``webhooks.delivery``). Every attempt leaves a ``WebhookAttempt`` row: the delivery log.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

#: ``events: ["*"]`` subscribes to every type, present and future.
ALL_EVENTS = "*"
#: The type of the test event ``POST /webhooks/{id}/ping`` sends: no domain event, never in
#: the feed.
PING = "ping"


class WebhookSubscription(models.Model):
    url = models.URLField(max_length=2048)
    description = models.CharField(max_length=500, blank=True, default="")
    events = ArrayField(models.CharField(max_length=64))
    #: ``None``: every workspace, present and future.
    workspace_ids = ArrayField(models.BigIntegerField(), null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    # Kept in clear: signing needs the secret itself (a digest would not do). It is shown once,
    # at creation and at rotation.
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    #: Start of the current run of failed attempts (``None`` after a success): three days of
    #: nothing but failures disable the subscription.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "webhook"

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Purging an event (30-day retention) takes its deliveries with it.
    event = models.ForeignKey("optiflow.Event", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    #: When the retry schedule attempts it next; ``None`` when nothing is scheduled (settled,
    #: or a manual attempt is all that is queued).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["subscription", "id"], name="delivery_subscription_idx")]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"

    @property
    def last_attempt(self) -> WebhookAttempt | None:
        """The latest attempt, from what ``webhooks.selectors.delivery_list`` prefetched."""
        recent = getattr(self, "recent_attempts", None)
        if recent is None:
            recent = list(self.attempt_log.all())[-1:]
        return recent[0] if recent else None


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    #: ``None`` when no response came (network error, timeout, refused address).
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    #: The first 2 KB of the response body.
    response_body = models.TextField(blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["delivery_id", "id"]

    def __str__(self) -> str:
        return f"Attempt at {self.at:%Y-%m-%d %H:%M:%S}"

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and 200 <= self.response_status < 300
