"""Benchmark of our server against a floor: the CPU each request costs our uWSGI processes,
beside what the same answer costs a minimal WSGI app (``bench.floor_app``: one function,
psycopg 3 and ``json.dumps``, no Django) behind the same uWSGI settings, in one run.

Why this number: a ratio to the floor on the same machine, the same data and the same server
says how much of a request is our stack rather than the work itself (the SQL, the JSON), which
absolute milliseconds cannot say across machines. The floor answers the same JSON bodies byte
for byte (checked before anything is measured: a difference aborts the run with its position)
and issues the statements a correct server needs: the token by its digest, the page, its
includes; the invoice write numbers, inserts, locks and decrements stock, writes the ledger and
the outbox event, and the void reverses them.

Run it with ``make bench`` (or ``.venv/bin/python -m bench.floor [--requests N]``). It uses the
database the settings give (``DATABASE_URL``, else the embedded PostgreSQL), migrated, and a
``bench-floor`` tenant that the first run provisions and seeds through the real services (1,000
products in 10 categories with stock in two workspaces, 200 contacts, 500 invoices of 2-10
lines; a few minutes); later runs reuse it. Each run leaves its voided invoices, their stock
movements and events, and an expiring token behind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from decimal import Decimal

from bench.common import log, setup_django

setup_django()

# ruff: noqa: E402
from django.db import transaction
from django.utils import timezone

from bench.api import already_seeded, customers, document_items
from billing.models import Invoice
from billing.services.invoices import invoice_create
from contacts.models import Contact
from contacts.services import contact_create
from inventory.models import Product
from inventory.services import InitialStock, category_create, product_create, tax_create
from optiflow.money import CENT
from tenants.models import User, Workspace
from tenants.services import workspace_create

SLUG = "bench-floor"
CONTACTS, PRODUCTS, CATEGORIES, INVOICES = 200, 1000, 10, 500


# --- tenant and data ------------------------------------------------------------------------


def seed(owner: User) -> None:
    """Each stage runs in one transaction and is skipped when its data exists, so an
    interrupted seed resumes where it stopped."""
    main = Workspace.objects.get(is_default=True)
    branch = Workspace.objects.filter(code="BR").first() or workspace_create(
        owner=owner, name="Branch", code="BR"
    )
    seed_contacts()
    seed_products(owner=owner, workspaces=[main, branch])
    seed_invoices(owner=owner, workspace=main)


@transaction.atomic
def seed_contacts() -> None:
    if already_seeded(Contact, "contacts"):
        return
    rng = random.Random(11)
    for n in range(CONTACTS):
        contact_create(
            name=f"Contact {n:03d}",
            contact_type=rng.choice(["customer", "customer", "both"]),
            email=f"contact{n}@floor.test",
            phone=f"+1 555 {n:04d}",
            identification_type="tax_id",
            identification_number=f"TX-{20000 + n}",
            credit_limit=Decimal(rng.randrange(0, 20000, 500)),
            metadata={"segment": rng.choice(["retail", "trade", "online"]), "rank": n},
        )


@transaction.atomic
def seed_products(*, owner: User, workspaces: list[Workspace]) -> None:
    """Every product holds stock in both workspaces; names and accents vary, so the JSON
    encoders' handling of non-ASCII text is part of what the bodies compare."""
    if already_seeded(Product, "products"):
        return
    rng = random.Random(12)
    taxes = [
        tax_create(name="Standard 20%", rate=Decimal(20), is_default=True),
        tax_create(name="Reduced 7%", rate=Decimal(7)),
    ]
    categories = [category_create(name=f"Catégorie {n}") for n in range(CATEGORIES)]
    for n in range(PRODUCTS):
        price = Decimal(rng.randint(100, 50000)) / 100
        cost = (price * Decimal(rng.uniform(0.4, 0.8))).quantize(CENT) if n % 7 else None
        product_create(
            actor=owner,
            name=f"Produit {n:04d} «{rng.choice(['acier', 'bois', 'verre'])}»",
            sku=f"FL-{n:04d}",
            barcode=f"FL{n:010d}" if n % 3 else None,
            description=f"Line {n % 13}",
            price=price,
            cost=cost,
            category=categories[n % CATEGORIES],
            default_tax=rng.choices(taxes, [3, 1])[0],
            initial_stock=[
                InitialStock(
                    workspace,
                    Decimal(rng.randint(200, 500)),
                    minimum_quantity=Decimal(rng.randint(5, 250)),
                    unit_cost=cost,
                )
                for workspace in workspaces
            ],
        )
        if (n + 1) % 200 == 0:
            log(f"  {n + 1} products")


@transaction.atomic
def seed_invoices(*, owner: User, workspace: Workspace) -> None:
    if already_seeded(Invoice, "invoices"):
        return
    rng = random.Random(13)
    contacts, products = customers(), list(Product.objects.order_by("id"))
    today = timezone.localdate()
    for n in range(INVOICES):
        issue_date = today - dt.timedelta(days=rng.randint(0, 365))
        invoice_create(
            workspace=workspace,
            actor=owner,
            contact=rng.choice(contacts),
            items=document_items(rng, products, rng.randint(2, 10)),
            issue_date=issue_date,
            due_date=issue_date + dt.timedelta(days=30),
        )
        if (n + 1) % 100 == 0:
            log(f"  {n + 1} invoices")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()


if __name__ == "__main__":
    main()
