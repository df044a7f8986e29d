"""One delivery attempt made in-process against a real receiver on loopback (SPEC §8.10): how
each answer is judged and logged, the SSRF guard at send time, redirects, bounded reads, the
deadline, rotated secrets, and subscriptions disabled by ``410`` or 3 days of failures. The
worker processes that make these attempts in production are ``test_workers.py``'s."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from procrastinate import JobContext
from procrastinate.contrib.django import app
from procrastinate.jobs import Job
from werkzeug import Request, Response

from inventory.services import AdjustmentItem, stock_adjustment_create
from tests.inventory.factories import ProductFactory
from tests.servers import free_port
from tests.webhooks.conftest import Receiver
from webhooks import sending
from webhooks.delivery import delivery_attempt
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import (
    delivery_redeliver,
    subscription_create,
    subscription_ping,
    subscription_secret_rotate,
)
from webhooks.tasks import DeliveryRetry, RetryLater, deliver


@pytest.fixture
def subscription(tenant, receiver, private_webhooks, settings) -> WebhookSubscription:
    settings.OPTIFLOW_WEBHOOK_RETRY_SCHEDULE = [60.0, 300.0]
    return subscription_create(url=receiver.url, events=["*"])


@pytest.fixture
def event_delivery(owner, main, subscription):
    """Record a ``stock.adjusted`` event; return its delivery (on the retry schedule), if the
    event got one."""

    def make() -> WebhookDelivery | None:
        items = [AdjustmentItem(ProductFactory(), Decimal("1"), "found")]
        adjustment = stock_adjustment_create(workspace=main, actor=owner, items=items)
        return WebhookDelivery.objects.filter(event__payload__id=adjustment.pk).first()

    return make


def attempt(delivery: WebhookDelivery, *, manual: bool = False, job_attempts: int = 0):
    wait = delivery_attempt(delivery_id=delivery.pk, manual=manual, job_attempts=job_attempts)
    delivery.refresh_from_db()
    return wait


def answering(receiver: Receiver, status: int, **kwargs) -> Receiver:
    receiver.answer = lambda request: Response(status=status, **kwargs)
    return receiver


def own_signatures(request: Request) -> tuple[str, list[str]]:
    fields = [part.split("=", 1) for part in request.headers["X-OptiFlow-Signature"].split(",")]
    (timestamp,) = [value for key, value in fields if key == "t"]
    return timestamp, [value for key, value in fields if key == "v1"]


def hmac_hex(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_a_2xx_settles_the_delivery_and_logs_the_attempt(event_delivery, receiver):
    answering(receiver, 204)
    delivery = event_delivery()

    assert attempt(delivery) is None

    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("succeeded", 1, None)
    (logged,) = delivery.attempt_log.all()
    assert (logged.response_status, logged.error) == (204, "")
    (request,) = receiver.requests
    timestamp, [signature] = own_signatures(request)
    assert signature == hmac_hex(delivery.subscription.secret, timestamp, request.get_data())


@pytest.mark.parametrize("status", [408, 429, 500, 503, 301, None])
def test_retryable_failures_follow_the_retry_schedule_then_fail(event_delivery, receiver, status):
    if status is None:  # nothing listens: connection refused
        WebhookSubscription.objects.update(url=f"http://127.0.0.1:{free_port()}/hook")
    answering(receiver, status or 200)
    delivery = event_delivery()

    first = attempt(delivery, job_attempts=0)
    assert 54 <= first <= 66  # 60 s, give or take the 10 % jitter
    assert delivery.status == "pending"
    assert abs((delivery.next_attempt_at - timezone.now()).total_seconds() - first) < 5
    assert 270 <= attempt(delivery, job_attempts=1) <= 330
    assert attempt(delivery, job_attempts=2) is None  # the schedule is spent

    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    log = list(delivery.attempt_log.order_by("id"))
    assert [a.response_status for a in log] == [status] * 3
    if status is None:
        assert all(a.error.startswith("ConnectError") for a in log)
    assert WebhookSubscription.objects.get().is_active


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_client_errors_fail_at_once(event_delivery, receiver, status):
    answering(receiver, status, response=b"nope")
    delivery = event_delivery()

    assert attempt(delivery) is None

    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.attempt_log.get().response_body == "nope"
    assert WebhookSubscription.objects.get().is_active


def test_410_disables_the_subscription(event_delivery, receiver):
    answering(receiver, 410)
    gone, waiting = event_delivery(), event_delivery()

    assert attempt(gone) is None

    subscription = WebhookSubscription.objects.get()
    assert (gone.status, subscription.is_active) == ("failed", False)
    assert subscription.disabled_reason == "The receiver answered 410 Gone."
    # What was still queued is not sent, and new events are not queued at all.
    assert attempt(waiting) is None and waiting.status == "failed"
    assert len(receiver.requests) == 1
    assert event_delivery() is None


def test_3_days_of_nothing_but_failures_disable_the_subscription(event_delivery, receiver):
    answering(receiver, 503)
    delivery = event_delivery()
    attempt(delivery)
    subscription = WebhookSubscription.objects.get()
    assert subscription.is_active and subscription.failing_since is not None

    almost = timezone.now() - dt.timedelta(days=2, hours=23)
    WebhookSubscription.objects.update(failing_since=almost)
    attempt(event_delivery())
    assert WebhookSubscription.objects.get().is_active

    WebhookSubscription.objects.update(failing_since=almost - dt.timedelta(hours=1))
    attempt(event_delivery())
    subscription = WebhookSubscription.objects.get()
    assert not subscription.is_active
    assert subscription.disabled_reason == "Every delivery failed for 3 days."


def test_a_success_ends_the_run_of_failures(event_delivery, receiver):
    WebhookSubscription.objects.update(failing_since=timezone.now() - dt.timedelta(days=2))
    attempt(event_delivery())
    assert WebhookSubscription.objects.get().failing_since is None


def test_a_redirect_is_not_followed(event_delivery, receiver, http_server):
    elsewhere = Receiver(http_server, "/elsewhere")
    answering(receiver, 302, headers={"Location": elsewhere.url})
    delivery = event_delivery()

    assert attempt(delivery) is not None  # retried, as the receiver may be fixed

    logged = delivery.attempt_log.get()
    assert logged.response_status == 302
    assert logged.error == f"Redirect to {elsewhere.url} not followed."
    assert (len(receiver.requests), elsewhere.requests) == (1, [])


def test_a_private_address_is_refused_again_at_send_time(event_delivery, receiver, settings):
    delivery = event_delivery()  # subscribed while private addresses were allowed
    settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE = False

    assert attempt(delivery) is not None

    logged = delivery.attempt_log.get()
    assert logged.response_status is None
    assert "127.0.0.1 resolves to 127.0.0.1, a private or reserved address" in logged.error
    assert receiver.requests == []


def test_at_most_4_KB_of_a_response_are_read(event_delivery, receiver):
    def endless() -> Response:
        return Response((b"x" * 1024 for _ in iter(int, 1)), status=200)

    receiver.answer = lambda request: endless()
    outcome = sending.post(receiver.url, b"{}", {"X-OptiFlow-Event-Id": "evt_probe"})
    assert (outcome.status, len(outcome.body), outcome.error) == (200, sending.READ_LIMIT, "")

    delivery = event_delivery()
    attempt(delivery)
    assert delivery.status == "succeeded"
    assert delivery.attempt_log.get().response_body == "x" * 2048


def test_the_deadline_covers_a_trickled_response(receiver, monkeypatch, tenant, private_webhooks):
    monkeypatch.setattr(sending, "TIMEOUT_SECONDS", 1.0)

    def trickle():
        for _ in range(50):
            time.sleep(0.1)
            yield b"."

    receiver.answer = lambda request: Response(trickle(), status=200)
    outcome = sending.post(receiver.url, b"{}", {"X-OptiFlow-Event-Id": "evt_probe"})

    assert (outcome.status, outcome.error) == (None, "No complete response within 1 seconds.")
    assert 900 <= outcome.duration_ms < 3000


def test_after_a_rotation_both_secrets_sign_for_24_hours(event_delivery, receiver):
    old = WebhookSubscription.objects.get().secret
    rotated = subscription_secret_rotate(subscription=WebhookSubscription.objects.get())

    attempt(event_delivery())
    request = receiver.requests[-1]
    timestamp, signatures = own_signatures(request)
    assert signatures == [
        hmac_hex(rotated.secret, timestamp, request.get_data()),
        hmac_hex(old, timestamp, request.get_data()),
    ]

    WebhookSubscription.objects.update(previous_secret_expires_at=timezone.now())
    attempt(event_delivery())
    request = receiver.requests[-1]
    timestamp, signatures = own_signatures(request)
    assert signatures == [hmac_hex(rotated.secret, timestamp, request.get_data())]


def test_a_redelivery_is_one_attempt_that_settles_a_failed_delivery(event_delivery, receiver):
    answering(receiver, 400)
    delivery = event_delivery()
    attempt(delivery)
    assert delivery.status == "failed"

    delivery_redeliver(delivery=delivery)
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert attempt(delivery, manual=True) is None  # a 400 again: failed again, no schedule
    assert (delivery.status, delivery.attempts) == ("failed", 2)

    answering(receiver, 200)
    delivery_redeliver(delivery=delivery)
    assert attempt(delivery, manual=True) is None
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)


def test_a_failed_manual_attempt_leaves_the_schedule_running(event_delivery, receiver):
    answering(receiver, 503)
    delivery = event_delivery()
    attempt(delivery)
    scheduled_for = delivery.next_attempt_at

    assert attempt(delivery, manual=True) is None
    assert (delivery.status, delivery.next_attempt_at) == ("pending", scheduled_for)

    answering(receiver, 200)
    attempt(delivery, manual=True)
    assert (delivery.status, delivery.next_attempt_at) == ("succeeded", None)
    # The schedule's job, when it fires, finds nothing left to do.
    assert attempt(delivery, job_attempts=1) is None
    assert len(receiver.requests) == 3


def test_a_ping_is_sent_even_to_a_disabled_subscription(subscription, receiver):
    WebhookSubscription.objects.update(
        is_active=False, disabled_reason="The receiver answered 410 Gone."
    )
    delivery = subscription_ping(subscription=subscription)

    attempt(delivery, manual=True)

    assert delivery.status == "succeeded"
    body = receiver.requests[0].get_json()
    assert (body["type"], body["data"]["object"]["id"]) == ("ping", subscription.pk)


# --- the task: tenant activation and retries --------------------------------------------------


def context(attempts: int = 0) -> JobContext:
    job = Job(
        queue="webhooks",
        lock=None,
        queueing_lock=None,
        task_name="webhooks.deliver",
        attempts=attempts,
    )
    return JobContext(app=app, job=job, start_timestamp=time.time(), abort_reason=lambda: None)


def test_the_job_activates_its_tenant_whose_ids_may_collide_with_others(
    tenant, other_tenant, http_server, private_webhooks
):
    """Delivery 4242 exists in both tenants: the job's schema decides which one is sent."""
    receivers = {}
    for provisioned, path in ((tenant, "/acme"), (other_tenant, "/globex")):
        with tenant_context(provisioned.tenant):
            receivers[path] = Receiver(http_server, path)
            subscription = subscription_create(url=receivers[path].url, events=["*"])
            ping = subscription_ping(subscription=subscription)
            WebhookDelivery.objects.filter(pk=ping.pk).update(id=4242)

    deliver(context(), schema=other_tenant.tenant.schema_name, delivery_id=4242, manual=True)

    assert (len(receivers["/acme"].requests), len(receivers["/globex"].requests)) == (0, 1)
    assert connection.schema_name == tenant.tenant.schema_name  # left as it was found
    with tenant_context(other_tenant.tenant):
        assert WebhookDelivery.objects.get(pk=4242).status == "succeeded"


