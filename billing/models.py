"""Billing records (SPEC §8.6-§8.9): document series, quotations and invoices with their lines
and per-line tax copies, and payments.

Invoices and quotations share one shape (``Document``, ``DocumentItem``, ``LineTax``). Every
money field is computed by ``billing.money`` in the services; the constraints below back the
invariants the services enforce (unique numbers, no overpayment, sane ranges).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from optiflow.money import AMOUNT, RATE
from tenants.models import User, Workspace


class DocumentType(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    QUOTATION = "quotation", "Quotation"
    PAYMENT = "payment", "Payment"


class DocumentSeries(models.Model):
    """A numbering sequence: ``prefix`` + ``next_number`` zero-padded to ``padding`` digits."""

    #: The largest ``next_number`` the column holds.
    SEQUENCE_MAX = 2_147_483_647

    name = models.CharField(max_length=200)
    document_type = models.CharField(max_length=20, choices=DocumentType.choices)
    prefix = models.CharField(max_length=20)
    next_number = models.PositiveIntegerField(default=1)
    padding = models.PositiveSmallIntegerField(default=4)
    end_number = models.PositiveIntegerField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "document series"
        constraints = [
            models.UniqueConstraint(
                fields=["document_type"],
                condition=Q(is_default=True),
                name="document_series_single_default",
            ),
            models.UniqueConstraint(
                fields=["document_type", "prefix"], name="document_series_prefix_unique"
            ),
            models.CheckConstraint(
                condition=Q(next_number__gte=1), name="document_series_next_number_positive"
            ),
            models.CheckConstraint(
                condition=Q(padding__gte=1, padding__lte=12), name="document_series_padding_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def format_number(self, sequence: int) -> str:
        return f"{self.prefix}{sequence:0{self.padding}d}"


# --- documents ------------------------------------------------------------------------------


class Document(models.Model):
    """What invoices and quotations have in common."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="%(class)ss")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, related_name="%(class)ss"
    )
    document_series = models.ForeignKey(
        DocumentSeries, on_delete=models.PROTECT, related_name="%(class)ss"
    )
    issue_date = models.DateField(default=timezone.localdate)
    due_date = models.DateField(null=True, blank=True)
    payment_term = models.CharField(max_length=100, blank=True, default="")
    currency = models.CharField(max_length=3)
    subtotal_amount = models.DecimalField(**AMOUNT, default=Decimal("0.00"))
    discount_amount = models.DecimalField(**AMOUNT, default=Decimal("0.00"))
    tax_amount = models.DecimalField(**AMOUNT, default=Decimal("0.00"))
    total_amount = models.DecimalField(**AMOUNT, default=Decimal("0.00"))
    notes = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    #: Why these references keep their target from being deleted (``optiflow.deletion``).
    in_use_reasons = {
        "workspace": "The workspace holds quotations or invoices.",
        "contact": "The contact has quotations, invoices or payments; set it inactive instead.",
    }

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.document_number or f"Draft #{self.pk}"


class Quotation(Document):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        CONVERTED = "converted", "Converted"

    document_number = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)

    class Meta:
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["document_number"], name="quotation_document_number_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "issue_date"])]

    @property
    def is_expired(self) -> bool:
        return (
            self.due_date is not None
            and self.due_date < timezone.localdate()
            and self.status != self.Status.CONVERTED
        )


