"""Tenant admin for billing: document series are edited through the API's services;
invoices, quotations and payments are shown read-only (issued documents change only through
the API's services, which keep stock, numbers and events consistent). Also the dashboard's
sales panel."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from unfold.contrib.filters.admin import RangeDateFilter

from billing import selectors
from billing.models import (
    DocumentSeries,
    Invoice,
    InvoiceItem,
    Payment,
    Quotation,
    QuotationItem,
)
from billing.services.numbering import (
    SERIES_FIELDS,
    document_series_create,
    document_series_update,
)
from optiflow.admin_base import ReadOnlyAdmin, ReadOnlyInline, ServiceAdmin, money, tenant_currency
from optiflow.admin_sites import tenant_admin
from optiflow.dashboard import DASHBOARD_PANELS, Metric, Panel, Row


@admin.register(DocumentSeries, site=tenant_admin)
class DocumentSeriesAdmin(ServiceAdmin):
    """Series are never deleted (documents name them); marking one the default clears the
    previous default of its type, and a series that has numbered documents keeps its type
    and prefix and never steps back (``billing.services.numbering.check_series``)."""

    list_display = ["name", "document_type", "prefix", "next_number", "is_default", "is_active"]
    list_filter = ["document_type", "is_active"]
    fields = SERIES_FIELDS

    def service_create(self, request: HttpRequest, data: dict, form) -> DocumentSeries:
        return document_series_create(**data)

    def service_update(
        self, request: HttpRequest, obj: DocumentSeries, data: dict, form
    ) -> DocumentSeries:
        return document_series_update(series=obj, data=data)


class DocumentMoneyMixin:
    """List columns of a document's money, in the document's currency."""

    @admin.display(description="Total", ordering="total_amount")
    def total(self, document) -> str:
        return money(document.total_amount, document.currency)


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin):
        return [("yes", "Overdue")]

    def queryset(self, request: HttpRequest, queryset):
        if self.value() == "yes":
            return queryset.filter(selectors.overdue(timezone.localdate()))
        return queryset


class InvoiceItemInline(ReadOnlyInline):
    model = InvoiceItem
    show_change_link = False
    fields = [
        "product",
        "description",
        "quantity",
        "unit_price",
        "discount_amount",
        "subtotal",
        "tax_amount",
        "total",
    ]


class QuotationItemInline(InvoiceItemInline):
    model = QuotationItem


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["payment_number", "amount", "method", "paid_at", "status"]


@admin.register(Invoice, site=tenant_admin)
class InvoiceAdmin(DocumentMoneyMixin, ReadOnlyAdmin):
    list_display = ["__str__", "contact", "status", "issue_date", "due_date", "total", "due"]
    list_filter = [
        "status",
        OverdueFilter,
        ("issue_date", RangeDateFilter),
        ("due_date", RangeDateFilter),
        "workspace",
    ]
    list_filter_submit = True
    list_select_related = ["contact"]
    search_fields = ["document_number", "contact__name"]
    inlines = [InvoiceItemInline, PaymentInline]

    @admin.display(description="Amount due", ordering="amount_due")
    def due(self, invoice: Invoice) -> str:
        return money(invoice.amount_due, invoice.currency)


@admin.register(Quotation, site=tenant_admin)
class QuotationAdmin(DocumentMoneyMixin, ReadOnlyAdmin):
    list_display = ["document_number", "contact", "status", "issue_date", "due_date", "total"]
    list_filter = [
        "status",
        ("issue_date", RangeDateFilter),
        ("due_date", RangeDateFilter),
        "workspace",
    ]
    list_filter_submit = True
    list_select_related = ["contact"]
    search_fields = ["document_number", "contact__name"]
    inlines = [QuotationItemInline]


@admin.register(Payment, site=tenant_admin)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["payment_number", "invoice", "contact", "paid", "method", "paid_at", "status"]
    list_filter = ["status", "method", ("paid_at", RangeDateFilter)]
    list_filter_submit = True
    list_select_related = ["invoice", "contact"]
    search_fields = ["payment_number", "invoice__document_number", "contact__name"]

    @admin.display(description="Amount", ordering="amount")
    def paid(self, payment: Payment) -> str:
        return money(payment.amount, payment.invoice.currency)


# --- dashboard ------------------------------------------------------------------------------


def sales_panel(request: HttpRequest) -> Panel | None:
    """Today's and this month's sales, what is due and overdue, and the longest overdue
    invoices: what needs chasing."""
    if not request.user.has_perm("billing.view_invoice"):
        return None
    today = timezone.localdate()
    zero = Decimal("0.00")
    figures = selectors.sales_summary(today=today) or [
        selectors.SalesFigures(tenant_currency(), zero, zero, zero, zero, 0)
    ]
    invoices = reverse("admin:billing_invoice_changelist")
    overdue_link = f"{invoices}?overdue=yes"
    metrics = []
    for entry in figures:
        metrics += [
            Metric("Sales today", money(entry.today, entry.currency)),
            Metric("Sales this month", money(entry.month, entry.currency)),
            Metric("Amount due", money(entry.due, entry.currency)),
            Metric(
                f"Overdue ({entry.overdue_count} invoice{'s' if entry.overdue_count != 1 else ''})",
                money(entry.overdue, entry.currency),
                tone="danger" if entry.overdue else "",
                link=overdue_link,
            ),
        ]
    rows = [
        Row(
            cells=[
                str(invoice),
                invoice.contact.name,
                date_format(invoice.due_date),
                money(invoice.amount_due, invoice.currency),
            ],
            link=reverse("admin:billing_invoice_change", args=[invoice.pk]),
        )
        for invoice in selectors.overdue_invoice_list(today=today)[:5]
    ]
    return Panel(
        title="Sales",
        order=10,
        metrics=metrics,
        headers=["Overdue invoice", "Contact", "Due", "Amount due"],
        rows=rows,
        note="Issued invoices, cancelled ones and drafts left out.",
        more=("All invoices", invoices),
    )


DASHBOARD_PANELS.append(sales_panel)
