"""Invoices (SPEC §8.7): create, issue, update and void.

Issuing takes the number and writes the ``sale`` movements in the invoice's own transaction,
so a refused line (a shortage) leaves nothing behind: no invoice, no number, no movement.
Stock is only ever moved by ``inventory.services.stock_apply``, with new movements; past
movements are never edited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.models import (
    DocumentSeries,
    DocumentType,
    Invoice,
    InvoiceItem,
    InvoiceItemTax,
    Payment,
    Quotation,
)
from billing.services.documents import (
    ItemsReplacement,
    Line,
    check_contact,
    check_dates,
    check_products_active,
    document_totals_set,
    items_replacement,
    lines_prepare,
    lines_write,
    tenant_currency,
)
from billing.services.numbering import document_number_take, series_default
from billing.services.payments import payment_create
from contacts.models import Contact
from inventory.models import Product, StockMovement
from inventory.services import StockChange, stock_apply
from optiflow.db.prefetch import set_prefetched
from optiflow.db.records import AnyOf, CompiledQuery
from optiflow.db.saves import save_fields, save_new
from optiflow.db.timeouts import lock_for_change
from optiflow.errors import DomainError
from optiflow.events import event_record
from tenants.models import User, Workspace

SALE, RETURN = StockMovement.Type.SALE, StockMovement.Type.RETURN


class InvoiceNotIssuable(DomainError):
    pass


class InvoiceNotEditable(DomainError):
    pass


class InvoiceNotVoidable(DomainError):
    pass


def invoice_lock(invoice: Invoice) -> Invoice:
    """The invoice locked, with its workspace (which its stock changes name)."""
    return lock_for_change(Invoice, invoice.pk, label="invoice", related=("workspace",))


#: The statements of a void, compiled once (``CompiledQuery``): each void runs them all.
COMPLETED_PAYMENT = CompiledQuery(
    lambda invoice_id: Payment.objects.filter(
        invoice_id=invoice_id, status=Payment.Status.COMPLETED
    ).order_by()[:1]
)
LINES_WITH_PRODUCTS = CompiledQuery(
    lambda invoice_id: InvoiceItem.objects.filter(invoice_id=invoice_id).select_related("product")
)
LINES_TAXES = CompiledQuery(
    lambda item_ids: InvoiceItemTax.objects.filter(AnyOf(F("item_id"), item_ids))
)


def has_active_payments(invoice: Invoice) -> bool:
    return bool(COMPLETED_PAYMENT.records(invoice.pk))


def invoice_lines_read(invoice: Invoice) -> list[InvoiceItem]:
    """The invoice's lines with their products and taxes, in two statements, held as its
    relations as ``prefetch_related_objects(invoice, "items", "items__taxes")`` leaves them
    (each line's and tax's key to its parent cached too), the products as ``select_related``
    leaves them."""
    items = LINES_WITH_PRODUCTS.records(invoice.pk)
    taxes: dict[int, list[InvoiceItemTax]] = {item.pk: [] for item in items}
    for tax in LINES_TAXES.records(list(taxes)):
        taxes[tax.item_id].append(tax)
    to_invoice, to_item = InvoiceItem.invoice.field, InvoiceItemTax.item.field
    for item in items:
        to_invoice.set_cached_value(item, invoice)
        for tax in taxes[item.pk]:
            to_item.set_cached_value(tax, item)
        set_prefetched(item, "taxes", taxes[item.pk])
    set_prefetched(invoice, "items", items)
    return items


def stock_out(*, invoice: Invoice, sold: Iterable[tuple[Product, Decimal]], actor: User) -> None:
    """A ``sale`` movement per line; a shortage on line N is refused on ``items.N.quantity``."""
    changes = [
        StockChange(
            product=product,
            workspace=invoice.workspace,
            quantity=-quantity,
            movement_type=SALE,
            line=index,
        )
        for index, (product, quantity) in enumerate(sold)
    ]
    stock_apply(
        changes=changes, actor=actor, reference=invoice.document_number, invoice_id=invoice.pk
    )


def invoice_write(
    *,
    workspace: Workspace,
    actor: User,
    contact: Contact,
    lines: Sequence[Line],
    document_series: DocumentSeries | None = None,
    document_number: str | None = None,
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    payment_term: str = "",
    notes: str = "",
    currency: str | None = None,
    draft: bool = False,
    quotation: Quotation | None = None,
) -> Invoice:
    """A new invoice from priced lines: saved as a draft, or issued (numbered, stock out).
    Shared by ``invoice_create`` and the conversion of a quotation, inside their transaction."""
    issue_date = issue_date or timezone.localdate()
    check_dates(issue_date, due_date)
    invoice = Invoice(
        workspace=workspace,
        contact=contact,
        issue_date=issue_date,
        due_date=due_date,
        payment_term=payment_term,
        notes=notes,
        currency=currency or tenant_currency(),
        quotation=quotation,
        created_by=actor,
    )
    document_totals_set(invoice, lines)
    if draft:
        if document_number:
            raise DomainError(
                "A draft is numbered when it is issued; send the number then.",
                field="document_number",
            )
        invoice.status = Invoice.Status.DRAFT
        invoice.document_series = document_series or series_default(DocumentType.INVOICE)
    else:
        invoice.status = Invoice.Status.PENDING_PAYMENT
        invoice.document_series, invoice.document_number = document_number_take(
            document_type=DocumentType.INVOICE, series=document_series, requested=document_number
        )
    save_new(invoice)
    lines_write(document=invoice, lines=lines)
    if not draft:
        stock_out(
            invoice=invoice, sold=[(line.product, line.quantity) for line in lines], actor=actor
        )
    # Current: the insert read back its id and generated column, and ``lines_write`` left
    # the lines and taxes it wrote as the invoice's relations.
    event_record(type="invoice.created", record=invoice, current=True)
    return invoice


@transaction.atomic
def invoice_create(
    *,
    workspace: Workspace,
    actor: User,
    contact: Contact,
    items: Sequence[dict[str, Any]],
    payment: dict[str, Any] | None = None,
    draft: bool = False,
    **fields: Any,
) -> Invoice:
    """Create an invoice and issue it at once (unless ``draft``), optionally recording a first
    ``payment`` in the same transaction. ``fields`` are ``invoice_write``'s."""
    check_contact(contact)
    if draft and payment is not None:
        raise DomainError("A draft cannot be paid; issue it first.", field="payment")
    lines = lines_prepare(items=items)
    invoice = invoice_write(
        workspace=workspace, actor=actor, contact=contact, lines=lines, draft=draft, **fields
    )
    if payment is not None:
        # This locks the invoice row after the series and stock, against the usual order; no
        # other transaction can see the new row yet, so it cannot be part of a deadlock.
        payment_create(invoice=invoice, actor=actor, field_prefix="payment.", **payment)
        invoice.refresh_from_db()
    return invoice


