"""The stored results of ``POST`` requests sent with an ``Idempotency-Key`` (SPEC §5)."""

from __future__ import annotations

from django.db import models

from tenants.models import User


class IdempotencyKey(models.Model):
    """One successful ``POST`` of ``user`` under ``key``: what was asked (method, path with its
    query, a digest of the body) and what was answered, written in the transaction of the
    change itself. Rows older than ``idempotency.services.RETENTION`` count as absent."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.TextField()
    body_digest = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"
