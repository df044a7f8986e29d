"""Demo data for `make run`'s demo tenant: a complete company profile with a logo, so that
the demo's invoices and quotations print as a real business's would."""

from __future__ import annotations

from pathlib import Path

from company.selectors import company_get
from company.services import company_update
from tenants.models import User, Workspace

LOGO = Path(__file__).with_name("demo_logo.png")
PROFILE = {
    "legal_name": "Demo Hardware & Supply Co. LLC",
    "trade_name": "Demo Hardware",
    "tax_id": "EIN 12-3456789",
    "email": "billing@demo-hardware.test",
    "phone": "+1 555 0100",
    "website": "https://demo-hardware.test",
    "address": {
        "line1": "1200 Harbor Boulevard",
        "line2": "Suite 300",
        "city": "Seattle",
        "state": "WA",
        "postal_code": "98101",
        "country": "United States",
    },
    "invoice_footer": (
        "Thank you for your business. Please pay by bank transfer to Demo Bank, account "
        "US00 DEMO 0000 1234 5678 90 (SWIFT DEMOUS33), quoting the invoice number.\n"
        "Demo Hardware & Supply Co. LLC · registered in Washington, UBI 604 123 456."
    ),
    "quotation_footer": (
        "Prices are valid until the date shown; delivery within five working days of your "
        "approval.\nDemo Hardware & Supply Co. LLC · registered in Washington, UBI 604 123 456."
    ),
}


def seed(*, owner: User, workspaces: list[Workspace]) -> None:
    """Runs inside the demo tenant's schema, in one transaction, once (on provisioning)."""
    company_update(company=company_get(), data={**PROFILE, "logo": LOGO.read_bytes()})
