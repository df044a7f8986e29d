"""Payments (SPEC §8.8): recording one against an invoice, and voiding it. Either way the
invoice's ``amount_paid`` and status follow in the same transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models import DocumentType, Invoice, Payment
from billing.services.numbering import document_number_take
from optiflow.db.timeouts import lock_for_change
from optiflow.errors import NON_FIELD, DomainError
from optiflow.events import event_record
from tenants.models import User


class InvoiceNotPayable(DomainError):
    pass


class PaymentExceedsAmountDue(DomainError):
    pass


class PaymentAlreadyVoided(DomainError):
    pass


PAYABLE = (Invoice.Status.PENDING_PAYMENT, Invoice.Status.PARTIALLY_PAID)


def settle(invoice: Invoice, amount_paid: Decimal) -> None:
    """Set what has been paid and the status that follows from it."""
    invoice.amount_paid = amount_paid
    if amount_paid == 0:
        invoice.status = Invoice.Status.PENDING_PAYMENT
    elif amount_paid < invoice.total_amount:
        invoice.status = Invoice.Status.PARTIALLY_PAID
    else:
        invoice.status = Invoice.Status.PAID
    invoice.save(update_fields=["amount_paid", "status", "updated_at"])


@transaction.atomic
def payment_create(
    *,
    invoice: Invoice,
    actor: User,
    amount: Decimal,
    method: str,
    paid_at: dt.date | None = None,
    reference: str = "",
    notes: str = "",
    field_prefix: str = "",
) -> Payment:
    """Record a payment of at most the amount due. ``field_prefix`` places the errors when the
    payment is nested in another request (``payment.amount``)."""
    # Payments of one invoice queue on its row lock, so each sees the amount due the previous
    # one left: concurrent payments can never add up to more than the total.
    invoice = lock_for_change(Invoice, invoice.pk, label="invoice")
    if invoice.status not in PAYABLE:
        raise InvoiceNotPayable(
            f"Only an issued invoice with an amount due can be paid; this one is "
            f"{invoice.get_status_display().lower()}."
        )
    if amount > invoice.outstanding:
        raise PaymentExceedsAmountDue(
            f"The amount may not exceed the amount due ({invoice.outstanding}).",
            field=f"{field_prefix}amount",
        )
    series, number = document_number_take(
        document_type=DocumentType.PAYMENT, series_field=NON_FIELD, number_field=NON_FIELD
    )
    payment = Payment.objects.create(
        document_series=series,
        payment_number=number,
        invoice=invoice,
        contact_id=invoice.contact_id,
        amount=amount,
        method=method,
        paid_at=paid_at or timezone.localdate(),
        reference=reference,
        notes=notes,
        created_by=actor,
    )
    settle(invoice, invoice.amount_paid + amount)
    event_record(type="payment.received", record=payment)
    if invoice.status == Invoice.Status.PAID:
        event_record(type="invoice.paid", record=invoice)
    return payment


@transaction.atomic
def payment_void(*, payment: Payment) -> Payment:
    """Void a payment (kept, for audit) and give its amount back to the invoice's amount due."""
    invoice = lock_for_change(Invoice, payment.invoice_id, label="invoice")
    payment = lock_for_change(Payment, payment.pk, label="payment")
    if payment.status == Payment.Status.VOIDED:
        raise PaymentAlreadyVoided("The payment is already voided.")
    payment.status = Payment.Status.VOIDED
    payment.voided_at = timezone.now()
    payment.save(update_fields=["status", "voided_at", "updated_at"])
    settle(invoice, invoice.amount_paid - payment.amount)
    event_record(type="payment.voided", record=payment)
    return payment
