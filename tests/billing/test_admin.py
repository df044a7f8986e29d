"""SPEC §9: the tenant admin edits document series; issued documents are read-only there,
listed with their money and statuses as staff read them; contacts are written through their
service; the dashboard's sales figures."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import DocumentSeries, Invoice
from billing.selectors import sales_summary
from billing.services.invoices import invoice_void
from contacts.models import Contact
from tests.admin_session import page_text
from tests.billing.factories import item, make_invoice, make_quotation, product_with_stock
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


def test_a_contact_with_documents_is_not_deleted_and_the_page_says_why(
    staff, owner, main, customer, widget
):
    make_invoice(workspace=main, actor=owner, contact=customer, items=[item(widget)])

    page = staff.get(f"/contacts/contact/{customer.pk}/delete/")

    assert "The contact has quotations, invoices or payments; set it inactive instead." in (
        page_text(page)
    )
    assert 'name="post"' not in page.content.decode()
    assert Contact.objects.filter(pk=customer.pk).exists()


def test_a_contact_and_its_addresses_are_written_by_the_contact_service(staff):
    page = staff.submit(
        "/contacts/contact/add/",
        {
            "name": "Grace",
            "contact_type": "customer",
            "status": "active",
            "credit_limit": "0",
            "metadata": "{}",
            "addresses-TOTAL_FORMS": "1",
            "addresses-0-type": "billing",
            "addresses-0-city": "Paris",
            "addresses-0-is_primary": "on",
        },
    )

    assert page.status_code == 302, page_text(page)
    contact = Contact.objects.get(name="Grace")
    assert list(contact.addresses.values_list("city", "is_primary")) == [("Paris", True)]


def test_document_lists_show_money_with_currency_and_human_statuses(
    staff, owner, main, customer, widget
):
    make_invoice(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[item(widget, 10)],
        due_date=timezone.localdate(),
    )
    machine = product_with_stock(main, "5", actor=owner, price="1000.00")
    make_invoice(workspace=main, actor=owner, contact=customer, items=[item(machine, 2)])

    listing = page_text(staff.get("/billing/invoice/"))

    assert "Pending payment" in listing and "pending_payment" not in listing
    assert "118.00 USD" in listing and "2,000.00 USD" in listing


def test_invoices_filter_by_issue_date_range(staff, owner, main, customer, widget):
    today = timezone.localdate()
    for days in (0, 10, 40):
        make_invoice(
            workspace=main,
            actor=owner,
            contact=customer,
            items=[item(widget)],
            issue_date=today - timedelta(days=days),
        )
    since = (today - timedelta(days=15)).isoformat()

    page = staff.get("/billing/invoice/", issue_date_from=since, issue_date_to=today.isoformat())

    assert page.context["cl"].result_count == 2


# --- the dashboard --------------------------------------------------------------------------


@pytest.fixture
def stocked(owner, main):
    return product_with_stock(main, "1000", actor=owner, name="Stocked", price="25.00")


def dashboard_invoices(owner, main, customer, product, count: int) -> None:
    """``count`` invoices of 25.00 issued today, one issued ten days ago and overdue since
    yesterday, and a draft and a cancelled one (neither counts)."""
    today = timezone.localdate()
    for _ in range(count):
        make_invoice(workspace=main, actor=owner, contact=customer, items=[item(product)])
    late = {"issue_date": today - timedelta(days=10), "due_date": today - timedelta(days=1)}
    make_invoice(workspace=main, actor=owner, contact=customer, items=[item(product)], **late)
    make_invoice(workspace=main, actor=owner, contact=customer, items=[item(product)], draft=True)
    cancelled = make_invoice(workspace=main, actor=owner, contact=customer, items=[item(product)])
    invoice_void(invoice=cancelled, actor=owner)


def test_sales_figures_count_issued_invoices_per_currency_in_one_query(
    owner, main, customer, stocked, django_assert_num_queries
):
    today = timezone.localdate()
    dashboard_invoices(owner, main, customer, stocked, 3)
    make_invoice(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[item(stocked)],
        currency="EUR",
        issue_date=today - timedelta(days=40),
    )

    with django_assert_num_queries(1):
        figures = {entry.currency: entry for entry in sales_summary(today=today)}

    usd = figures["USD"]
    assert (usd.today, usd.due, usd.overdue, usd.overdue_count) == (
        Decimal("75.00"),
        Decimal("100.00"),
        Decimal("25.00"),
        1,
    )
    assert usd.month >= Decimal("75.00")
    eur = figures["EUR"]
    assert (eur.today, eur.month, eur.due) == (Decimal("0.00"), Decimal("0.00"), Decimal("25.00"))


def test_the_dashboard_shows_sales_and_low_stock_in_constant_queries(
    staff, owner, main, customer, stocked
):
    def queries_for(count: int) -> int:
        dashboard_invoices(owner, main, customer, stocked, count)
        with CaptureQueriesContext(connection) as queries:
            page = staff.get("/")
        assert page.status_code == 200
        return len(queries)

    assert queries_for(3) == queries_for(30)
    text = page_text(staff.get("/"))
    assert "Sales today 825.00 USD" in text  # 33 invoices of 25.00
    assert "Overdue (2 invoices) 50.00 USD" in text
    assert "Low stock" in text
