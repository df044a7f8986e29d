"""Billing endpoints (SPEC §8.6-§8.9): document series, invoices (with their payments),
payments and quotations. Thin: validate input, call one service, answer the record."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer
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
from billing.pdf import document_filename, document_pdf, documents_zip
from billing.serializers import (
    DocumentIdsSerializer,
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
from company.selectors import company_get
from optiflow.api.permissions import permission_table
from optiflow.api.renderers import FileNegotiation, PDFRenderer, ZipRenderer
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
DOCUMENT_SORT = (
    "issue_date",
    "due_date",
    "document_number",
    "total_amount",
    "status",
    "created_at",
    "updated_at",
    "id",
)


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


class DocumentFilesMixin:
    """Documents as files (SPEC §8.11): `GET /{id}/pdf`, the detail URL with
    `Accept: application/pdf`, and `POST /pdf` for a ZIP of several. All go through the
    viewset's own scoping (`get_object()`, the same queryset) under the permission its
    `retrieve` needs, so a file reaches exactly the records the JSON detail does."""

    def get_renderers(self) -> list[BaseRenderer]:
        renderers = super().get_renderers()
        return [*renderers, PDFRenderer()] if self.action == "retrieve" else renderers

    def file_queryset(self, queryset: QuerySet) -> QuerySet:
        # A file shows lines, taxes, contact and payments: load them with the records.
        return selectors.documents_printable(queryset)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        """One document with its lines and their taxes; with `Accept: application/pdf`, the
        document as a PDF, as `GET /{id}/pdf` answers it (responses vary on `Accept`)."""
        if isinstance(request.accepted_renderer, PDFRenderer):
            response = self.pdf(request, *args, **kwargs)
        else:
            response = super().retrieve(request, *args, **kwargs)
        patch_vary_headers(response, ["Accept"])
        return response

    @extend_schema(request=None)
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[PDFRenderer],
        content_negotiation_class=FileNegotiation,
    )
    def pdf(self, request: Request, pk: str) -> Response:
        """The document as a PDF, whatever `Accept` says (the detail URL also answers one to
        `Accept: application/pdf`). Shown inline, named by its number (`INV-0001.pdf`; a draft
        invoice, not numbered yet: `draft-{id}.pdf`). Errors are JSON, as everywhere. The
        document is in English; amounts are in its currency, written the English way with the
        two places the API stores (`€1,234.50`, `CHF 1,234.50`, `¥1,500.00`)."""
        document = self.get_object()
        disposition = content_disposition_header(False, document_filename(document))
        return Response(
            document_pdf(document, company=company_get()),
            headers={"Content-Disposition": disposition},
        )

    @action(
        detail=False,
        methods=["post"],
        url_path="pdf",
        renderer_classes=[ZipRenderer],
        content_negotiation_class=FileNegotiation,
    )
    def pdf_archive(self, request: Request) -> Response:
        """A ZIP of the PDFs of up to 100 documents of the current workspace, each named by its
        number as `GET /{id}/pdf` names it, in the order of `ids`. An id of a document the
        caller cannot see is reported as unknown (`422` on `ids`, naming it): another
        workspace's documents are never revealed."""
        documents = self.validated_input()["ids"]
        name = f"{self.get_queryset().model._meta.verbose_name_plural}.zip"
        return Response(
            documents_zip(documents, company=company_get()),
            headers={"Content-Disposition": content_disposition_header(True, name)},
        )


class DocumentSeriesViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, ApiViewSet):
    """Numbering sequences of invoices, quotations and payments (`settings:manage`). A number
    is the prefix and the zero-padded sequence (`INV-0001`). Series are never deleted
    (deactivate one instead); the first series of a type becomes its default, and marking
    another default clears the flag on the previous one. Prefixes of one type may not overlap
    (one starting another), and once a series has numbered documents its type and prefix are
    fixed and its `next_number` only moves forward."""

    queryset = DocumentSeries.objects.all()
    serializer_class = DocumentSeriesSerializer
    input_serializers = dict.fromkeys(
        ["create", "update", "partial_update"], DocumentSeriesWriteSerializer
    )
    required_permissions = permission_table(
        read="settings:manage", create="settings:manage", update="settings:manage"
    )
    filterset_class = DocumentSeriesFilterSet
    sort_fields = ("id", "name", "document_type", "created_at")
    default_sort = "document_type,name"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def perform_create(self, data: dict[str, Any]) -> DocumentSeries:
        return document_series_create(**data)

    def perform_update(self, instance: DocumentSeries, data: dict[str, Any]) -> DocumentSeries:
        return document_series_update(series=instance, data=data)


class InvoiceViewSet(
    DocumentFilesMixin,
    ListMixin,
    RetrieveMixin,
    CreateMixin,
    UpdateMixin,
    DestroyMixin,
    ApiViewSet,
):
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
        "pdf_archive": DocumentIdsSerializer,
    }
    required_permissions = permission_table(
        read="invoices:view",
        pdf="invoices:view",
        pdf_archive="invoices:view",
        create="invoices:create",
        update="invoices:edit",
        destroy="invoices:delete",
        issue="invoices:edit",
        payments="payments:view",
        record_payment="payments:create",
    )
    workspace_scoped = True
    queryset = Invoice.objects.all()
    filterset_class = InvoiceFilterSet
    smart_fields = ("document_number", "contact__name")
    sort_fields = (*DOCUMENT_SORT, "amount_due")
    default_sort = "-issue_date"
    include_prefetches = {**DOCUMENT_INCLUDES, "payments": ("payments",)}
    detail_includes = LINES

    @property
    def includes(self) -> frozenset[str]:
        # `issue` answers the invoice like a detail view does.
        includes = super().includes
        return includes | self.detail_includes if self.action == "issue" else includes

    def perform_create(self, data: dict[str, Any]) -> Invoice:
        draft = data.pop("status", None) == Invoice.Status.DRAFT
        return invoice_create(
            workspace=self.request.access.require_workspace(),
            actor=self.request.user,
            draft=draft,
            **data,
        )

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
    required_permissions = permission_table(
        read="payments:view", create="payments:create", destroy="payments:delete"
    )
    workspace_scoped = True
    workspace_lookup = "invoice__workspace"
    queryset = Payment.objects.all()
    filterset_class = PaymentFilterSet
    sort_fields = ("paid_at", "amount", "created_at", "id")
    default_sort = "-paid_at"
    include_prefetches = {"invoice": ("invoice",), "contact": ("contact",)}

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
    DocumentFilesMixin,
    ListMixin,
    RetrieveMixin,
    CreateMixin,
    UpdateMixin,
    DestroyMixin,
    ApiViewSet,
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
        "pdf_archive": DocumentIdsSerializer,
    }
    required_permissions = permission_table(
        read="quotations:view",
        pdf="quotations:view",
        pdf_archive="quotations:view",
        create="quotations:create",
        update="quotations:edit",
        destroy="quotations:delete",
        convert=("invoices:create", "quotations:edit"),
    )
    workspace_scoped = True
    queryset = Quotation.objects.all()
    filterset_class = QuotationFilterSet
    smart_fields = ("document_number", "contact__name")
    sort_fields = DOCUMENT_SORT
    default_sort = "-issue_date"
    include_prefetches = DOCUMENT_INCLUDES
    detail_includes = LINES

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
        invoice = quotation_convert(
            quotation=self.get_object(), actor=request.user, **self.validated_input()
        )
        context = {**self.get_serializer_context(), "include": LINES}
        data = InvoiceSerializer(selectors.invoice_get(pk=invoice.pk), context=context).data
        return Response({"data": data}, status=status.HTTP_201_CREATED)
