"""Lock and statement timeouts (SPEC §5): a request stuck behind another's lock, or running one
statement too long, answers 503 with Retry-After in bounded time — or 409 when the lock is
on the very record it changes — and the server keeps serving everyone else meanwhile. Code
outside requests (migrations, commands, workers) is not limited.

The locks are held by a separate connection, as a long request of another client would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client, override_settings

from billing.models import DocumentSeries, Invoice
from optiflow.db.timeouts import (
    LOCK_TIMED_OUT,
    STATEMENT_TIMED_OUT,
    Timeouts,
    database_timeout,
    database_timeouts,
)
from tests.billing.factories import item, make_invoice
from tests.conftest import test_database_url
from tests.contacts.factories import ContactFactory
from tests.factories import ApiClient
from tests.inventory.factories import ProductFactory
from tests.servers import call, web_servers

pytestmark = pytest.mark.concurrency

#: How much later than its timeout a request may answer on a loaded 2-core machine.
MARGIN = 5.0


@contextmanager
def row_locked(schema: str, table: str, pk: int) -> Iterator[psycopg.Connection]:
    """Hold a row lock in another session until the block ends."""
    with psycopg.connect(test_database_url()) as holder:
        holder.execute(f'SELECT 1 FROM "{schema}"."{table}" WHERE id = %s FOR UPDATE', [pk])
        yield holder
        holder.rollback()


def lock_waiters() -> int:
    # In autocommit, so each call reads a fresh snapshot of the activity view.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def wait_for(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def invoice_body(committed_tenant) -> dict:
    service = ProductFactory(product_type="service", track_stock=False)
    return {"contact_id": ContactFactory().pk, "items": [item(service)]}


def default_series_id(document_type: str) -> int:
    return DocumentSeries.objects.get(document_type=document_type, is_default=True).pk


def test_a_request_blocked_on_a_lock_answers_503_in_time_while_others_are_served(
    committed_tenant, provisioned, invoice_body
):
    conc, acme = committed_tenant, provisioned["acme"]
    invoices = Invoice.objects.count()
    env = {"OPTIFLOW_DB_LOCK_TIMEOUT_MS": "3000", "OPTIFLOW_RATE_LIMIT_USER": "1000/min"}

    def create_invoice() -> tuple[int, dict, dict, float]:
        started = time.monotonic()
        status, headers, body = call(
            "POST", f"{url}/t/conc/api/v1/invoices", token=conc.token, body=invoice_body
        )
        return status, headers, body, time.monotonic() - started

    with (
        web_servers(env) as [url],
        row_locked(conc.tenant.schema_name, "billing_documentseries", default_series_id("invoice")),
        ThreadPoolExecutor(2) as pool,
    ):
        # Two of the server's four threads wait on the invoice numbering lock...
        blocked = [pool.submit(create_invoice) for _ in range(2)]
        wait_for(lambda: lock_waiters() == 2, "both requests to wait on the lock")
        # ...while another tenant is served at once.
        status, _, me = call("GET", f"{url}/t/acme/api/v1/me", token=acme.token)
        assert status == 200 and me["data"]["email"] == "owner@acme.test"
        assert not any(future.done() for future in blocked)
        answers = [future.result(timeout=60) for future in blocked]

    for status, headers, body, elapsed in answers:
        assert status == 503
        assert headers["Retry-After"] == str(LOCK_TIMED_OUT.retry_after)
        assert body == {"message": LOCK_TIMED_OUT.message}
        assert 3.0 <= elapsed < 3.0 + MARGIN
    assert Invoice.objects.count() == invoices  # nothing was written, no number taken


@override_settings(OPTIFLOW_DB_LOCK_TIMEOUT_MS=500)
def test_a_writer_kept_waiting_by_another_on_the_same_invoice_gets_409(committed_tenant):
    conc = committed_tenant
    service = ProductFactory(product_type="service", track_stock=False)
    draft = make_invoice(
        workspace=conc.workspace,
        actor=conc.owner,
        contact=ContactFactory(),
        items=[item(service)],
        draft=True,
    )
    api = ApiClient(Client(), conc.token, prefix="/t/conc")

    with row_locked(conc.tenant.schema_name, "billing_invoice", draft.pk):
        started = time.monotonic()
        response = api.patch(f"/invoices/{draft.pk}", {"notes": "changed"})
        elapsed = time.monotonic() - started

    assert response.status_code == 409
    assert response.json() == {"message": "Another request is changing this invoice; retry it."}
    assert 0.5 <= elapsed < 0.5 + MARGIN
    draft.refresh_from_db()
    assert draft.notes == ""


@override_settings(OPTIFLOW_DB_LOCK_TIMEOUT_MS=0, OPTIFLOW_DB_STATEMENT_TIMEOUT_MS=500)
def test_a_request_past_the_statement_timeout_answers_503(committed_tenant, invoice_body):
    """With no lock timeout, the wait for the lock is what runs past the statement timeout."""
    conc = committed_tenant
    api = ApiClient(Client(), conc.token, prefix="/t/conc")

    with row_locked(
        conc.tenant.schema_name, "billing_documentseries", default_series_id("invoice")
    ):
        started = time.monotonic()
        response = api.post("/invoices", invoice_body)
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response["Retry-After"] == str(STATEMENT_TIMED_OUT.retry_after)
    assert response.json() == {"message": STATEMENT_TIMED_OUT.message}
    assert 0.5 <= elapsed < 0.5 + MARGIN


def test_a_slow_statement_is_canceled_at_the_statement_timeout(committed_tenant):
    started = time.monotonic()
    with (
        database_timeouts(Timeouts(statement_ms=300)),
        connection.cursor() as cursor,
        pytest.raises(OperationalError) as error,
    ):
        cursor.execute("SELECT pg_sleep(30)")
    assert database_timeout(error.value) is STATEMENT_TIMED_OUT
    assert time.monotonic() - started < 0.3 + MARGIN


def test_work_outside_a_request_is_not_limited(committed_tenant):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
        )
        limits = cursor.fetchone()
    with connection.connection.cursor() as raw:  # the server's own settings, unprefixed
        raw.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
        assert raw.fetchone() == limits
