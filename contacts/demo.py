"""Demo data for `make run`'s demo tenant: customers and suppliers with addresses."""

from __future__ import annotations

from decimal import Decimal

from contacts.models import Contact
from contacts.services import contact_create
from tenants.models import User, Workspace

CONTACTS = [
    # name, type, email, city, country, credit limit
    ("Northwind Traders", "customer", "orders@northwind.test", "Seattle", "US", "5000"),
    ("Contoso Builders", "customer", "buying@contoso.test", "Chicago", "US", "12000"),
    ("Fabrikam Homes", "customer", "ap@fabrikam.test", "Boston", "US", "8000"),
    ("Adventure Works Café", "customer", "hello@adventureworks.test", "Portland", "US", "1500"),
    ("Maria Gómez", "customer", "maria.gomez@example.test", "Madrid", "ES", "0"),
    ("Tailspin Renovations", "both", "office@tailspin.test", "London", "GB", "3000"),
    ("Litware Tools Ltd", "supplier", "sales@litware.test", "Berlin", "DE", "0"),
    ("Proseware Paints", "supplier", "trade@proseware.test", "Atlanta", "US", "0"),
    ("Wingtip Garden Supply", "supplier", "orders@wingtip.test", "Austin", "US", "0"),
    ("Coho Hardware Wholesale", "supplier", "wholesale@coho.test", "Las Vegas", "US", "0"),
]


def seed(*, owner: User, workspaces: list[Workspace]) -> None:
    """Runs inside the demo tenant's schema, in one transaction, once (on provisioning)."""
    for index, (name, kind, email, city, country, credit) in enumerate(CONTACTS):
        addresses = [
            {
                "type": "billing",
                "line1": f"{100 + index * 7} Commerce Street",
                "city": city,
                "country": country,
                "is_primary": True,
            },
        ]
        if kind != "supplier":
            addresses.append(
                {
                    "type": "shipping",
                    "line1": f"{12 + index} Dock Road",
                    "city": city,
                    "country": country,
                    "is_primary": True,
                }
            )
        contact_create(
            name=name,
            contact_type=kind,
            email=email,
            phone=f"+1 555 01{index:02d}",
            identification_type=Contact.IdentificationType.TAX_ID,
            identification_number=f"TX-{1000 + index * 37}",
            credit_limit=Decimal(credit),
            addresses=addresses,
        )
    contact_create(
        name="Old Mill Joinery",
        contact_type="customer",
        status=Contact.Status.INACTIVE,
        notes="Closed in 2023; kept for its history.",
    )
