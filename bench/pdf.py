"""Benchmark of documents as PDF (SPEC §8.11: "a 10-line invoice renders in well under
100 ms"): render time of 1-, 10- and 150-line invoices, alone and as whole requests, and the
ZIP of 100 invoices.

Two views of the same work. *Render* is ``billing.pdf.document_pdf`` on an invoice already
loaded (layout, fonts, compression: the library's cost). *Request* is ``GET
/invoices/{id}/pdf`` or ``POST /invoices/pdf`` through the whole stack in-process
(``django.test.Client``): authentication, loading the invoice and company, rendering; its
query count must not grow with lines or documents. Each shows wall-clock and CPU time: CPU
time is this process's alone, so it holds when other work shares the machine. The first
render of a process also loads the fonts; it is reported apart.

Run it with ``make bench`` (or ``.venv/bin/python -m bench.pdf [--runs N]``). It uses the
database the settings give and migrates it first. The first run provisions a ``bench-pdf``
tenant with the demo company profile (logo included), a customer and the invoices measured;
later runs reuse them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from io import BytesIO

from bench.common import format_table, log, percentile, setup_django

setup_django()

# The project's modules can only be imported once Django is set up.
# ruff: noqa: E402
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context
from pypdf import PdfReader

from billing import selectors
from billing.models import Invoice
from billing.pdf import document_pdf
from billing.services.invoices import invoice_create
from billing.services.payments import payment_create
from company import demo as company_demo
from company.selectors import company_get
from contacts.services import contact_create
from inventory.services import product_create, tax_create
from tenants.models import Tenant, User, Workspace
from tenants.services import tenant_provision, token_create

SLUG = "bench-pdf"
OWNER_EMAIL = "owner@bench-pdf.test"
API = f"/t/{SLUG}/api/v1"
SIZES = (1, 10, 150)
ZIP_COUNT, ZIP_LINES = 100, 10
WARMUP = 3


def bench_tenant() -> tuple[Tenant, str]:
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        log(f"Provisioning the '{SLUG}' tenant...")
        tenant = tenant_provision(slug=SLUG, name="Bench PDF", owner_email=OWNER_EMAIL).tenant
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email=OWNER_EMAIL)
        _, token = token_create(user=owner, name="bench")
    return tenant, token


@transaction.atomic
def seed() -> dict[int, list[int]]:
    """Invoice ids by line count (one of each of ``SIZES``, ``ZIP_COUNT`` of ``ZIP_LINES``),
    made on the first run: the demo company profile, a customer with a billing address, a
    taxed service product, discounts on some lines, a payment on every other invoice."""
    if Invoice.objects.exists():
        log("Invoices: already seeded.")
    else:
        log("Seeding the company profile, a customer and the invoices...")
        owner = User.objects.get(email=OWNER_EMAIL)
        workspace = Workspace.objects.get(is_default=True)
        company_demo.seed(owner=owner, workspaces=[workspace])
        contact = contact_create(
            name="Ærøskøbing Ελληνικά Кириллица Ltd",
            contact_type="customer",
            email="ap@customer.test",
            identification_type="tax_id",
            identification_number="DK 1",
            addresses=[
                {
                    "type": "billing",
                    "line1": "Vestergade 1",
                    "city": "Ærøskøbing",
                    "postal_code": "5970",
                    "country": "Denmark",
                    "is_primary": True,
                }
            ],
        )
        vat = tax_create(name="VAT", rate=Decimal("25.00"))
        product = product_create(
            actor=owner,
            name="Consulting",
            sku="PDF-1",
            product_type="service",
            price=Decimal("95.00"),
            default_tax=vat,
        )
        for index, lines in enumerate([*SIZES, *[ZIP_LINES] * ZIP_COUNT]):
            items = [
                {
                    "product": product,
                    "quantity": Decimal(n % 5 + 1),
                    "description": f"Consulting, week {n + 1}: analysis and report",
                    **({"discount_rate": Decimal(10)} if n % 4 == 0 else {}),
                }
                for n in range(lines)
            ]
            invoice = invoice_create(
                workspace=workspace,
                actor=owner,
                contact=contact,
                items=items,
                notes="Thank you for your order.",
            )
            if index % 2:
                payment_create(
                    invoice=invoice, actor=owner, amount=Decimal("50.00"), method="bank_transfer"
                )
    by_lines: dict[int, list[int]] = {}
    for invoice in Invoice.objects.order_by("id").prefetch_related("items"):
        by_lines.setdefault(len(invoice.items.all()), []).append(invoice.pk)
    return by_lines


@dataclass
class Case:
    """Samples of one measured operation: wall-clock and CPU milliseconds, output size, SQL
    queries. CPU time is this process's alone, so it holds up on a busy machine."""

    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    size: int = 0
    pages: str = ""
    queries: set[int] = field(default_factory=set)

    def measure(self, runs: int, operation: Callable[[], bytes]) -> bytes:
        for run in range(WARMUP + runs):
            with CaptureQueriesContext(connection) as captured:
                wall, cpu = time.perf_counter(), time.process_time()
                content = operation()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if run >= WARMUP:
                self.wall.append(wall * 1000)
                self.cpu.append(cpu * 1000)
                self.queries.add(len(captured))
        self.size = len(content)
        return content

    def row(self) -> tuple[str, ...]:
        return (
            self.label,
            f"{statistics.median(self.wall):.1f}",
            f"{percentile(self.wall, 95):.1f}",
            f"{statistics.median(self.cpu):.1f}",
            str(self.size),
            self.pages,
            ",".join(map(str, sorted(self.queries))),
        )


