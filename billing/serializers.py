"""Input and output shapes of document series, invoices, quotations and payments.

Output serializers render what the selectors fetched (``Meta.include_fields`` only when
requested); input serializers check shapes and types. Business rules (active contact and
products, discounts within the subtotal, numbering) are the services'.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from billing.models import DocumentSeries, DocumentType, Invoice, Payment, Quotation
from billing.services.numbering import SERIES_FIELDS
from contacts.models import Contact
from contacts.serializers import ContactSerializer
from inventory.models import Product, Tax
from inventory.serializers import ProductSerializer
from optiflow.api.serializers import (
    BulkRelatedListSerializer,
    IncludableModelSerializer,
    IncludableSerializer,
    MoneyField,
    ScopedRelatedField,
    VisibleIdsField,
    document_items,
)
from optiflow.money import AMOUNT, CENT, HUNDRED, RATE
from tenants.serializers import UserSerializer, WorkspaceRefSerializer

# --- document series ------------------------------------------------------------------------


class DocumentSeriesSerializer(serializers.ModelSerializer):
    class Meta:
        model = DocumentSeries
        fields = ["id", *SERIES_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


class DocumentSeriesWriteSerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(max_length=20)
    next_number = serializers.IntegerField(
        min_value=1, max_value=DocumentSeries.SEQUENCE_MAX, required=False
    )
    padding = serializers.IntegerField(min_value=1, max_value=12, required=False)
    end_number = serializers.IntegerField(
        min_value=1, max_value=DocumentSeries.SEQUENCE_MAX, required=False, allow_null=True
    )

    class Meta:
        model = DocumentSeries
        fields = SERIES_FIELDS
        # The services give these rules their messages (SPEC §5 shape), not DRF's validators.
        validators: list = []


# --- documents: output ----------------------------------------------------------------------


class LineTaxSerializer(serializers.Serializer):
    tax_id = serializers.IntegerField()
    name = serializers.CharField()
    rate = serializers.DecimalField(**RATE, help_text="Percent, as copied onto the line.")
    amount = MoneyField()


class DocumentItemSerializer(IncludableSerializer):
    id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    product = ProductSerializer()
    description = serializers.CharField()
    quantity = serializers.DecimalField(**AMOUNT)
    unit_price = MoneyField()
    discount_rate = serializers.DecimalField(
        **RATE, allow_null=True, help_text="`null` when the discount was given as an amount."
    )
    discount_amount = MoneyField()
    subtotal = MoneyField()
    tax_amount = MoneyField()
    total = MoneyField()
    taxes = LineTaxSerializer(many=True)

    class Meta:
        include_fields = ("product", "taxes")


DOCUMENT_FIELDS = [
    "id",
    "workspace_id",
    "contact_id",
    "document_series_id",
    "document_number",
    "status",
    "issue_date",
    "due_date",
    "payment_term",
    "currency",
    "subtotal_amount",
    "discount_amount",
    "tax_amount",
    "total_amount",
]
DOCUMENT_INCLUDE_FIELDS = ("items", "contact", "document_series", "workspace", "created_by")


class DocumentSerializer(IncludableModelSerializer):
    """Fields invoices and quotations share; ``created_by_id`` is the creator's id and
    ``include=created_by`` embeds the user."""

    workspace_id = serializers.IntegerField(read_only=True)
    contact_id = serializers.IntegerField(read_only=True)
    document_series_id = serializers.IntegerField(read_only=True)
    created_by_id = serializers.IntegerField(read_only=True)


class DocumentIncludes(serializers.Serializer):
    """A document's related records (``include=...``), kept apart from its own fields so that
    the invoice embedded in a payment carries none and payments and invoices never nest."""

    items = DocumentItemSerializer(many=True, read_only=True)
    contact = ContactSerializer(read_only=True)
    document_series = DocumentSeriesSerializer(read_only=True)
    workspace = WorkspaceRefSerializer(read_only=True)
    created_by = UserSerializer(read_only=True)


class InvoiceSummarySerializer(DocumentSerializer):
    """An invoice without its related records (as embedded in a payment)."""

    amount_due = MoneyField(read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)
    quotation_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Invoice
        fields = [
            *DOCUMENT_FIELDS,
            "amount_paid",
            "amount_due",
            "is_overdue",
            "notes",
            "quotation_id",
            "created_by_id",
            "cancelled_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PaymentSerializer(IncludableModelSerializer):
    invoice_id = serializers.IntegerField(read_only=True)
    contact_id = serializers.IntegerField(read_only=True)
    created_by_id = serializers.IntegerField(read_only=True)
    invoice = InvoiceSummarySerializer(read_only=True)
    contact = ContactSerializer(read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "payment_number",
            "invoice_id",
            "contact_id",
            "amount",
            "method",
            "paid_at",
            "reference",
            "notes",
            "status",
            "voided_at",
            "created_by_id",
            "created_at",
            "updated_at",
            "invoice",
            "contact",
        ]
        read_only_fields = fields
        include_fields = ("invoice", "contact")


class InvoiceSerializer(DocumentIncludes, InvoiceSummarySerializer):
    payments = PaymentSerializer(many=True, read_only=True)

    class Meta(InvoiceSummarySerializer.Meta):
        fields = [*InvoiceSummarySerializer.Meta.fields, *DOCUMENT_INCLUDE_FIELDS, "payments"]
        read_only_fields = fields
        include_fields = (*DOCUMENT_INCLUDE_FIELDS, "payments")


class QuotationSerializer(DocumentIncludes, DocumentSerializer):
    is_expired = serializers.BooleanField(read_only=True)

    class Meta:
        model = Quotation
        fields = [
            *DOCUMENT_FIELDS,
            "is_expired",
            "notes",
            "created_by_id",
            "created_at",
            "updated_at",
            *DOCUMENT_INCLUDE_FIELDS,
        ]
        read_only_fields = fields
        include_fields = DOCUMENT_INCLUDE_FIELDS


# --- documents: input -----------------------------------------------------------------------


class DocumentItemInputSerializer(serializers.Serializer):
    # The line's default tax is read for every line: loaded with the products.
    product_id = ScopedRelatedField(
        source="product", queryset=Product.objects.select_related("default_tax")
    )
    quantity = serializers.DecimalField(**AMOUNT, min_value=CENT)
    unit_price = serializers.DecimalField(
        **AMOUNT, min_value=Decimal(0), required=False, help_text="Default: the product's price."
    )
    description = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Default: the product's name."
    )
    discount_rate = serializers.DecimalField(
        **RATE,
        min_value=Decimal(0),
        max_value=HUNDRED,
        required=False,
        allow_null=True,
        help_text="Percent of the line subtotal. Send this or `discount_amount`.",
    )
    discount_amount = serializers.DecimalField(
        **AMOUNT,
        min_value=Decimal(0),
        required=False,
        allow_null=True,
        help_text="At most the line subtotal. Send this or `discount_rate`.",
    )
    tax_ids = serializers.ListField(
        child=ScopedRelatedField(queryset=Tax.objects.all()),
        source="taxes",
        required=False,
        max_length=10,
        help_text="Taxes of the line; default: the product's default tax. Each "
        "tax's rate is copied onto the line.",
    )

    class Meta:
        list_serializer_class = BulkRelatedListSerializer

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("discount_rate") is not None and attrs.get("discount_amount") is not None:
            raise serializers.ValidationError(
                {"discount_amount": ["Send discount_rate or discount_amount, not both."]}
            )
        taxes = attrs.get("taxes", [])
        if len(set(taxes)) != len(taxes):
            raise serializers.ValidationError({"tax_ids": ["A tax appears twice."]})
        return attrs


class DocumentItemUpdateSerializer(DocumentItemInputSerializer):
    """An item with an ``id`` rewrites that stored line and keeps what it does not resend;
    one without is a new line."""

    id = serializers.IntegerField(required=False, help_text="A stored line of this document.")
    product_id = ScopedRelatedField(
        source="product", queryset=Product.objects.select_related("default_tax"), required=False
    )
    quantity = serializers.DecimalField(**AMOUNT, min_value=CENT, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if "id" not in attrs:
            missing = {
                name: ["This field is required for a new item."]
                for name, source in (("product_id", "product"), ("quantity", "quantity"))
                if source not in attrs
            }
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class CurrencyField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "ISO 4217 code; default: the tenant's currency.")
        super().__init__(
            min_length=3,
            max_length=3,
            validators=[RegexValidator(r"^[A-Za-z]{3}$", "Use a three-letter ISO 4217 code.")],
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> str:
        return super().to_internal_value(data).upper()


class DocumentInputSerializer(serializers.Serializer):
    """Fields shared by the create and update bodies of invoices and quotations."""

    contact_id = ScopedRelatedField(source="contact", queryset=Contact.objects.all())
    issue_date = serializers.DateField(required=False, help_text="Default: today.")
    due_date = serializers.DateField(required=False, allow_null=True)
    payment_term = serializers.CharField(max_length=100, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    currency = CurrencyField(required=False)


def series_field(document_type: str, **kwargs: Any) -> serializers.Field:
    kwargs.setdefault("help_text", f"Default: the default {document_type} series.")
    series = DocumentSeries.objects.filter(document_type=document_type)
    return ScopedRelatedField(
        source="document_series",
        queryset=series,
        noun=f"{document_type} series",
        required=False,
        **kwargs,
    )


DOCUMENT_NUMBER_HELP = (
    "Optional: a number of the series (its prefix, then digits), unused and not below its next "
    "number; the series then continues after it."
)


class PaymentInputSerializer(serializers.Serializer):
    amount = MoneyField(min_value=CENT, help_text="At most the invoice's amount due.")
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    paid_at = serializers.DateField(required=False, help_text="Default: today.")
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)


class InvoiceCreateSerializer(DocumentInputSerializer):
    items = document_items(DocumentItemInputSerializer)
    document_series_id = series_field(DocumentType.INVOICE)
    document_number = serializers.CharField(
        max_length=64, required=False, help_text=DOCUMENT_NUMBER_HELP
    )
    status = serializers.ChoiceField(
        choices=[Invoice.Status.DRAFT, Invoice.Status.PENDING_PAYMENT],
        required=False,
        help_text='`"draft"` saves without issuing (no number, no stock movement); default: '
        "issue at once.",
    )
    payment = PaymentInputSerializer(
        required=False, help_text="A first payment, recorded with the invoice."
    )


class InvoiceUpdateSerializer(DocumentInputSerializer):
    contact_id = ScopedRelatedField(
        source="contact", queryset=Contact.objects.all(), required=False
    )
    items = document_items(
        DocumentItemUpdateSerializer,
        required=False,
        help_text="The whole new list: items with an `id` rewrite that line, the others are "
        "added, stored lines not sent are removed.",
    )
    document_series_id = series_field(
        DocumentType.INVOICE, help_text="Drafts only: an issued invoice keeps its series."
    )


class InvoiceIssueSerializer(serializers.Serializer):
    document_number = serializers.CharField(
        max_length=64, required=False, help_text=DOCUMENT_NUMBER_HELP
    )


class QuotationCreateSerializer(DocumentInputSerializer):
    items = document_items(DocumentItemInputSerializer)
    document_series_id = series_field(DocumentType.QUOTATION)
    document_number = serializers.CharField(
        max_length=64, required=False, help_text=DOCUMENT_NUMBER_HELP
    )


class QuotationUpdateSerializer(DocumentInputSerializer):
    contact_id = ScopedRelatedField(
        source="contact", queryset=Contact.objects.all(), required=False
    )
    items = document_items(DocumentItemUpdateSerializer, required=False)
    status = serializers.ChoiceField(
        choices=[c for c in Quotation.Status.choices if c[0] != Quotation.Status.CONVERTED],
        required=False,
        help_text="draft → sent | approved | rejected | cancelled; sent → approved | rejected | "
        "cancelled; approved → cancelled. `converted` comes only from `/convert`.",
    )


class QuotationConvertSerializer(serializers.Serializer):
    issue_date = serializers.DateField(required=False, help_text="Default: today.")
    due_date = serializers.DateField(required=False, allow_null=True)
    document_series_id = series_field(DocumentType.INVOICE)


class DocumentIdsSerializer(serializers.Serializer):
    ids = VisibleIdsField(
        allow_empty=False,
        max_length=100,
        error_messages={"max_length": "At most 100 documents at a time."},
        help_text="1 to 100 ids of the current workspace's documents, each once; ids it does "
        "not hold are named in the `422`, as unknown ids are.",
    )


# --- payments: input ------------------------------------------------------------------------


class PaymentCreateSerializer(PaymentInputSerializer):
    invoice_id = ScopedRelatedField(
        source="invoice", queryset=Invoice.objects.all(), workspace_lookup="workspace"
    )
