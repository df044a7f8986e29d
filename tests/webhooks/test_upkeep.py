"""The periodic upkeep (the outbox's 30 days, the Idempotency-Key results' 24 hours) and the
figures offered to health checks and dashboards."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone
from django_tenants.utils import tenant_context

from idempotency.models import IdempotencyKey
from inventory.services import AdjustmentItem, stock_adjustment_create
from optiflow.events import events_purge
from optiflow.models import Event
from optiflow.tasks import purge_events, purge_idempotency_keys
from tests.inventory.factories import ProductFactory
from webhooks.delivery import outcome_record
from webhooks.models import WebhookDelivery
from webhooks.selectors import oldest_pending_job_age, webhook_failures_recent
from webhooks.sending import Outcome
from webhooks.services import subscription_create
from webhooks.tasks import deliver


def adjust(owner, main) -> Event:
    items = [AdjustmentItem(ProductFactory(), Decimal("1"), "found")]
    adjustment = stock_adjustment_create(workspace=main, actor=owner, items=items)
    return Event.objects.get(payload__id=adjustment.pk, type="stock.adjusted")


def test_events_older_than_30_days_go_with_their_deliveries(owner, main, private_webhooks):
    subscription_create(url="http://127.0.0.1:9/hook", events=["*"])
    old, recent = adjust(owner, main), adjust(owner, main)
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=31))

    assert events_purge() == 1

    assert list(Event.objects.values_list("pk", flat=True)) == [recent.pk]
    assert list(WebhookDelivery.objects.values_list("event_id", flat=True)) == [recent.pk]


def test_the_periodic_purge_visits_every_tenant(tenant, other_tenant, owner, main):
    forty_days_ago = timezone.now() - dt.timedelta(days=40)
    aged = {tenant.tenant: adjust(owner, main).pk}
    with tenant_context(other_tenant.tenant):
        aged[other_tenant.tenant] = Event.objects.create(type="stock.adjusted", payload={}).pk
    for schema_tenant, pk in aged.items():
        with tenant_context(schema_tenant):
            Event.objects.filter(pk=pk).update(created_at=forty_days_ago)

    purge_events(timestamp=0)

    for schema_tenant, pk in aged.items():
        with tenant_context(schema_tenant):
            assert not Event.objects.filter(pk=pk).exists()


def test_the_hourly_purge_drops_idempotency_results_past_24_hours_in_every_tenant(
    tenant, other_tenant
):
    kept, aged = {}, {}
    for provisioned in (tenant, other_tenant):
        with tenant_context(provisioned.tenant):
            rows = [
                IdempotencyKey.objects.create(
                    user=provisioned.owner,
                    key=key,
                    method="POST",
                    path="/api/v1/contacts",
                    body_digest="0" * 64,
                    status_code=201,
                    response_body="{}",
                )
                for key in ("fresh", "stale")
            ]
            IdempotencyKey.objects.filter(pk=rows[1].pk).update(
                created_at=timezone.now() - dt.timedelta(hours=25)
            )
            kept[provisioned.tenant], aged[provisioned.tenant] = rows[0].pk, rows[1].pk

    purge_idempotency_keys(timestamp=0)

    for schema_tenant in kept:
        with tenant_context(schema_tenant):
            remaining = set(IdempotencyKey.objects.values_list("pk", flat=True))
            assert kept[schema_tenant] in remaining and aged[schema_tenant] not in remaining


def test_the_oldest_due_delivery_job_tells_how_far_behind_the_workers_are(tenant):
    an_hour_ago = timezone.now() - dt.timedelta(hours=1)
    deliver.configure(schedule_at=an_hour_ago).defer(schema="t_acme", delivery_id=0)
    deliver.configure(schedule_at=timezone.now() + dt.timedelta(days=1)).defer(
        schema="t_acme", delivery_id=0
    )  # not due: not waiting

    age = oldest_pending_job_age()

    assert age is not None and age >= dt.timedelta(hours=1)


def test_recent_failures_are_the_failed_attempts_newest_first(owner, main, private_webhooks):
    subscription_create(url="http://127.0.0.1:9/hook", events=["*"])
    first, second = (WebhookDelivery.objects.get(event=adjust(owner, main)) for _ in range(2))
    now = timezone.now()
    outcome_record(first.pk, Outcome(503, b"", "", 5), now=now, manual=False, job_attempts=0)
    outcome_record(second.pk, Outcome(200, b"", "", 5), now=now, manual=False, job_attempts=0)
    later = now + dt.timedelta(seconds=1)
    outcome_record(
        second.pk, Outcome(None, b"", "ConnectError", 5), now=later, manual=True, job_attempts=0
    )

    failures = list(webhook_failures_recent(limit=10))

    assert [(f.delivery_id, f.response_status) for f in failures] == [
        (second.pk, None),
        (first.pk, 503),
    ]
