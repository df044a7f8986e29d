"""Tenant admin for billing: document series are edited under the API's rules; invoices,
quotations and payments are shown read-only (issued documents change only through the API's
services, which keep stock, numbers and events consistent)."""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from billing.models import (
    DocumentSeries,
    Invoice,
    InvoiceItem,
    Payment,
    Quotation,
    QuotationItem,
)
from billing.services.numbering import check_series, save_series
from optiflow.admin_sites import tenant_admin
from optiflow.errors import NON_FIELD, DomainError


class DocumentSeriesForm(forms.ModelForm):
    # Not bound to the model field: the single-default constraint, which the model form
    # validates, would refuse a second default, while saving (``save_series``) clears the
    # previous one as the API does.
    is_default = forms.BooleanField(required=False)

    class Meta:
        model = DocumentSeries
        fields = [
            "name",
            "document_type",
            "prefix",
            "next_number",
            "padding",
            "end_number",
            "valid_until",
            "is_active",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["is_default"].initial = self.instance.is_default

    def validate_unique(self) -> None:
        """The API's rules (``check_series``) on the series as it would be saved."""
        super().validate_unique()
        before = DocumentSeries.objects.filter(pk=self.instance.pk).first()
        candidate = copy.copy(self.instance)
        candidate.is_default = self.cleaned_data.get("is_default", False)
        try:
            check_series(candidate, before=before)
        except DomainError as error:
            for field, messages in error.errors.items():
                self.add_error(None if field == NON_FIELD else field, messages)


@admin.register(DocumentSeries, site=tenant_admin)
class DocumentSeriesAdmin(admin.ModelAdmin):
    form = DocumentSeriesForm
    exclude = ["is_default"]  # the form's own field, applied in save_model
    list_display = ["name", "document_type", "prefix", "next_number", "is_default", "is_active"]
    list_filter = ["document_type", "is_active"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: DocumentSeries, form, change: bool) -> None:
        obj.is_default = form.cleaned_data["is_default"]
        save_series(obj)


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class InvoiceItemInline(ReadOnlyMixin, admin.TabularInline):
    model = InvoiceItem
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


class PaymentInline(ReadOnlyMixin, admin.TabularInline):
    model = Payment
    fields = ["payment_number", "amount", "method", "paid_at", "status"]


@admin.register(Invoice, site=tenant_admin)
class InvoiceAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "contact",
        "workspace",
        "status",
        "issue_date",
        "due_date",
        "total_amount",
        "amount_due",
    ]
    list_filter = ["status", "workspace"]
    list_select_related = ["contact", "workspace"]
    search_fields = ["document_number", "contact__name"]
    inlines = [InvoiceItemInline, PaymentInline]


@admin.register(Quotation, site=tenant_admin)
class QuotationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "document_number",
        "contact",
        "workspace",
        "status",
        "issue_date",
        "due_date",
        "total_amount",
    ]
    list_filter = ["status", "workspace"]
    list_select_related = ["contact", "workspace"]
    search_fields = ["document_number", "contact__name"]
    inlines = [QuotationItemInline]


@admin.register(Payment, site=tenant_admin)
class PaymentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["payment_number", "invoice", "contact", "amount", "method", "paid_at", "status"]
    list_filter = ["status", "method"]
    list_select_related = ["invoice", "contact"]
    search_fields = ["payment_number", "invoice__document_number", "contact__name"]
