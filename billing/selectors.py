"""Reads of billing: the querysets behind the endpoints, and contact balances."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import DocumentSeries, Invoice, Payment, Quotation
from contacts.models import Contact


def document_series_list() -> QuerySet[DocumentSeries]:
    return DocumentSeries.objects.all()


def invoice_list() -> QuerySet[Invoice]:
    return Invoice.objects.all()


def invoice_get(*, pk: int) -> Invoice:
    """One invoice with its lines and their taxes, as single-record responses show it."""
    return Invoice.objects.prefetch_related("items", "items__taxes").get(pk=pk)


Printable = TypeVar("Printable", Invoice, Quotation)


def documents_printable(documents: QuerySet[Printable]) -> QuerySet[Printable]:
    """``documents`` with everything their PDF shows (``billing.pdf``): lines and their taxes,
    the contact and its addresses, and an invoice's payments. A constant number of queries,
    however many documents and lines."""
    documents = documents.select_related("contact").prefetch_related(
        "items__taxes", "contact__addresses"
    )
    return documents.prefetch_related("payments") if documents.model is Invoice else documents


def quotation_list() -> QuerySet[Quotation]:
    return Quotation.objects.all()


def payment_list() -> QuerySet[Payment]:
    return Payment.objects.all()


def contact_balances_annotate(
    contacts: QuerySet[Contact], workspace_ids: list[int] | None = None
) -> QuerySet[Contact]:
    """Add ``total_invoiced``, ``total_paid`` and ``balance_due`` over each contact's issued,
    non-cancelled invoices (drafts do not count) of ``workspace_ids`` (``None``: all), as
    correlated subqueries of the same SELECT: no query per contact."""
    billed = Invoice.objects.filter(contact=OuterRef("pk"), status__in=Invoice.BILLED_STATUSES)
    if workspace_ids is not None:
        billed = billed.filter(workspace_id__in=workspace_ids)
    billed = billed.order_by().values("contact")
    zero = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))

    def total(field: str) -> Coalesce:
        return Coalesce(Subquery(billed.annotate(total=Sum(field)).values("total")), zero)

    return contacts.annotate(
        total_invoiced=total("total_amount"), total_paid=total("amount_paid")
    ).annotate(balance_due=F("total_invoiced") - F("total_paid"))
