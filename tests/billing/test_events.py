"""Billing's outbox events (SPEC §8.10): recorded in the transaction of their change, so a
refused change leaves none and a committed one leaves exactly its own."""

from __future__ import annotations

import re

import pytest

from optiflow.models import Event
from tests.billing.factories import item
from tests.inventory.factories import TaxFactory


@pytest.fixture
def new_events():
    """Types of the events recorded since the last call."""
    seen = {"last": Event.objects.order_by("-id").values_list("id", flat=True).first() or 0}

    def read() -> list[str]:
        rows = list(Event.objects.filter(id__gt=seen["last"]).order_by("id"))
        if rows:
            seen["last"] = rows[-1].pk
        return [row.type for row in rows]

    return read


def test_a_refused_change_records_no_event(api, customer, widget, new_events):
    new_events()
    # The invoice is issued (and its event recorded) before the payment is refused; the
    # rollback takes the event with it.
    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "payment": {"amount": "999.00", "method": "cash"},
        },
    )
    assert response.status_code == 422

    short = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget, 99)]})
    assert short.status_code == 422

    assert new_events() == []


def test_each_committed_change_records_exactly_its_events(api, customer, widget, new_events):
    new_events()

    invoice = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget, 2)]})
    invoice_id = invoice.json()["data"]["id"]
    assert new_events() == ["invoice.created"]

    api.patch(f"/invoices/{invoice_id}", {"notes": "gift"})
    assert new_events() == ["invoice.updated"]

    part = api.post("/payments", {"invoice_id": invoice_id, "amount": "20.00", "method": "cash"})
    assert new_events() == ["payment.received"]

    api.post("/payments", {"invoice_id": invoice_id, "amount": "3.60", "method": "cash"})
    assert new_events() == ["payment.received", "invoice.paid"]

    api.delete(f"/payments/{part.json()['data']['id']}")
    assert new_events() == ["payment.voided"]

    paid_at_once = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "payment": {"amount": "11.80", "method": "cash"},
        },
    )
    assert paid_at_once.status_code == 201
    assert new_events() == ["invoice.created", "payment.received", "invoice.paid"]

    draft = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "status": "draft",
        },
    ).json()["data"]
    api.post(f"/invoices/{draft['id']}/issue")
    api.delete(f"/invoices/{draft['id']}")
    assert new_events() == ["invoice.created", "invoice.updated", "invoice.cancelled"]

    quotation = api.post("/quotations", {"contact_id": customer.pk, "items": [item(widget)]})
    assert new_events() == []
    api.post(f"/quotations/{quotation.json()['data']['id']}/convert")
    assert new_events() == ["invoice.created", "quotation.converted"]


def test_event_objects_are_the_records_as_their_detail_endpoints_showed_them(api, customer, widget):
    invoice = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "payment": {"amount": "11.80", "method": "cash"},
        },
    ).json()["data"]

    created = Event.objects.filter(type="invoice.created").latest("id")
    received = Event.objects.filter(type="payment.received").latest("id")
    paid = Event.objects.filter(type="invoice.paid").latest("id")

    payment_id = received.payload["id"]
    assert received.payload == api.get(f"/payments/{payment_id}").json()["data"]
    assert paid.payload == api.get(f"/invoices/{invoice['id']}").json()["data"] == invoice
    assert paid.payload["status"] == "paid" and len(paid.payload["items"]) == 1
    # A snapshot of the moment: the invoice was not paid yet when it was created.
    assert created.payload["status"] == "pending_payment"
    assert created.payload["amount_due"] == "11.80"
    assert created.workspace_ids == received.workspace_ids == [invoice["workspace_id"]]
    public_ids = {created.public_id, received.public_id, paid.public_id}
    assert len(public_ids) == 3 and all(re.fullmatch("evt_[0-9a-f]{32}", i) for i in public_ids)


def test_deleting_a_draft_is_recorded_as_cancelled_and_deleted(api, customer, widget):
    draft = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "status": "draft",
        },
    ).json()["data"]

    api.delete(f"/invoices/{draft['id']}")

    payload = Event.objects.filter(type="invoice.cancelled").latest("id").payload
    assert (payload["id"], payload["status"], payload["deleted"]) == (draft["id"], "draft", True)


def test_events_rendered_from_the_rows_just_written_equal_the_records_read_back(
    api, customer, widget, gadget, vat
):
    """Issuing and voiding render their events from the rows they hold, not read back
    (``event_record(current=True)``): each equals the detail read right after, over lines that
    exercise every computed column (rates and amounts of discount, several taxes, none)."""
    levy = TaxFactory(name="Levy", rate="2.50")
    lines = [
        item(widget, "1.5", discount_rate="12.5", description="  Padded  "),
        item(widget, 2, discount_amount="0.99", tax_ids=[vat.pk, levy.pk]),
        item(gadget, "0.01", unit_price="0.5"),
    ]
    created = api.post("/invoices", {"contact_id": customer.pk, "items": lines, "notes": "x"})
    assert created.status_code == 201, created.content
    invoice_id = created.json()["data"]["id"]
    shown = api.get(f"/invoices/{invoice_id}").json()["data"]
    assert Event.objects.filter(type="invoice.created").latest("id").payload == shown

    assert api.delete(f"/invoices/{invoice_id}").status_code == 204
    cancelled = Event.objects.filter(type="invoice.cancelled").latest("id").payload
    assert cancelled == api.get(f"/invoices/{invoice_id}").json()["data"]
    assert (cancelled["status"], cancelled["amount_due"]) == ("cancelled", "0.00")
    assert [len(line["taxes"]) for line in cancelled["items"]] == [1, 2, 0]
