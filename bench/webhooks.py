"""Benchmark of webhook delivery: deliveries per second and event → delivery latency, with
real worker processes and a receiver on loopback.

Why these numbers: an event is recorded in the transaction of its change, its delivery job
queued in the same transaction, and a worker (another process, woken by PostgreSQL's NOTIFY)
picks the job up, activates the tenant's schema, signs, POSTs and logs the attempt. Two runs of
the same number of events across three tenants show the two sides of it:

* **backlog**: the events are recorded with no worker running, then the workers start; the
  rate at which they drain the queue (first to last arrival) is their capacity;
* **live**: the events are recorded by three writers (one per tenant) while the workers run, as
  fast as they go or at ``--rate`` events per second in all; the latency is from each change's
  commit to its arrival at the receiver. As fast as they go, the writers share the two cores
  with the workers, so the latency also says how fast the API records events: compare runs at
  one ``--rate``.

Run it with ``make bench BENCHES=webhooks`` (or ``.venv/bin/python -m bench.webhooks
[--events N] [--workers N] [--concurrency N]``). It uses the database the settings give
(``DATABASE_URL``, else the embedded PostgreSQL), migrates it, and provisions three tenants
(``bench-hooks-1..3``) on first use. Each run replaces their subscriptions and leaves its stock
adjustments (one ``stock.adjusted`` event each) behind; events are purged after 30 days.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.common import log, percentile, setup_django

setup_django()

# The project's modules can only be imported once Django is set up.
# ruff: noqa: E402
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django_tenants.utils import schema_context

from inventory.models import Product
from inventory.services import AdjustmentItem, product_create, stock_adjustment_create
from optiflow.models import Event
from tenants.models import Tenant, User, Workspace
from tenants.services import tenant_provision
from webhooks.models import WebhookSubscription
from webhooks.services import subscription_create

ROOT = Path(__file__).resolve().parents[1]
SLUGS = ("bench-hooks-1", "bench-hooks-2", "bench-hooks-3")
PATIENCE = 300  # seconds for the last delivery to arrive


@dataclass
class Arrivals:
    """What the receiver saw: the first arrival time of each event id, and every request."""

    first: dict[str, float] = field(default_factory=dict)
    count: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, event_id: str) -> None:
        now = time.time()
        with self.lock:
            self.first.setdefault(event_id, now)
            self.count[event_id] += 1


def receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrivals.record(self.headers["X-OptiFlow-Event-Id"])
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def tenants(url: str) -> list[Tenant]:
    """The bench tenants (provisioned on first use), each with one fresh subscription to
    ``url``; earlier runs' subscriptions go, with their deliveries."""
    found = []
    for slug in SLUGS:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            log(f"Provisioning the '{slug}' tenant...")
            tenant = tenant_provision(
                slug=slug,
                name=slug,
                owner_email=f"owner@{slug}.test",
                owner_password="bench-password-123",
            ).tenant
        with schema_context(tenant.schema_name):
            WebhookSubscription.objects.all().delete()
            subscription_create(url=url, events=["stock.adjusted"])
        found.append(tenant)
    return found


