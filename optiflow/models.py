"""Project-wide tables: the event outbox of each tenant, and the public schema's rate-limit
windows.

The event outbox (SPEC §8.10) is shared by every app of a tenant.

An event row is written in the same transaction as the change that caused it, so a rolled-back
change leaves no event and a committed one is never lost. The feed (``GET /events``) reads this
table, and webhook deliveries (``webhooks``) point at its rows; both keep 30 days of it.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

EVENT_ID_PREFIX = "evt_"


def new_event_id() -> str:
    # Random rather than derived from the row id: every tenant schema has its own sequence, and
    # a receiver subscribed to several tenants de-duplicates by this id alone.
    return EVENT_ID_PREFIX + uuid.uuid4().hex


class Event(models.Model):
    public_id = models.CharField(max_length=36, unique=True, default=new_event_id, editable=False)
    type = models.CharField(max_length=64)
    #: The record as its detail endpoint showed it when the change committed.
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    #: The workspaces the change concerns: its record's first (a transfer's source), then any
    #: other (a transfer's target); empty for tenant-wide records. Visibility and webhook
    #: workspace filters read it.
    workspace_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The feed reads in id order, usually filtered by type.
            models.Index(fields=["type", "id"], name="event_type_id_idx"),
            # Date-range filters and the 30-day purge.
            models.Index(fields=["created_at"], name="event_created_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"

    @property
    def workspace_id(self) -> int | None:
        return self.workspace_ids[0] if self.workspace_ids else None


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
