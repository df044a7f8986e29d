"""Benchmark of tenancy at scale: how long a new tenant takes, what a deploy without new
migrations costs over 200 tenants, and whether serving many tenants slows a request down.

Why these numbers: provisioning used to run every migration (5.5 s by the command), a no-op
``migrate_schemas`` cost 0.31 s per tenant (52 minutes per deploy at 10,000 tenants), and each
tenant a server connection touches adds to its catalog cache. Now a tenant is cloned from the
template schema (target: ≤ 1 s by the command) and up-to-date schemas are skipped after one
query (target: ≤ 15 s over 200 tenants on a 2-core machine).

- ``provision_tenant``: wall time of ``manage.py provision_tenant`` (a fresh process, as an
  operator or a sign-up job runs it), median of 5; those tenants are deleted afterwards.
- ``migrate_schemas``: wall time of ``manage.py migrate_schemas`` with nothing to apply, over
  every tenant of the database (200 ``scale-NNN`` tenants, created on the first run and reused).
- ``GET /products``: in-process latency (``django.test.Client``, as ``bench.api``) of the same
  request sent to one tenant repeatedly, then round-robin over the 200 tenants.
- Connections: ``GET /products`` through ``make run``'s web server (one worker, 4 threads) from
  8 concurrent clients over the 200 tenants, with Django's connection pool (the default) and
  with one persistent connection per thread (``OPTIFLOW_DB_POOL=0``): throughput and latency.

Run it with ``make bench BENCHES=tenants`` (or ``.venv/bin/python -m bench.tenants
[--requests N]``). It uses the database the settings give (``DATABASE_URL``, else the embedded
PostgreSQL) and migrates it first. Creating the 200 tenants takes a few minutes, once. Timings
depend on the machine's load, printed with them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from bench.common import log, percentile, positive_int, setup_django, web_server

setup_django()

# The project's modules can only be imported once Django is set up.
# ruff: noqa: E402
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from inventory.services import product_create
from tenants.models import Tenant, User
from tenants.services import tenant_provision, token_create

ROOT = Path(__file__).resolve().parent.parent
TENANTS, PRODUCTS = 200, 20
PREFIX = "scale-"
WARMUP = 3


def manage(*args: str) -> tuple[float, float]:
    """Run ``manage.py`` in a fresh process: its wall time and its own CPU time, in seconds
    (on a loaded machine the first grows with the load, the second hardly)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{run.stdout}{run.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def scale_tenants() -> list[Tenant]:
    """The 200 ``scale-NNN`` tenants with their products, created where missing."""
    existing = set(Tenant.objects.filter(slug__startswith=PREFIX).values_list("slug", flat=True))
    missing = [f"{PREFIX}{n:03d}" for n in range(TENANTS) if f"{PREFIX}{n:03d}" not in existing]
    if missing:
        log(f"Creating {len(missing)} tenants with {PRODUCTS} products each (once)...")
    for index, slug in enumerate(missing, 1):
        result = tenant_provision(slug=slug, name=slug, owner_email=f"owner@{slug}.test")
        with schema_context(result.tenant.schema_name):
            for n in range(PRODUCTS):
                product_create(
                    actor=result.owner,
                    name=f"Product {n:02d}",
                    sku=f"P-{n:04d}",
                    price=Decimal(n + 1),
                    product_type="service",
                )
        if index % 20 == 0:
            log(f"  {index} tenants")
    connection.set_schema_to_public()
    return list(Tenant.objects.filter(slug__startswith=PREFIX).order_by("slug"))


def bench_provisioning(runs: int = 5) -> list[tuple[float, float]]:
    timings = []
    for _ in range(runs):
        slug = f"new-{uuid.uuid4().hex[:10]}"
        timings.append(
            manage("provision_tenant", slug, "--name", "New", "--owner-email", f"o@{slug}.test")
        )
        Tenant.objects.get(slug=slug).delete(force_drop=True)
    return timings


def tokens_for(tenants: list[Tenant]) -> dict[str, str]:
    """A token per tenant, expiring within the hour: every run makes new ones."""
    expires_at = timezone.now() + dt.timedelta(hours=1)
    tokens = {}
    for tenant in tenants:
        with schema_context(tenant.schema_name):
            owner = User.objects.get(email=f"owner@{tenant.slug}.test")
            _, tokens[tenant.slug] = token_create(user=owner, name="bench", expires_at=expires_at)
    return tokens


def bench_products(slugs: list[str], tokens: dict[str, str], runs: int) -> list[float]:
    """Milliseconds per ``GET /products``, the tenants taken in turn."""
    client, millis = Client(), []
    for n in range(WARMUP + runs):
        slug = slugs[n % len(slugs)]
        started = time.perf_counter()
        response = client.get(
            f"/t/{slug}/api/v1/products", headers={"Authorization": f"Bearer {tokens[slug]}"}
        )
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or len(response.json()["data"]) != 15:
            raise SystemExit(f"GET /products on {slug}: {response.status_code}")
        if n >= WARMUP:
            millis.append(elapsed)
    return millis


def bench_connections(slugs: list[str], tokens: dict[str, str], runs: int) -> dict[str, str]:
    """8 clients at once through the web server, with and without Django's connection pool."""
    clients, results = 8, {}

    def get(url: str, slug: str) -> float:
        request = urllib.request.Request(
            f"{url}/t/{slug}/api/v1/products",
            headers={"Authorization": f"Bearer {tokens[slug]}"},
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        return (time.perf_counter() - started) * 1000

    for mode, pool in (("pool", "1"), ("persistent connections", "0")):
        env = {"OPTIFLOW_DB_POOL": pool, "OPTIFLOW_RATE_LIMIT_USER": "1000000/min"}
        with web_server(env) as url, ThreadPoolExecutor(clients) as executor:
            list(executor.map(lambda n: get(url, slugs[n % len(slugs)]), range(WARMUP * 8)))
            started = time.perf_counter()
            millis = list(executor.map(lambda n: get(url, slugs[n % len(slugs)]), range(runs)))
            elapsed = time.perf_counter() - started
        results[mode] = f"{runs / elapsed:.0f} requests/s, {summary(millis, 'ms')}"
    return results


def summary(values: list[float], unit: str) -> str:
    return (
        f"median {statistics.median(values):.{2 if unit == 's' else 1}f} {unit}, "
        f"p95 {percentile(values, 95):.2f} {unit}, min {min(values):.2f}, max {max(values):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests",
        type=positive_int,
        default=400,
        metavar="N",
        help=f"measured GET /products requests per case, after {WARMUP} warm-up (default 400)",
    )
    runs = parser.parse_args().requests

    call_command("migrate_schemas", verbosity=0)
    tenants = scale_tenants()
    total = Tenant.objects.count()

    log("Measuring provisioning...")
    provisioning = bench_provisioning()
    log("Measuring a no-op migrate_schemas...")
    migrate = manage("migrate_schemas")

    log("Measuring GET /products...")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.OPTIFLOW_RATE_LIMIT_USER = "1000000/min"
    tokens = tokens_for(tenants)
    slugs = [tenant.slug for tenant in tenants]
    one = bench_products(slugs[:1], tokens, runs)
    many = bench_products(slugs, tokens, runs)
    log("Measuring connections through the web server...")
    connections = bench_connections(slugs, tokens, runs)

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"Machine: {os.cpu_count()} CPUs, load average {load} (1, 5, 15 min).\n")
    walls, cpus = zip(*provisioning, strict=True)
    print(
        f"provision_tenant (by the command, 5 runs): {summary(list(walls), 's')}; "
        f"CPU in the command: median {statistics.median(cpus):.2f} s"
    )
    print(
        f"migrate_schemas, nothing to apply, {total} tenants: {migrate[0]:.2f} s "
        f"(CPU in the command: {migrate[1]:.2f} s)"
    )
    print(f"GET /products, one tenant ({runs} requests): {summary(one, 'ms')}")
    print(f"GET /products, round-robin over {len(slugs)} tenants: {summary(many, 'ms')}")
    print(f"\nGET /products, web server (1 worker, 4 threads), 8 clients, {runs} requests:")
    for mode, figures in connections.items():
        print(f"  {mode}: {figures}")


if __name__ == "__main__":
    main()
