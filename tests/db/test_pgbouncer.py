"""The API behind a real PgBouncer in transaction mode (README: deployment).

A transaction pooler hands a server session to another client between transactions: with a
session-level ``search_path`` (django-tenants' way) tenants then read and wrote each other's
rows. Here two tenants are hammered at once through two web servers (uwsgi.ini), both connected to
one PgBouncer with two server connections, with reads and writes mixed: no response may carry
the other tenant's data, no row may land in the other schema, and nothing may fail.

PgBouncer comes from the operating system (Debian: ``apt-get install pgbouncer``; ``.ci/run``
installs it); without it the test is skipped and says why.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from contacts.models import Contact
from tests.conftest import provision, test_database_url
from tests.servers import call, free_port, web_servers

pytestmark = pytest.mark.concurrency

SLUGS = ("pool-a", "pool-b")
CLIENT_THREADS, REQUESTS_PER_THREAD = 8, 50


def pgbouncer_binary() -> str:
    binary = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
    if binary is None:
        pytest.skip("pgbouncer is not installed (Debian package pgbouncer; .ci/run installs it)")
    return binary


@pytest.fixture(scope="module")
def pgbouncer_url(django_db_setup) -> Iterator[str]:
    """A PgBouncer in transaction mode with a pool of two server connections, in front of the
    test database; yields the ``DATABASE_URL`` that reaches the database through it."""
    binary = pgbouncer_binary()
    target = urlparse(test_database_url())
    socket_dir = parse_qs(target.query).get("host", [None])[0]
    host = socket_dir or target.hostname or "localhost"
    dbname, user = target.path.lstrip("/"), target.username or "postgres"
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir, "pgbouncer.ini")
        config.write_text(
            f"[databases]\n"
            f"{dbname} = host={host} port={target.port or 5432} dbname={dbname} user={user}"
            f"{' password=' + target.password if target.password else ''}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            "auth_type = any\npool_mode = transaction\ndefault_pool_size = 2\n"
            "max_client_conn = 500\nignore_startup_parameters = extra_float_digits,options\n"
            f"admin_users = {user}\n"
            f"logfile = {workdir}/pgbouncer.log\n"
        )
        command = [binary, str(config)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: run it as the user who owns the database's
            # socket directory, who can therefore reach the socket.
            owner = os.stat(socket_dir or workdir).st_uid
            for path in (workdir, config):
                os.chown(path, owner, -1)
            command[1:1] = ["-u", pwd.getpwuid(owner).pw_name]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        url = f"postgresql://{user}@127.0.0.1:{port}/{dbname}"
        try:
            wait_until_accepting(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def wait_until_accepting(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise AssertionError(f"pgbouncer exited: {process.stdout.read().decode()}")
        try:
            with psycopg.connect(url, connect_timeout=2) as probe:
                probe.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "pgbouncer did not start"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def pool_tenants(provisioned, django_db_blocker) -> dict:
    """Two tenants of their own: the hammering commits its writes."""
    with django_db_blocker.unblock():
        tenants = {slug: provision(slug) for slug in SLUGS}
        connection.set_schema_to_public()
    return tenants


def target_database(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def pgbouncer_admin(url: str, command: str) -> dict[str, dict]:
    """A ``SHOW`` of PgBouncer's admin console, as rows keyed by database name."""
    admin = urlparse(url)._replace(path="/pgbouncer").geturl()
    # The console speaks only the simple query protocol: a client-side binding cursor.
    with psycopg.connect(admin, autocommit=True, cursor_factory=psycopg.ClientCursor) as console:
        cursor = console.execute(command)
        names = [column.name for column in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def plan(worker: int) -> list[tuple[str, str]]:
    """The (tenant, request) pairs one client thread sends: the tenants and the kinds of
    request alternate on different rhythms, so every pairing happens."""
    kinds = ("me", "create", "list")
    return [
        (SLUGS[(worker + n) % 2], kinds[(worker * 7 + n) % 3]) for n in range(REQUESTS_PER_THREAD)
    ]


def test_two_tenants_hammered_through_pgbouncer_in_transaction_mode_never_mix(
    pgbouncer_url, pool_tenants, django_db_blocker
):
    env = {"DATABASE_URL": pgbouncer_url, "OPTIFLOW_RATE_LIMIT_USER": "100000/min"}
    failures: list[str] = []
    created: dict[str, set[str]] = {slug: set() for slug in SLUGS}

    def hammer(worker: int) -> None:
        for n, (slug, kind) in enumerate(plan(worker)):
            other = SLUGS[1 - SLUGS.index(slug)]
            base, token = f"{urls[n % 2]}/t/{slug}/api/v1", pool_tenants[slug].token
            if kind == "me":
                status, _, body = call("GET", f"{base}/me", token=token)
                ok = status == 200 and body["data"]["email"] == f"owner@{slug}.test"
            elif kind == "create":
                name = f"{slug} {worker}-{n}"
                status, _, body = call(
                    "POST",
                    f"{base}/contacts",
                    token=token,
                    body={"name": name, "contact_type": "customer"},
                )
                ok = status == 201 and body["data"]["name"] == name
                if ok:
                    created[slug].add(name)
            else:
                status, _, body = call("GET", f"{base}/contacts?sort=-id&per_page=50", token=token)
                ok = status == 200 and not any(
                    row["name"].startswith(other) for row in body["data"]
                )
            if not ok:
                failures.append(f"{slug} {kind}: {status} {str(body)[:200]}")

    with (
        web_servers(env, count=2) as urls,
        ThreadPoolExecutor(CLIENT_THREADS) as pool,
    ):
        list(pool.map(hammer, range(CLIENT_THREADS)))

    assert failures == []
    # It all went through PgBouncer, over at most two server connections.
    stats = pgbouncer_admin(pgbouncer_url, "SHOW STATS")
    assert (
        stats[target_database(pgbouncer_url)]["total_xact_count"]
        >= CLIENT_THREADS * REQUESTS_PER_THREAD
    )
    pools = pgbouncer_admin(pgbouncer_url, "SHOW POOLS")
    server_connections = ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
    assert sum(pools[target_database(pgbouncer_url)][k] for k in server_connections) <= 2
    writes = [slug for w in range(CLIENT_THREADS) for slug, kind in plan(w) if kind == "create"]
    with django_db_blocker.unblock():
        for slug in SLUGS:
            with schema_context(pool_tenants[slug].tenant.schema_name):
                stored = set(Contact.objects.values_list("name", flat=True))
            # Every contact answered 201 is in its tenant's schema, and nothing else is.
            assert stored == created[slug]
            assert len(stored) == writes.count(slug)
        connection.set_schema_to_public()
