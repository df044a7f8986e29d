"""What invoices and quotations share: the contact, date and currency rules, and their lines.

Request items (their ``product`` and ``taxes`` already resolved by the input serializer, which
refuses unknown ids) become priced ``Line``s (defaults from the product, the arithmetic of
``billing.money``), which are then written as item rows with per-line tax copies. Every business
problem with the items is collected and reported at once, keyed ``items.N.field``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection

from billing.models import Document, DocumentItem, LineTax
from billing.money import DiscountExceedsSubtotal, LineAmounts, document_amounts, line_amounts
from contacts.models import Contact
from inventory.models import Product
from optiflow.db.inserts import bulk_insert
from optiflow.db.prefetch import set_prefetched
from optiflow.errors import NON_FIELD, DomainError
from optiflow.money import MAX_AMOUNT
from tenants.models import Tenant

DEFAULT_CURRENCY = "USD"


class ContactNotBillable(DomainError):
    pass


class InvalidItems(DomainError):
    pass


BILLABLE_TYPES = (Contact.Type.CUSTOMER, Contact.Type.BOTH)


def check_contact(contact: Contact, *, field: str = "contact_id") -> None:
    if contact.status != Contact.Status.ACTIVE or contact.contact_type not in BILLABLE_TYPES:
        raise ContactNotBillable("The contact must be an active customer.", field=field)


def check_dates(issue_date: dt.date, due_date: dt.date | None) -> None:
    if due_date is not None and due_date < issue_date:
        raise DomainError("The due date may not be before the issue date.", field="due_date")


def check_products_active(products: Sequence[Product]) -> None:
    """For documents made from stored lines (a draft issued, a quotation converted)."""
    errors = {
        f"items.{index}.product_id": ["The product is inactive."]
        for index, product in enumerate(products)
        if not product.is_active
    }
    if errors:
        raise InvalidItems("A product on the document is inactive.", errors=errors)


def tenant_currency() -> str:
    """The tenant's currency, the default of every document."""
    currency = getattr(getattr(connection, "tenant", None), "currency", None)
    if currency is None:  # a schema activated by name (scripts, seeding) carries no tenant row
        currency = (
            Tenant.objects.filter(schema_name=connection.schema_name)
            .values_list("currency", flat=True)
            .first()
        )
    return currency or DEFAULT_CURRENCY


@dataclass(frozen=True)
class TaxCopy:
    """A tax as it applies to one line: its rate is fixed once the line has it."""

    tax_id: int
    name: str
    rate: Decimal


@dataclass
class Line:
    product: Product
    description: str
    quantity: Decimal
    unit_price: Decimal
    #: ``None`` when the discount is given as an amount (or there is none).
    discount_rate: Decimal | None
    taxes: tuple[TaxCopy, ...]
    amounts: LineAmounts
    #: The stored row this line rewrites, when it matches one by ``id``.
    item: DocumentItem | None = None


class ErrorCollector:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise InvalidItems(errors=self.errors)


def lines_prepare(
    *, items: Sequence[dict[str, Any]], existing: Mapping[int, DocumentItem] | None = None
) -> list[Line]:
    """Price the request's items. An item with an ``id`` rewrites that stored line and keeps
    whatever it does not resend (product, price, discount, taxes with their copied rates)."""
    existing = existing or {}
    problems = ErrorCollector()
    lines: list[Line] = []
    matched: set[int] = set()
    for index, item in enumerate(items):
        path = f"items.{index}"
        stored = None
        if "id" in item:
            stored = existing.get(item["id"])
            if stored is None:
                problems.add(f"{path}.id", "This document has no such item.")
                continue
            if stored.pk in matched:
                problems.add(f"{path}.id", "The item appears twice.")
                continue
            matched.add(stored.pk)
        product = stored.product if stored is not None else None
        if "product" in item and (stored is None or item["product"].pk != stored.product_id):
            product = item["product"]
            if not product.is_active:
                problems.add(f"{path}.product_id", "The product is inactive.")
                continue
        line_taxes = line_tax_copies(item, stored, product, problems, path)
        line = priced_line(item, stored, product, line_taxes, problems, path)
        if line is not None:
            lines.append(line)
    problems.raise_if_any()
    return lines


def line_tax_copies(
    item: dict[str, Any],
    stored: DocumentItem | None,
    product: Product,
    problems: ErrorCollector,
    path: str,
) -> tuple[TaxCopy, ...]:
    if "taxes" in item:
        copies = []
        for position, tax in enumerate(item["taxes"]):
            if not tax.is_active:
                problems.add(f"{path}.tax_ids.{position}", "The tax is inactive.")
            else:
                copies.append(TaxCopy(tax.pk, tax.name, tax.rate))
        return tuple(copies)
    if stored is not None and product.pk == stored.product_id:
        return tuple(TaxCopy(t.tax_id, t.name, t.rate) for t in stored.taxes.all())
    default = product.default_tax
    if default is not None and default.is_active:
        return (TaxCopy(default.pk, default.name, default.rate),)
    return ()


