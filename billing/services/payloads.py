"""The JSON each billing event carries (SPEC §8.10): ids, numbers, statuses and amounts as
strings, enough for a subscriber to act without calling back."""

from __future__ import annotations

from typing import Any

from billing.models import Invoice, Payment, Quotation


def invoice_payload(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.pk,
        "document_number": invoice.document_number,
        "status": invoice.status,
        "workspace_id": invoice.workspace_id,
        "contact_id": invoice.contact_id,
        "quotation_id": invoice.quotation_id,
        "currency": invoice.currency,
        "total_amount": str(invoice.total_amount),
        "amount_paid": str(invoice.amount_paid),
        "amount_due": str(invoice.outstanding),
    }


def payment_payload(payment: Payment, invoice: Invoice) -> dict[str, Any]:
    return {
        "id": payment.pk,
        "payment_number": payment.payment_number,
        "status": payment.status,
        "invoice_id": invoice.pk,
        "contact_id": payment.contact_id,
        "amount": str(payment.amount),
        "method": payment.method,
        "paid_at": payment.paid_at.isoformat(),
        "invoice": invoice_payload(invoice),
    }


def quotation_payload(quotation: Quotation, invoice: Invoice) -> dict[str, Any]:
    return {
        "id": quotation.pk,
        "document_number": quotation.document_number,
        "status": quotation.status,
        "workspace_id": quotation.workspace_id,
        "contact_id": quotation.contact_id,
        "total_amount": str(quotation.total_amount),
        "invoice": invoice_payload(invoice),
    }
