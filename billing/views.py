"""Billing endpoints (SPEC §8.6-§8.9): document series, invoices (with their payments),
payments and quotations. Thin: validate input, call one service, answer the record."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors
from billing.filters import (
    DocumentSeriesFilterSet,
    InvoiceFilterSet,
    PaymentFilterSet,
    QuotationFilterSet,
)
from billing.models import DocumentSeries, Invoice, Payment, Quotation
from billing.serializers import (
    DocumentSeriesSerializer,
    DocumentSeriesWriteSerializer,
    InvoiceCreateSerializer,
    InvoiceIssueSerializer,
    InvoiceSerializer,
    InvoiceUpdateSerializer,
    PaymentCreateSerializer,
    PaymentInputSerializer,
    PaymentSerializer,
    QuotationConvertSerializer,
    QuotationCreateSerializer,
    QuotationSerializer,
    QuotationUpdateSerializer,
)
from billing.services.invoices import (
    invoice_create,
    invoice_issue,
    invoice_lock,
    invoice_update,
    invoice_void,
)
from billing.services.numbering import document_series_create, document_series_update
from billing.services.payments import payment_create, payment_void
from billing.services.quotations import (
    quotation_convert,
    quotation_create,
    quotation_delete,
    quotation_update,
)
from optiflow.api.views import (
    ApiViewSet,
    CreateMixin,
    DestroyMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
)

#: Single-record answers embed the lines with their taxes.
LINES = frozenset({"items", "items.taxes"})
DOCUMENT_SORT = {
    name: name
    for name in ("issue_date", "due_date", "document_number", "total_amount", "status",
                 "created_at", "updated_at", "id")
}  # fmt: skip


DOCUMENT_INCLUDES = {
    "items": ("items",),
    "items.product": ("items__product",),
    "items.product.category": ("items__product__category",),
    "items.taxes": ("items__taxes",),
    "contact": ("contact",),
    "document_series": ("document_series",),
    "workspace": ("workspace",),
    "created_by": ("created_by",),
}


class DocumentSeriesViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, ApiViewSet):
    """Numbering sequences of invoices, quotations and payments (`settings:manage`). A number
    is the prefix and the zero-padded sequence (`INV-0001`). Series are never deleted
    (deactivate one instead); the first series of a type becomes its default, and marking
    another default clears the flag on the previous one. Prefixes of one type may not overlap
    (one starting another), and once a series has numbered documents its type and prefix are
    fixed and its `next_number` only moves forward."""

    serializer_class = DocumentSeriesSerializer
    input_serializers = dict.fromkeys(
        ["create", "update", "partial_update"], DocumentSeriesWriteSerializer
    )
    required_permissions = dict.fromkeys(
        ["list", "retrieve", "create", "update", "partial_update"], "settings:manage"
    )
    filterset_class = DocumentSeriesFilterSet
    sort_fields = {name: name for name in ("id", "name", "document_type", "created_at")}
    default_sort = "document_type,name"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def base_queryset(self) -> QuerySet[DocumentSeries]:
        return selectors.document_series_list()

    def perform_create(self, data: dict[str, Any]) -> DocumentSeries:
        return document_series_create(**data)

    def perform_update(self, instance: DocumentSeries, data: dict[str, Any]) -> DocumentSeries:
        return document_series_update(series=instance, data=data)


class InvoiceViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ApiViewSet):
    """Invoices of the current workspace. Creating one issues it at once (number, `sale` stock
    movements, status `pending_payment`) unless `status` is `"draft"`; a stock shortage on any
    line is a `422` on `items.N.quantity` and nothing is written. Money fields are computed
    (half-up to cents per line, then summed); totals sent by clients are ignored.
    `amount_due` is `0.00` once cancelled.

    `PUT`/`PATCH`: only a draft, or an issued invoice without payments (else `422`). `items`,
    when sent, is the whole new list (lines matched by `id`, others added, missing ones
    removed); an issued invoice's stock follows with new movements (`sale` for increases,
    `return` for decreases and removed lines) and keeps its series.

    `DELETE` voids an issued invoice (status `cancelled`, stock returned, record and number
    kept; refused while it has active payments) and deletes a draft outright (recorded as
    `invoice.cancelled` with `"deleted": true`)."""

    serializer_class = InvoiceSerializer
    input_serializers = {
        "create": InvoiceCreateSerializer,
        "update": InvoiceUpdateSerializer,
        "partial_update": InvoiceUpdateSerializer,
        "issue": InvoiceIssueSerializer,
        "record_payment": PaymentInputSerializer,
    }
    required_permissions = {
        "list": "invoices:view",
        "retrieve": "invoices:view",
        "create": "invoices:create",
        "update": "invoices:edit",
        "partial_update": "invoices:edit",
        "destroy": "invoices:delete",
        "issue": "invoices:edit",
        "payments": "payments:view",
        "record_payment": "payments:create",
    }
    workspace_scoped = True
    filterset_class = InvoiceFilterSet
    smart_fields = ("document_number", "contact__name")
    sort_fields = {**DOCUMENT_SORT, "amount_due": "amount_due"}
    default_sort = "-issue_date"
    include_prefetches = {**DOCUMENT_INCLUDES, "payments": ("payments",)}
    detail_includes = LINES

    def base_queryset(self) -> QuerySet[Invoice]:
        return selectors.invoice_list()

    @property
    def includes(self) -> frozenset[str]:
        # `issue` answers the invoice like a detail view does.
        includes = super().includes
        return includes | self.detail_includes if self.action == "issue" else includes

    def perform_create(self, data: dict[str, Any]) -> Invoice:
        draft = data.pop("status", None) == Invoice.Status.DRAFT
        return invoice_create(
            workspace=self.request.access.require_workspace(), actor=self.request.user,
            draft=draft, **data,
        )  # fmt: skip

    def perform_update(self, instance: Invoice, data: dict[str, Any]) -> Invoice:
        return invoice_update(invoice=instance, actor=self.request.user, data=data)

    def perform_destroy(self, instance: Invoice) -> None:
        invoice_void(invoice=instance, actor=self.request.user)

    @extend_schema(responses=InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def issue(self, request: Request, pk: str) -> Response:
        """Issue a draft: number it (optionally with the `document_number` sent) and take its
        stock. A shortage is a `422` on `items.N.quantity` and the draft stays as it was."""
        invoice = invoice_issue(
            invoice=self.get_object(), actor=request.user, **self.validated_input()
        )
        return self.respond(invoice)

    @extend_schema(request=None, responses=PaymentSerializer(many=True))
    @action(detail=True, methods=["get"])
    def payments(self, request: Request, pk: str) -> Response:
        """The invoice's payments, voided ones included, newest first."""
        rows = self.get_object().payments.order_by("-paid_at", "-id")
        page = self.paginate_queryset(rows)
        context = {**self.get_serializer_context(), "include": frozenset()}
        return self.get_paginated_response(PaymentSerializer(page, many=True, context=context).data)

    @extend_schema(request=PaymentInputSerializer, responses={201: PaymentSerializer})
    @payments.mapping.post
    def record_payment(self, request: Request, pk: str) -> Response:
        """Record a payment of this invoice, as `POST /payments` does."""
        payment = payment_create(
            invoice=self.get_object(), actor=request.user, **self.validated_input()
        )
        context = {**self.get_serializer_context(), "include": frozenset()}
        return Response(
            {"data": PaymentSerializer(payment, context=context).data},
            status=status.HTTP_201_CREATED,
        )


