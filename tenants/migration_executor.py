"""How ``migrate_schemas`` runs over the tenant schemas (django-tenants' executor hook,
``GET_EXECUTOR_FUNCTION`` in the settings).

- The template schema (``tenants.schemas.TEMPLATE_SCHEMA``) is migrated with every run over
  all tenants, first and in this process: a deploy's migrations reach the schema new tenants
  are cloned from, and a migration that fails there fails before any tenant is touched.
- One query across schemas finds those that already hold every migration of the graph; they
  are skipped, so a deploy without new migrations costs almost nothing per tenant. (Runs that
  target a migration, fake, plan, prune or check go through every schema.)
- The others are migrated ``TENANT_MULTIPROCESSING_MAX_PROCESSES`` at a time in forked
  processes, each schema's output kept together; a failure stops the run (each migration is
  one transaction, so an interrupted schema is left at its last complete migration).
- Progress is a bar on a terminal, a line per schema otherwise (logs, CI); ``--verbosity 2``
  adds each schema's own migration output.

``migrate_schemas --executor standard|multiprocessing|subprocess`` still selects django-tenants'
own executors.
"""

from __future__ import annotations

import io
import multiprocessing
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from contextlib import redirect_stderr, redirect_stdout
from functools import partial
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection, connections
from django_tenants.migration_executors import get_executor as tenants_executor
from django_tenants.migration_executors.base import MigrationExecutor, run_migrations
from django_tenants.utils import quote_schema_name
from tqdm import tqdm

from tenants.schemas import TEMPLATE_SCHEMA, schemas_missing_migrations

#: Options under which a schema holding every migration still has something to do.
TARGETED = (
    "app_label",
    "migration_name",
    "fake",
    "fake_initial",
    "plan",
    "prune",
    "check_unapplied",
    "run_syncdb",
)


def get_executor(codename: str | None = None) -> type[MigrationExecutor]:
    if codename in (None, ParallelExecutor.codename):
        return ParallelExecutor
    return tenants_executor(codename)


def connect_directly() -> None:
    """In a forked child: plain connections, no pool. A pool's threads and idle connections
    would only be cut off when the child is stopped."""
    for wrapper in connections.all():
        wrapper.settings_dict["OPTIONS"].pop("pool", None)


def migrate_schema(
    args: tuple, options: dict[str, Any], schema: str, *, forked: bool = True
) -> tuple[str, str, str]:
    """Migrate one schema; returns it with its output and, if it failed, the traceback.
    In this process (``forked=False``) it may run inside the caller's transaction, as when a
    tenant is provisioned in one."""
    output = io.StringIO()
    with redirect_stdout(output), redirect_stderr(output):
        try:
            run_migrations(
                args, options, ParallelExecutor.codename, schema, allow_atomic=not forked
            )
        except Exception:
            return schema, output.getvalue(), traceback.format_exc()
    return schema, output.getvalue(), ""


class Progress:
    """A bar on a terminal; otherwise one line per schema (and the schema's own output)."""

    def __init__(self, total: int, verbosity: int) -> None:
        self.total, self.done, self.verbosity = total, 0, verbosity
        interactive = sys.stderr.isatty() and verbosity >= 1
        self.bar = tqdm(total=total, unit="schema", file=sys.stderr) if interactive else None

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text.rstrip("\n"), file=sys.stdout)
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")

    def finished(self, schema: str, output: str) -> None:
        self.done += 1
        if self.verbosity >= 2 and output:
            self.write(output)
        if self.bar is not None:
            self.bar.update(1)
        elif self.verbosity >= 1:
            self.write(f"[{self.done}/{self.total}] {schema}: migrated")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class ParallelExecutor(MigrationExecutor):
    codename = "parallel"

    @property
    def skippable(self) -> bool:
        return not any(self.options.get(option) for option in TARGETED)

    def run_migrations(self, tenants: Iterable[str] | None = None) -> None:
        schemas = list(tenants or [])
        if self.PUBLIC_SCHEMA_NAME in schemas:
            run_migrations(self.args, self.options, self.codename, self.PUBLIC_SCHEMA_NAME)
            schemas.remove(self.PUBLIC_SCHEMA_NAME)
            if not schemas:  # django-tenants' call for the public schema alone
                return
        started = time.monotonic()
        verbosity = int(self.options.get("verbosity", 1))
        if not self.options.get("schema_name"):
            self.migrate_template()
        pending = schemas_missing_migrations(schemas) if self.skippable else schemas
        self.migrate(pending, verbosity)
        if verbosity >= 1:
            sys.stdout.write(
                f"Tenant schemas: {len(pending)} migrated, {len(schemas) - len(pending)} "
                f"already up to date ({time.monotonic() - started:.1f} s).\n"
            )

    def migrate_template(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_schema_name(TEMPLATE_SCHEMA)}")
        if not self.skippable or schemas_missing_migrations([TEMPLATE_SCHEMA]):
            _, output, error = migrate_schema(
                self.args, self.options, TEMPLATE_SCHEMA, forked=False
            )
            if error:
                raise CommandError(f"Migrating the template schema failed:\n{output}{error}")

    def migrate(self, schemas: list[str], verbosity: int) -> None:
        if not schemas:
            return
        progress = Progress(len(schemas), verbosity)
        work: Callable[..., tuple[str, str, str]] = partial(migrate_schema, self.args, self.options)
        processes = min(len(schemas), settings.TENANT_MULTIPROCESSING_MAX_PROCESSES)
        try:
            if processes <= 1:
                for schema in schemas:
                    self.finished(progress, *work(schema, forked=False))
                return
            # Forked children must not share this process's connections or pool.
            for alias in connections:
                connections[alias].close()
                connections[alias].close_pool()
            context = multiprocessing.get_context("fork")
            with context.Pool(processes, initializer=connect_directly) as pool:
                for result in pool.imap_unordered(work, schemas):
                    self.finished(progress, *result)  # on a failure, the pool is terminated
        finally:
            progress.close()

    def finished(self, progress: Progress, schema: str, output: str, error: str) -> None:
        if error:
            progress.write(output)
            raise CommandError(f"Migrating {schema} failed:\n{error}")
        progress.finished(schema, output)
