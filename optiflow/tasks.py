"""Periodic upkeep run by the task-queue workers (procrastinate): the outbox's 30-day
retention, the 24 hours of Idempotency-Key results, and the recovery of jobs whose worker died.

Every worker runs the periodic scheduler; the queue defers each tick's job once, whoever
comes first, and ``queueing_lock`` keeps a slow run from piling up behind itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.conf import settings
from django_tenants.utils import get_public_schema_name, tenant_context
from procrastinate import JobContext
from procrastinate.contrib.django import app

from idempotency.services import idempotency_key_purge
from optiflow.events import events_purge
from tenants.models import Tenant

#: As often as a worker can be declared dead: a job stalled by one (killed, machine lost) is
#: back in the queue at most that long after.
STALLED_CHECK_SECONDS = max(1, round(settings.OPTIFLOW_WORKER_STALLED_AFTER_SECONDS))


def each_tenant() -> Iterator[Tenant]:
    """Every tenant, its schema active while the caller works on it."""
    for tenant in Tenant.objects.exclude(schema_name=get_public_schema_name()):
        with tenant_context(tenant):
            yield tenant


@app.periodic(cron="17 3 * * *")  # daily, 03:17 UTC
@app.task(name="optiflow.purge_events", queueing_lock="optiflow.purge_events")
def purge_events(timestamp: int) -> None:
    """Events (and their webhook deliveries) older than 30 days, tenant by tenant."""
    for _ in each_tenant():
        events_purge()


@app.periodic(cron="41 * * * *")  # hourly
@app.task(name="optiflow.purge_idempotency_keys", queueing_lock="optiflow.purge_idempotency_keys")
def purge_idempotency_keys(timestamp: int) -> None:
    """Idempotency-Key results past their 24 hours (SPEC §5), tenant by tenant. Lookups ignore
    them already; this keeps the tables small."""
    for _ in each_tenant():
        idempotency_key_purge()


@app.periodic(cron=f"* * * * * */{STALLED_CHECK_SECONDS}")
@app.task(
    name="optiflow.retry_stalled_jobs",
    queueing_lock="optiflow.retry_stalled_jobs",
    pass_context=True,
)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> None:
    """Put back in the queue the running jobs of workers whose heartbeat stopped (a worker
    killed mid-delivery): another worker takes them up."""
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.OPTIFLOW_WORKER_STALLED_AFTER_SECONDS
    )
    for job in stalled:
        await manager.retry_job(job)