def start_workers(count: int, concurrency: int) -> list[subprocess.Popen]:
    environment = {
        **os.environ,
        "OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE": "1",
        "OPTIFLOW_WEBHOOKS_ALLOW_HTTP": "1",
    }
    command = [
        sys.executable,
        "manage.py",
        "procrastinate",
        "worker",
        "--concurrency",
        str(concurrency),
    ]
    return [
        subprocess.Popen(command, cwd=ROOT, env=environment, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


def write_events(
    tenant: Tenant, count: int, committed: dict[str, float], interval: float = 0.0
) -> None:
    """``count`` stock adjustments in ``tenant``, each its own transaction, by the tenant's only
    writer, one every ``interval`` seconds at most; records when each event's change
    committed."""
    try:
        with schema_context(tenant.schema_name):
            owner = User.objects.filter(is_tenant_admin=True).order_by("id").first()
            workspace = Workspace.objects.get(is_default=True)
            product = Product.objects.filter(sku="BENCH-HOOKS").first() or product_create(
                actor=owner, name="Bench webhook widget", sku="BENCH-HOOKS", price=Decimal("1")
            )
            started = time.monotonic()
            for n in range(count):
                time.sleep(max(0.0, started + n * interval - time.monotonic()))
                item = AdjustmentItem(product, Decimal("1"), "found")
                stock_adjustment_create(workspace=workspace, actor=owner, items=[item])
                at = time.time()
                # This writer is alone in the tenant: the latest event is the one just made.
                committed[Event.objects.latest("id").public_id] = at
    finally:
        connections.close_all()


def record(bench_tenants: list[Tenant], events: int, rate: float | None = None) -> dict[str, float]:
    """``events`` events spread over the tenants, one writer thread per tenant (at ``rate``
    events per second in all, if given); returns when each event's change committed, by event
    id."""
    committed: dict[str, float] = {}
    shares = [events // len(bench_tenants)] * len(bench_tenants)
    shares[0] += events - sum(shares)
    interval = len(bench_tenants) / rate if rate else 0.0
    writers = [
        threading.Thread(target=write_events, args=(tenant, share, committed, interval))
        for tenant, share in zip(bench_tenants, shares, strict=True)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    if len(committed) != events:
        raise SystemExit(f"Only {len(committed)} of {events} events were recorded.")
    return committed


def wait_for(arrivals: Arrivals, committed: dict[str, float]) -> None:
    deadline = time.monotonic() + PATIENCE
    while len(arrivals.first.keys() & committed.keys()) < len(committed):
        if time.monotonic() > deadline:
            arrived = len(arrivals.first.keys() & committed.keys())
            raise SystemExit(f"Only {arrived} of {len(committed)} deliveries arrived.")
        time.sleep(0.05)


def stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events per run (2000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--concurrency", type=int, default=8, help="jobs per worker (8)")
    parser.add_argument(
        "--rate",
        type=float,
        help="live run: events per second in all (default: as fast as possible)",
    )
    options = parser.parse_args()

    call_command("migrate_schemas", verbosity=0)
    arrivals = Arrivals()
    server = receiver(arrivals)
    settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE = settings.OPTIFLOW_WEBHOOKS_ALLOW_HTTP = True
    bench_tenants = tenants(f"http://127.0.0.1:{server.server_port}/hook")
    workers: list[subprocess.Popen] = []
    try:
        log(f"Backlog: recording {options.events} events with no worker running...")
        backlog = record(bench_tenants, options.events)
        log("Backlog: starting the workers...")
        workers = start_workers(options.workers, options.concurrency)
        wait_for(arrivals, backlog)
        drained = [arrivals.first[event_id] for event_id in backlog]
        capacity = (len(backlog) - 1) / (max(drained) - min(drained))

        log(f"Live: recording {options.events} events while the workers run...")
        live = record(bench_tenants, options.events, options.rate)
        wait_for(arrivals, live)
    finally:
        stop(workers)
        server.shutdown()

    recording = max(live.values()) - min(live.values())
    latencies = [(arrivals.first[event_id] - at) * 1000 for event_id, at in live.items()]
    repeats = sum(arrivals.count[event_id] - 1 for event_id in [*backlog, *live])
    print(
        f"Webhooks: {options.events} events per run across {len(bench_tenants)} tenants, "
        f"{options.workers} workers x {options.concurrency} jobs, receiver on loopback."
    )
    print(f"Backlog drained at {capacity:.0f} deliveries/s.")
    print(
        f"Live: events recorded at {len(live) / recording:.0f}/s by 3 writers; latency commit "
        f"-> receiver p50 {statistics.median(latencies):.0f} ms, "
        f"p95 {percentile(latencies, 95):.0f} ms, max {max(latencies):.0f} ms."
    )
    print(f"Every event arrived; {repeats} of them twice.")


if __name__ == "__main__":
    main()
