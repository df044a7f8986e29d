"""Recording domain events in the outbox."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from optiflow.models import Event

EVENT_TYPES = frozenset(
    {
        "invoice.created",
        "invoice.updated",
        "invoice.paid",
        "invoice.cancelled",
        "quotation.converted",
        "payment.received",
        "payment.voided",
        "product.stock_low",
        "stock.adjusted",
        "stock.transferred",
    }
)


def event_record(*, type: str, payload: dict[str, Any]) -> Event:
    """Append an event; must run inside the transaction of the change it describes."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}")
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("Events are recorded inside the transaction of their change.")
    return Event.objects.create(type=type, payload=payload)