@transaction.atomic
def invoice_issue(*, invoice: Invoice, actor: User, document_number: str | None = None) -> Invoice:
    """Number a draft and take its stock; its contact and products are checked again, as
    they may have been deactivated since it was saved."""
    invoice = invoice_lock(invoice)
    if invoice.status != Invoice.Status.DRAFT:
        raise InvoiceNotIssuable("Only a draft invoice can be issued.")
    items = list(invoice.items.select_related("product"))
    check_contact(invoice.contact)
    check_products_active([item.product for item in items])
    invoice.document_series, invoice.document_number = document_number_take(
        document_type=DocumentType.INVOICE,
        series=invoice.document_series,
        requested=document_number,
    )
    invoice.status = Invoice.Status.PENDING_PAYMENT
    invoice.save()
    stock_out(invoice=invoice, sold=[(i.product, i.quantity) for i in items], actor=actor)
    event_record(type="invoice.updated", record=invoice)
    return invoice


def stock_reconciliation(*, invoice: Invoice, replacement: ItemsReplacement) -> list[StockChange]:
    """New movements that take an issued invoice's stock from its stored lines to the new
    ones: a ``sale`` for each increase, a ``return`` for each decrease or removal. Must run
    before the replacement is written (the matched rows still hold their old product and
    quantity)."""
    changes: list[StockChange] = []

    def move(product: Product, quantity: Decimal, index: int | None) -> None:
        if quantity:
            changes.append(
                StockChange(
                    product=product,
                    workspace=invoice.workspace,
                    quantity=quantity,
                    movement_type=SALE if quantity < 0 else RETURN,
                    line=index,
                )
            )

    for index, line in enumerate(replacement.lines):
        before = line.item
        if before is not None and before.product_id == line.product.pk:
            move(line.product, before.quantity - line.quantity, index)
        else:
            if before is not None:
                move(before.product, before.quantity, index)
            move(line.product, -line.quantity, index)
    for item in replacement.removed:
        move(item.product, item.quantity, None)
    return changes


