"""Reads of billing beyond a model's plain rows (those are the viewsets' ``queryset``): an
invoice as single-record responses show it, and contact balances."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import Invoice
from contacts.models import Contact
from optiflow.money import AMOUNT, ZERO


def invoice_get(*, pk: int) -> Invoice:
    """One invoice with its lines and their taxes, as single-record responses show it."""
    return Invoice.objects.prefetch_related("items", "items__taxes").get(pk=pk)


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
