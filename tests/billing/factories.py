"""Builders for billing tests: stocked products, request bodies, documents made through the
services (as the API makes them), and a snapshot of everything billing writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing.models import (
    DocumentSeries,
    Invoice,
    InvoiceItem,
    InvoiceItemTax,
    Payment,
    Quotation,
    QuotationItem,
)
from billing.services.invoices import invoice_create
from billing.services.quotations import quotation_create
from contacts.models import Contact
from inventory.models import Product, Tax
from optiflow.models import Event
from tenants.models import User, Workspace
from tests.inventory.factories import ProductFactory, give_stock, ledger_state


def product_with_stock(workspace: Workspace, quantity: str, *, actor: User, **fields) -> Product:
    product = ProductFactory(**fields)
    give_stock(product, workspace, quantity, actor=actor)
    return product


def item(product: Product, quantity: str | int = 1, **extra: Any) -> dict[str, Any]:
    """One line of a request body."""
    return {"product_id": product.pk, "quantity": str(quantity), **extra}


def service_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request lines as the input serializer hands them to the services: decimals parsed,
    ``product_id`` and ``tax_ids`` resolved to their records."""
    decimals = ("quantity", "unit_price", "discount_rate", "discount_amount")
    lines = []
    for item in items:
        line = {k: Decimal(v) if k in decimals else v for k, v in item.items()}
        if "product_id" in line:
            line["product"] = Product.objects.get(pk=line.pop("product_id"))
        if "tax_ids" in line:
            line["taxes"] = [Tax.objects.get(pk=pk) for pk in line.pop("tax_ids")]
        lines.append(line)
    return lines


def make_invoice(
    *,
    workspace: Workspace,
    actor: User,
    contact: Contact,
    items: list[dict[str, Any]],
    **fields: Any,
) -> Invoice:
    return invoice_create(
        workspace=workspace, actor=actor, contact=contact, items=service_items(items), **fields
    )


def make_quotation(
    *,
    workspace: Workspace,
    actor: User,
    contact: Contact,
    items: list[dict[str, Any]],
    **fields: Any,
) -> Quotation:
    return quotation_create(
        workspace=workspace, actor=actor, contact=contact, items=service_items(items), **fields
    )


def billing_state() -> dict[str, Any]:
    """Every row count billing and the ledger touch, the series counters and stock levels:
    equal before and after a refused request means nothing at all was written."""
    return {
        "invoices": Invoice.objects.count(),
        "invoice_items": InvoiceItem.objects.count(),
        "line_taxes": InvoiceItemTax.objects.count(),
        "quotations": list(Quotation.objects.values_list("pk", "status", "updated_at")),
        "quotation_items": QuotationItem.objects.count(),
        "payments": Payment.objects.count(),
        "events": Event.objects.count(),
        "series": dict(DocumentSeries.objects.values_list("prefix", "next_number")),
        "ledger": ledger_state(),
    }
