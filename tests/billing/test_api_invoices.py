"""``/invoices`` (SPEC §8.7): issuing, drafts, updates with stock reconciliation, voiding,
the list grammar and workspace scoping, through real URLs and tokens."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Invoice
from billing.serializers import DocumentItemInputSerializer, InvoiceCreateSerializer
from inventory.models import StockMovement
from inventory.services import tax_update
from optiflow.models import Event
from tests.billing.factories import billing_state, item, make_invoice, product_with_stock
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import CategoryFactory, ProductFactory, TaxFactory, level_quantity

D = Decimal


def movements(invoice_id: int) -> list[tuple[str, str, Decimal]]:
    return list(
        StockMovement.objects.filter(invoice_id=invoice_id)
        .order_by("id")
        .values_list("type", "product__name", "quantity")
    )


# --- issuing --------------------------------------------------------------------------------


def test_creating_an_invoice_issues_it_with_computed_amounts_and_takes_stock(
    api, main, customer, widget, gadget
):
    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 3, discount_rate="10"), item(gadget, 2, discount_amount="5.00")],
            "due_date": "2099-01-31",
            "total_amount": "1.00",  # computed by the server, never taken from the client
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()["data"]
    assert body["document_number"] == "INV-0001"
    assert body["status"] == "pending_payment"
    assert body["workspace_id"] == main.pk
    assert body["currency"] == "USD"
    assert body["issue_date"] == timezone.localdate().isoformat()
    # Widget: 30.00 - 3.00 = 27.00, VAT 18% 4.86. Gadget: 50.00 - 5.00 = 45.00, no tax.
    assert (body["subtotal_amount"], body["discount_amount"], body["tax_amount"]) == (
        "80.00",
        "8.00",
        "4.86",
    )
    assert (body["total_amount"], body["amount_paid"], body["amount_due"]) == (
        "76.86",
        "0.00",
        "76.86",
    )
    assert body["is_overdue"] is False
    widget_line, gadget_line = body["items"]
    assert widget_line | {"id": None} == {
        "id": None,
        "product_id": widget.pk,
        "description": "Widget",
        "quantity": "3.00",
        "unit_price": "10.00",
        "discount_rate": "10.00",
        "discount_amount": "3.00",
        "subtotal": "30.00",
        "tax_amount": "4.86",
        "total": "31.86",
        "taxes": [
            {"tax_id": widget.default_tax_id, "name": "VAT", "rate": "18.00", "amount": "4.86"}
        ],
    }
    assert (gadget_line["discount_rate"], gadget_line["discount_amount"]) == (None, "5.00")
    assert gadget_line["taxes"] == []
    assert movements(body["id"]) == [("sale", "Widget", D("-3.00")), ("sale", "Gadget", D("-2.00"))]
    assert StockMovement.objects.filter(invoice_id=body["id"]).first().reference == "INV-0001"
    assert level_quantity(widget, main) == D("7.00")
    assert level_quantity(gadget, main) == D("3.00")


def test_line_defaults_can_be_overridden_and_taxes_chosen_per_line(api, customer, widget):
    reduced = TaxFactory(name="Reduced", rate="5.00")
    levy = TaxFactory(name="Levy", rate="2.50")

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [
                item(
                    widget,
                    "1.5",
                    unit_price="20.00",
                    description="Widget, gift-wrapped",
                    tax_ids=[reduced.pk, levy.pk],
                ),
                item(widget, 1, tax_ids=[]),
            ],
        },
    )

    assert response.status_code == 201, response.json()
    first, second = response.json()["data"]["items"]
    assert (first["description"], first["unit_price"], first["subtotal"]) == (
        "Widget, gift-wrapped",
        "20.00",
        "30.00",
    )
    assert [(t["name"], t["rate"], t["amount"]) for t in first["taxes"]] == [
        ("Reduced", "5.00", "1.50"),
        ("Levy", "2.50", "0.75"),
    ]
    assert (first["tax_amount"], first["total"]) == ("2.25", "32.25")
    assert (second["taxes"], second["total"]) == ([], "10.00")


def test_a_line_keeps_the_tax_rate_it_was_issued_with(api, customer, widget, vat):
    invoice_id = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]}).json()[
        "data"
    ]["id"]

    tax_update(tax=vat, data={"rate": D("25.00"), "name": "VAT (new)"})

    body = api.get(f"/invoices/{invoice_id}").json()["data"]
    assert body["items"][0]["taxes"][0] | {"tax_id": None} == {
        "tax_id": None,
        "name": "VAT",
        "rate": "18.00",
        "amount": "1.80",
    }
    assert body["total_amount"] == "11.80"


def test_shortage_on_a_later_line_is_refused_on_that_line_and_writes_nothing(
    api, customer, widget, gadget
):
    before = billing_state()

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 2), item(gadget, 6)],
        },
    )

    assert response.status_code == 422
    body = response.json()
    assert list(body["errors"]) == ["items.1.quantity"]
    assert "5.00 available" in body["errors"]["items.1.quantity"][0]
    assert billing_state() == before  # no invoice, no number, no movement, no level change

    retry = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget, 2)]})
    assert retry.status_code == 201
    assert retry.json()["data"]["document_number"] == "INV-0001"


def test_a_product_that_does_not_track_stock_moves_nothing(api, customer):
    service = ProductFactory(name="Consulting", product_type="service", track_stock=False)

    response = api.post("/invoices", {"contact_id": customer.pk, "items": [item(service, 40)]})

    assert response.status_code == 201
    assert movements(response.json()["data"]["id"]) == []


@pytest.mark.parametrize(
    ("contact_fields", "message"),
    [
        ({"status": "inactive"}, "The contact must be an active customer."),
        ({"contact_type": "supplier"}, "The contact must be an active customer."),
    ],
)
def test_the_contact_must_be_an_active_customer(api, widget, contact_fields, message):
    contact = ContactFactory(**contact_fields)

    response = api.post("/invoices", {"contact_id": contact.pk, "items": [item(widget)]})

    assert response.status_code == 422
    assert response.json()["errors"] == {"contact_id": [message]}


def test_a_contact_of_type_both_can_be_invoiced(api, widget):
    contact = ContactFactory(contact_type="both")
    response = api.post("/invoices", {"contact_id": contact.pk, "items": [item(widget)]})
    assert response.status_code == 201


def test_line_problems_are_reported_per_line(api, customer, widget):
    inactive = ProductFactory(is_active=False)
    retired_tax = TaxFactory(is_active=False)

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [
                item(widget, 1, discount_amount="10.01"),
                item(inactive),
                item(widget, 1, tax_ids=[TaxFactory().pk, retired_tax.pk]),
            ],
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "items.0.discount_amount": ["The discount may not exceed the subtotal (10.00)."],
        "items.1.product_id": ["The product is inactive."],
        "items.2.tax_ids.1": ["The tax is inactive."],
    }


def test_unknown_ids_on_lines_are_reported_per_line_before_the_business_rules(
    api, customer, widget
):
    """Ids are resolved by the input serializer (all lines at once); the business rules
    (inactive products, discounts) are checked once every id names a record."""
    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [
                item(widget, 1, discount_amount="10.01"),
                {"product_id": 999999, "quantity": "1"},
                item(widget, 1, tax_ids=[TaxFactory().pk, 999999]),
            ],
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "items.1.product_id": ["The selected product does not exist."],
        "items.2.tax_ids.1": ["The selected tax does not exist."],
    }


def test_request_shapes_are_validated(api, customer, widget, vat):
    response = api.post(
        "/invoices",
        {
            "contact_id": 999999,
            "items": [],
            "due_date": "2020-01-01",
            "currency": "euro",
            "status": "paid",
        },
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors["contact_id"] == ["The selected contact does not exist."]
    assert set(errors) == {"contact_id", "items", "currency", "status"}

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 0), item(widget, "0.001")],
        },
    )
    assert set(response.json()["errors"]) == {"items.0.quantity", "items.1.quantity"}

    both = item(widget, 1, discount_rate="10", discount_amount="1.00")
    response = api.post("/invoices", {"contact_id": customer.pk, "items": [both]})
    assert response.json()["errors"] == {
        "items.0.discount_amount": ["Send discount_rate or discount_amount, not both."]
    }
    twice = item(widget, 1, tax_ids=[vat.pk, vat.pk])
    response = api.post("/invoices", {"contact_id": customer.pk, "items": [twice]})
    assert response.json()["errors"] == {"items.0.tax_ids": ["A tax appears twice."]}

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "issue_date": "2030-01-10",
            "due_date": "2030-01-09",
        },
    )
    assert response.json()["errors"] == {
        "due_date": ["The due date may not be before the issue date."]
    }


def test_currency_defaults_to_the_tenant_and_can_be_chosen(api, customer, widget):
    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "currency": "eur",
        },
    )
    assert response.json()["data"]["currency"] == "EUR"


# --- drafts ---------------------------------------------------------------------------------


def test_a_draft_has_no_number_and_no_stock_effect_until_issued(api, main, customer, widget):
    draft = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 4)],
            "status": "draft",
        },
    )
    assert draft.status_code == 201
    body = draft.json()["data"]
    assert (body["status"], body["document_number"]) == ("draft", None)
    assert level_quantity(widget, main) == D("10.00")

    issued = api.post(f"/invoices/{body['id']}/issue")

    assert issued.status_code == 200, issued.json()
    body = issued.json()["data"]
    assert (body["status"], body["document_number"]) == ("pending_payment", "INV-0001")
    assert len(body["items"]) == 1
    assert level_quantity(widget, main) == D("6.00")
    again = api.post(f"/invoices/{body['id']}/issue")
    assert again.status_code == 422
    assert again.json() == {
        "message": "Only a draft invoice can be issued.",
        "errors": {"non_field_errors": ["Only a draft invoice can be issued."]},
    }


def test_issuing_a_draft_takes_a_requested_number_and_refuses_a_shortage(
    api, main, customer, widget
):
    draft_id = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 11)],
            "status": "draft",
        },
    ).json()["data"]["id"]

    short = api.post(f"/invoices/{draft_id}/issue")
    assert short.status_code == 422
    assert list(short.json()["errors"]) == ["items.0.quantity"]
    assert Invoice.objects.get(pk=draft_id).status == "draft"

    api.patch(f"/invoices/{draft_id}", {"items": [item(widget, 2)]})
    issued = api.post(f"/invoices/{draft_id}/issue", {"document_number": "INV-0100"})
    assert issued.json()["data"]["document_number"] == "INV-0100"
    next_one = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    assert next_one.json()["data"]["document_number"] == "INV-0101"


def test_a_draft_cannot_carry_a_number_or_a_payment(api, customer, widget):
    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "status": "draft",
            "document_number": "INV-0005",
            "payment": {"amount": "1.00", "method": "cash"},
        },
    )
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["payment"]


def test_issuing_checks_the_contact_again(api, customer, widget):
    draft_id = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "status": "draft",
        },
    ).json()["data"]["id"]
    customer.status = "inactive"
    customer.save()

    response = api.post(f"/invoices/{draft_id}/issue")

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["contact_id"]


# --- payment on create ----------------------------------------------------------------------


def test_a_first_payment_can_be_recorded_with_the_invoice(api, customer, widget):
    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 2)],
            "payment": {"amount": "23.60", "method": "cash", "reference": "till 3"},
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()["data"]
    assert (body["status"], body["amount_paid"], body["amount_due"]) == ("paid", "23.60", "0.00")
    payment = api.get("/payments", {"filter[invoice_id]": body["id"]}).json()["data"][0]
    assert (payment["payment_number"], payment["amount"], payment["reference"]) == (
        "PAY-0001",
        "23.60",
        "till 3",
    )


def test_a_first_payment_above_the_total_refuses_the_whole_invoice(api, customer, widget):
    before = billing_state()

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 2)],
            "payment": {"amount": "23.61", "method": "cash"},
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "payment.amount": ["The amount may not exceed the amount due (23.60)."]
    }
    assert billing_state() == before


# --- updates --------------------------------------------------------------------------------


def test_updating_an_issued_invoice_reconciles_stock_with_new_movements(
    api, owner, main, customer, widget, gadget
):
    created = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 3), item(gadget, 2)],
        },
    ).json()["data"]
    widget_line = created["items"][0]
    extra = product_with_stock(main, "4", actor=owner, name="Extra", price="1.00")

    response = api.patch(
        f"/invoices/{created['id']}",
        {
            "items": [
                {"id": widget_line["id"], "quantity": "5"},  # +2 sold
                item(extra, 1),  # new line
            ]
        },
    )  # gadget line removed

    assert response.status_code == 200, response.json()
    body = response.json()["data"]
    assert [(line["product_id"], line["quantity"]) for line in body["items"]] == [
        (widget.pk, "5.00"),
        (extra.pk, "1.00"),
    ]
    assert body["items"][0]["id"] == widget_line["id"]
    assert body["items"][0]["taxes"][0]["rate"] == "18.00"
    assert body["total_amount"] == "60.00"  # 50.00 + 9.00 VAT + 1.00
    assert movements(created["id"]) == [
        ("sale", "Widget", D("-3.00")),
        ("sale", "Gadget", D("-2.00")),
        ("sale", "Widget", D("-2.00")),
        ("sale", "Extra", D("-1.00")),
        ("return", "Gadget", D("2.00")),
    ]
    assert (level_quantity(widget, main), level_quantity(gadget, main)) == (D("5.00"), D("5.00"))

    api.patch(f"/invoices/{created['id']}", {"items": [{"id": widget_line["id"], "quantity": "1"}]})
    assert movements(created["id"])[-2:] == [
        ("return", "Widget", D("4.00")),
        ("return", "Extra", D("1.00")),
    ]
    assert level_quantity(widget, main) == D("9.00")


def test_an_update_that_runs_short_changes_nothing(api, customer, widget):
    created = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget, 3)]})
    invoice = created.json()["data"]
    before = billing_state()

    response = api.patch(
        f"/invoices/{invoice['id']}",
        {
            "items": [{"id": invoice["items"][0]["id"], "quantity": "14"}],
            "notes": "more",
        },
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["items.0.quantity"]
    assert billing_state() == before
    assert api.get(f"/invoices/{invoice['id']}").json()["data"]["notes"] == ""


def test_an_invoice_with_payments_or_a_cancelled_one_cannot_change(api, customer, widget):
    paid = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "payment": {"amount": "1.00", "method": "cash"},
        },
    ).json()["data"]
    cancelled = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    api.delete(f"/invoices/{cancelled.json()['data']['id']}")

    for invoice_id in (paid["id"], cancelled.json()["data"]["id"]):
        response = api.patch(f"/invoices/{invoice_id}", {"notes": "late edit"})
        assert response.status_code == 422
        assert response.json()["errors"] == {
            "non_field_errors": [
                "Only a draft, or an issued invoice without payments, can be changed."
            ]
        }


def test_an_issued_invoice_keeps_its_series(api, customer, widget):
    other = api.post(
        "/document-series",
        {
            "name": "Export",
            "document_type": "invoice",
            "prefix": "EXP-",
        },
    ).json()["data"]
    invoice = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})

    response = api.patch(
        f"/invoices/{invoice.json()['data']['id']}",
        {
            "document_series_id": other["id"],
        },
    )

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["document_series_id"]


def test_a_draft_can_change_series_contact_and_lines(api, customer, widget, gadget):
    other_series = api.post(
        "/document-series",
        {
            "name": "Export",
            "document_type": "invoice",
            "prefix": "EXP-",
        },
    ).json()["data"]
    other_customer = ContactFactory()
    draft = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "status": "draft",
        },
    ).json()["data"]

    response = api.put(
        f"/invoices/{draft['id']}",
        {
            "document_series_id": other_series["id"],
            "contact_id": other_customer.pk,
            "items": [item(gadget, 2)],
            "payment_term": "Net 30",
        },
    )

    assert response.status_code == 200, response.json()
    body = response.json()["data"]
    assert (body["document_series_id"], body["contact_id"], body["payment_term"]) == (
        other_series["id"],
        other_customer.pk,
        "Net 30",
    )
    assert [line["product_id"] for line in body["items"]] == [gadget.pk]
    assert StockMovement.objects.filter(invoice_id=draft["id"]).count() == 0
    issued = api.post(f"/invoices/{draft['id']}/issue").json()["data"]
    assert issued["document_number"] == "EXP-0001"


def test_an_unknown_or_repeated_item_id_is_refused(api, customer, widget):
    invoice = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    line_id = invoice.json()["data"]["items"][0]["id"]

    response = api.patch(
        f"/invoices/{invoice.json()['data']['id']}",
        {
            "items": [
                {"id": line_id, "quantity": "1"},
                {"id": line_id, "quantity": "2"},
                {"id": 999999},
                {"quantity": "1"},
            ]
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "items.3.product_id": ["This field is required for a new item."],
    }
    response = api.patch(
        f"/invoices/{invoice.json()['data']['id']}",
        {
            "items": [
                {"id": line_id, "quantity": "1"},
                {"id": line_id, "quantity": "2"},
                {"id": 999999},
            ]
        },
    )
    assert response.json()["errors"] == {
        "items.1.id": ["The item appears twice."],
        "items.2.id": ["This document has no such item."],
    }


# --- void -----------------------------------------------------------------------------------


def test_voiding_cancels_keeps_the_number_and_returns_the_stock(
    api, main, customer, widget, gadget
):
    invoice = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 3), item(gadget, 1)],
        },
    ).json()["data"]

    response = api.delete(f"/invoices/{invoice['id']}")

    assert response.status_code == 204
    assert response.content == b""
    body = api.get(f"/invoices/{invoice['id']}").json()["data"]
    assert (body["status"], body["document_number"], body["amount_due"]) == (
        "cancelled",
        "INV-0001",
        "0.00",
    )
    assert body["cancelled_at"] is not None
    assert movements(invoice["id"])[2:] == [
        ("return", "Widget", D("3.00")),
        ("return", "Gadget", D("1.00")),
    ]
    assert (level_quantity(widget, main), level_quantity(gadget, main)) == (D("10.00"), D("5.00"))
    again = api.delete(f"/invoices/{invoice['id']}")
    assert again.status_code == 422
    assert again.json()["message"] == "The invoice is already cancelled."


def test_an_invoice_with_active_payments_cannot_be_voided(api, customer, widget):
    invoice = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "payment": {"amount": "5.00", "method": "cash"},
        },
    ).json()["data"]

    response = api.delete(f"/invoices/{invoice['id']}")

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "non_field_errors": ["An invoice with payments cannot be voided; void its payments first."]
    }
    payment_id = api.get(f"/invoices/{invoice['id']}/payments").json()["data"][0]["id"]
    assert api.delete(f"/payments/{payment_id}").status_code == 204
    assert api.delete(f"/invoices/{invoice['id']}").status_code == 204


def test_deleting_a_draft_removes_it(api, customer, widget):
    draft = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "status": "draft",
        },
    ).json()["data"]

    assert api.delete(f"/invoices/{draft['id']}").status_code == 204

    assert api.get(f"/invoices/{draft['id']}").status_code == 404
    assert not Invoice.objects.filter(pk=draft["id"]).exists()


# --- reads ----------------------------------------------------------------------------------


def test_overdue_means_past_due_with_an_amount_due_and_issued(api, owner, main, customer, widget):
    past = timezone.localdate() - dt.timedelta(days=1)
    lines = [item(widget)]
    overdue = make_invoice(
        workspace=main, actor=owner, contact=customer, items=lines, issue_date=past, due_date=past
    )
    make_invoice(
        workspace=main,
        actor=owner,
        contact=customer,
        items=lines,
        due_date=past,
        issue_date=past,
        payment={"amount": D("11.80"), "method": "cash"},
    )
    make_invoice(
        workspace=main,
        actor=owner,
        contact=customer,
        items=lines,
        due_date=past,
        issue_date=past,
        draft=True,
    )
    make_invoice(workspace=main, actor=owner, contact=customer, items=lines)

    listed = api.get("/invoices", {"filter[overdue]": "true"}).json()["data"]

    assert [row["id"] for row in listed] == [overdue.pk]
    assert listed[0]["is_overdue"] is True
    not_overdue = api.get("/invoices", {"filter[overdue]": "false"}).json()["data"]
    assert len(not_overdue) == 3
    assert all(row["is_overdue"] is False for row in not_overdue)


def test_filters_sorts_and_smart_search(api, owner, main, customer, widget):
    other = ContactFactory(name="Zed Buyer")
    first = make_invoice(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[item(widget, 1)],
        issue_date=dt.date(2030, 1, 5),
    )
    second = make_invoice(
        workspace=main,
        actor=owner,
        contact=other,
        items=[item(widget, 3)],
        issue_date=dt.date(2030, 2, 5),
    )
    draft = make_invoice(
        workspace=main,
        actor=owner,
        contact=other,
        items=[item(widget, 2)],
        issue_date=dt.date(2030, 3, 5),
        draft=True,
    )

    def ids(params):
        response = api.get("/invoices", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["data"]]

    assert ids({}) == [draft.pk, second.pk, first.pk]  # default: -issue_date
    assert ids({"sort": "total_amount"}) == [first.pk, draft.pk, second.pk]
    assert ids({"sort": "-amount_due"}) == [second.pk, draft.pk, first.pk]
    assert ids({"filter[status]": "draft,pending_payment", "sort": "id"}) == [
        first.pk,
        second.pk,
        draft.pk,
    ]
    assert ids({"filter[status]": "draft"}) == [draft.pk]
    assert ids({"filter[contact_id]": str(customer.pk)}) == [first.pk]
    assert ids({"filter[smart]": "zed"}) == [draft.pk, second.pk]
    assert ids({"filter[smart]": "INV-0002"}) == [second.pk]
    assert ids({"filter[issue_date]": '{"fromDate":"2030-02-01","toDate":"2030-02-28"}'}) == [
        second.pk
    ]
    series_id = str(first.document_series_id)
    assert ids({"filter[document_series_id]": series_id, "sort": "id"}) == [
        first.pk,
        second.pk,
        draft.pk,
    ]
    assert api.get("/invoices", {"filter[status]": "lost"}).status_code == 400
    assert api.get("/invoices", {"sort": "contact"}).status_code == 400
    assert api.get("/invoices", {"include": "stock"}).status_code == 400


def test_includes_embed_related_records(api, owner, main, customer, widget):
    invoice = make_invoice(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[item(widget)],
        payment={"amount": D("1.00"), "method": "cash"},
    )

    plain = api.get("/invoices").json()["data"][0]
    assert "items" not in plain and "contact" not in plain
    assert plain["contact_id"] == customer.pk and plain["created_by_id"] == owner.pk

    every = (
        "items,items.product,items.product.category,items.taxes,contact,payments,"
        "document_series,workspace,created_by"
    )
    row = api.get("/invoices", {"include": every}).json()["data"][0]

    assert row["id"] == invoice.pk
    assert row["contact"]["name"] == "Ada Customer"
    assert "addresses" not in row["contact"]
    assert row["items"][0]["product"]["name"] == "Widget"
    assert "category" in row["items"][0]["product"]
    assert row["items"][0]["taxes"][0]["name"] == "VAT"
    assert row["payments"][0]["amount"] == "1.00"
    assert "invoice" not in row["payments"][0]
    assert row["document_series"]["prefix"] == "INV-"
    assert row["workspace"] == {"id": main.pk, "name": main.name}
    assert row["created_by"]["email"] == owner.email


def test_another_workspaces_invoice_is_not_found(api, owner, branch, customer):
    product = product_with_stock(branch, "5", actor=owner)
    elsewhere = make_invoice(workspace=branch, actor=owner, contact=customer, items=[item(product)])

    assert api.get(f"/invoices/{elsewhere.pk}").status_code == 404
    assert api.delete(f"/invoices/{elsewhere.pk}").status_code == 404
    assert api.get("/invoices").json()["data"] == []
    in_branch = api.get("/invoices", headers={"X-Workspace-ID": str(branch.pk)}).json()["data"]
    assert [row["id"] for row in in_branch] == [elsewhere.pk]


def test_each_action_needs_its_permission(member_api, customer, widget):
    viewer = member_api(permissions=["invoices:view"])
    assert viewer.get("/invoices").status_code == 200
    assert (
        viewer.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]}).status_code
        == 403
    )

    creator = member_api(permissions=["invoices:create"])
    created = creator.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    assert created.status_code == 201
    invoice_id = created.json()["data"]["id"]
    assert creator.delete(f"/invoices/{invoice_id}").status_code == 403
    assert creator.patch(f"/invoices/{invoice_id}", {"notes": "x"}).status_code == 403
    assert creator.get(f"/invoices/{invoice_id}/payments").status_code == 403
    assert (
        member_api(permissions=["payments:view"])
        .get(f"/invoices/{invoice_id}/payments")
        .status_code
        == 200
    )


def test_invoice_list_query_count_is_constant_in_page_size(
    api, owner, main, customer, widget, vat, django_assert_num_queries
):
    levy = TaxFactory(name="Levy", rate="1.00")
    widget.category = CategoryFactory()
    widget.save()
    every = (
        "items,items.product,items.product.category,items.taxes,contact,payments,"
        "document_series,workspace,created_by"
    )

    def add_invoices(count):
        for _ in range(count):
            make_invoice(
                workspace=main,
                actor=owner,
                contact=ContactFactory(),
                items=[
                    item(widget, "0.10", tax_ids=[vat.pk, levy.pk]),
                    item(widget, "0.10"),
                ],
                payment={"amount": D("0.01"), "method": "cash"},
            )

    add_invoices(3)
    api.get("/me")  # the token's last_used_at is written once a minute: not in the count
    with django_assert_num_queries(QUERIES_PER_INVOICE_LIST):
        response = api.get("/invoices", {"include": every, "per_page": 100})
    assert len(response.json()["data"]) == 3

    add_invoices(27)
    with django_assert_num_queries(QUERIES_PER_INVOICE_LIST):
        response = api.get("/invoices", {"include": every, "per_page": 100})
    assert len(response.json()["data"]) == 30


#: The caller (token, user, memberships), count, page, and one query per prefetched relation:
#: items, line taxes, products, categories, contacts, payments, series, workspaces, creators.
QUERIES_PER_INVOICE_LIST = 12


#: ``POST /invoices`` issuing 10 lines: the statement every request pays (its caller: token,
#: user and memberships, with the check of the cached tenant); the contact and the line
#: products; its transaction (SAVEPOINT and RELEASE here, inside the test's transaction; a
#: server's BEGIN and COMMIT are not statements of the log); the default series locked and
#: advanced; the invoice, its lines and their taxes inserted; the stock levels locked, the
#: movements inserted, the levels updated; the event (rendered from the rows just written, not
#: read back), the webhook subscriptions it matches. The answer is the body the event rendered.
STATEMENTS_TO_ISSUE = 15
#: ``DELETE /invoices/{id}`` voiding it: the caller; the invoice as the URL names it; its
#: transaction; the invoice locked with its workspace, its payments checked, its status
#: updated, its lines (with their products) and their taxes read; the levels locked, the
#: movements inserted, the levels updated; the event (rendered from the rows in hand), the
#: webhook subscriptions.
STATEMENTS_TO_VOID = 14


def test_issuing_and_voiding_an_invoice_issues_only_the_statements_they_need(
    api, owner, main, customer, vat
):
    """The pair the issue 16 benchmark times, through the real URLs and headers: no
    statement read twice, no level key read before it is locked, the answer not read again."""
    products = [product_with_stock(main, "100", actor=owner, default_tax=vat) for _ in range(10)]
    body = {"contact_id": customer.pk, "items": [item(product, 1) for product in products]}
    headers = {"X-Workspace-ID": str(main.pk)}
    api.get("/me")  # the first call records the token's last use; measure steady state

    with CaptureQueriesContext(connection) as issuing:
        created = api.post("/invoices", body, headers=headers)
    assert created.status_code == 201, created.content
    with CaptureQueriesContext(connection) as voiding:
        voided = api.send("delete", f"/invoices/{created.json()['data']['id']}", headers=headers)
    assert voided.status_code == 204, voided.content

    statements = {
        name: [query["sql"][:120] for query in captured.captured_queries]
        for name, captured in (("issue", issuing), ("void", voiding))
    }
    assert (len(issuing), len(voiding)) == (STATEMENTS_TO_ISSUE, STATEMENTS_TO_VOID), statements


def test_the_answer_of_a_write_is_the_record_as_its_detail_shows_it(api, customer, widget, gadget):
    """A write answers the body its event rendered (``RecordedDetail``): equal, ETag
    included, to what reading the record afterwards shows, and to the event's object."""
    created = api.post(
        "/invoices",
        {"contact_id": customer.pk, "items": [item(widget, 2), item(gadget, 1)]},
    )
    assert created.status_code == 201, created.content
    invoice_id = created.json()["data"]["id"]
    changed = api.patch(f"/invoices/{invoice_id}", {"notes": "Deliver at the back door."})
    assert changed.status_code == 200, changed.content

    for answer, event_type in ((created, "invoice.created"), (changed, "invoice.updated")):
        event = Event.objects.filter(type=event_type).latest("id")
        assert answer.json()["data"] == event.payload
    shown = api.get(f"/invoices/{invoice_id}")
    assert changed.json() == shown.json()
    assert changed["ETag"] == shown["ETag"]


