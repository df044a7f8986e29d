"""Writes of webhooks (SPEC §8.10): subscriptions, the fan-out of each event into deliveries,
and manual attempts (redeliver, ping). Callers (API, admin) decide who may; these decide what
is valid. The attempts themselves are made by workers (``webhooks.delivery``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from optiflow.db.records import raw_records
from optiflow.errors import DomainError
from optiflow.events import EVENT_TYPES
from optiflow.models import Event
from tenants.models import Workspace
from webhooks.addresses import AddressRefused, url_check
from webhooks.delivery import SECRET_OVERLAP
from webhooks.models import ALL_EVENTS, PING, WebhookDelivery, WebhookSubscription
from webhooks.signing import secret_new
from webhooks.tasks import deliver


class WebhookInvalid(DomainError):
    pass


# --- validation -----------------------------------------------------------------------------


def url_clean(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    allowed = {"https", "http"} if settings.OPTIFLOW_WEBHOOKS_ALLOW_HTTP else {"https"}
    if scheme not in allowed:
        raise WebhookInvalid("The URL must use https.", field="url")
    try:
        url_check(url)
    except AddressRefused as refused:
        raise WebhookInvalid(str(refused), field="url") from None
    except OSError:
        raise WebhookInvalid("The URL's host name does not resolve.", field="url") from None
    return url


def events_clean(events: Iterable[str]) -> list[str]:
    events = list(dict.fromkeys(events))
    if ALL_EVENTS in events:
        if len(events) > 1:
            raise WebhookInvalid('"*" already means every event type.', field="events")
        return events
    unknown = [event for event in events if event not in EVENT_TYPES]
    if unknown:
        allowed = ", ".join(sorted(EVENT_TYPES))
        raise WebhookInvalid(
            f"Unknown event types: {', '.join(unknown)}. Allowed: {allowed}, or *.",
            field="events",
        )
    return events


def workspace_ids_clean(workspace_ids: Sequence[int] | None) -> list[int] | None:
    if workspace_ids is None:
        return None
    wanted = list(dict.fromkeys(workspace_ids))
    found = set(Workspace.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    missing = [str(pk) for pk in wanted if pk not in found]
    if missing:
        raise WebhookInvalid(f"Unknown workspaces: {', '.join(missing)}.", field="workspace_ids")
    return wanted


# --- subscriptions --------------------------------------------------------------------------


@transaction.atomic
def subscription_create(
    *,
    url: str,
    events: Iterable[str],
    workspace_ids: Sequence[int] | None = None,
    description: str = "",
    is_active: bool = True,
) -> WebhookSubscription:
    """A new subscription with a new secret (the API shows it this once)."""
    subscription = WebhookSubscription.objects.create(
        url=url_clean(url),
        events=events_clean(events),
        workspace_ids=workspace_ids_clean(workspace_ids),
        description=description,
        is_active=is_active,
        secret=secret_new(),
    )
    return subscription


@transaction.atomic
def subscription_update(
    *, subscription: WebhookSubscription, data: dict[str, Any]
) -> WebhookSubscription:
    """Change what was sent; turning ``is_active`` on again clears ``disabled_reason`` and
    starts the failure count afresh."""
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    if "url" in data:
        subscription.url = url_clean(data["url"])
    if "events" in data:
        subscription.events = events_clean(data["events"])
    if "workspace_ids" in data:
        subscription.workspace_ids = workspace_ids_clean(data["workspace_ids"])
    if "description" in data:
        subscription.description = data["description"]
    if "is_active" in data:
        if data["is_active"] and not subscription.is_active:
            subscription.disabled_reason, subscription.failing_since = "", None
        subscription.is_active = data["is_active"]
    subscription.save()
    return subscription


def subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Deletes its deliveries too; their queued jobs find nothing left to do."""
    subscription.delete()


@transaction.atomic
def subscription_secret_rotate(
    *, subscription: WebhookSubscription, now: dt.datetime | None = None
) -> WebhookSubscription:
    """A new secret (the API shows it this once); the previous one keeps signing for 24
    hours."""
    now = now or timezone.now()
    subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = now + SECRET_OVERLAP
    subscription.secret = secret_new()
    subscription.save()
    return subscription


# --- deliveries -----------------------------------------------------------------------------


def deliveries_enqueue(deliveries: Sequence[WebhookDelivery], *, manual: bool) -> None:
    """Queue a job per delivery in the current transaction (the task queue's tables share
    the database), naming the current tenant's schema for the worker to activate."""
    deliver.batch_defer(
        *(
            {"schema": connection.schema_name, "delivery_id": delivery.pk, "manual": manual}
            for delivery in deliveries
        )
    )


def deliveries_create(*, event: Event, **signal: Any) -> list[WebhookDelivery]:
    """One delivery per active subscription that wants ``event``, with its job, in the
    transaction recording the event (receiver of ``optiflow.events.event_recorded``). One
    query when no subscription matches, so events cost next to nothing without webhooks.
    Matching here rather than in a worker also pins the set: a subscription created after the
    event never receives it.

    The match is written in SQL: every write of the API records an event, and the ORM took
    three times the CPU of this statement to build it (two array lookups, an ``OR`` of them).
    """
    table = connection.ops.quote_name(WebhookSubscription._meta.db_table)
    sql = f"SELECT {{columns}} FROM {table} WHERE is_active AND events && %s::varchar[]"
    params: list[Any] = [[event.type, ALL_EVENTS]]
    if event.workspace_ids:  # tenant-wide events reach every subscription
        sql += " AND (workspace_ids IS NULL OR workspace_ids && %s::bigint[])"
        params.append(event.workspace_ids)
    subscriptions = raw_records(WebhookSubscription, sql, params)
    if not subscriptions:
        return []
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(subscription=subscription, event=event, next_attempt_at=event.created_at)
        for subscription in subscriptions
    )
    deliveries_enqueue(deliveries, manual=False)
    return deliveries


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue one more attempt, at once. The delivery is pending until it is made; a failure
    then fails it, unless its retry schedule still runs."""
    delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.save(update_fields=["status", "updated_at"])
    deliveries_enqueue([delivery], manual=True)
    return delivery


@transaction.atomic
def subscription_ping(*, subscription: WebhookSubscription) -> WebhookDelivery:
    """Send a ``ping`` event to this subscription alone, at once (even while it is disabled:
    a ping is how one checks a receiver before turning it back on)."""
    event = Event.objects.create(
        type=PING,
        payload={"id": subscription.pk, "url": subscription.url, "events": subscription.events},
    )
    delivery = WebhookDelivery.objects.create(subscription=subscription, event=event)
    deliveries_enqueue([delivery], manual=True)
    return delivery
