"""``Idempotency-Key`` (SPEC §5): a retried ``POST`` replays the stored answer instead of doing
the work again; the result is stored in the transaction of the change, so it survives a lost
answer; a different request under the same key is a ``422``, one still in flight a ``409``."""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from billing.models import DocumentSeries, Invoice
from billing.services.numbering import document_series_create
from idempotency.models import IdempotencyKey
from idempotency.services import idempotency_key_purge
from inventory.models import StockMovement
from tests.billing.factories import item, product_with_stock
from tests.contacts.factories import ContactFactory
from tests.factories import ApiClient, errors
from tests.inventory.factories import level_quantity
from tests.servers import web_servers

KEY = "Idempotency-Key"


def keyed(key: str) -> dict[str, str]:
    return {KEY: key}


@pytest.fixture
def invoice_body(owner, main) -> dict:
    product = product_with_stock(main, "10", actor=owner, price="4.00")
    return {"contact_id": ContactFactory().pk, "items": [item(product, 3)]}


def test_a_retry_replays_the_first_answer_and_does_the_work_once(api, invoice_body, main):
    first = api.post("/invoices", invoice_body, headers=keyed("order-42"))
    assert first.status_code == 201, first.content
    assert KEY not in first and "Idempotent-Replayed" not in first

    retry = api.post("/invoices", invoice_body, headers=keyed("order-42"))
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert retry["ETag"] == first["ETag"]
    [invoice] = Invoice.objects.all()
    assert StockMovement.objects.filter(invoice_id=invoice.pk).count() == 1
    assert level_quantity(invoice.items.get().product, main) == Decimal("7.00")


def test_the_body_is_compared_as_parsed_not_as_spelled(api, invoice_body):
    assert api.post("/invoices", invoice_body, headers=keyed("k")).status_code == 201
    respelled = json.dumps(dict(reversed(list(invoice_body.items()))), indent=2)
    retry = api.client.post(
        api.url("/invoices"),
        respelled,
        content_type="application/json",
        headers=api.headers(keyed("k")),
    )
    assert (retry.status_code, retry["Idempotent-Replayed"]) == (201, "true")
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda body: ("/invoices", {**body, "notes": "another"}),  # another body
        lambda body: ("/invoices?include=contact", body),  # another query
        lambda body: ("/quotations", body),  # another path
    ],
)
def test_the_key_of_another_request_is_422_and_nothing_is_written(api, invoice_body, change):
    assert api.post("/invoices", invoice_body, headers=keyed("k-1")).status_code == 201
    path, body = change(invoice_body)
    response = api.post(path, body, headers=keyed("k-1"))
    assert errors(response) == {
        KEY: ["This Idempotency-Key was used for a different request; use a new key."]
    }
    assert Invoice.objects.count() == 1
    assert not Invoice.objects.filter(notes="another").exists()


def test_errors_are_not_stored_so_the_fixed_request_may_use_the_key(api, invoice_body):
    shortage = {**invoice_body, "items": [{**invoice_body["items"][0], "quantity": "11"}]}
    assert api.post("/invoices", shortage, headers=keyed("k-2")).status_code == 422
    assert not IdempotencyKey.objects.exists()
    fixed = api.post("/invoices", invoice_body, headers=keyed("k-2"))
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed
    assert Invoice.objects.count() == 1


def test_keys_belong_to_their_user(api, member_api, invoice_body):
    assert api.post("/invoices", invoice_body, headers=keyed("shared")).status_code == 201
    clerk = member_api(permissions=["invoices:create"])
    second = clerk.post("/invoices", invoice_body, headers=keyed("shared"))
    assert second.status_code == 201 and "Idempotent-Replayed" not in second
    assert Invoice.objects.count() == 2


def test_actions_and_other_resources_replay_too(api, invoice_body):
    draft = api.post("/invoices", {**invoice_body, "status": "draft"}).json()["data"]
    issue = [api.post(f"/invoices/{draft['id']}/issue", {}, headers=keyed("issue")) for _ in "ab"]
    assert [r.status_code for r in issue] == [200, 200]
    assert issue[1]["Idempotent-Replayed"] == "true"
    body = {"invoice_id": draft["id"], "amount": "1.00", "method": "cash"}
    payments = [api.post("/payments", body, headers=keyed("pay")) for _ in "ab"]
    assert [r.status_code for r in payments] == [201, 201]
    assert payments[0].json() == payments[1].json()
    assert Invoice.objects.get().amount_paid == Decimal("1.00")


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "tab\there"])
def test_a_malformed_key_is_400(api, invoice_body, key):
    response = api.post("/invoices", invoice_body, headers=keyed(key))
    assert response.status_code == 400
    assert response.json() == {
        "message": "Idempotency-Key must be 1 to 255 printable ASCII characters."
    }
    assert not Invoice.objects.exists()


def test_a_255_character_key_of_any_printable_ascii_is_accepted(api, invoice_body):
    key = "".join(chr(c) for c in range(0x20, 0x7F)) * 2 + "x" * 65
    assert len(key) == 255
    assert api.post("/invoices", invoice_body, headers=keyed(key)).status_code == 201
    assert api.post("/invoices", invoice_body, headers=keyed(key))["Idempotent-Replayed"] == "true"


def test_other_methods_ignore_the_header(api, invoice_body):
    created = api.post("/invoices", invoice_body).json()["data"]
    for _ in "ab":
        response = api.patch(f"/invoices/{created['id']}", {"notes": "x"}, headers=keyed("p"))
        assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert not IdempotencyKey.objects.exists()