def test_an_update_cannot_remove_every_line(api, customer, widget):
    invoice = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})

    response = api.patch(f"/invoices/{invoice.json()['data']['id']}", {"items": []})

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["items"]


def test_document_writes_cost_the_same_for_3_lines_as_for_30(api, owner, main, customer, vat):
    """Line products and taxes are resolved for the whole request at once (one query per
    field), never one query per line; so are the rows written."""
    levy = TaxFactory(name="Levy", rate="1.00")
    api.get("/me")  # the first call records the token's last use; measure steady state
    counts = {}
    for lines in (3, 30):
        products = [
            product_with_stock(main, "10", actor=owner, default_tax=vat) for _ in range(lines)
        ]
        # Every other line takes its product's default tax, the others name theirs.
        body = {
            "contact_id": customer.pk,
            "items": [
                item(product, 1, **({"tax_ids": [vat.pk, levy.pk]} if n % 2 else {}))
                for n, product in enumerate(products)
            ],
        }
        counts[lines] = []
        for path in ("/invoices", "/quotations"):
            with CaptureQueriesContext(connection) as queries:
                response = api.post(path, body)
            assert response.status_code == 201, response.content
            counts[lines].append(len(queries))
    assert counts[3] == counts[30]


def test_each_requests_id_fields_share_their_declared_queryset_never_evaluated(
    api, customer, widget
):
    """DRF copies the declared fields for every request; an id field's copy holds the
    declaration's queryset itself (not a deep copy of its query), and resolving ids never
    evaluates that queryset, so no request's rows stay on it for the next."""
    declared = InvoiceCreateSerializer._declared_fields
    line = DocumentItemInputSerializer._declared_fields
    fields = [
        declared["contact_id"],
        declared["document_series_id"],
        line["product_id"],
        line["tax_ids"].child,
    ]
    copies = [
        *(copy.deepcopy(declared)[name] for name in ("contact_id", "document_series_id")),
        copy.deepcopy(line["product_id"]),
        copy.deepcopy(line["tax_ids"]).child,
    ]
    assert [field.queryset for field in copies] == [field.queryset for field in fields]
    assert all(c.queryset is f.queryset for c, f in zip(copies, fields, strict=True))

    tax = TaxFactory()
    body = {"contact_id": customer.pk, "items": [item(widget, 1, tax_ids=[tax.pk])]}
    response = api.post("/invoices", body)
    assert response.status_code == 201, response.content
    assert response.json()["data"]["items"][0]["taxes"][0]["tax_id"] == tax.pk
    assert all(field.queryset._result_cache is None for field in fields)


def test_ids_are_looked_up_by_one_compiled_statement_per_declared_field(api, customer, widget):
    """Every request's copy of a declared id field shares its compiled lookup (the products
    with their default taxes, in one statement); an id no column holds does not exist."""
    for _ in range(2):
        body = {"contact_id": customer.pk, "items": [item(widget, 1)]}
        assert api.post("/invoices", body).status_code == 201
    contact = InvoiceCreateSerializer._declared_fields["contact_id"].shared["by_ids"]
    product = DocumentItemInputSerializer._declared_fields["product_id"].shared["by_ids"]
    assert contact.compiled.converters  # a contact's metadata is JSON, parsed as Django does
    assert [field.name for field, _ in product.compiled.shape.joined] == ["default_tax"]

    response = api.post(
        "/invoices",
        {"contact_id": 2**70, "items": [item(widget, 1), {"product_id": 2**63, "quantity": "1"}]},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "contact_id": ["The selected contact does not exist."],
        "items.1.product_id": ["The selected product does not exist."],
    }