def priced_line(
    item: dict[str, Any],
    stored: DocumentItem | None,
    product: Product,
    taxes: tuple[TaxCopy, ...],
    problems: ErrorCollector,
    path: str,
) -> Line | None:
    same_product = stored is not None and product.pk == stored.product_id
    quantity = item.get("quantity", stored.quantity if stored else None)
    unit_price = item.get("unit_price", stored.unit_price if same_product else product.price)
    description = item.get("description") or (stored.description if same_product else product.name)
    if "discount_rate" in item or "discount_amount" in item:
        rate, given = item.get("discount_rate"), item.get("discount_amount")
    elif stored is not None:
        rate = stored.discount_rate
        given = stored.discount_amount if rate is None and stored.discount_amount else None
    else:
        rate = given = None
    try:
        amounts = line_amounts(
            quantity=quantity,
            unit_price=unit_price,
            discount_rate=rate,
            discount_amount=given,
            tax_rates=[t.rate for t in taxes],
        )
    except DiscountExceedsSubtotal as error:
        problems.add(f"{path}.discount_amount", str(error))
        return None
    if amounts.subtotal > MAX_AMOUNT or amounts.total > MAX_AMOUNT:
        problems.add(f"{path}.quantity", f"The line amount may not exceed {MAX_AMOUNT}.")
        return None
    return Line(product, description, quantity, unit_price, rate, taxes, amounts, stored)


@dataclass
class ItemsReplacement:
    """A document's whole new item list, priced against its stored lines: ``lines`` rewrite
    the rows they match by ``id`` and add the others; ``removed`` are the stored rows not sent.
    Nothing is written until ``write``, so a caller can first compare with the rows as they
    are (an issued invoice's stock reconciliation)."""

    document: Document
    lines: list[Line]
    removed: list[DocumentItem]

    def write(self) -> None:
        """Set the document's totals from the new lines, save it and write its item rows."""
        document_totals_set(self.document, self.lines)
        self.document.save()
        lines_write(document=self.document, lines=self.lines, removed=self.removed)


def items_replacement(*, document: Document, items: Sequence[dict[str, Any]]) -> ItemsReplacement:
    """The one way invoices and quotations replace their items (``PUT``/``PATCH`` with
    ``items``): stored lines are matched by ``id``, the others added, the missing removed."""
    existing = {
        item.pk: item for item in document.items.select_related("product").prefetch_related("taxes")
    }
    lines = lines_prepare(items=items, existing=existing)
    kept = {line.item.pk for line in lines if line.item is not None}
    removed = [item for pk, item in existing.items() if pk not in kept]
    return ItemsReplacement(document, lines, removed)


def lines_copy(items: Iterable[DocumentItem]) -> list[Line]:
    """Lines identical to stored ones (prices, discounts, copied tax rates), for a document
    made from another (a quotation converted to an invoice)."""
    lines = []
    for item in items:
        taxes = tuple(TaxCopy(t.tax_id, t.name, t.rate) for t in item.taxes.all())
        given = (
            item.discount_amount if item.discount_rate is None and item.discount_amount else None
        )
        amounts = line_amounts(
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount_rate=item.discount_rate,
            discount_amount=given,
            tax_rates=[t.rate for t in taxes],
        )
        lines.append(
            Line(
                item.product,
                item.description,
                item.quantity,
                item.unit_price,
                item.discount_rate,
                taxes,
                amounts,
            )
        )
    return lines


def document_totals_set(document: Document, lines: Iterable[Line]) -> None:
    totals = document_amounts(line.amounts for line in lines)
    if totals.subtotal > MAX_AMOUNT or totals.total > MAX_AMOUNT:
        raise InvalidItems(f"The document total may not exceed {MAX_AMOUNT}.", field=NON_FIELD)
    document.subtotal_amount = totals.subtotal
    document.discount_amount = totals.discount
    document.tax_amount = totals.tax
    document.total_amount = totals.total


ITEM_FIELDS = [
    "product",
    "description",
    "quantity",
    "unit_price",
    "discount_rate",
    "discount_amount",
    "subtotal",
    "tax_amount",
    "total",
]


def lines_write(
    *, document: Document, lines: Sequence[Line], removed: Iterable[DocumentItem] = ()
) -> None:
    """Write ``lines`` as ``document.items``: update the rows they match, create the others,
    delete ``removed``; each written line's taxes are replaced by its copies."""
    item_model: type[DocumentItem] = document.items.model
    tax_model: type[LineTax] = item_model.taxes.field.model
    parent_field = document.items.field.name
    removed_ids = [item.pk for item in removed]
    if removed_ids:
        item_model.objects.filter(pk__in=removed_ids).delete()
    rows = []
    for line in lines:
        row = line.item or item_model(**{parent_field: document})
        row.product = line.product
        row.description = line.description
        row.quantity = line.quantity
        row.unit_price = line.unit_price
        row.discount_rate = line.discount_rate
        row.discount_amount = line.amounts.discount
        row.subtotal = line.amounts.subtotal
        row.tax_amount = line.amounts.tax
        row.total = line.amounts.total
        rows.append(row)
    updated = [row for row in rows if row.pk is not None]
    if updated:
        tax_model.objects.filter(item__in=updated).delete()
        item_model.objects.bulk_update(updated, ITEM_FIELDS)
    bulk_insert([row for row in rows if row.pk is None])
    copies = [
        [
            tax_model(item=row, tax_id=copy.tax_id, name=copy.name, rate=copy.rate, amount=amount)
            for copy, amount in zip(line.taxes, line.amounts.taxes, strict=True)
        ]
        for row, line in zip(rows, lines, strict=True)
    ]
    bulk_insert([tax for taxes in copies for tax in taxes])
    # These are now all of the document's lines and taxes, as a read would order them (by id):
    # held as its relations, they are what its event renders (``invoice_write``).
    for row, taxes in zip(rows, copies, strict=True):
        set_prefetched(row, "taxes", taxes)
    set_prefetched(document, "items", sorted(rows, key=lambda row: row.pk))
