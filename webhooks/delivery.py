"""One delivery attempt, as a task-queue worker makes it (SPEC §8.10), in the schema of the
delivery's tenant (``webhooks.tasks`` activates it).

Two kinds of job attempt a delivery:

* the **scheduled** job, one per delivery, deferred with the event: it attempts while the
  delivery is pending and asks the queue to run it again after the next wait of
  ``OPTIFLOW_WEBHOOK_RETRY_SCHEDULE`` (network errors, timeouts, redirects, 408, 429, 5xx);
* a **manual** job (``redeliver``, ``ping``): one attempt, now, whatever the status.

The delivery's status is the outcome of its latest attempt, except that a failed manual
attempt leaves a still-scheduled delivery pending (its schedule goes on) and a success is never
undone. The request is made outside any transaction; its result is then written under the
delivery's row lock, so attempts that overlap (a redelivery while the schedule fires) each
leave their record and the status stays coherent.

A subscription is disabled when its receiver answers ``410 Gone``, and when every attempt for
3 days has failed (``failing_since``).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from enum import Enum

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from webhooks.sending import Outcome, post
from webhooks.serializers import EventSerializer
from webhooks.signing import signature_header

FAILURE_WINDOW = dt.timedelta(days=3)
SECRET_OVERLAP = dt.timedelta(hours=24)
RESPONSE_BODY_KEPT = 2048
JITTER = 0.1  # each wait varies by up to ±10 %, so retries after an outage do not stampede


class Verdict(Enum):
    SUCCESS = "success"
    RETRY = "retry"
    FAIL = "fail"
    GONE = "gone"


def verdict_of(outcome: Outcome) -> Verdict:
    status = outcome.status
    if status is None:
        return Verdict.RETRY  # network error, timeout, refused address
    if 200 <= status < 300:
        return Verdict.SUCCESS
    if status == 410:
        return Verdict.GONE
    if status in (408, 429) or status >= 500 or 300 <= status < 400:
        return Verdict.RETRY
    return Verdict.FAIL


def event_body(delivery: WebhookDelivery) -> bytes:
    """The event as the feed shows it, compact: these exact bytes are signed."""
    data = EventSerializer(delivery.event).data
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def signing_keys(subscription: WebhookSubscription, now: dt.datetime) -> list[str]:
    keys = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and expires > now:
        keys.append(subscription.previous_secret)
    return keys


def delivery_attempt(*, delivery_id: int, manual: bool, job_attempts: int) -> float | None:
    """Attempt ``delivery_id`` once. Returns the seconds to wait before the schedule's next
    attempt, or ``None`` when nothing more is scheduled. ``job_attempts``: how many times the
    scheduled job ran before (its index in the retry schedule)."""
    delivery = (
        WebhookDelivery.objects.select_related("subscription", "event")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        return None  # its subscription was deleted or its event purged
    if not manual and (
        delivery.status != WebhookDelivery.Status.PENDING or delivery.next_attempt_at is None
    ):
        return None  # settled meanwhile (a redelivery succeeded)
    subscription = delivery.subscription
    now = timezone.now()
    if not manual and not subscription.is_active:
        # Disabled (410, 3 days of failures, or by hand) since the event: nothing more is sent
        # on schedule; the subscription's `disabled_reason` says why.
        WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDelivery.Status.PENDING
        ).update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None, updated_at=now)
        return None
    body = event_body(delivery)
    headers = {
        "Content-Type": "application/json",
        "X-OptiFlow-Event-Id": delivery.event.public_id,
        "X-OptiFlow-Delivery-Id": str(delivery.pk),
        "X-OptiFlow-Signature": signature_header(
            keys=signing_keys(subscription, now), timestamp=int(now.timestamp()), body=body
        ),
    }
    outcome = post(subscription.url, body, headers)
    return outcome_record(delivery.pk, outcome, now=now, manual=manual, job_attempts=job_attempts)


@transaction.atomic
def outcome_record(
    delivery_id: int,
    outcome: Outcome,
    *,
    now: dt.datetime,
    manual: bool,
    job_attempts: int,
) -> float | None:
    """Write the attempt, settle the delivery, and judge its subscription; returns the wait
    before the next scheduled attempt."""
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id).first()
    if delivery is None:
        return None
    WebhookAttempt.objects.create(
        delivery=delivery,
        at=now,
        duration_ms=outcome.duration_ms,
        response_status=outcome.status,
        response_body=outcome.body[:RESPONSE_BODY_KEPT].decode("utf-8", errors="replace"),
        error=outcome.error,
    )
    delivery.attempts += 1
    verdict = verdict_of(outcome)
    schedule = settings.OPTIFLOW_WEBHOOK_RETRY_SCHEDULE
    wait = None
    Status = WebhookDelivery.Status
    if verdict is Verdict.SUCCESS:
        delivery.status, delivery.next_attempt_at = Status.SUCCEEDED, None
    elif delivery.status == Status.SUCCEEDED:
        pass  # an overlapping attempt already got through
    elif manual:
        if delivery.next_attempt_at is None:
            delivery.status = Status.FAILED
    elif verdict is Verdict.RETRY and job_attempts < len(schedule):
        wait = schedule[job_attempts] * random.uniform(1 - JITTER, 1 + JITTER)
        delivery.next_attempt_at = now + dt.timedelta(seconds=wait)
    else:
        delivery.status, delivery.next_attempt_at = Status.FAILED, None
    delivery.save(update_fields=["attempts", "status", "next_attempt_at", "updated_at"])
    subscription_judge(delivery.subscription_id, verdict, now=now)
    return wait


def subscription_judge(subscription_id: int, verdict: Verdict, *, now: dt.datetime) -> None:
    """Track the subscription's run of failures, and disable it on ``410`` or after 3 days
    of nothing but failures. Conditional updates: no lock, no write when nothing changes."""
    subscriptions = WebhookSubscription.objects.filter(pk=subscription_id)
    if verdict is Verdict.SUCCESS:
        subscriptions.filter(failing_since__isnull=False).update(failing_since=None)
        return
    subscriptions.filter(failing_since__isnull=True).update(failing_since=now)
    active = subscriptions.filter(is_active=True)
    if verdict is Verdict.GONE:
        reason = "The receiver answered 410 Gone."
        active.update(is_active=False, disabled_reason=reason, updated_at=now)
    else:
        reason = "Every delivery failed for 3 days."
        active.filter(failing_since__lte=now - FAILURE_WINDOW).update(
            is_active=False, disabled_reason=reason, updated_at=now
        )
