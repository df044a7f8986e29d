"""Idempotent ``POST`` requests (SPEC §5): the in-flight lock, the stored results and their
purge. The API's base view (``optiflow.api.views``) runs a request that carries a key as:

1. ``idempotency_lock`` in a new transaction: not acquired → another request holds the same
   key right now (``409``); it never waits for it;
2. ``idempotency_result_get``: a stored result of the same request is replayed, one of a
   different request with the same key is refused;
3. the handler, then ``idempotency_result_store`` of a ``2xx`` answer, committed together with
   the change, so a client that lost the answer (a timeout, a dropped connection, a crash after
   the commit) gets it again instead of a second invoice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from idempotency.models import IdempotencyKey
from optiflow.errors import Conflict, DomainError
from tenants.models import User

#: How long a result is replayed; older rows count as absent whether purged or not.
RETENTION = dt.timedelta(hours=24)
HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class KeyedRequest:
    """A request under a key, as its stored result is checked against: method, path (with
    its query) and a digest of its body."""

    key: str
    method: str
    path: str
    body_digest: str


class IdempotencyKeyReused(DomainError):
    """The key was used for a different request (method, path or body)."""

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different request; use a new key.", field=HEADER
        )


def idempotency_lock(*, user: User, key: str) -> None:
    """Hold the key for the current transaction, or raise ``Conflict`` at once when another
    transaction holds it. PostgreSQL advisory locks span the database, so the lock id digests
    the tenant's schema with the user and the key."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("The idempotency lock lives as long as the request's transaction.")
    name = f"{connection.schema_name}\x00{user.pk}\x00{key}".encode()
    lock_id = int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id])
        (acquired,) = cursor.fetchone()
    if not acquired:
        raise Conflict("A request with this Idempotency-Key is still in progress; retry later.")


def idempotency_result_get(*, user: User, request: KeyedRequest) -> IdempotencyKey | None:
    """The stored, unexpired result of ``request`` under its key; ``IdempotencyKeyReused``
    when the key's stored request is a different one."""
    stored = IdempotencyKey.objects.filter(
        user=user, key=request.key, created_at__gt=timezone.now() - RETENTION
    ).first()
    if stored is None:
        return None
    if (stored.method, stored.path, stored.body_digest) != (
        request.method,
        request.path,
        request.body_digest,
    ):
        raise IdempotencyKeyReused()
    return stored


def idempotency_result_store(
    *, user: User, request: KeyedRequest, status_code: int, response_body: str
) -> IdempotencyKey:
    """Store a successful result under the request's key, replacing an expired one; must run
    in the transaction of the change (and of ``idempotency_lock``)."""
    stored, _ = IdempotencyKey.objects.update_or_create(
        user=user,
        key=request.key,
        defaults={
            "method": request.method,
            "path": request.path,
            "body_digest": request.body_digest,
            "status_code": status_code,
            "response_body": response_body,
            "created_at": timezone.now(),
        },
    )
    return stored


def idempotency_key_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the expired results of the current tenant; returns how many. Lookups ignore
    expired rows already: this only keeps the table small."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=cutoff).delete()
    return deleted
