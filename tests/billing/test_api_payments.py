"""``/payments`` and ``/invoices/{id}/payments`` (SPEC §8.8): recording, the amount-due rule,
invoice status from payments, voiding, reads and scoping."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import Invoice
from tests.billing.factories import billing_state, item, make_invoice, product_with_stock
from tests.contacts.factories import ContactFactory

D = Decimal


@pytest.fixture
def invoice(owner, main, customer, widget):
    """Issued, total 118.00 (10 x 10.00 + 18% VAT)."""
    return make_invoice(workspace=main, actor=owner, contact=customer, items=[item(widget, 10)])


def test_payments_move_the_invoice_from_pending_to_partially_paid_to_paid(api, invoice):
    first = api.post(
        "/payments",
        {
            "invoice_id": invoice.pk,
            "amount": "100.00",
            "method": "bank_transfer",
            "paid_at": "2030-05-01",
            "reference": "SEPA 123",
            "notes": "first part",
        },
    )

    assert first.status_code == 201, first.json()
    body = first.json()["data"]
    assert body | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "payment_number": "PAY-0001",
        "invoice_id": invoice.pk,
        "contact_id": invoice.contact_id,
        "amount": "100.00",
        "method": "bank_transfer",
        "paid_at": "2030-05-01",
        "reference": "SEPA 123",
        "notes": "first part",
        "status": "completed",
        "voided_at": None,
        "created_by_id": invoice.created_by_id,
        "created_at": None,
        "updated_at": None,
    }
    state = api.get(f"/invoices/{invoice.pk}").json()["data"]
    assert (state["status"], state["amount_paid"], state["amount_due"]) == (
        "partially_paid",
        "100.00",
        "18.00",
    )

    second = api.post(f"/invoices/{invoice.pk}/payments", {"amount": "18.00", "method": "cash"})

    assert second.status_code == 201
    assert second.json()["data"]["payment_number"] == "PAY-0002"
    state = api.get(f"/invoices/{invoice.pk}").json()["data"]
    assert (state["status"], state["amount_paid"], state["amount_due"]) == (
        "paid",
        "118.00",
        "0.00",
    )


def test_an_amount_above_the_amount_due_is_refused_on_amount(api, invoice):
    api.post("/payments", {"invoice_id": invoice.pk, "amount": "100.00", "method": "cash"})
    before = billing_state()

    response = api.post(
        "/payments", {"invoice_id": invoice.pk, "amount": "18.01", "method": "cash"}
    )

    assert response.status_code == 422
    assert response.json() == {
        "message": "The amount may not exceed the amount due (18.00).",
        "errors": {"amount": ["The amount may not exceed the amount due (18.00)."]},
    }
    assert billing_state() == before


@pytest.mark.parametrize("status", ["draft", "paid", "cancelled"])
def test_only_an_issued_invoice_with_an_amount_due_can_be_paid(
    api, owner, main, customer, widget, status
):
    invoice = make_invoice(
        workspace=main, actor=owner, contact=customer, items=[item(widget)], draft=status == "draft"
    )
    if status == "paid":
        api.post("/payments", {"invoice_id": invoice.pk, "amount": "11.80", "method": "cash"})
    if status == "cancelled":
        api.delete(f"/invoices/{invoice.pk}")

    response = api.post("/payments", {"invoice_id": invoice.pk, "amount": "1.00", "method": "cash"})

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["non_field_errors"]
    assert "can be paid" in response.json()["message"]


def test_payment_input_is_validated(api, invoice):
    response = api.post(
        "/payments",
        {
            "invoice_id": invoice.pk,
            "amount": "0.00",
            "method": "barter",
            "paid_at": "yesterday",
        },
    )

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"amount", "method", "paid_at"}
    missing = api.post("/payments", {"amount": "1.00", "method": "cash"})
    assert list(missing.json()["errors"]) == ["invoice_id"]


def test_an_invoice_of_another_workspace_cannot_be_paid_from_here(api, owner, branch, customer):
    product = product_with_stock(branch, "1", actor=owner)
    elsewhere = make_invoice(workspace=branch, actor=owner, contact=customer, items=[item(product)])

    response = api.post(
        "/payments", {"invoice_id": elsewhere.pk, "amount": "1.00", "method": "cash"}
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {"invoice_id": ["The selected invoice does not exist."]}
    assert (
        api.post(
            f"/invoices/{elsewhere.pk}/payments", {"amount": "1.00", "method": "cash"}
        ).status_code
        == 404
    )


def test_voiding_a_payment_keeps_it_and_recomputes_the_invoice(api, invoice):
    first = api.post("/payments", {"invoice_id": invoice.pk, "amount": "18.00", "method": "cash"})
    second = api.post("/payments", {"invoice_id": invoice.pk, "amount": "100.00", "method": "cash"})
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"

    response = api.delete(f"/payments/{second.json()['data']['id']}")

    assert response.status_code == 204
    voided = api.get(f"/payments/{second.json()['data']['id']}").json()["data"]
    assert voided["status"] == "voided" and voided["voided_at"] is not None
    state = api.get(f"/invoices/{invoice.pk}").json()["data"]
    assert (state["status"], state["amount_paid"], state["amount_due"]) == (
        "partially_paid",
        "18.00",
        "100.00",
    )

    api.delete(f"/payments/{first.json()['data']['id']}")
    state = api.get(f"/invoices/{invoice.pk}").json()["data"]
    assert (state["status"], state["amount_paid"]) == ("pending_payment", "0.00")
    again = api.delete(f"/payments/{first.json()['data']['id']}")
    assert again.status_code == 422
    assert again.json()["message"] == "The payment is already voided."


def test_payment_lists_filter_sort_and_include(api, owner, main, invoice, gadget):
    other = make_invoice(
        workspace=main, actor=owner, contact=ContactFactory(name="Other"), items=[item(gadget)]
    )
    early = api.post(
        "/payments",
        {
            "invoice_id": invoice.pk,
            "amount": "50.00",
            "method": "cash",
            "paid_at": "2030-01-01",
        },
    ).json()["data"]
    late = api.post(
        "/payments",
        {
            "invoice_id": other.pk,
            "amount": "5.00",
            "method": "check",
            "paid_at": "2030-02-01",
        },
    ).json()["data"]
    api.delete(f"/payments/{late['id']}")

    def ids(params):
        response = api.get("/payments", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["data"]]

    assert ids({}) == [late["id"], early["id"]]
    assert ids({"sort": "amount"}) == [late["id"], early["id"]]
    assert ids({"filter[invoice_id]": str(invoice.pk)}) == [early["id"]]
    assert ids({"filter[contact_id]": str(other.contact_id)}) == [late["id"]]
    assert ids({"filter[method]": "cash"}) == [early["id"]]
    assert ids({"filter[status]": "voided"}) == [late["id"]]
    assert ids({"filter[paid_at]": '{"toDate":"2030-01-15"}'}) == [early["id"]]
    row = api.get("/payments", {"include": "invoice,contact", "sort": "paid_at"}).json()["data"][0]
    assert row["invoice"]["document_number"] == invoice.document_number
    assert "items" not in row["invoice"]
    assert row["contact"]["name"] == "Ada Customer"
    nested = api.get(f"/invoices/{invoice.pk}/payments").json()
    assert [p["id"] for p in nested["data"]] == [early["id"]]
    assert nested["meta"]["total"] == 1


def test_payments_need_their_permissions(member_api, invoice):
    clerk = member_api(permissions=["payments:view", "payments:create"])
    paid = clerk.post("/payments", {"invoice_id": invoice.pk, "amount": "1.00", "method": "cash"})
    assert paid.status_code == 201
    assert clerk.delete(f"/payments/{paid.json()['data']['id']}").status_code == 403
    assert (
        member_api(permissions=["payments:view"])
        .post("/payments", {"invoice_id": invoice.pk, "amount": "1.00", "method": "cash"})
        .status_code
        == 403
    )
    assert member_api(permissions=["invoices:view"]).get("/payments").status_code == 403


def test_payment_list_query_count_is_constant_in_page_size(
    api, owner, main, widget, django_assert_num_queries
):
    def add_payments(count):
        for _ in range(count):
            invoice = make_invoice(
                workspace=main, actor=owner, contact=ContactFactory(), items=[item(widget, "0.10")]
            )
            api.post("/payments", {"invoice_id": invoice.pk, "amount": "0.50", "method": "cash"})

    add_payments(3)
    with django_assert_num_queries(QUERIES_PER_PAYMENT_LIST):
        response = api.get("/payments", {"include": "invoice,contact", "per_page": 100})
    assert len(response.json()["data"]) == 3

    add_payments(27)
    with django_assert_num_queries(QUERIES_PER_PAYMENT_LIST):
        response = api.get("/payments", {"include": "invoice,contact", "per_page": 100})
    assert len(response.json()["data"]) == 30


#: The caller (token, user, memberships), count, page, invoices, contacts.
QUERIES_PER_PAYMENT_LIST = 5
