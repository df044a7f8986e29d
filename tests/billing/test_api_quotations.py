"""``/quotations`` (SPEC §8.9): numbering, no stock effect, the status machine, editing and
deleting rules, and conversion into an issued invoice in one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Invoice, Quotation
from inventory.models import StockMovement
from tests.billing.factories import billing_state, item, make_quotation
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import CategoryFactory, TaxFactory, level_quantity

D = Decimal


@pytest.fixture
def quotation(owner, main, customer, widget, gadget):
    """QT-0001: 3 widgets at 10% off (VAT 18%) and 2 gadgets with 5.00 off; total 76.86."""
    return make_quotation(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[
            item(widget, 3, discount_rate="10"),
            item(gadget, 2, discount_amount="5.00"),
        ],
        due_date=dt.date(2099, 1, 31),
        payment_term="Net 15",
        notes="Valid for a month",
    )


def test_a_quotation_is_numbered_at_creation_and_moves_no_stock(api, main, customer, widget):
    response = api.post(
        "/quotations",
        {
            "contact_id": customer.pk,
            "items": [item(widget, 20)],
            "due_date": "2099-01-01",
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()["data"]
    assert (body["document_number"], body["status"], body["is_expired"]) == (
        "QT-0001",
        "draft",
        False,
    )
    assert (body["subtotal_amount"], body["tax_amount"], body["total_amount"]) == (
        "200.00",
        "36.00",
        "236.00",
    )
    assert body["items"][0]["taxes"][0]["rate"] == "18.00"
    assert "payments" not in body and "amount_due" not in body
    assert level_quantity(widget, main) == D("10.00")
    assert StockMovement.objects.filter(type="sale").count() == 0


def test_a_past_validity_date_marks_the_quotation_expired(api, owner, main, customer, widget):
    past = timezone.localdate() - dt.timedelta(days=1)
    expired = make_quotation(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[item(widget)],
        issue_date=past - dt.timedelta(days=30),
        due_date=past,
    )

    assert api.get(f"/quotations/{expired.pk}").json()["data"]["is_expired"] is True


TRANSITIONS = [
    ("draft", "sent", True), ("draft", "approved", True), ("draft", "rejected", True),
    ("draft", "cancelled", True), ("sent", "approved", True), ("sent", "rejected", True),
    ("sent", "cancelled", True), ("approved", "cancelled", True),
    ("sent", "draft", False), ("approved", "sent", False), ("approved", "rejected", False),
    ("approved", "draft", False), ("rejected", "approved", False), ("rejected", "draft", False),
]  # fmt: skip


@pytest.mark.parametrize(("start", "target", "allowed"), TRANSITIONS)
def test_status_moves_only_along_the_allowed_transitions(api, quotation, start, target, allowed):
    Quotation.objects.filter(pk=quotation.pk).update(status=start)

    response = api.patch(f"/quotations/{quotation.pk}", {"status": target})

    if allowed:
        assert response.status_code == 200, response.json()
        assert response.json()["data"]["status"] == target
    else:
        assert response.status_code == 422
        message = f"A {start} quotation cannot become {target}."
        assert response.json() == {"message": message, "errors": {"status": [message]}}
        assert Quotation.objects.get(pk=quotation.pk).status == start


def test_converted_is_reached_only_through_convert(api, quotation):
    response = api.patch(f"/quotations/{quotation.pk}", {"status": "converted"})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["status"]


@pytest.mark.parametrize("status", ["cancelled", "converted"])
def test_a_cancelled_or_converted_quotation_cannot_be_edited(api, quotation, status):
    Quotation.objects.filter(pk=quotation.pk).update(status=status)

    response = api.patch(f"/quotations/{quotation.pk}", {"notes": "too late"})

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "non_field_errors": [f"A {status} quotation cannot be changed."]
    }


def test_editing_lines_recomputes_the_totals(api, quotation, gadget):
    lines = api.get(f"/quotations/{quotation.pk}").json()["data"]["items"]

    response = api.put(
        f"/quotations/{quotation.pk}",
        {
            "items": [
                {"id": lines[0]["id"], "quantity": "1", "discount_rate": None},
                item(gadget, 1),
            ],
            "notes": "Revised",
        },
    )

    assert response.status_code == 200, response.json()
    body = response.json()["data"]
    assert body["items"][0]["id"] == lines[0]["id"]
    assert (body["subtotal_amount"], body["discount_amount"], body["total_amount"]) == (
        "35.00",
        "0.00",
        "36.80",
    )
    assert body["notes"] == "Revised"


def test_a_rejected_quotation_keeps_its_status_but_can_be_edited(api, quotation):
    api.patch(f"/quotations/{quotation.pk}", {"status": "rejected"})
    response = api.patch(f"/quotations/{quotation.pk}", {"notes": "for the record"})
    assert response.status_code == 200


def test_a_quotation_can_be_deleted_until_converted(api, quotation, owner, main, customer, widget):
    assert api.delete(f"/quotations/{quotation.pk}").status_code == 204
    assert api.get(f"/quotations/{quotation.pk}").status_code == 404

    converted = make_quotation(workspace=main, actor=owner, contact=customer, items=[item(widget)])
    api.post(f"/quotations/{converted.pk}/convert")
    response = api.delete(f"/quotations/{converted.pk}")
    assert response.status_code == 422
    assert response.json()["message"] == "A converted quotation cannot be deleted."


# --- conversion -----------------------------------------------------------------------------


def test_converting_makes_an_issued_invoice_with_the_same_lines(
    api, main, quotation, widget, gadget
):
    quoted = api.get(f"/quotations/{quotation.pk}").json()["data"]

    response = api.post(f"/quotations/{quotation.pk}/convert", {"due_date": "2099-02-28"})

    assert response.status_code == 201, response.json()
    invoice = response.json()["data"]
    assert (invoice["document_number"], invoice["status"], invoice["quotation_id"]) == (
        "INV-0001",
        "pending_payment",
        quotation.pk,
    )
    assert (invoice["contact_id"], invoice["payment_term"], invoice["notes"]) == (
        quotation.contact_id,
        "Net 15",
        "Valid for a month",
    )
    assert (invoice["due_date"], invoice["issue_date"]) == (
        "2099-02-28",
        timezone.localdate().isoformat(),
    )
    money = ("subtotal_amount", "discount_amount", "tax_amount", "total_amount")
    assert (
        [invoice[f] for f in money]
        == [quoted[f] for f in money]
        == [
            "80.00",
            "8.00",
            "4.86",
            "76.86",
        ]
    )
    line_fields = (
        "product_id",
        "description",
        "quantity",
        "unit_price",
        "discount_rate",
        "discount_amount",
        "subtotal",
        "tax_amount",
        "total",
        "taxes",
    )
    assert [{f: line[f] for f in line_fields} for line in invoice["items"]] == [
        {f: line[f] for f in line_fields} for line in quoted["items"]
    ]
    assert api.get(f"/quotations/{quotation.pk}").json()["data"]["status"] == "converted"
    assert (level_quantity(widget, main), level_quantity(gadget, main)) == (D("7.00"), D("3.00"))


def test_converting_keeps_the_quoted_tax_rate(api, quotation, vat):
    vat.rate = D("25.00")
    vat.save()

    invoice = api.post(f"/quotations/{quotation.pk}/convert").json()["data"]

    assert invoice["items"][0]["taxes"][0]["rate"] == "18.00"
    assert invoice["total_amount"] == "76.86"


def test_converting_twice_is_refused(api, quotation):
    assert api.post(f"/quotations/{quotation.pk}/convert").status_code == 201

    again = api.post(f"/quotations/{quotation.pk}/convert")

    assert again.status_code == 422
    assert again.json() == {
        "message": "The quotation has already been converted.",
        "errors": {"non_field_errors": ["The quotation has already been converted."]},
    }
    assert Invoice.objects.filter(quotation=quotation).count() == 1


@pytest.mark.parametrize("status", ["rejected", "cancelled"])
def test_only_draft_sent_or_approved_quotations_convert(api, quotation, status):
    Quotation.objects.filter(pk=quotation.pk).update(status=status)
    response = api.post(f"/quotations/{quotation.pk}/convert")
    assert response.status_code == 422
    assert response.json()["message"] == f"A {status} quotation cannot be converted."


def test_a_failed_conversion_leaves_the_quotation_untouched(
    api, owner, main, customer, widget, gadget
):
    quotation = make_quotation(
        workspace=main, actor=owner, contact=customer, items=[item(widget, 2), item(gadget, 9)]
    )
    Quotation.objects.filter(pk=quotation.pk).update(status="approved")
    before = billing_state()

    response = api.post(f"/quotations/{quotation.pk}/convert")

    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["items.1.quantity"]
    assert billing_state() == before
    assert Quotation.objects.get(pk=quotation.pk).status == "approved"
    next_invoice = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    assert next_invoice.json()["data"]["document_number"] == "INV-0001"


def test_conversion_checks_the_contact_and_products_again(api, quotation, customer, gadget):
    gadget.is_active = False
    gadget.save()

    response = api.post(f"/quotations/{quotation.pk}/convert")

    assert response.status_code == 422
    assert response.json()["errors"] == {"items.1.product_id": ["The product is inactive."]}
    customer.status = "inactive"
    customer.save()
    response = api.post(f"/quotations/{quotation.pk}/convert")
    assert response.json()["errors"] == {
        "non_field_errors": ["The contact must be an active customer."]
    }


def test_converting_needs_invoices_create_and_quotations_edit(member_api, quotation):
    quoting = member_api(permissions=["quotations:view", "quotations:edit"])
    assert quoting.post(f"/quotations/{quotation.pk}/convert").status_code == 403
    invoicing = member_api(permissions=["invoices:create"])
    assert invoicing.post(f"/quotations/{quotation.pk}/convert").status_code == 403
    both = member_api(permissions=["invoices:create", "quotations:edit"])
    assert both.post(f"/quotations/{quotation.pk}/convert").status_code == 201


# --- reads ----------------------------------------------------------------------------------


def test_quotation_filters_and_sorts(api, owner, main, quotation, widget):
    other = make_quotation(
        workspace=main,
        actor=owner,
        contact=ContactFactory(name="Zed"),
        items=[item(widget)],
        issue_date=dt.date(2020, 1, 1),
    )
    api.patch(f"/quotations/{other.pk}", {"status": "sent"})

    def ids(params):
        response = api.get("/quotations", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["data"]]

    assert ids({}) == [quotation.pk, other.pk]
    assert ids({"sort": "total_amount"}) == [other.pk, quotation.pk]
    assert ids({"filter[status]": "sent"}) == [other.pk]
    assert ids({"filter[smart]": "zed"}) == [other.pk]
    assert ids({"filter[issue_date]": '{"toDate":"2020-12-31"}'}) == [other.pk]
    assert api.get("/quotations", {"sort": "amount_due"}).status_code == 400
    assert api.get("/quotations", {"include": "payments"}).status_code == 400


def test_quotation_list_query_count_is_constant_in_page_size(
    api, owner, main, widget, vat, django_assert_num_queries
):
    levy = TaxFactory(name="Levy", rate="1.00")
    widget.category = CategoryFactory()
    widget.save()
    every = (
        "items,items.product,items.product.category,items.taxes,contact,document_series,"
        "workspace,created_by"
    )

    def add_quotations(count):
        for _ in range(count):
            make_quotation(
                workspace=main,
                actor=owner,
                contact=ContactFactory(),
                items=[
                    item(widget, 1, tax_ids=[vat.pk, levy.pk]),
                    item(widget, 2),
                ],
            )

    add_quotations(3)
    api.get("/me")  # the token's last_used_at is written once a minute: not in the count
    with django_assert_num_queries(QUERIES_PER_QUOTATION_LIST):
        response = api.get("/quotations", {"include": every, "per_page": 100})
    assert len(response.json()["data"]) == 3

    add_quotations(27)
    with django_assert_num_queries(QUERIES_PER_QUOTATION_LIST):
        response = api.get("/quotations", {"include": every, "per_page": 100})
    assert len(response.json()["data"]) == 30


#: The caller (token, user, memberships), count, page, and one query per prefetched
#: relation: items, line taxes, products, categories, contacts, series, workspaces, creators.
QUERIES_PER_QUOTATION_LIST = 11
