"""Quotations (SPEC §8.9): numbered at creation, no stock effect, a small status machine, and
conversion into an issued invoice.

Conversion runs in one transaction: the new invoice takes its number and its stock, and the
quotation becomes ``converted``, or (a shortage, say) none of it happens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from billing.models import DocumentSeries, DocumentType, Invoice, Quotation
from billing.services.documents import (
    check_contact,
    check_dates,
    check_products_active,
    document_totals_set,
    items_replacement,
    lines_copy,
    lines_prepare,
    lines_write,
    tenant_currency,
)
from billing.services.invoices import invoice_write
from billing.services.numbering import document_number_take
from contacts.models import Contact
from optiflow.db.timeouts import lock_for_change
from optiflow.errors import NON_FIELD, DomainError
from optiflow.events import event_record
from tenants.models import User, Workspace

Status = Quotation.Status

#: Where each status may go by ``PATCH {"status": ...}``; ``converted`` only comes from
#: ``quotation_convert``, and the statuses missing here are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.DRAFT: frozenset({Status.SENT, Status.APPROVED, Status.REJECTED, Status.CANCELLED}),
    Status.SENT: frozenset({Status.APPROVED, Status.REJECTED, Status.CANCELLED}),
    Status.APPROVED: frozenset({Status.CANCELLED}),
}
CONVERTIBLE = frozenset({Status.DRAFT, Status.SENT, Status.APPROVED})
LOCKED = frozenset({Status.CONVERTED, Status.CANCELLED})


class QuotationNotEditable(DomainError):
    pass


class QuotationTransitionRefused(DomainError):
    pass


class QuotationNotConvertible(DomainError):
    pass


class QuotationNotDeletable(DomainError):
    pass


def quotation_lock(quotation: Quotation) -> Quotation:
    return lock_for_change(Quotation, quotation.pk, label="quotation")


@transaction.atomic
def quotation_create(
    *,
    workspace: Workspace,
    actor: User,
    contact: Contact,
    items: Sequence[dict[str, Any]],
    document_series: DocumentSeries | None = None,
    document_number: str | None = None,
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    payment_term: str = "",
    notes: str = "",
    currency: str | None = None,
) -> Quotation:
    check_contact(contact)
    quotation = Quotation(
        workspace=workspace,
        contact=contact,
        due_date=due_date,
        payment_term=payment_term,
        notes=notes,
        currency=currency or tenant_currency(),
        created_by=actor,
    )
    if issue_date is not None:
        quotation.issue_date = issue_date
    check_dates(quotation.issue_date, due_date)
    lines = lines_prepare(items=items)
    document_totals_set(quotation, lines)
    quotation.document_series, quotation.document_number = document_number_take(
        document_type=DocumentType.QUOTATION, series=document_series, requested=document_number
    )
    quotation.save()
    lines_write(document=quotation, lines=lines)
    return quotation


@transaction.atomic
def quotation_update(*, quotation: Quotation, data: dict[str, Any]) -> Quotation:
    """Edit a quotation that is neither converted nor cancelled; ``status`` moves along
    ``TRANSITIONS``; ``items`` replaces the list as for invoices (matched by ``id``)."""
    quotation = quotation_lock(quotation)
    if quotation.status in LOCKED:
        raise QuotationNotEditable(f"A {quotation.status} quotation cannot be changed.")
    status = data.get("status", quotation.status)
    if status != quotation.status and status not in TRANSITIONS.get(quotation.status, ()):
        hint = " Use POST /quotations/{id}/convert." if status == Status.CONVERTED else ""
        raise QuotationTransitionRefused(
            f"A {quotation.status} quotation cannot become {status}.{hint}", field="status"
        )
    if "contact" in data:
        check_contact(data["contact"])
    for name in (
        "status",
        "contact",
        "issue_date",
        "due_date",
        "payment_term",
        "notes",
        "currency",
    ):
        if name in data:
            setattr(quotation, name, data[name])
    check_dates(quotation.issue_date, quotation.due_date)
    if "items" in data:
        items_replacement(document=quotation, items=data["items"]).write()
    else:
        quotation.save()
    return quotation


@transaction.atomic
def quotation_delete(*, quotation: Quotation) -> None:
    quotation = quotation_lock(quotation)
    if quotation.status == Status.CONVERTED:
        raise QuotationNotDeletable("A converted quotation cannot be deleted.")
    quotation.delete()


@transaction.atomic
def quotation_convert(
    *,
    quotation: Quotation,
    actor: User,
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    document_series: DocumentSeries | None = None,
) -> Invoice:
    """An issued invoice with the quotation's lines (prices, discounts and copied tax rates as
    they are on the quotation), linked to it; the quotation becomes ``converted``."""
    quotation = quotation_lock(quotation)
    if quotation.status not in CONVERTIBLE:
        message = (
            "The quotation has already been converted."
            if quotation.status == Status.CONVERTED
            else f"A {quotation.status} quotation cannot be converted."
        )
        raise QuotationNotConvertible(message)
    check_contact(quotation.contact, field=NON_FIELD)
    items = list(quotation.items.select_related("product").prefetch_related("taxes"))
    check_products_active([item.product for item in items])
    invoice = invoice_write(
        workspace=quotation.workspace,
        actor=actor,
        contact=quotation.contact,
        lines=lines_copy(items),
        document_series=document_series,
        issue_date=issue_date,
        due_date=due_date,
        payment_term=quotation.payment_term,
        notes=quotation.notes,
        currency=quotation.currency,
        quotation=quotation,
    )
    quotation.status = Status.CONVERTED
    quotation.save(update_fields=["status", "updated_at"])
    event_record(type="quotation.converted", record=quotation)
    return invoice
