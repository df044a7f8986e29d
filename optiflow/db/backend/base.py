"""A PostgreSQL backend whose statements never depend on session state: safe behind any
connection pooler, PgBouncer in transaction mode included.

django-tenants selects a tenant with a *session* setting (``SET search_path``), issued when the
schema changes. A transaction pooler hands the server session to another client between two
transactions, so a statement could run in whatever schema the previous client left: tenants
read and wrote each other's data. Here every statement carries its scope instead — the
tenant's ``search_path`` and the request's lock and statement timeouts
(``optiflow.db.timeouts``) — as transaction-local settings in the same query string::

    SET LOCAL search_path TO "t_acme", "public"; SELECT ...

PostgreSQL runs a multi-statement string as one implicit transaction, so in autocommit mode the
settings apply to exactly that statement and vanish with it; inside a transaction they last
until it ends, so they are sent once per transaction (and again when the scope changes). This
needs client-side parameter binding (Django's default ``psycopg.ClientCursor``, simple query
protocol): a server-side bound statement cannot hold two commands.

The rest of the session state Django and psycopg rely on, checked:

- prepared statements: none (client-side binding; Django sets ``prepare_threshold=None``);
- server-side cursors (``DECLARE`` in one transaction, ``FETCH`` in the next): refused, the
  settings set ``DISABLE_SERVER_SIDE_CURSORS``;
- the time zone Django sets on connect (only when the server's differs from ``TIME_ZONE``) and
  the client encoding are startup/reported parameters, which poolers (PgBouncer included) track
  and restore per client;
- advisory locks: only transaction-scoped ones (``pg_try_advisory_xact_lock``) are safe;
- ``LISTEN``/``NOTIFY`` cannot work through a transaction pooler at all (README: deployment).

Connections also cache the catalog of every schema they touch (~0.22 MB per tenant), so a
connection that has served ``OPTIFLOW_DB_SCHEMAS_PER_CONNECTION`` schemas is retired when it is
released instead of being reused.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import NotSupportedError
from django.db.backends.postgresql import base as postgresql
from django.db.backends.postgresql.introspection import DatabaseIntrospection
from django_tenants.postgresql_backend import base as tenants
from django_tenants.utils import quote_schema_name
from psycopg import pq, sql
from psycopg.adapt import AdaptersMap, Buffer, Loader

from optiflow.db.timeouts import current_timeouts

IDLE, INTRANS = pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS

# Statements PostgreSQL refuses inside a transaction block, implicit ones included, so they
# cannot carry a prefix. None of the project's migrations uses one; see ScopedCursor.execute.
NO_TRANSACTION_BLOCK = re.compile(
    r"\s*(CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM|CREATE\s+TABLESPACE"
    r"|DROP\s+TABLESPACE|VACUUM|REINDEX\b.*\bCONCURRENTLY\b|REINDEX\s+(SCHEMA|DATABASE|SYSTEM)"
    r"|(CREATE|DROP)\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY)",
    re.IGNORECASE | re.DOTALL,
)


class Unknown:
    """A setting whose transaction-local value is not known: always sent."""


UNKNOWN: Any = Unknown()


class Scope(NamedTuple):
    """What a statement depends on: its schemas (SQL) and its timeouts in milliseconds
    (``None``: the session's own setting)."""

    search_path: str | None
    lock_timeout: int | None
    statement_timeout: int | None


#: A transaction that has set nothing yet.
FRESH = Scope(None, None, None)
#: A transaction that may have set anything (after ``ROLLBACK TO SAVEPOINT``).
UNSURE = Scope(None, UNKNOWN, UNKNOWN)


def scope_statements(want: Scope, have: Scope) -> list[str]:
    """The ``SET LOCAL`` statements that take a transaction from ``have`` to ``want``."""
    statements = []
    if want.search_path != have.search_path:
        statements.append(f"SET LOCAL search_path TO {want.search_path}")
    for name in ("lock_timeout", "statement_timeout"):
        value = getattr(want, name)
        if value != getattr(have, name):
            statements.append(f"SET LOCAL {name} TO {'DEFAULT' if value is None else int(value)}")
    return statements


def prefixed(statements: list[str], query: Any, escape_percent: bool) -> Any:
    prefix = "; ".join(statements) + ";\n"
    if escape_percent:  # the query will be parsed for %s placeholders
        prefix = prefix.replace("%", "%%")
    if isinstance(query, bytes):
        return prefix.encode() + query
    if isinstance(query, sql.Composable):
        return sql.SQL(prefix) + query
    return prefix + query


class ScopedCursor(postgresql.Cursor):
    """Django's client-side binding cursor, sending each statement's scope with it.

    ``wrapper`` is set by ``DatabaseWrapper.create_cursor``; cursors psycopg or a pool open on
    their own (connection checks, the time zone set on connect) leave it unset and send
    statements as they are.
    """

    wrapper: DatabaseWrapper | None = None

    def execute(self, query, params=None, *, prepare=None, binary=None):
        if self.wrapper is None:
            return super().execute(query, params, prepare=prepare, binary=binary)
        if isinstance(query, str | bytes) and NO_TRANSACTION_BLOCK.match(
            query if isinstance(query, str) else query.decode(errors="replace")
        ):
            return self.execute_unscoped(query, params)
        want, statements = self.wrapper.scope_change()
        if not statements:
            return super().execute(query, params, prepare=prepare, binary=binary)
        super().execute(
            prefixed(statements, query, params is not None), params, prepare=prepare, binary=binary
        )
        self.wrapper.scope_applied(want)
        # Hand back the cursor positioned on the caller's statement: its rows, rowcount and
        # status, not the SETs'.
        for _ in statements:
            self.nextset()
        return self

    def execute_unscoped(self, query, params):
        """A statement that cannot run in a transaction block gets the schema the only way
        left, as a session setting around it. That holds on a direct connection or behind a
        session pooler, which is where migrations run (README: deployment)."""
        search_path = self.wrapper.scope().search_path
        super().execute(f"SET search_path TO {search_path}")
        try:
            return super().execute(query, params)
        finally:
            super().execute("RESET search_path")

    def apply_scope(self) -> None:
        """Send the scope on its own, for the methods that cannot take a prefix."""
        want, statements = self.wrapper.scope_change()
        if statements:
            super().execute("; ".join(statements))
            self.wrapper.scope_applied(want)

    def executemany(self, query, params_seq, *, returning=False):
        # psycopg pipelines executemany() through the extended protocol, one command per
        # statement: the scope goes first, in the same transaction.
        if self.wrapper is None:
            return super().executemany(query, params_seq, returning=returning)
        if self.connection.autocommit and self.wrapper.transaction_status() == IDLE:
            self.wrapper.transaction_scope = FRESH
            try:
                with self.connection.transaction():
                    self.apply_scope()
                    return super().executemany(query, params_seq, returning=returning)
            finally:
                self.wrapper.transaction_scope = FRESH
        self.apply_scope()
        return super().executemany(query, params_seq, returning=returning)

    def copy(self, statement, params=None, *, writer=None):
        self.require_transaction("copy")
        return super().copy(statement, params, writer=writer)

    def stream(self, query, params=None, *, binary=None, size=1):
        self.require_transaction("stream")
        return super().stream(query, params, binary=binary, size=size)

    def require_transaction(self, method: str) -> None:
        if self.wrapper is None:
            return
        if self.connection.autocommit and self.wrapper.transaction_status() == IDLE:
            raise NotSupportedError(
                f"cursor.{method}() needs a transaction (transaction.atomic()): its schema is "
                "set for the transaction, it cannot travel with the statement."
            )
        self.apply_scope()


class SchemaIntrospection(DatabaseIntrospection):
    """Introspection that sees the current schema only, without public's tables (which a
    tenant schema must not mistake for its own, ``django_migrations`` above all).

    django-tenants does this with a session ``SET search_path`` around each call; here the
    search path of the calls' statements leaves public out instead."""

    @contextmanager
    def schema_only(self) -> Iterator[None]:
        include_public = self.connection.include_public_schema
        self.connection.include_public_schema = False
        try:
            yield
        finally:
            self.connection.include_public_schema = include_public

    def get_table_list(self, cursor):
        with self.schema_only():
            return super().get_table_list(cursor)

    def get_table_description(self, cursor, table_name):
        with self.schema_only():
            return super().get_table_description(cursor, table_name)

    def get_sequences(self, cursor, table_name, table_fields=()):
        with self.schema_only():
            return super().get_sequences(cursor, table_name, table_fields)

    def get_constraints(self, cursor, table_name):
        with self.schema_only():
            return super().get_constraints(cursor, table_name)


#: psycopg's own ``timestamptz`` text loader: its C version when psycopg's binary package is
#: installed (a class that cannot be subclassed).
_TIMESTAMPTZ = psycopg.adapters.get_loader(
    psycopg.adapters.types["timestamptz"].oid, pq.Format.TEXT
)


class UtcTimestamptzLoader(Loader):
    """``timestamptz`` values as UTC datetimes, parsed by psycopg's loader.

    Django registers a loader of its own (``psycopg_any.BaseTzLoader``): psycopg's pure-Python
    loader, then ``replace(tzinfo=...)``, about 8 µs a value; a list of 100 rows with their
    includes reads several hundred timestamps, a few milliseconds of its CPU. Django's result
    is right only while the session's ``TimeZone`` is the one it sets on connect (UTC here),
    and under that condition psycopg's loader alone returns the same datetime, with
    ``datetime.timezone.utc``, in a tenth of the time. ``timezone`` is what Django's
    ``create_cursor`` compares with its own before registering its loader on a cursor.
    """

    timezone = dt.UTC

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._parse = _TIMESTAMPTZ(oid, context).load

    def load(self, data: Buffer) -> dt.datetime:
        return self._parse(data)


@functools.cache
def with_utc_timestamps(template: AdaptersMap) -> AdaptersMap:
    """Django's adapters (one cached map per time zone) with ``UtcTimestamptzLoader``."""
    adapters = AdaptersMap(template)
    adapters.register_loader("timestamptz", UtcTimestamptzLoader)
    return adapters


class DatabaseWrapper(tenants.DatabaseWrapper):
    """django-tenants' wrapper (``set_tenant``, ``schema_name``), minus its session-level
    ``SET search_path``: statements carry their own (``ScopedCursor``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.introspection = SchemaIntrospection(self)
        # The scope the current transaction has set, as far as this wrapper knows.
        self.transaction_scope: Scope = FRESH
        self._search_path_key: tuple[str, bool] | None = None
        self._search_path_sql = ""

    def get_connection_params(self) -> dict[str, Any]:
        if self.settings_dict["OPTIONS"].get("server_side_binding"):
            raise ImproperlyConfigured(
                "optiflow.db.backend needs client-side binding: a statement bound on the server "
                "cannot carry its schema. Remove OPTIONS['server_side_binding']."
            )
        params = super().get_connection_params()
        params["cursor_factory"] = ScopedCursor
        if self.timezone is dt.UTC:  # USE_TZ, and the database's TIME_ZONE unset (UTC)
            params["context"] = with_utc_timestamps(params["context"])
        return params

    def _cursor(self, name: str | None = None) -> Any:
        # Skips django-tenants' _cursor, which would issue the session-level SET search_path.
        return super(tenants.DatabaseWrapper, self)._cursor(name)

    def create_cursor(self, name: str | None = None) -> ScopedCursor:
        if name is not None:
            raise NotSupportedError(
                "Server-side cursors span transactions, which a pooler may route to different "
                "sessions: set DISABLE_SERVER_SIDE_CURSORS (optiflow.settings does)."
            )
        cursor = super().create_cursor()
        cursor.wrapper = self
        return cursor

    # --- the scope ------------------------------------------------------------------------

    def scope(self) -> Scope:
        key = (self.schema_name, self.include_public_schema)
        if key != self._search_path_key:
            # django-tenants validates each name; quoting makes any valid one safe in SQL.
            paths = self._get_cursor_search_paths()
            self._search_path_sql = ", ".join(quote_schema_name(path) for path in paths)
            self._search_path_key = key
        timeouts = current_timeouts()
        return Scope(self._search_path_sql, timeouts.lock_ms, timeouts.statement_ms)

    def transaction_status(self) -> pq.TransactionStatus:
        return self.connection.pgconn.transaction_status

    def scope_change(self) -> tuple[Scope, list[str]]:
        """The scope the next statement needs, and the statements that set it."""
        want = self.scope()
        status = self.transaction_status()
        if status == IDLE:  # a new transaction, implicit or not, starts with this statement
            have = FRESH
        elif status == INTRANS:
            have = self.transaction_scope
        else:
            # A failed transaction accepts nothing but a rollback, and psycopg reports the
            # other states itself: send the statement alone.
            return want, []
        schemas_seen(self.connection).add(want.search_path)
        return want, scope_statements(want, have)

    def scope_applied(self, scope: Scope) -> None:
        # Recorded only if a transaction goes on: an implicit one ended with its statement.
        self.transaction_scope = scope if self.transaction_status() == INTRANS else FRESH

    def _commit(self) -> None:
        self.transaction_scope = FRESH
        super()._commit()

    def _rollback(self) -> None:
        self.transaction_scope = FRESH
        super()._rollback()

    def _savepoint_rollback(self, sid: str) -> None:
        try:
            super()._savepoint_rollback(sid)
        finally:
            # It undid whatever this transaction SET after the savepoint.
            self.transaction_scope = UNSURE

    def _set_autocommit(self, autocommit: bool) -> None:
        self.transaction_scope = FRESH
        super()._set_autocommit(autocommit)

    # --- retiring connections -------------------------------------------------------------

    def has_served_too_many_schemas(self) -> bool:
        limit = settings.OPTIFLOW_DB_SCHEMAS_PER_CONNECTION
        return bool(limit) and len(schemas_seen(self.connection)) > limit

    def close_if_unusable_or_obsolete(self) -> None:
        # Called between requests; a persistent connection is retired here.
        if (
            self.connection is not None
            and not self.in_atomic_block
            and self.has_served_too_many_schemas()
        ):
            self.close()
            return
        super().close_if_unusable_or_obsolete()

    def _close(self) -> None:
        if self.connection is not None and self.pool and self.has_served_too_many_schemas():
            # The pool's own expiry path: the connection is closed on return and replaced.
            # (Returning it closed would work too, logged as a warning about a broken one.)
            self.connection._expire_at = 0
        super()._close()
        self.transaction_scope = FRESH


_schemas_seen: weakref.WeakKeyDictionary[psycopg.Connection, set[str | None]] = (
    weakref.WeakKeyDictionary()
)


def schemas_seen(connection: psycopg.Connection) -> set[str | None]:
    """The search paths a server connection has served (it outlives a wrapper in a pool)."""
    try:
        return _schemas_seen[connection]
    except KeyError:
        return _schemas_seen.setdefault(connection, set())
