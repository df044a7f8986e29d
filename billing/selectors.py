"""Reads of billing beyond a model's plain rows (those are the viewsets' ``queryset``): an
invoice as single-record responses show it, and contact balances."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import Invoice, Quotation
from contacts.models import Contact
from optiflow.money import AMOUNT, ZERO


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


def contact_balances_annotate(
    contacts: QuerySet[Contact], workspace_ids: Iterable[int]
) -> QuerySet[Contact]:
    """Add ``total_invoiced``, ``total_paid`` and ``balance_due`` over each contact's issued,
    non-cancelled invoices (drafts do not count) of ``workspace_ids`` (the caller's visible
    ones), as correlated subqueries of the same SELECT: no query per contact."""
    billed = Invoice.objects.filter(
        contact=OuterRef("pk"), status__in=Invoice.BILLED_STATUSES, workspace_id__in=workspace_ids
    )
    billed = billed.order_by().values("contact")
    zero = Value(ZERO, output_field=DecimalField(**AMOUNT))

    def total(field: str) -> Coalesce:
        return Coalesce(Subquery(billed.annotate(total=Sum(field)).values("total")), zero)

    return contacts.annotate(
        total_invoiced=total("total_amount"), total_paid=total("amount_paid")
    ).annotate(balance_due=F("total_invoiced") - F("total_paid"))


@dataclass(frozen=True)
class SalesFigures:
    """Issued, non-cancelled invoices in one currency (documents keep their own)."""

    currency: str
    today: Decimal
    month: Decimal
    due: Decimal
    overdue: Decimal
    overdue_count: int


def overdue(today: dt.date) -> Q:
    """``Invoice.is_overdue`` as a condition: issued, due before today, still owing."""
    return Q(status__in=Invoice.BILLED_STATUSES, due_date__lt=today, amount_due__gt=0)


def sales_summary(*, today: dt.date, workspace_ids: list[int] | None = None) -> list[SalesFigures]:
    """Sales (totals issued) today and this calendar month, and what is due and overdue,
    per currency: one query whatever the number of invoices."""
    month = today.replace(day=1)
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    zero = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))
    invoices = Invoice.objects.filter(status__in=Invoice.BILLED_STATUSES)
    if workspace_ids is not None:
        invoices = invoices.filter(workspace_id__in=workspace_ids)
    rows = (
        invoices.order_by("currency")
        .values("currency")
        .annotate(
            today=Coalesce(Sum("total_amount", filter=Q(issue_date=today)), zero),
            month=Coalesce(
                Sum("total_amount", filter=Q(issue_date__gte=month, issue_date__lt=next_month)),
                zero,
            ),
            due=Coalesce(Sum("amount_due"), zero),
            overdue=Coalesce(Sum("amount_due", filter=overdue(today)), zero),
            overdue_count=Count("id", filter=overdue(today)),
        )
    )
    return [SalesFigures(**row) for row in rows]


def overdue_invoice_list(*, today: dt.date) -> QuerySet[Invoice]:
    """Overdue invoices, the longest overdue first, with their contacts."""
    return (
        Invoice.objects.filter(overdue(today)).select_related("contact").order_by("due_date", "id")
    )
