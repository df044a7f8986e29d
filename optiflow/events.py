"""Recording domain events in the outbox (SPEC §8.10), and their retention.

Services call ``event_record`` inside the transaction of their change, naming the record. How a
kind of record appears in an event (as its detail endpoint shows it) and which workspaces it
concerns is registered by its app in ``EVENT_SOURCES`` (from ``AppConfig.ready``), so services
stay free of serializers and this module free of the apps. The record is read afresh for it,
unless the service holds it as that read would return it (``current``). Receivers of
``event_recorded`` (webhook fan-out) run inside that same transaction: what they write commits
or rolls back with the change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.dispatch import Signal
from django.utils import timezone

from optiflow.db.saves import save_new
from optiflow.models import Event

#: Every domain event type, with the view permission that lets a caller see it in the feed.
EVENT_PERMISSIONS: dict[str, str] = {
    "invoice.created": "invoices:view",
    "invoice.updated": "invoices:view",
    "invoice.paid": "invoices:view",
    "invoice.cancelled": "invoices:view",
    "quotation.converted": "quotations:view",
    "payment.received": "payments:view",
    "payment.voided": "payments:view",
    "product.stock_low": "inventory:view",
    "stock.adjusted": "inventory:view",
    "stock.transferred": "inventory:view",
}
EVENT_TYPES = frozenset(EVENT_PERMISSIONS)
RETENTION = dt.timedelta(days=30)
PURGE_BATCH = 1000


@dataclass(frozen=True)
class EventSource:
    """How one model's records appear in events."""

    #: The record as its detail endpoint shows it: read afresh inside the transaction, or
    #: rendered as it is when the second argument (``current``) is true.
    render: Callable[[Any, bool], dict[str, Any]]
    #: The workspaces it concerns, its own first; empty for tenant-wide records.
    workspace_ids: Callable[[Any], list[int]]


EVENT_SOURCES: dict[type[Model], EventSource] = {}

#: Sent with ``event=`` once an event is recorded, still inside the change's transaction.
event_recorded = Signal()


def event_record(
    *, type: str, record: Model, extra: dict[str, Any] | None = None, current: bool = False
) -> Event:
    """Append an event about ``record``; must run inside the transaction of the change it
    describes. ``extra`` adds keys to the object (``{"deleted": true}`` for a record the change
    removes).

    ``current``: the caller vouches that ``record`` holds what reading it afresh would return
    (every column as stored, generated ones included, and the relations its detail shows
    already in memory, as ``prefetch_related`` leaves them), so it is rendered without being
    read again. Only for a record this transaction has just written or read under its lock,
    and changed since only in ways the service mirrors (tests compare such events with the
    record read back)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}")
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("Events are recorded inside the transaction of their change.")
    source = EVENT_SOURCES[record.__class__]
    event = Event(
        type=type,
        payload={**source.render(record, current), **(extra or {})},
        workspace_ids=source.workspace_ids(record),
    )
    save_new(event)
    event_recorded.send(sender=Event, event=event)
    return event


def events_purge(*, now: dt.datetime | None = None) -> int:
    """Delete the current schema's events older than ``RETENTION`` (their webhook deliveries
    go with them); returns how many. In batches, so a large backlog never holds one long
    transaction or loads every row at once."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted = 0
    while True:
        batch = list(
            Event.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH]
        )
        if not batch:
            return deleted
        with transaction.atomic():
            Event.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
