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

Run it with ``make bench`` (or ``.venv/bin/python -m bench.floor [--seconds N]``). It uses the
database the settings give (``DATABASE_URL``, else the embedded PostgreSQL), migrated, and a
``bench-floor`` tenant that the first run provisions and seeds through the real services (1,000
products in 10 categories with stock in two workspaces, 200 contacts, 500 invoices of 2-10
lines; a few minutes); later runs reuse it. Each run leaves its voided invoices, their stock
movements and events, and an expiring token behind.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.common import (
    format_table,
    free_port,
    log,
    positive_int,
    setup_django,
    start_server,
    stop_server,
)

setup_django()

# ruff: noqa: E402
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from bench.api import OWNER_EMAIL, already_seeded, bench_tenant, customers, document_items
from bench.floor_app import shape
from bench.server import cpu_seconds, processes
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


# --- the two servers ------------------------------------------------------------------------

CLIENTS = 4
WORKERS = 2
WARMUP = 10
FLOOR_MODULE = "bench.floor_app:application"
API = f"/t/{SLUG}/api/v1"
#: Both servers see this Host, so the links in the bodies (built from it) are the same.
HOST = "127.0.0.1"
#: The issue's targets: CPU per request at most this many times the floor's.
TARGETS = {"products": 3.0, "stock-levels": 3.0, "invoices": 3.0, "product": 4.0, "write": 3.0}
MAX_WRITE_STATEMENTS = 31


@dataclass
class Server:
    """One running uWSGI: its port, its log, and the processes whose CPU is counted (the
    master and the workers; the HTTP router, the same program in front of both, is not)."""

    name: str
    port: int
    log_file: Any
    pids: list[int] = field(default_factory=list)

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    def access_log_queries(self, since: int) -> list[int]:
        """The ``queries`` of each request our access log recorded after byte ``since`` of
        the log (the floor writes none)."""
        self.log_file.seek(since)
        found = []
        for line in self.log_file.read().splitlines():
            if line.startswith(b"{"):
                record = json.loads(line)
                if record.get("logger") == "optiflow.access" and "queries" in record:
                    found.append(record["queries"])
        return found

    def log_size(self) -> int:
        self.log_file.seek(0, os.SEEK_END)
        return self.log_file.tell()


@contextmanager
def serving(name: str, token: str, module: str | None = None) -> Iterator[Server]:
    """``uwsgi.ini`` with ``WORKERS`` workers (4 threads each), serving ``module`` (default:
    our application), until it answers and every worker is up."""
    port = free_port()
    env = {
        "WEB_CONCURRENCY": str(WORKERS),
        # Never reached, and a one-second window: the sliding log of the bench's one token
        # then holds a second of requests (hundreds), not a minute's (tens of thousands,
        # rewritten on every check), while a real limit's holds at most its limit (60).
        "OPTIFLOW_RATE_LIMIT_USER": "1000000/s",
        "FLOOR_DATABASE_URL": os.environ["DATABASE_URL"],
    }
    with tempfile.TemporaryFile() as log_file:
        process = start_server(port, env, log_file, module=module)
        try:
            server = Server(name, port, log_file)
            deadline = time.monotonic() + 60
            while True:
                try:
                    with connected([server], token) as (client,):
                        status, _, _ = client.send("GET", f"{API}/products?per_page=1")
                    workers = [n for n in processes(log_file) if n.startswith("worker")]
                    if status == 200 and len(workers) == WORKERS:
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log_file.seek(0)
                    raise SystemExit(f"{name}: the server did not start\n{log_file.read()[-3000:]}")
                time.sleep(0.3)
            names = processes(log_file)
            server.pids = [process.pid] + [
                pid for n, pid in names.items() if n.startswith("worker")
            ]
            yield server
        finally:
            stop_server(process, kill=True)


