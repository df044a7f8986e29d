"""Refusals billing registers with other apps (from ``BillingConfig.ready``), so that contacts,
products, taxes and workspaces referenced by documents are deactivated rather than deleted."""

from __future__ import annotations

from billing.models import (
    Invoice,
    InvoiceItem,
    InvoiceItemTax,
    Payment,
    Quotation,
    QuotationItem,
    QuotationItemTax,
)
from contacts.models import Contact
from inventory.models import Product, Tax
from tenants.models import Workspace


def contact_has_documents(contact: Contact) -> str | None:
    if (
        Invoice.objects.filter(contact=contact).exists()
        or Quotation.objects.filter(contact=contact).exists()
        or Payment.objects.filter(contact=contact).exists()
    ):
        return "The contact has quotations, invoices or payments; set it inactive instead."
    return None


def product_on_documents(product: Product) -> str | None:
    if (
        InvoiceItem.objects.filter(product=product).exists()
        or QuotationItem.objects.filter(product=product).exists()
    ):
        return "The product is on document lines; deactivate it instead."
    return None


def tax_on_documents(tax: Tax) -> str | None:
    if (
        InvoiceItemTax.objects.filter(tax=tax).exists()
        or QuotationItemTax.objects.filter(tax=tax).exists()
    ):
        return "The tax is used on document lines; deactivate it instead."
    return None


def workspace_has_documents(workspace: Workspace) -> str | None:
    if (
        Invoice.objects.filter(workspace=workspace).exists()
        or Quotation.objects.filter(workspace=workspace).exists()
    ):
        return "The workspace holds quotations or invoices."
    return None