def test_a_result_older_than_a_day_counts_as_absent(api, invoice_body):
    assert api.post("/invoices", invoice_body, headers=keyed("old")).status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=24, seconds=1))
    again = api.post("/invoices", invoice_body, headers=keyed("old"))
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert Invoice.objects.count() == 2
    [stored] = IdempotencyKey.objects.all()  # the expired result was replaced
    assert json.loads(stored.response_body) == again.json()


def test_the_purge_deletes_expired_results_only(api, invoice_body):
    for key in ("fresh", "stale"):
        assert api.post("/invoices", invoice_body, headers=keyed(key)).status_code == 201
    IdempotencyKey.objects.filter(key="stale").update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    assert idempotency_key_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    later = timezone.now() + dt.timedelta(hours=24, minutes=1)
    assert idempotency_key_purge(now=later) == 1


def test_the_purge_command_covers_every_tenant(api, invoice_body, tenant):
    assert api.post("/invoices", invoice_body, headers=keyed("cmd")).status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(days=2))
    out = io.StringIO()
    call_command("idempotency_purge", stdout=out)
    connection.set_tenant(tenant.tenant)  # the command leaves each schema as it found it
    assert f"{tenant.tenant.slug}: 1 expired result(s) deleted." in out.getvalue()
    assert not IdempotencyKey.objects.exists()


# --- against committed data: concurrency and lost answers -----------------------------------


def fresh_series() -> DocumentSeries:
    prefix = f"K{uuid.uuid4().hex[:8].upper()}-"
    return document_series_create(name=prefix, document_type="invoice", prefix=prefix)


def committed_invoice_body(conc) -> tuple[dict, DocumentSeries]:
    product = product_with_stock(conc.workspace, "10", actor=conc.owner, price="2.00")
    series = fresh_series()
    body = {
        "contact_id": ContactFactory().pk,
        "items": [item(product, 1)],
        "document_series_id": series.pk,
    }
    return body, series


def start(tenant, work: Callable[[], object]) -> tuple[threading.Thread, list]:
    """``work()`` in a thread of its own, on its own connection in ``tenant``'s schema."""
    outcome: list = []

    def target() -> None:
        try:
            connection.set_tenant(tenant)
            outcome.append(work())
        except Exception as error:  # handed to the test to assert on
            outcome.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def a_lock_is_awaited() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        return cursor.fetchone()[0] > 0


@pytest.mark.concurrency
def test_a_retry_while_the_first_request_runs_is_409_and_one_invoice_is_made(committed_tenant):
    conc = committed_tenant
    body, series = committed_invoice_body(conc)
    headers = keyed(f"in-flight-{uuid.uuid4()}")

    def post():
        return ApiClient(Client(), conc.token, prefix=f"/t/{conc.tenant.slug}").post(
            "/invoices", body, headers=headers
        )

    # Hold the series row, so the first request stops inside its transaction (after taking
    # the key) when it numbers the invoice; the retry then arrives while it is in flight.
    with transaction.atomic():
        DocumentSeries.objects.select_for_update().get(pk=series.pk)
        first, first_outcome = start(conc.tenant, post)
        wait_for(a_lock_is_awaited, "the first request to wait for the series row")
        retry, retry_outcome = start(conc.tenant, post)
        retry.join(timeout=60)
        [in_flight] = retry_outcome
        assert in_flight.status_code == 409, in_flight.content
        assert in_flight.json() == {
            "message": "A request with this Idempotency-Key is still in progress; retry later."
        }
    first.join(timeout=60)
    [created] = first_outcome
    assert created.status_code == 201, created.content
    assert Invoice.objects.filter(document_series=series).count() == 1

    later = post()
    assert (later.status_code, later["Idempotent-Replayed"]) == (201, "true")
    assert later.json() == created.json()
    assert Invoice.objects.filter(document_series=series).count() == 1


def raw_post(url: str, path: str, body: bytes, headers: dict[str, str]) -> socket.socket:
    """Send a POST and return the open socket, its answer unread."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


@pytest.mark.concurrency
def test_a_key_retried_after_the_answer_was_lost_replays_it(committed_tenant):
    """The client's connection dies after the server committed, before it read the answer
    (a timeout, a dropped line): the retry gets the stored answer, not a second invoice."""
    conc = committed_tenant
    body, series = committed_invoice_body(conc)
    key = f"lost-{uuid.uuid4()}"
    path = f"/t/{conc.tenant.slug}/api/v1/invoices"
    headers = {
        "Authorization": f"Bearer {conc.token}",
        "Content-Type": "application/json",
        KEY: key,
    }
    with web_servers() as [url]:
        sock = raw_post(url, path, json.dumps(body).encode(), headers)
        wait_for(lambda: IdempotencyKey.objects.filter(key=key).exists(), "the commit")
        # Reset the connection without reading a byte of the answer.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()

        host, port = url.removeprefix("http://").split(":")
        retry = http.client.HTTPConnection(host, int(port), timeout=30)
        retry.request("POST", path, json.dumps(body), headers)
        answer = retry.getresponse()
        replayed = json.loads(answer.read())
        retry.close()

    assert (answer.status, answer.getheader("Idempotent-Replayed")) == (201, "true")
    [invoice] = Invoice.objects.filter(document_series=series)
    assert replayed["data"]["id"] == invoice.pk
    assert replayed["data"]["document_number"] == series.format_number(1)
    assert StockMovement.objects.filter(invoice_id=invoice.pk).count() == 1