class Invoice(Document):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_PAYMENT = "pending_payment", "Pending payment"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    #: Issued and not cancelled: what a contact has been billed for.
    BILLED_STATUSES = (Status.PENDING_PAYMENT, Status.PARTIALLY_PAID, Status.PAID)

    #: ``None`` until issued: a draft is numbered when it is issued (NULL, not "", so drafts
    #: stay out of the unique constraint and answer ``null``).
    document_number = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    amount_paid = models.DecimalField(**AMOUNT, default=Decimal("0.00"))
    #: Nothing is due on a cancelled invoice.
    amount_due = models.GeneratedField(
        expression=Case(
            When(status="cancelled", then=Value(Decimal("0.00"))),
            default=F("total_amount") - F("amount_paid"),
        ),
        output_field=models.DecimalField(**AMOUNT),
        db_persist=True,
    )
    quotation = models.OneToOneField(
        Quotation, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["document_number"], name="invoice_document_number_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount_paid__gte=0, amount_paid__lte=F("total_amount")),
                name="invoice_not_overpaid",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(document_number__isnull=False),
                name="invoice_issued_has_number",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "issue_date"]),
            models.Index(fields=["workspace", "status"]),
        ]

    @property
    def outstanding(self) -> Decimal:
        """``amount_due`` computed from the fields in memory. The generated column is only as
        fresh as the last read: after ``save()`` its attribute still holds the old value."""
        if self.status == self.Status.CANCELLED:
            return Decimal("0.00")
        return self.total_amount - self.amount_paid

    @property
    def is_overdue(self) -> bool:
        return (
            self.due_date is not None
            and self.due_date < timezone.localdate()
            and self.status not in (self.Status.DRAFT, self.Status.CANCELLED)
            and self.outstanding > 0
        )


class DocumentItem(models.Model):
    """A document line. ``discount_rate`` is ``None`` when the discount was given as an amount;
    the money fields are the line's computed amounts."""

    product = models.ForeignKey(
        "inventory.Product", on_delete=models.PROTECT, related_name="%(class)ss"
    )
    description = models.CharField(max_length=500)
    quantity = models.DecimalField(**AMOUNT)
    unit_price = models.DecimalField(**AMOUNT)
    discount_rate = models.DecimalField(**RATE, null=True, blank=True)
    discount_amount = models.DecimalField(**AMOUNT, default=Decimal("0.00"))
    subtotal = models.DecimalField(**AMOUNT)
    tax_amount = models.DecimalField(**AMOUNT, default=Decimal("0.00"))
    total = models.DecimalField(**AMOUNT)

    in_use_reasons = {"product": "The product is on document lines; deactivate it instead."}

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.quantity} x {self.description}"


class InvoiceItem(DocumentItem):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="items")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="invoice_item_quantity_positive"
            ),
        ]


class QuotationItem(DocumentItem):
    quotation = models.ForeignKey(Quotation, on_delete=models.CASCADE, related_name="items")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="quotation_item_quantity_positive"
            ),
        ]


class LineTax(models.Model):
    """A tax applied to a line, with the tax's name and rate copied at the time: changing the
    tax later never changes a document."""

    tax = models.ForeignKey("inventory.Tax", on_delete=models.PROTECT, related_name="%(class)ss")
    name = models.CharField(max_length=200)
    rate = models.DecimalField(**RATE)
    amount = models.DecimalField(**AMOUNT)

    in_use_reasons = {"tax": "The tax is used on document lines; deactivate it instead."}

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} {self.rate}%"


class InvoiceItemTax(LineTax):
    item = models.ForeignKey(InvoiceItem, on_delete=models.CASCADE, related_name="taxes")

    class Meta:
        ordering = ["id"]


class QuotationItemTax(LineTax):
    item = models.ForeignKey(QuotationItem, on_delete=models.CASCADE, related_name="taxes")

    class Meta:
        ordering = ["id"]


# --- payments -------------------------------------------------------------------------------


class Payment(models.Model):
    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CHECK = "check", "Check"
        CREDIT_CARD = "credit_card", "Credit card"
        DEBIT_CARD = "debit_card", "Debit card"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        MOBILE_PAYMENT = "mobile_payment", "Mobile payment"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        VOIDED = "voided", "Voided"

    document_series = models.ForeignKey(
        DocumentSeries, on_delete=models.PROTECT, related_name="payments"
    )
    payment_number = models.CharField(max_length=64)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, related_name="payments"
    )
    amount = models.DecimalField(**AMOUNT)
    method = models.CharField(max_length=20, choices=Method.choices)
    paid_at = models.DateField(default=timezone.localdate)
    reference = models.CharField(max_length=200, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.COMPLETED)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    in_use_reasons = {"contact": Document.in_use_reasons["contact"]}

    class Meta:
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["payment_number"], name="payment_number_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.payment_number
