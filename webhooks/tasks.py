"""The task-queue jobs of webhooks (procrastinate; SPEC §8.10).

A job names its tenant's schema and a delivery; whichever worker takes it activates that
schema for the job only, so one pool of workers serves every tenant and no tenant's events can
reach another's subscriptions. Jobs are deferred in the transaction that records the event
(``webhooks.services``): a rolled-back change queues nothing, a committed one is never lost.
"""

from __future__ import annotations

from django_tenants.utils import tenant_context
from procrastinate import BaseRetryStrategy, JobContext, RetryDecision
from procrastinate.contrib.django import app
from procrastinate.jobs import Job

from tenants.models import Tenant
from webhooks.delivery import delivery_attempt

DELIVERY_QUEUE = "webhooks"
#: Retries of a job that broke for the worker's own reasons (say, the database was away):
#: the delivery is still owed, so it is tried again, less and less often, for about a day.
UNEXPECTED_RETRIES = 30
UNEXPECTED_WAIT_MAX = 3600


class RetryLater(Exception):
    """Raised by the delivery job to have the queue run it again in ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"Next attempt in {seconds:.0f} s.")
        self.seconds = seconds


class DeliveryRetry(BaseRetryStrategy):
    """The delivery decides its own waits (``RetryLater``, from the retry schedule); any other
    exception is retried with a capped exponential backoff."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_in={"seconds": exception.seconds})
        if job.attempts >= UNEXPECTED_RETRIES:
            return None
        return RetryDecision(retry_in={"seconds": min(10 * 2**job.attempts, UNEXPECTED_WAIT_MAX)})


@app.task(name="webhooks.deliver", queue=DELIVERY_QUEUE, pass_context=True, retry=DeliveryRetry())
def deliver(context: JobContext, *, schema: str, delivery_id: int, manual: bool = False) -> None:
    """Attempt one delivery in ``schema``; ``manual``: a one-off attempt (redeliver, ping)."""
    tenant = Tenant.objects.filter(schema_name=schema).first()
    if tenant is None:
        return  # the tenant was deleted, and its deliveries with it
    with tenant_context(tenant):
        wait = delivery_attempt(
            delivery_id=delivery_id, manual=manual, job_attempts=context.job.attempts
        )
    if wait is not None:
        raise RetryLater(wait)
