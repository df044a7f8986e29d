"""``manage.py migrate_schemas`` over many tenants (tenants.migration_executor): up-to-date
schemas are skipped after one query, the others are migrated in parallel processes, with a
progress bar on a terminal and plain lines otherwise.

Schemas are made to miss a migration cheaply: a clone of the template without the record of
``admin.0003``, which no migration depends on and which only changes a field's choices (no
SQL)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator

import pytest
from django.db import connection
from django_tenants.utils import quote_schema_name

from tenants.models import Tenant
from tenants.schemas import TEMPLATE_SCHEMA, schema_clone, schemas_missing_migrations
from tests.conftest import test_database_url
from tests.servers import ROOT

pytestmark = pytest.mark.concurrency  # the command runs in another process: data is committed

NO_OP_MIGRATION = ("admin", "0003_logentry_add_action_flag_choices")


def migrate_schemas(*, terminal: bool = False) -> str:
    """Run the command as a deploy does; returns what it printed (stdout and stderr)."""
    command = [sys.executable, "manage.py", "migrate_schemas"]
    env = {**os.environ, "DATABASE_URL": test_database_url(), "OPTIFLOW_MIGRATION_PROCESSES": "2"}
    if not terminal:
        run = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert run.returncode == 0, run.stdout + run.stderr
        return run.stdout + run.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 80 columns
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command has exited
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=300) == 0, output.decode(errors="replace")
    return output.decode(errors="replace")


@pytest.fixture
def behind(provisioned, django_db_blocker) -> Iterator[list[str]]:
    """Two tenants whose schemas miss one migration; removed afterwards."""
    schemas = ["t_behind_a", "t_behind_b"]
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for schema in schemas:
            schema_clone(source=TEMPLATE_SCHEMA, target=schema)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {quote_schema_name(schema)}.django_migrations "
                    "WHERE app = %s AND name = %s",
                    NO_OP_MIGRATION,
                )
            Tenant.objects.create(
                slug=schema[2:].replace("_", "-"), name=schema, schema_name=schema
            )
        assert schemas_missing_migrations(schemas) == schemas
        yield schemas
        for tenant in Tenant.objects.filter(schema_name__in=schemas):
            tenant.delete(force_drop=True)  # the schema too


def test_a_run_with_nothing_to_do_skips_every_schema(provisioned, django_db_blocker):
    with django_db_blocker.unblock():
        tenants = Tenant.objects.count()

    output = migrate_schemas()

    assert f"Tenant schemas: 0 migrated, {tenants} already up to date" in output
    assert "[parallel:t_" not in output  # no tenant schema was even opened


def test_schemas_behind_are_migrated_in_parallel_with_a_line_each(behind, django_db_blocker):
    output = migrate_schemas()

    assert "Tenant schemas: 2 migrated" in output
    for schema in behind:
        assert f"{schema}: migrated" in output
    assert {line[:5] for line in output.splitlines() if ": migrated" in line} == {"[1/2]", "[2/2]"}
    with django_db_blocker.unblock():
        assert schemas_missing_migrations(behind) == []


def test_on_a_terminal_the_progress_is_a_bar(behind, django_db_blocker):
    output = migrate_schemas(terminal=True)

    assert "100%" in output and "2/2" in output  # tqdm's bar
    assert ": migrated" not in output
    with django_db_blocker.unblock():
        assert schemas_missing_migrations(behind) == []
