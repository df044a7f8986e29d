"""SPEC §9: the tenant admin edits document series; issued documents are read-only there."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import DocumentSeries, Invoice
from tests.billing.factories import item, make_invoice, make_quotation
from tests.conftest import OWNER_PASSWORD

ADMIN = "/t/acme/admin/billing"


@pytest.fixture
def admin_client(client, tenant):
    assert client.login(email=tenant.owner.email, password=OWNER_PASSWORD)
    return client


def series_form(series: DocumentSeries, **changes) -> dict:
    fields = [
        "name",
        "document_type",
        "prefix",
        "next_number",
        "padding",
        "is_default",
        "is_active",
    ]
    data = {name: getattr(series, name) for name in fields}
    data.update(end_number="", valid_until="", **changes)
    return {k: v for k, v in data.items() if v is not False}


def test_a_series_is_edited_in_the_admin_under_the_api_rules(admin_client):
    invoices = DocumentSeries.objects.get(prefix="INV-")
    export = DocumentSeries.objects.create(name="Export", document_type="invoice", prefix="EXP-")

    switched = admin_client.post(
        f"{ADMIN}/documentseries/{export.pk}/change/", series_form(export, is_default=True)
    )
    clash = admin_client.post(
        f"{ADMIN}/documentseries/{export.pk}/change/", series_form(export, prefix="INV-EU-")
    )

    assert switched.status_code == 302, switched.context["adminform"].form.errors
    assert DocumentSeries.objects.get(is_default=True, document_type="invoice") == export
    assert not DocumentSeries.objects.get(pk=invoices.pk).is_default
    assert clash.status_code == 200
    assert b"overlaps the prefix INV-" in clash.content
    assert admin_client.post(f"{ADMIN}/documentseries/{export.pk}/delete/").status_code == 403


def test_documents_are_viewable_but_read_only(admin_client, owner, main, customer, widget):
    invoice = make_invoice(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[item(widget)],
        payment={"amount": Decimal("5.00"), "method": "cash"},
    )
    quotation = make_quotation(workspace=main, actor=owner, contact=customer, items=[item(widget)])

    for path in (
        f"invoice/{invoice.pk}",
        f"quotation/{quotation.pk}",
        f"payment/{invoice.payments.get().pk}",
    ):
        page = admin_client.get(f"{ADMIN}/{path}/change/")
        assert page.status_code == 200
        assert b'name="_save"' not in page.content
    assert admin_client.get(f"{ADMIN}/invoice/").status_code == 200
    assert admin_client.get(f"{ADMIN}/invoice/add/").status_code == 403
    notes = admin_client.post(f"{ADMIN}/invoice/{invoice.pk}/change/", {"notes": "edited"})
    assert notes.status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).notes == ""
