"""The event outbox (SPEC §8.10), shared by every app of a tenant.

An event row is written in the same transaction as the change that caused it, so a rolled-back
change leaves no event and a committed one is never lost. Delivery (webhooks) reads this table
later; ``published_at`` marks what has been handed on.
"""

from __future__ import annotations

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