def ok(response) -> bytes:
    if response.status_code != 200:
        raise SystemExit(f"expected 200, got {response.status_code}: {response.content[:300]}")
    return response.content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=20,
        metavar="N",
        help=f"measured runs of each single document, after {WARMUP} warm-up ones (default "
        "20); the ZIP runs a fifth as often",
    )
    runs = max(1, parser.parse_args().runs)

    call_command("migrate_schemas", verbosity=0)
    tenant, token = bench_tenant()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.OPTIFLOW_RATE_LIMIT_USER = "1000000/min"
    client = Client(headers={"Authorization": f"Bearer {token}"})
    cases: list[Case] = []
    with schema_context(tenant.schema_name):
        by_lines = seed()
        log("Measuring...")
        company = company_get()
        documents = {
            lines: selectors.documents_printable(Invoice.objects.filter(pk=ids[0])).get()
            for lines, ids in by_lines.items()
            if lines in SIZES
        }
        cold = time.perf_counter()
        document_pdf(documents[SIZES[0]], company=company)
        cold = (time.perf_counter() - cold) * 1000
        for lines in SIZES:
            case = Case(f"render, {lines} line{'s' if lines > 1 else ''}")
            content = case.measure(
                runs, lambda document=documents[lines]: document_pdf(document, company=company)
            )
            case.pages = str(len(PdfReader(BytesIO(content)).pages))
            cases.append(case)
    for lines in SIZES:
        case = Case(f"GET /invoices/{{id}}/pdf, {lines} line{'s' if lines > 1 else ''}")
        path = f"{API}/invoices/{by_lines[lines][0]}/pdf"
        case.measure(runs, lambda path=path: ok(client.get(path)))
        cases.append(case)
    archive = Case(f"POST /invoices/pdf, {ZIP_COUNT} x {ZIP_LINES} lines")
    body = {"ids": by_lines[ZIP_LINES][-ZIP_COUNT:]}
    archive.measure(
        max(1, runs // 5),
        lambda: ok(client.post(f"{API}/invoices/pdf", body, content_type="application/json")),
    )
    archive.pages = f"{ZIP_COUNT} PDFs"
    cases.append(archive)

    print(
        f"Tenant '{SLUG}'; {runs} runs of each document ({max(1, runs // 5)} of the ZIP) "
        f"after {WARMUP} warm-up, in-process. First render of the process (fonts loaded): "
        f"{cold:.1f} ms.\n"
    )
    header = ("what", "p50 ms", "p95 ms", "cpu p50 ms", "bytes", "pages", "queries")
    print(format_table(header, [case.row() for case in cases]))


if __name__ == "__main__":
    main()
