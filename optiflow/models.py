"""Project-wide tables: the event outbox of each tenant, and the public schema's rate-limit
windows.

The event outbox (SPEC §8.10) is shared by every app of a tenant.

An event row is written in the same transaction as the change that caused it, so a rolled-back
change leaves no event and a committed one is never lost. Delivery (webhooks) reads this table
later; ``published_at`` marks what has been handed on.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class Event(models.Model):
    type = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class RateLimitWindow(models.Model):
    """One client's sliding window (``optiflow.ratelimit``), in the public schema only: the
    times of its counted requests, oldest first, and when the newest leaves the window (after
    which the row may be deleted). Read and written only by the SQL function
    ``public.optiflow_rate_limit_hit`` of the same migration."""

    key = models.CharField(max_length=255, primary_key=True)
    hits = ArrayField(models.DateTimeField())
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "optiflow_rate_limit_window"

    def __str__(self) -> str:
        return self.key
