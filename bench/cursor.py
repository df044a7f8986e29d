"""Benchmark of cursor pagination at depth (SPEC §6): a list of 100,000 contacts read at its
first page, at a page 90,000 rows deep by ``page=``, and at the same depth by ``after=``.

Why these numbers: ``page=N`` is an OFFSET, so PostgreSQL produces and throws away every row
before the page, and the page answer also counts the whole list; ``after=`` is a keyset
condition on the list's order, so its cost should not grow with depth. The list is read in two
orders: ``sort=id`` (the primary key, indexed: the keyset becomes an index range) and the
default ``sort=name`` (no index on ``name``: every request sorts, and the keyset saves the
OFFSET's discarded rows, not the sort).

Run it with ``make bench BENCHES=cursor`` (or ``.venv/bin/python -m bench.cursor [--requests N]``).
It uses the database the settings give, migrates it, and on first use provisions a
``bench-cursor`` tenant whose 100,000 contacts are inserted by one ``INSERT ... SELECT`` (a few
seconds); later runs reuse them. Timings are in-process (``django.test.Client`` through the
whole middleware stack), medians of ``--requests`` runs after warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from urllib.parse import parse_qs, urlparse

from bench.common import log, percentile, setup_django

setup_django()

# The project's modules can only be imported once Django is set up.
# ruff: noqa: E402
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from contacts.models import Contact
from tenants.models import Tenant, User
from tenants.services import tenant_provision, token_create

SLUG = "bench-cursor"
OWNER_EMAIL = "owner@bench-cursor.test"
ROWS = 100_000
PER_PAGE = 100
DEPTH = 90_000  # rows before the measured deep page
WARMUP = 2
API = f"/t/{SLUG}/api/v1"


def bench_tenant() -> Tenant:
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        log(f"Provisioning the '{SLUG}' tenant...")
        tenant = tenant_provision(slug=SLUG, name="Bench cursor", owner_email=OWNER_EMAIL).tenant
    return tenant


def seed() -> None:
    """100,000 contacts in one statement; names repeat (ties that ``id`` breaks)."""
    if Contact.objects.count() >= ROWS:
        log(f"{ROWS} contacts: already seeded.")
        return
    log(f"Inserting {ROWS} contacts...")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Contact._meta.db_table}
                (name, contact_type, status, email, phone, mobile, identification_type,
                 identification_number, credit_limit, notes, metadata, created_at, updated_at)
            SELECT 'Contact ' || lpad((n * 7919 %% %s)::text, 6, '0'), 'customer', 'active',
                   'c' || n || '@bench.test', '', '', '', '', 0, '', '{{}}',
                   now() - n * interval '1 second', now()
            FROM generate_series(1, %s) AS n
            """,
            [ROWS // 2, ROWS - Contact.objects.count()],
        )
        cursor.execute(f"ANALYZE {Contact._meta.db_table}")


def measure(client: Client, path: str, runs: int) -> tuple[float, float, int]:
    """Median and p95 milliseconds and the SQL queries of one request."""
    millis, queries = [], 0
    for index in range(WARMUP + runs):
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(API + path)
            elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.content[:300]!r}")
        if index >= WARMUP:
            millis.append(elapsed)
            queries = len(captured)
    return statistics.median(millis), percentile(millis, 95), queries


def deep_cursor(client: Client, sort: str) -> str:
    """The opaque cursor of the row at ``DEPTH`` in this order, as ``links.next`` gives it."""
    before_it = Contact.objects.order_by(*sort_fields(sort)).values_list("id", flat=True)
    row_id = before_it[DEPTH - 2]  # the row just before it
    response = client.get(f"{API}/contacts", {"sort": sort, "per_page": 1, "after": row_id})
    return parse_qs(urlparse(response.json()["links"]["next"]).query)["after"][0]


def sort_fields(sort: str) -> list[str]:
    return ["id"] if sort == "id" else [sort, "id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=15,
        metavar="N",
        help="measured requests per row (default 15)",
    )
    runs = max(1, parser.parse_args().requests)

    call_command("migrate_schemas", verbosity=0)
    tenant = bench_tenant()
    with schema_context(tenant.schema_name):
        seed()
        owner = User.objects.get(email=OWNER_EMAIL)
        _, token = token_create(user=owner, name="bench-cursor")

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.OPTIFLOW_RATE_LIMIT_USER = "1000000/min"
    client = Client(headers={"Authorization": f"Bearer {token}"})
    page = DEPTH // PER_PAGE + 1
    rows = [("request", "p50 ms", "p95 ms", "queries")]
    log("Measuring...")
    with schema_context(tenant.schema_name):
        for sort in ("id", "name"):
            cursor = deep_cursor(client, sort)
            base = f"/contacts?sort={sort}&per_page={PER_PAGE}"
            for label, path in [
                (f"sort={sort}: first page (page=1)", base),
                (f"sort={sort}: first page (after=)", f"{base}&after="),
                (f"sort={sort}: page={page} (rows {DEPTH + 1:,}+)", f"{base}&page={page}"),
                (f"sort={sort}: after=<cursor> (rows {DEPTH + 1:,}+)", f"{base}&after={cursor}"),
            ]:
                p50, p95, queries = measure(client, path, runs)
                rows.append((label, f"{p50:.1f}", f"{p95:.1f}", str(queries)))

    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    print(
        f"Tenant '{SLUG}': {ROWS:,} contacts; {PER_PAGE} per page; {runs} requests each "
        f"after {WARMUP} warm-up, in-process (django.test.Client).\n"
    )
    for number, row in enumerate(rows):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if number == 0:
            print("-" * (sum(widths) + 6))


if __name__ == "__main__":
    main()