class PaymentViewSet(ListMixin, RetrieveMixin, CreateMixin, DestroyMixin, ApiViewSet):
    """Payments of the current workspace's invoices, numbered from the payment series
    (`PAY-0001`). The invoice must be `pending_payment` or `partially_paid` and the amount at
    most its amount due (`422` on `amount`); concurrent payments never overpay. `DELETE` voids
    a payment (kept, `status: voided`) and recomputes the invoice's status."""

    serializer_class = PaymentSerializer
    input_serializers = {"create": PaymentCreateSerializer}
    required_permissions = {
        "list": "payments:view",
        "retrieve": "payments:view",
        "create": "payments:create",
        "destroy": "payments:delete",
    }
    workspace_scoped = True
    workspace_lookup = "invoice__workspace"
    filterset_class = PaymentFilterSet
    sort_fields = {name: name for name in ("paid_at", "amount", "created_at", "id")}
    default_sort = "-paid_at"
    include_prefetches = {"invoice": ("invoice",), "contact": ("contact",)}

    def base_queryset(self) -> QuerySet[Payment]:
        return selectors.payment_list()

    def lock_for_write(self, instance: Payment) -> Payment:
        # `payment_void` locks the invoice, then the payment: the same order here, or a
        # conditional void and a plain one of the same payment could deadlock.
        invoice_lock(instance.invoice)
        return super().lock_for_write(instance)

    def perform_create(self, data: dict[str, Any]) -> Payment:
        return payment_create(actor=self.request.user, **data)

    def perform_destroy(self, instance: Payment) -> None:
        payment_void(payment=instance)