@transaction.atomic
def invoice_update(*, invoice: Invoice, actor: User, data: dict[str, Any]) -> Invoice:
    """Change a draft, or an issued invoice nobody has paid yet. ``items``, when sent, is the
    whole new list: stored items are matched by ``id``, the others created, the missing ones
    removed; an issued invoice's stock follows with new movements."""
    invoice = invoice_lock(invoice)
    issued = invoice.status != Invoice.Status.DRAFT
    if issued and not (
        invoice.status == Invoice.Status.PENDING_PAYMENT and not has_active_payments(invoice)
    ):
        raise InvoiceNotEditable(
            "Only a draft, or an issued invoice without payments, can be changed."
        )
    series = data.get("document_series")
    if issued and series is not None and series.pk != invoice.document_series_id:
        raise DomainError(
            "The series of an issued invoice cannot change.", field="document_series_id"
        )
    if "contact" in data:
        check_contact(data["contact"])
    for name in (
        "contact",
        "document_series",
        "issue_date",
        "due_date",
        "payment_term",
        "notes",
        "currency",
    ):
        if name in data:
            setattr(invoice, name, data[name])
    check_dates(invoice.issue_date, invoice.due_date)
    if "items" not in data:
        invoice.save()
    else:
        replacement = items_replacement(document=invoice, items=data["items"])
        changes = stock_reconciliation(invoice=invoice, replacement=replacement) if issued else []
        replacement.write()
        if changes:
            stock_apply(
                changes=changes,
                actor=actor,
                reference=invoice.document_number,
                invoice_id=invoice.pk,
            )
    event_record(type="invoice.updated", record=invoice)
    return invoice


@transaction.atomic
def invoice_void(*, invoice: Invoice, actor: User) -> None:
    """Cancel an issued invoice, keeping it and its number, and return its stock; a draft,
    which has neither number nor stock, is deleted outright."""
    invoice = invoice_lock(invoice)
    if invoice.status == Invoice.Status.DRAFT:
        event_record(type="invoice.cancelled", record=invoice, extra={"deleted": True})
        invoice.delete()
        return
    if invoice.status == Invoice.Status.CANCELLED:
        raise InvoiceNotVoidable("The invoice is already cancelled.")
    if has_active_payments(invoice):
        raise InvoiceNotVoidable(
            "An invoice with payments cannot be voided; void its payments first."
        )
    invoice.status = Invoice.Status.CANCELLED
    invoice.cancelled_at = timezone.now()
    save_fields(invoice, ["status", "cancelled_at", "updated_at"])
    # An update reads no generated column back: ``amount_due`` as the model computes it.
    invoice.amount_due = invoice.outstanding
    items = invoice_lines_read(invoice)
    returned = [
        StockChange(
            product=item.product,
            workspace=invoice.workspace,
            quantity=item.quantity,
            movement_type=RETURN,
        )
        for item in items
    ]
    stock_apply(
        changes=returned, actor=actor, reference=invoice.document_number, invoice_id=invoice.pk
    )
    # Current: read under the lock, and changed since only as written above.
    event_record(type="invoice.cancelled", record=invoice, current=True)
