"""Deliveries made by real worker processes (``manage.py procrastinate worker``, as ``make run``
starts them) from committed changes, to a real receiver on loopback (SPEC §8.10)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import pytest
from django_tenants.utils import tenant_context
from pytest_httpserver import HTTPServer
from werkzeug import Response

from optiflow.models import Event
from tests.billing.factories import item, product_with_stock
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import ProductFactory
from tests.servers import Worker, free_port, workers
from tests.webhooks.conftest import Receiver, adjust, wait_until
from webhooks.models import WebhookAttempt, WebhookDelivery

#: Long enough that no delivery runs out of attempts while a test keeps its receiver down.
RETRY_EVERY_SECOND = ",".join(["1"] * 30)


@pytest.fixture(scope="module")
def worker(provisioned) -> Iterator[Worker]:
    """One worker for the module's tests, retrying every second."""
    with workers({"OPTIFLOW_WEBHOOK_RETRY_SCHEDULE": RETRY_EVERY_SECOND}) as [started]:
        yield started


def verify_signature(header: str, body: bytes, secret: str) -> None:
    """The receiver's side of SPEC §8.10, written out here rather than borrowed from the code
    under test: ``t={unix},v1={hex HMAC-SHA256 of "{t}.{body}" keyed with the secret}``."""
    fields = [part.split("=", 1) for part in header.split(",")]
    timestamps = [value for key, value in fields if key == "t"]
    signatures = [value for key, value in fields if key == "v1"]
    assert len(timestamps) == 1 and signatures, header
    expected = hmac.new(
        secret.encode(), timestamps[0].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert any(hmac.compare_digest(expected, signature) for signature in signatures), header
    assert abs(time.time() - int(timestamps[0])) < 300, header  # fresh: replays are refused


def test_a_paid_invoice_delivers_created_and_paid_signed(
    worker, committed_tenant, hooks_for, receiver
):
    hooks = hooks_for(committed_tenant, receiver.url, ["invoice.created", "invoice.paid"])
    product = product_with_stock(hooks.workspace, "5", actor=committed_tenant.owner, price="10")
    invoice = hooks.api.post(
        "/invoices",
        {
            "contact_id": ContactFactory().pk,
            "items": [item(product, 2)],
            "payment": {"amount": "20.00", "method": "cash"},
        },
    )
    assert invoice.status_code == 201, invoice.content

    wait_until(lambda: len(receiver.accepted) == 2, what=f"2 deliveries; {worker.output()}")

    requests = {request.get_json()["type"]: request for request in receiver.requests}
    assert set(requests) == {"invoice.created", "invoice.paid"}  # no payment.received
    for type, request in requests.items():
        body = request.get_data()
        verify_signature(request.headers["X-OptiFlow-Signature"], body, hooks.subscription.secret)
        event = json.loads(body)
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == "OptiFlow-Webhooks/1"
        assert request.headers["X-OptiFlow-Event-Id"] == event["id"]
        delivery = WebhookDelivery.objects.get(pk=request.headers["X-OptiFlow-Delivery-Id"])
        assert delivery.subscription_id == hooks.subscription.pk
        assert delivery.event.public_id == event["id"]
        # The very event the feed shows; its object, the invoice as its detail showed it.
        assert event == hooks.api.get(f"/events/{event['id']}").json()["data"]
        assert (event["type"], event["workspace_id"]) == (type, hooks.workspace.pk)
    assert requests["invoice.paid"].get_json()["data"]["object"] == invoice.json()["data"]
    wait_until(lambda: all(d.status == "succeeded" for d in hooks.deliveries()))
    assert sorted(d.attempts for d in hooks.deliveries()) == [1, 1]


def test_a_refused_change_delivers_nothing(worker, committed_tenant, hooks_for, receiver):
    hooks = hooks_for(committed_tenant, receiver.url, ["*"])
    customer = ContactFactory()
    scarce = ProductFactory(price="10.00")  # tracked, never stocked
    service = ProductFactory(product_type="service", track_stock=False, price="10.00")

    short = hooks.api.post("/invoices", {"contact_id": customer.pk, "items": [item(scarce)]})
    assert short.status_code == 422, short.content
    # Issued, then refused as a whole because its payment exceeds the total.
    overpaid = hooks.api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(service)],
            "payment": {"amount": "99.00", "method": "cash"},
        },
    )
    assert overpaid.status_code == 422, overpaid.content
    assert hooks.deliveries() == []

    # The worker is alive and delivering: a change that commits arrives, alone.
    kept = hooks.api.post("/invoices", {"contact_id": customer.pk, "items": [item(service)]})
    assert kept.status_code == 201, kept.content
    wait_until(lambda: len(receiver.accepted) == 1, what=f"the kept invoice; {worker.output()}")
    (delivery,) = hooks.deliveries()
    assert receiver.event_ids() == [delivery.event.public_id]
    assert delivery.event.payload["id"] == kept.json()["data"]["id"]


def test_receiver_down_then_up_gets_every_event_exactly_once(
    worker, committed_tenant, second_committed_tenant, hooks_for, http_server
):
    """Connection refused, then 503s, each for at least two retry periods, then 200: every
    event arrives, each accepted once, and the log shows every failed attempt. Meanwhile the
    same worker delivers a second tenant's events to that tenant's receiver alone."""
    port = free_port()  # nothing listens there yet: connection refused
    hooks = hooks_for(committed_tenant, f"http://127.0.0.1:{port}/hook", ["stock.adjusted"])
    other_receiver = Receiver(http_server, "/other")
    other = hooks_for(second_committed_tenant, other_receiver.url, ["stock.adjusted"])
    adjust(hooks, ProductFactory().pk, 4)
    expected = set(
        Event.objects.filter(type="stock.adjusted", workspace_ids=[hooks.workspace.pk]).values_list(
            "public_id", flat=True
        )
    )
    with tenant_context(second_committed_tenant.tenant):
        adjust(other, ProductFactory().pk, 1)
        (other_event,) = Event.objects.filter(workspace_ids=[other.workspace.pk])

    def each_has(count: int, status: int | None) -> bool:
        deliveries = hooks.deliveries()
        return len(deliveries) == 4 and all(
            WebhookAttempt.objects.filter(delivery=d, response_status=status).count() >= count
            for d in deliveries
        )

    wait_until(lambda: each_has(2, None), what=f"refused attempts; {worker.output()}")
    server = HTTPServer("127.0.0.1", port, threaded=True)
    receiver = Receiver(server)
    receiver.answer = lambda request: Response(status=503)
    server.start()
    try:
        wait_until(lambda: each_has(2, 503), what=f"503 attempts; {worker.output()}")
        receiver.answer = lambda request: Response(status=200)
        wait_until(lambda: all(d.status == "succeeded" for d in hooks.deliveries()))
    finally:
        server.stop()

    assert len(expected) == 4 and receiver.accepted == dict.fromkeys(expected, 1)
    for delivery in hooks.deliveries():
        log = list(delivery.attempt_log.order_by("id"))
        statuses = [attempt.response_status for attempt in log]
        first_503 = statuses.index(503)
        assert first_503 >= 2 and set(statuses[:first_503]) == {None}, statuses
        assert set(statuses[first_503:-1]) == {503} and statuses[-1] == 200, statuses
        assert all("ConnectError" in attempt.error for attempt in log[:first_503])
        assert delivery.attempts == len(log)
    # One worker, two tenants: the other tenant's event reached its own receiver only.
    assert other_receiver.event_ids() == [other_event.public_id]
    assert other_event.public_id not in receiver.event_ids()