class QuotationViewSet(
    ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ApiViewSet
):
    """Quotations of the current workspace: numbered at creation (`QT-0001`), no stock effect.
    `PATCH {"status": ...}` moves along draft → sent | approved | rejected | cancelled,
    sent → approved | rejected | cancelled, approved → cancelled (anything else: `422`).
    Editable unless converted or cancelled; delete refused once converted. `is_expired`:
    `due_date` (the validity date) has passed and it is not converted."""

    serializer_class = QuotationSerializer
    input_serializers = {
        "create": QuotationCreateSerializer,
        "update": QuotationUpdateSerializer,
        "partial_update": QuotationUpdateSerializer,
        "convert": QuotationConvertSerializer,
    }
    required_permissions = {
        "list": "quotations:view",
        "retrieve": "quotations:view",
        "create": "quotations:create",
        "update": "quotations:edit",
        "partial_update": "quotations:edit",
        "destroy": "quotations:delete",
        "convert": "invoices:create",
    }
    workspace_scoped = True
    filterset_class = QuotationFilterSet
    smart_fields = ("document_number", "contact__name")
    sort_fields = DOCUMENT_SORT
    default_sort = "-issue_date"
    include_prefetches = DOCUMENT_INCLUDES
    detail_includes = LINES

    def base_queryset(self) -> QuerySet[Quotation]:
        return selectors.quotation_list()

    def perform_create(self, data: dict[str, Any]) -> Quotation:
        return quotation_create(
            workspace=self.request.access.require_workspace(), actor=self.request.user, **data
        )

    def perform_update(self, instance: Quotation, data: dict[str, Any]) -> Quotation:
        return quotation_update(quotation=instance, data=data)

    def perform_destroy(self, instance: Quotation) -> None:
        quotation_delete(quotation=instance)

    @extend_schema(responses={201: InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def convert(self, request: Request, pk: str) -> Response:
        """Make an issued invoice from the quotation (same lines, prices, discounts and copied
        tax rates; `quotation_id` set) and mark the quotation `converted`, in one transaction:
        a stock shortage (`422` on `items.N.quantity`) leaves both untouched. Only from
        `draft`, `sent` or `approved`; converting again is a `422`. Needs `invoices:create`
        and `quotations:edit`."""
        if not request.access.has("quotations:edit"):
            raise exceptions.PermissionDenied()
        invoice = quotation_convert(
            quotation=self.get_object(), actor=request.user, **self.validated_input()
        )
        context = {**self.get_serializer_context(), "include": LINES}
        data = InvoiceSerializer(selectors.invoice_get(pk=invoice.pk), context=context).data
        return Response({"data": data}, status=status.HTTP_201_CREATED)