def test_the_job_asks_the_queue_to_run_it_again_on_schedule(event_delivery, receiver):
    answering(receiver, 503)
    delivery = event_delivery()

    with pytest.raises(RetryLater) as retry:
        deliver(context(), schema="t_acme", delivery_id=delivery.pk)

    decision = DeliveryRetry().get_retry_decision(exception=retry.value, job=context().job)
    assert 54 <= retry.value.seconds <= 66
    assert abs((decision.retry_at - timezone.now()).total_seconds() - retry.value.seconds) < 5


def test_a_job_whose_delivery_or_tenant_is_gone_does_nothing(event_delivery, receiver):
    delivery = event_delivery()
    WebhookSubscription.objects.all().delete()

    deliver(context(), schema="t_acme", delivery_id=delivery.pk)
    deliver(context(), schema="t_no_such_tenant", delivery_id=delivery.pk)

    assert receiver.requests == []


def test_unexpected_errors_are_retried_less_and_less_often():
    strategy = DeliveryRetry()

    def wait(attempts: int) -> float | None:
        decision = strategy.get_retry_decision(exception=RuntimeError(), job=context(attempts).job)
        return None if decision is None else (decision.retry_at - timezone.now()).total_seconds()

    assert 8 < wait(0) <= 10 and 18 < wait(1) <= 20 and 3590 < wait(20) <= 3600
    assert wait(30) is None
