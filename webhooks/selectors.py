"""Reads of events, subscriptions and deliveries, and the queue's figures for health checks
and dashboards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from optiflow.events import EVENT_PERMISSIONS
from optiflow.models import Event
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from webhooks.tasks import DELIVERY_QUEUE


def event_list(*, visible: Mapping[str, list[int] | None]) -> QuerySet[Event]:
    """Events a caller may see. ``visible`` maps each view permission to the workspaces where
    the caller holds it (``None``: all): an event shows when its type's permission is held in
    one of its workspaces, or anywhere for a tenant-wide event."""
    condition = Q(pk__in=[])
    for permission, workspace_ids in visible.items():
        types = [type for type, needed in EVENT_PERMISSIONS.items() if needed == permission]
        if workspace_ids is None:
            condition |= Q(type__in=types)
        elif workspace_ids:
            condition |= Q(type__in=types) & (
                Q(workspace_ids__overlap=list(workspace_ids)) | Q(workspace_ids=[])
            )
    return Event.objects.filter(condition)


def subscription_list(*, workspace_ids: list[int] | None) -> QuerySet[WebhookSubscription]:
    """Subscriptions whose workspaces all lie within ``workspace_ids`` (``None``: all of them,
    including those for every workspace)."""
    subscriptions = WebhookSubscription.objects.all()
    if workspace_ids is None:
        return subscriptions
    return subscriptions.filter(
        workspace_ids__isnull=False, workspace_ids__contained_by=list(workspace_ids)
    )


def delivery_list(
    *, subscription: WebhookSubscription, attempts: bool = False
) -> QuerySet[WebhookDelivery]:
    """A subscription's deliveries with their event and latest attempt (``attempts``: every
    attempt) fetched in one query each, however many rows."""
    deliveries = WebhookDelivery.objects.filter(subscription=subscription).select_related("event")
    if attempts:
        return deliveries.prefetch_related("attempt_log")
    latest = WebhookAttempt.objects.order_by("-id")[:1]
    return deliveries.prefetch_related(Prefetch("attempt_log", latest, to_attr="recent_attempts"))


def webhook_failures_recent(*, limit: int = 20) -> QuerySet[WebhookAttempt]:
    """The current tenant's latest failed attempts, newest first, with their delivery, event
    and subscription: for dashboards."""
    return (
        WebhookAttempt.objects.exclude(response_status__gte=200, response_status__lt=300)
        .select_related("delivery__event", "delivery__subscription")
        .order_by("-at", "-id")[:limit]
    )


def oldest_pending_job_age() -> dt.timedelta | None:
    """How long the oldest delivery job that is due has waited for a worker (``None``: none
    waits), across every tenant: the queue's health in one figure. A job is due from its
    scheduled time (retries) or, if it has none, from when it was deferred."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT now() - min(coalesce(job.scheduled_at, deferred.at))
              FROM procrastinate_jobs job
              LEFT JOIN procrastinate_events deferred
                ON deferred.job_id = job.id AND deferred.type = 'deferred'
             WHERE job.queue_name = %s AND job.status = 'todo'
               AND (job.scheduled_at IS NULL OR job.scheduled_at <= now())
            """,
            [DELIVERY_QUEUE],
        )
        (age,) = cursor.fetchone()
    return age
