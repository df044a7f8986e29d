"""Real concurrent transactions against committed data (SPEC §8.5-§8.8): no oversold stock,
unique gapless numbers, no overpaid invoice. Each test makes its own rows in the committed
tenant, including its own series, so its numbers start at 1 whatever ran before."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.test import Client

from billing.models import DocumentSeries, Invoice, Payment
from billing.services.numbering import document_series_create
from tests.billing.factories import item, make_invoice, product_with_stock
from tests.conftest import run_concurrently
from tests.contacts.factories import ContactFactory
from tests.factories import ApiClient
from tests.inventory.factories import ProductFactory, ledger_mismatches, level_quantity

pytestmark = pytest.mark.concurrency


def client_for(tenant) -> ApiClient:
    """One client per thread: each request then runs on that thread's own connection."""
    return ApiClient(Client(), tenant.token, prefix=f"/t/{tenant.tenant.slug}")


def fresh_series(document_type: str) -> DocumentSeries:
    prefix = f"T{uuid.uuid4().hex[:8].upper()}-"
    return document_series_create(name=prefix, document_type=document_type, prefix=prefix)


def test_simultaneous_invoices_never_oversell_and_get_consecutive_numbers(committed_tenant):
    conc = committed_tenant
    product = product_with_stock(conc.workspace, "10", actor=conc.owner, price="5.00")
    customer = ContactFactory()
    series = fresh_series("invoice")
    body = {
        "contact_id": customer.pk,
        "items": [item(product, 1)],
        "document_series_id": series.pk,
    }

    responses = run_concurrently(
        conc.tenant, lambda i: client_for(conc).post("/invoices", body), 20
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [422] * 10
    refused = [r.json() for r in responses if r.status_code == 422]
    assert all(list(r["errors"]) == ["items.0.quantity"] for r in refused)
    numbers = sorted(r.json()["data"]["document_number"] for r in responses if r.status_code == 201)
    assert numbers == [series.format_number(n) for n in range(1, 11)]
    assert level_quantity(product, conc.workspace) == Decimal("0.00")
    assert Invoice.objects.filter(document_series=series).count() == 10
    assert DocumentSeries.objects.get(pk=series.pk).next_number == 11
    assert ledger_mismatches() == []


def test_simultaneous_payments_never_exceed_the_total(committed_tenant):
    conc = committed_tenant
    service = ProductFactory(product_type="service", track_stock=False, price="100.00")
    invoice = make_invoice(
        workspace=conc.workspace, actor=conc.owner, contact=ContactFactory(), items=[item(service)]
    )
    body = {"invoice_id": invoice.pk, "amount": "30.00", "method": "cash"}

    responses = run_concurrently(
        conc.tenant, lambda i: client_for(conc).post("/payments", body), 10
    )

    assert sorted(r.status_code for r in responses) == [201] * 3 + [422] * 7
    refused = [r.json() for r in responses if r.status_code == 422]
    assert all(list(r["errors"]) == ["amount"] for r in refused)
    invoice.refresh_from_db()
    assert (invoice.amount_paid, invoice.status) == (Decimal("90.00"), "partially_paid")
    paid = Payment.objects.filter(invoice=invoice, status="completed")
    assert sum(p.amount for p in paid) == Decimal("90.00")
    numbers = sorted(int(p.payment_number.removeprefix("PAY-")) for p in paid)
    assert numbers == list(range(numbers[0], numbers[0] + 3))
