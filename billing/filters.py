"""``filter[...]`` of the billing lists (SPEC §8.6-§8.9)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.models import DocumentType, Invoice, Payment, Quotation
from optiflow.api.query import AnyOfFilter, BoolFilter, DateRangeFilter, ResourceFilterSet


class DocumentSeriesFilterSet(ResourceFilterSet):
    document_type = AnyOfFilter(choices=DocumentType.values)
    is_active = BoolFilter(field_name="is_active")


class InvoiceFilterSet(ResourceFilterSet):
    status = AnyOfFilter(choices=Invoice.Status.values)
    contact_id = AnyOfFilter(integer=True)
    document_series_id = AnyOfFilter(integer=True)
    overdue = BoolFilter(method="filter_overdue")
    issue_date = DateRangeFilter()
    due_date = DateRangeFilter()

    def filter_overdue(self, queryset: QuerySet[Invoice], name: str, value: bool) -> QuerySet:
        """The database's reading of ``Invoice.is_overdue``."""
        overdue = Q(due_date__lt=timezone.localdate(), amount_due__gt=0) & ~Q(
            status__in=[Invoice.Status.DRAFT, Invoice.Status.CANCELLED]
        )
        return queryset.filter(overdue) if value else queryset.exclude(overdue)


class QuotationFilterSet(ResourceFilterSet):
    status = AnyOfFilter(choices=Quotation.Status.values)
    contact_id = AnyOfFilter(integer=True)
    issue_date = DateRangeFilter()
    due_date = DateRangeFilter()


class PaymentFilterSet(ResourceFilterSet):
    invoice_id = AnyOfFilter(integer=True)
    contact_id = AnyOfFilter(integer=True)
    method = AnyOfFilter(choices=Payment.Method.values)
    status = AnyOfFilter(choices=Payment.Status.values)
    paid_at = DateRangeFilter()
