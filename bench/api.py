"""Benchmark of the API's heaviest reads and its main write: latency, payload size and SQL
queries per request, against a ``bench`` tenant holding a realistic volume of data.

Why these numbers: the list endpoints embed related records (``include=``) for up to 100 rows
per page, which is where an N+1 query or a slow serializer shows. The tests pin query counts on
a few rows; this shows what a full page of real-sized data costs, and the invoice write shows
the price of a transaction that numbers the document, locks stock levels and writes the ledger.
Timings are in-process (``django.test.Client`` through the whole middleware stack, no network or
WSGI server), so they compare runs and commits on one machine, not machines.

Run it with ``make bench`` (or ``.venv/bin/python -m bench.api [--requests N]``). It uses the
database the settings give (``DATABASE_URL``, else the embedded PostgreSQL) and migrates it
first (as ``make run`` does). The first run provisions the ``bench`` tenant and seeds it through
the real services (well under a minute); later runs reuse that data. Each run leaves its voided
invoices, their stock movements and an expiring token behind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.common import format_table, log, percentile, positive_int, setup_django

setup_django()

# The project's modules can only be imported once Django is set up.
# ruff: noqa: E402
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.models import Invoice, Payment, Quotation
from billing.services.invoices import invoice_create
from billing.services.payments import payment_create
from billing.services.quotations import quotation_create
from contacts.models import Contact
from contacts.services import contact_create
from inventory.models import Product, StockMovement
from inventory.services import InitialStock, category_create, product_create, tax_create
from optiflow.money import CENT
from tenants.models import Tenant, User, Workspace
from tenants.services import tenant_provision, token_create, workspace_create

SLUG = "bench"
OWNER_EMAIL = "owner@bench.test"
OWNER_PASSWORD = "bench-password-123"
API = f"/t/{SLUG}/api/v1"

CONTACTS, PRODUCTS, INVOICES, QUOTATIONS = 200, 300, 500, 100
WARMUP = 3
READS = [
    "/contacts?per_page=100&include=addresses,balance",
    "/products?per_page=100&include=category,default_tax,stock,stock_levels",
    "/stock-levels?per_page=100&include=product.category,workspace",
    "/stock-movements?per_page=100&include=product,created_by",
    "/invoices?per_page=100&include=items.product.category,items.taxes,contact,payments",
    "/invoices/{id}",
    "/payments?per_page=100&include=invoice,contact",
    "/quotations?per_page=100",
]


# --- tenant and data ------------------------------------------------------------------------


def bench_tenant(slug: str = SLUG) -> tuple[Tenant, str]:
    """The ``slug`` tenant (default ``bench``), provisioned on first use, and an API token of
    its owner."""
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        log(f"Provisioning the '{slug}' tenant...")
        result = tenant_provision(
            slug=slug, name="Bench", owner_email=OWNER_EMAIL, owner_password=OWNER_PASSWORD
        )
        return result.tenant, result.token
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=OWNER_EMAIL)
        # Short-lived: every run makes one, and none should stay usable.
        expires_at = timezone.now() + dt.timedelta(hours=1)
        _, token = token_create(user=owner, name="bench", expires_at=expires_at)
    return tenant, token


def seed() -> None:
    """Each stage runs in one transaction and is skipped when its data exists, so an
    interrupted seed resumes where it stopped."""
    owner = User.objects.get(email=OWNER_EMAIL)
    main = Workspace.objects.get(is_default=True)
    branch = Workspace.objects.filter(code="BR").first() or workspace_create(
        owner=owner, name="Branch", code="BR"
    )
    seed_contacts()
    seed_products(owner=owner, workspaces=[main, branch])
    seed_quotations(owner=owner, workspace=main)
    seed_invoices(owner=owner, workspace=main)


def already_seeded(model: type[Any], what: str) -> bool:
    if model.objects.exists():
        log(f"{what}: already seeded.")
        return True
    log(f"Seeding {what}...")
    return False


@transaction.atomic
def seed_contacts() -> None:
    if already_seeded(Contact, "contacts"):
        return
    rng = random.Random(1)
    kinds = ["customer"] * 7 + ["both", "supplier"]
    for n in range(CONTACTS):
        city = rng.choice(["Lisbon", "Madrid", "Lyon", "Turin", "Ghent", "Bremen"])
        addresses = [
            {
                "type": kind,
                "line1": f"{n + 1} {kind.title()} Street",
                "city": city,
                "country": "EU",
                "is_primary": True,
            }
            for kind in ("billing", "shipping")
        ]
        contact_create(
            name=f"Contact {n:03d}",
            contact_type=rng.choice(kinds),
            email=f"contact{n}@bench.test",
            phone=f"+1 555 {n:04d}",
            identification_type="tax_id",
            identification_number=f"TX-{10000 + n}",
            credit_limit=Decimal(rng.randrange(0, 20000, 500)),
            addresses=addresses,
            metadata={"segment": rng.choice(["retail", "trade", "online"])},
        )


@transaction.atomic
def seed_products(*, owner: User, workspaces: Sequence[Workspace]) -> None:
    """Physical products start with stock in the main workspace and every other one in the
    branch too; one in fifteen is a service, which holds no stock."""
    if already_seeded(Product, "products"):
        return
    rng = random.Random(2)
    taxes = [
        tax_create(name="Standard 20%", rate=Decimal(20), is_default=True),
        tax_create(name="Reduced 7%", rate=Decimal(7)),
        tax_create(name="Zero", rate=Decimal(0)),
    ]
    parents = [category_create(name=name) for name in ("Hardware", "Garden", "Office")]
    categories = parents + [
        category_create(name=f"{parent.name} {n}", parent=parent)
        for parent in parents
        for n in range(1, 4)
    ]
    for n in range(PRODUCTS):
        price = Decimal(rng.randint(100, 50000)) / 100
        cost = (price * Decimal(rng.uniform(0.4, 0.8))).quantize(CENT)
        service = n % 15 == 0
        opening = [
            InitialStock(
                workspace,
                Decimal(rng.randint(150, 400)),
                minimum_quantity=Decimal(rng.randint(5, 40)),
                unit_cost=cost,
            )
            for index, workspace in enumerate(workspaces)
            if not service and (index == 0 or n % 2 == 0)
        ]
        product_create(
            actor=owner,
            name=f"Product {n:03d}",
            sku=f"BN-{n:04d}",
            barcode=f"BN{n:010d}",
            product_type="service" if service else "physical",
            price=price,
            cost=cost,
            category=rng.choice(categories),
            default_tax=rng.choices(taxes, [8, 3, 1])[0],
            initial_stock=opening,
        )
        if (n + 1) % 100 == 0:
            log(f"  {n + 1} products")


def document_items(rng: random.Random, products: Sequence[Product], lines: int) -> list[dict]:
    return [
        {"product": product, "quantity": Decimal(rng.randint(1, 3))}
        for product in rng.sample(products, lines)
    ]


def customers() -> list[Contact]:
    return list(Contact.objects.filter(contact_type__in=["customer", "both"]).order_by("id"))


@transaction.atomic
def seed_quotations(*, owner: User, workspace: Workspace) -> None:
    if already_seeded(Quotation, "quotations"):
        return
    rng = random.Random(3)
    contacts, products = customers(), list(Product.objects.order_by("id"))
    today = timezone.localdate()
    for _ in range(QUOTATIONS):
        issue_date = today - dt.timedelta(days=rng.randint(0, 90))
        quotation_create(
            workspace=workspace,
            actor=owner,
            contact=rng.choice(contacts),
            items=document_items(rng, products, rng.randint(2, 4)),
            issue_date=issue_date,
            due_date=issue_date + dt.timedelta(days=30),
        )


@transaction.atomic
def seed_invoices(*, owner: User, workspace: Workspace) -> None:
    """Issued over the past year (stock goes out); about half get a payment, full or half."""
    if already_seeded(Invoice, "invoices"):
        return
    rng = random.Random(4)
    contacts, products = customers(), list(Product.objects.order_by("id"))
    today = timezone.localdate()
    for n in range(INVOICES):
        issue_date = today - dt.timedelta(days=rng.randint(0, 365))
        invoice = invoice_create(
            workspace=workspace,
            actor=owner,
            contact=rng.choice(contacts),
            items=document_items(rng, products, rng.randint(3, 5)),
            issue_date=issue_date,
            due_date=issue_date + dt.timedelta(days=30),
        )
        share = rng.choice([None, None, Decimal(1), Decimal("0.5")])
        if share is not None:
            paid_at = min(today, issue_date + dt.timedelta(days=rng.randint(0, 40)))
            payment_create(
                invoice=invoice,
                actor=owner,
                amount=(invoice.total_amount * share).quantize(CENT),
                method=rng.choice(Payment.Method.values),
                paid_at=paid_at,
            )
        if (n + 1) % 100 == 0:
            log(f"  {n + 1} invoices")


def data_volume() -> str:
    counts = {
        "contacts": Contact.objects.count(),
        "products": Product.objects.count(),
        "invoices": Invoice.objects.count(),
        "payments": Payment.objects.count(),
        "quotations": Quotation.objects.count(),
        "stock movements": StockMovement.objects.count(),
    }
    return ", ".join(f"{count} {name}" for name, count in counts.items())


def invoice_body() -> dict[str, Any]:
    """A 3-line invoice of stock-tracked products. Its old issue date sorts it (and the other
    voided bench invoices) after the seeded ones in the ``-issue_date`` list, so every run
    measures the same first page."""
    contact = customers()[0]
    products = Product.objects.filter(track_stock=True).order_by("id")[:3]
    return {
        "contact_id": contact.pk,
        "issue_date": "2000-01-01",
        "items": [{"product_id": product.pk, "quantity": "1"} for product in products],
    }


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Timing:
    """The samples of one request, measured ``runs`` times."""

    label: str
    millis: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)


def samples_for(timing: Timing, runs: int) -> list[Timing]:
    """Where each iteration records: the warm-up iterations go to a discarded ``Timing``."""
    return [Timing(timing.label)] * WARMUP + [timing] * runs


def timed(
    timing: Timing, expected: int, send: Callable[..., HttpResponse], path: str, **kwargs: Any
) -> HttpResponse:
    """Send one request, record it, and abort on an unexpected status: a benchmark of error
    responses would be meaningless."""
    with CaptureQueriesContext(connection) as captured:
        start = time.perf_counter()
        response = send(path, **kwargs)
        elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != expected:
        body = response.content[:500].decode(errors="replace")
        raise SystemExit(f"{timing.label}: expected {expected}, got {response.status_code}: {body}")
    timing.millis.append(elapsed)
    timing.sizes.append(len(response.content))
    timing.queries.append(len(captured))
    return response


def bench_read(client: Client, path: str, runs: int, **ids: int) -> Timing:
    """``path`` may hold ``{name}`` placeholders, filled from ``ids`` (the label keeps them)."""
    timing = Timing(f"GET {path}")
    for sample in samples_for(timing, runs):
        timed(sample, 200, client.get, API + path.format(**ids))
    return timing


def bench_invoice_write(client: Client, body: dict[str, Any], runs: int) -> list[Timing]:
    """Create an issued invoice, then void it, which returns its stock."""
    create = Timing("POST /invoices (3 lines)")
    void = Timing("DELETE /invoices/{id} (void)")
    for create_sample, void_sample in zip(
        samples_for(create, runs), samples_for(void, runs), strict=True
    ):
        response = timed(
            create_sample,
            201,
            client.post,
            f"{API}/invoices",
            data=body,
            content_type="application/json",
        )
        invoice_id = response.json()["data"]["id"]
        timed(void_sample, 204, client.delete, f"{API}/invoices/{invoice_id}")
    return [create, void]


def table(timings: Sequence[Timing]) -> str:
    header = ("request", "p50 ms", "p95 ms", "max ms", "bytes", "queries")
    rows = []
    for t in timings:
        low, high = min(t.queries), max(t.queries)
        rows.append(
            (
                t.label,
                f"{statistics.median(t.millis):.1f}",
                f"{percentile(t.millis, 95):.1f}",
                f"{max(t.millis):.1f}",
                str(int(statistics.median(t.sizes))),
                str(low) if low == high else f"{low}-{high}",
            )
        )
    return format_table(header, rows)


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=30,
        metavar="N",
        help=f"measured requests per endpoint, after {WARMUP} warm-up ones (default 30)",
    )
    runs = parser.parse_args().requests

    call_command("migrate_schemas", verbosity=0)
    tenant, token = bench_tenant()
    with schema_context(tenant.schema_name):
        seed()
        volume = data_volume()
        invoice_id = Payment.objects.order_by("id").values_list("invoice_id", flat=True)[0]
        body = invoice_body()

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.OPTIFLOW_RATE_LIMIT_USER = "1000000/min"
    client = Client(headers={"Authorization": f"Bearer {token}"})
    log("Measuring...")
    timings = [bench_read(client, path, runs, id=invoice_id) for path in READS]
    timings += bench_invoice_write(client, body, runs)

    print(f"Tenant '{SLUG}': {volume}.")
    print(f"{runs} requests each after {WARMUP} warm-up, in-process (django.test.Client).\n")
    print(table(timings))


if __name__ == "__main__":
    main()
