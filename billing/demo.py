"""Demo data for `make run`'s demo tenant: quotations in several states (one converted),
invoices in every status, and payments (one voided), all written through the services, on the
contacts and products the contacts and inventory seeds created."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from billing.services.invoices import invoice_create, invoice_void
from billing.services.payments import payment_create, payment_void
from billing.services.quotations import quotation_convert, quotation_create, quotation_update
from contacts.models import Contact
from inventory.models import Product
from tenants.models import User, Workspace

D = Decimal


def seed(*, owner: User, workspaces: list[Workspace]) -> None:
    """Runs inside the demo tenant's schema, in one transaction, once (on provisioning)."""
    main, branch = workspaces
    today = timezone.localdate()
    contact = {c.name: c for c in Contact.objects.all()}
    product = {p.sku: p for p in Product.objects.all()}

    def days_ago(days: int) -> dt.date:
        return today - dt.timedelta(days=days)

    def lines(*entries: tuple[str, str] | tuple[str, str, dict[str, Any]]) -> list[dict]:
        return [
            {"product": product[sku], "quantity": D(quantity), **(extra[0] if extra else {})}
            for sku, quantity, *extra in entries
        ]

    def invoice(customer: str, items: list[dict], ago: int, **fields: Any):
        return invoice_create(
            workspace=fields.pop("workspace", main),
            actor=owner,
            contact=contact[customer],
            items=items,
            issue_date=days_ago(ago),
            due_date=days_ago(ago - 30),
            **fields,
        )

    # Quotations: one open draft, one sent, one rejected, one approved and converted.
    quotation_create(
        workspace=main,
        actor=owner,
        contact=contact["Northwind Traders"],
        items=lines(("PT-DRL-18", "4"), ("PT-BAT-4AH", "4"), ("HT-SCR-08", "4")),
        issue_date=days_ago(2),
        due_date=days_ago(-28),
        notes="Crew kit for the new site.",
    )
    sent = quotation_create(
        workspace=main,
        actor=owner,
        contact=contact["Contoso Builders"],
        items=lines(("PA-INT-10W", "12", {"discount_rate": D("10")}), ("PA-ROL-KIT", "6")),
        issue_date=days_ago(6),
        due_date=days_ago(-24),
        payment_term="Net 30",
    )
    quotation_update(quotation=sent, data={"status": "sent"})
    rejected = quotation_create(
        workspace=main,
        actor=owner,
        contact=contact["Maria Gómez"],
        items=lines(("GA-WHE-90", "1"), ("GA-HOS-25", "2")),
        issue_date=days_ago(20),
        due_date=days_ago(-10),
    )
    quotation_update(quotation=rejected, data={"status": "rejected"})
    approved = quotation_create(
        workspace=main,
        actor=owner,
        contact=contact["Fabrikam Homes"],
        items=lines(("PA-EXT-05G", "4"), ("PA-PRI-25", "2"), ("PA-BRU-03", "2")),
        issue_date=days_ago(15),
        due_date=days_ago(-15),
        payment_term="Net 30",
    )
    quotation_update(quotation=approved, data={"status": "approved"})
    converted = quotation_convert(
        quotation=approved, actor=owner, issue_date=days_ago(12), due_date=days_ago(-18)
    )

    # Invoices in every status: paid, partially paid, overdue, pending, cancelled, draft.
    paid = invoice("Northwind Traders", lines(("HT-HAM-16", "6"), ("HT-TAP-05", "6")), 40)
    payment_create(
        invoice=paid,
        actor=owner,
        amount=paid.total_amount,
        method="bank_transfer",
        paid_at=days_ago(35),
        reference="NW-REMIT-2291",
    )
    partly = invoice(
        "Tailspin Renovations",
        lines(("PT-CIR-14", "1"), ("PT-SAN-125", "1")),
        25,
        payment_term="Net 30",
    )
    payment_create(
        invoice=partly, actor=owner, amount=D("100.00"), method="credit_card", paid_at=days_ago(20)
    )
    # Due 15 days ago and unpaid: overdue.
    invoice("Contoso Builders", lines(("FX-SCR-440", "20"), ("FX-PLG-08", "10")), 45)
    invoice("Adventure Works Café", lines(("HT-KNI-01", "3"), ("SV-KEY", "4")), 3)
    mistaken = invoice("Maria Gómez", lines(("GA-PRU-01", "1")), 9)
    invoice_void(invoice=mistaken, actor=owner)
    invoice("Fabrikam Homes", lines(("PA-TAP-50", "10")), 1, draft=True)
    invoice(
        "Tailspin Renovations",
        lines(("GA-FER-05", "2", {"discount_amount": D("5.00")})),
        5,
        workspace=branch,
    )

    # The converted quotation's invoice: a payment recorded twice by mistake, one voided.
    payment_create(
        invoice=converted, actor=owner, amount=D("50.00"), method="cash", paid_at=days_ago(10)
    )
    duplicate = payment_create(
        invoice=converted,
        actor=owner,
        amount=D("50.00"),
        method="cash",
        paid_at=days_ago(10),
        notes="Entered twice",
    )
    payment_void(payment=duplicate)