class Client:
    """One kept-alive connection, as a client's pool holds it."""

    def __init__(self, server: Server, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Host": HOST}

    def send(
        self, method: str, path: str, body: Any = None, workspace: int | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = dict(self.headers)
        if workspace is not None:
            headers["X-Workspace-ID"] = str(workspace)
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()


@contextmanager
def connected(servers: list[Server], token: str) -> Iterator[list[Client]]:
    """A client of each of ``servers``, closed afterwards (the router would otherwise hold
    each idle connection for its 75 s of keep-alive)."""
    clients = [Client(server, token) for server in servers]
    try:
        yield clients
    finally:
        for client in clients:
            client.connection.close()


# --- the requests ---------------------------------------------------------------------------


@dataclass
class Request:
    """One row of the table: ``run(client, n)`` sends the ``n``-th request (or create + void
    pair) and returns the floor's statement count header (``None`` from our server)."""

    key: str
    label: str
    run: Callable[[Client, int], int | None]


def read(key: str, path: str, workspace: int | None) -> Request:
    def run(client: Client, _: int) -> int | None:
        status, headers, _ = client.send("GET", API + path, workspace=workspace)
        if status != 200:
            raise SystemExit(f"GET {path}: {status}")
        return statements(headers)

    return Request(key, f"GET {path}", run)


def write(workspace: int, bodies: list[dict[str, Any]]) -> Request:
    """An issued 10-line invoice, then its void; the n-th pair uses the n-th body (each
    client its own products, so the clients do not queue on each other's stock locks)."""

    def run(client: Client, n: int) -> int | None:
        status, headers, created = client.send(
            "POST", f"{API}/invoices", bodies[n % len(bodies)], workspace
        )
        if status != 201:
            raise SystemExit(f"POST /invoices: {status} {created[:300]!r}")
        invoice_id = json.loads(created)["data"]["id"]
        status, void_headers, answer = client.send(
            "DELETE", f"{API}/invoices/{invoice_id}", workspace=workspace
        )
        if status != 204:
            raise SystemExit(f"DELETE /invoices/{invoice_id}: {status} {answer[:300]!r}")
        floor = statements(headers)
        return None if floor is None else floor + statements(void_headers)

    return Request("write", "POST /invoices (10 lines) + DELETE (void)", run)


def statements(headers: dict[str, str]) -> int | None:
    value = headers.get("X-Statements")
    return None if value is None else int(value)


def first_difference(ours: bytes, floor: bytes) -> int:
    return next(
        (i for i, (a, b) in enumerate(zip(ours, floor, strict=False)) if a != b),
        min(len(ours), len(floor)),
    )


def check_same(
    ours: Server,
    floor: Server,
    token: str,
    reads: list[Request],
    workspace: int,
    body: dict[str, Any],
) -> None:
    """Every read answers the same bytes from both; the write the same shape."""
    with connected([ours, floor], token) as clients:
        compare(clients, reads, workspace, body)


def compare(clients: list[Client], reads: list[Request], workspace: int, body: dict) -> None:
    for request in reads:
        method, path = request.label.split(" ", 1)
        scoped = workspace if request.key in ("stock-levels", "invoices") else None
        answers = [client.send(method, API + path, workspace=scoped)[2] for client in clients]
        if answers[0] != answers[1]:
            at = first_difference(*answers)
            raise SystemExit(
                f"{request.label}: the floor's body differs from ours at byte {at}:\n"
                f"  ours:  {answers[0][max(0, at - 80) : at + 80]!r}\n"
                f"  floor: {answers[1][max(0, at - 80) : at + 80]!r}"
            )
    shapes = []
    for name, client in zip(("ours", "floor"), clients, strict=True):
        status, _, created = client.send("POST", f"{API}/invoices", body, workspace)
        if status != 201:
            raise SystemExit(f"{name}: POST /invoices answered {status}: {created[:300]!r}")
        data = json.loads(created)
        shapes.append(shape(data))
        client.send("DELETE", f"{API}/invoices/{data['data']['id']}", workspace=workspace)
    if shapes[0] != shapes[1]:
        raise SystemExit(
            f"POST /invoices: the shapes differ:\n  ours:  {shapes[0]}\n  floor: {shapes[1]}"
        )


@dataclass
class Figures:
    cpu_ms: float
    per_second: float
    statements: float


def drive(
    clients: list[Client], request: Request, until: Callable[[int], bool]
) -> tuple[int, list[int]]:
    """The clients at once, each sending ``request`` until ``until(n)`` for its ``n``-th;
    returns how many were sent and the floor's statement counts (none from our server)."""
    sent = [0] * len(clients)
    counted: list[int] = []
    errors: list[BaseException] = []

    def work(index: int, client: Client) -> None:
        n = 0
        try:
            while not until(n):
                found = request.run(client, index + CLIENTS * n)
                if found is not None:
                    counted.append(found)
                n += 1
                sent[index] = n
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=item) for item in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(sent), counted


def measure(server: Server, token: str, request: Request, seconds: float) -> Figures:
    """``CLIENTS`` kept-alive connections sending ``request`` for ``seconds``, after
    ``WARMUP`` requests each; the CPU time of the server's processes over them, per
    request. A run by time, not by count: the kernel
    counts CPU in ticks (10 ms), and a fast request needs thousands to be measured."""
    with connected([server] * CLIENTS, token) as clients:
        drive(clients, request, lambda n: n >= WARMUP)  # every worker thread connected, warm
        since = server.log_size()
        cpu_before, started = server.cpu(), time.perf_counter()
        stop_at = time.monotonic() + seconds
        sent, counted = drive(clients, request, lambda n: time.monotonic() >= stop_at)
        elapsed, cpu = time.perf_counter() - started, server.cpu() - cpu_before
    if not counted:  # ours: the access log's queries= (a create and a void per pair)
        counted = server.access_log_queries(since)
    return Figures(
        cpu_ms=1000 * cpu / sent, per_second=sent / elapsed, statements=sum(counted) / sent
    )


def verdict(request: Request, ratio: float, ours: Figures) -> str:
    limit = TARGETS[request.key]
    met = ratio <= limit
    target = f"≤ {limit:g}×"
    if request.key == "write":
        met = met and ours.statements <= MAX_WRITE_STATEMENTS
        target += f", ≤ {MAX_WRITE_STATEMENTS} stmts"
    return f"{target} {'met' if met else 'NOT met'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seconds",
        type=positive_int,
        default=5,
        metavar="N",
        help=f"seconds each row is measured on each server, after {WARMUP} warm-up requests "
        "per client (default 5)",
    )
    seconds = parser.parse_args().seconds

    call_command("migrate_schemas", verbosity=0)
    tenant, token = bench_tenant(SLUG)
    with schema_context(tenant.schema_name):
        seed(User.objects.get(email=OWNER_EMAIL))
        workspace = Workspace.objects.get(is_default=True).pk
        product_id = Product.objects.order_by("id").values_list("id", flat=True)[PRODUCTS // 2]
        products = list(Product.objects.order_by("id").values_list("id", flat=True))
        contact_id = customers()[0].pk
    # Each client its own ten products; an old issue date keeps the voided invoices off the
    # first page of the invoice list, which the reads measure.
    bodies = [
        {
            "contact_id": contact_id,
            "issue_date": "2000-01-01",
            "items": [{"product_id": pk, "quantity": "1"} for pk in products[10 * k : 10 * k + 10]],
        }
        for k in range(CLIENTS)
    ]
    reads = [
        read("products", "/products?include=category&per_page=100", None),
        read("stock-levels", "/stock-levels?include=product,workspace&per_page=100", workspace),
        read(
            "invoices", "/invoices?include=items.product.category,contact&per_page=100", workspace
        ),
        read("product", f"/products/{product_id}", None),
    ]
    requests = [*reads, write(workspace, bodies)]

    results: dict[str, dict[str, Figures]] = {}
    log(f"Starting our server and the floor ({WORKERS} workers × 4 threads each)...")
    with serving("ours", token) as ours, serving("floor", token, FLOOR_MODULE) as floor:
        log("Comparing the bodies...")
        check_same(ours, floor, token, reads, workspace, bodies[0])
        for request in requests:
            for server in (ours, floor):
                log(f"{server.name}: {request.label} for {seconds} s...")
                results.setdefault(request.key, {})[server.name] = measure(
                    server, token, request, seconds
                )

    rows = []
    for request in requests:
        our, low = results[request.key]["ours"], results[request.key]["floor"]
        ratio = our.cpu_ms / low.cpu_ms
        rows.append(
            (
                request.label,
                f"{our.cpu_ms:.2f}",
                f"{low.cpu_ms:.2f}",
                f"{ratio:.1f}×",
                verdict(request, ratio, our),
                f"{our.statements:.1f}",
                f"{low.statements:.1f}",
                f"{our.per_second:.0f}",
                f"{low.per_second:.0f}",
            )
        )
    header = (
        "request",
        "ours CPU ms",
        "floor CPU ms",
        "ratio",
        "target",
        "ours stmts",
        "floor stmts",
        "ours req/s",
        "floor req/s",
    )
    print(f"Tenant '{SLUG}': {PRODUCTS} products, {INVOICES}+ invoices, {CONTACTS} contacts.")
    print(
        f"uWSGI (uwsgi.ini) with {WORKERS} workers × 4 threads for both; {CLIENTS} kept-alive "
        f"clients for {seconds} s per row and server, after {WARMUP} requests each. CPU: the "
        "master and workers (/proc), per request; statements: our access log's queries=, the "
        "floor's count.\n"
    )
    print(format_table(header, rows))


if __name__ == "__main__":
    main()
