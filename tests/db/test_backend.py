"""optiflow.db.backend: every statement runs in its own tenant schema, whatever the session
holds, and leaves nothing in the session (the property a transaction pooler needs).

"The session" below is read and dirtied with raw psycopg cursors, which bypass the backend the
way another client of a shared pooled server connection would.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, NotSupportedError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.test import override_settings
from django_tenants.utils import schema_context
from psycopg import pq

from contacts.models import Contact
from optiflow.db.backend.base import UtcTimestamptzLoader
from optiflow.db.timeouts import Timeouts, database_timeouts
from tenants.models import User

ACME, GLOBEX = "owner@acme.test", "owner@globex.test"


def session(wrapper: BaseDatabaseWrapper, statement: str) -> object:
    """Run ``statement`` on the wrapper's server session as a client that sends no scope."""
    wrapper.ensure_connection()
    with wrapper.connection.cursor() as raw:
        raw.execute(statement)
        return raw.fetchone()[0] if raw.description else None


def first_owner_email(wrapper: BaseDatabaseWrapper) -> str:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT email FROM tenants_user WHERE is_tenant_admin ORDER BY id LIMIT 1")
        return cursor.fetchone()[0]


@pytest.fixture
def fresh(provisioned, django_db_blocker) -> Iterator[BaseDatabaseWrapper]:
    """A wrapper with a server session of its own, in autocommit."""
    with django_db_blocker.unblock():
        wrapper = connection.copy()
        yield wrapper
        if wrapper.connection is not None:
            session(wrapper, "RESET search_path")  # what the tests dirtied, before the pool
        wrapper.close()


def test_a_statement_finds_its_tenant_and_leaves_no_session_setting(provisioned, fresh):
    default = session(fresh, "SHOW search_path")
    fresh.set_tenant(provisioned["globex"].tenant)

    assert first_owner_email(fresh) == GLOBEX
    assert session(fresh, "SHOW search_path") == default
    fresh.set_tenant(provisioned["acme"].tenant)
    assert first_owner_email(fresh) == ACME
    assert session(fresh, "SHOW search_path") == default


def test_a_search_path_another_client_left_in_the_session_changes_nothing(provisioned, fresh):
    fresh.set_tenant(provisioned["acme"].tenant)
    session(fresh, 'SET search_path TO "t_globex"')

    assert first_owner_email(fresh) == ACME

    fresh.set_autocommit(False)  # and in a transaction, which sets it for all its statements
    try:
        assert first_owner_email(fresh) == ACME
        assert first_owner_email(fresh) == ACME
    finally:
        fresh.rollback()
        fresh.set_autocommit(True)


def test_timeouts_apply_to_the_statement_and_never_stay_in_the_session(provisioned, fresh):
    fresh.set_tenant(provisioned["acme"].tenant)
    read = "SELECT current_setting('lock_timeout') || ' ' || current_setting('statement_timeout')"
    defaults = session(fresh, read)

    with database_timeouts(Timeouts(lock_ms=1234, statement_ms=5678)), fresh.cursor() as cursor:
        cursor.execute(read)
        assert cursor.fetchone() == ("1234ms 5678ms",)

    assert session(fresh, read) == defaults


def test_a_transaction_sets_its_scope_once_and_again_when_it_changes(provisioned, fresh):
    default = session(fresh, "SHOW lock_timeout")
    fresh.set_autocommit(False)
    try:
        fresh.set_tenant(provisioned["acme"].tenant)
        with database_timeouts(Timeouts(lock_ms=1234)):
            assert first_owner_email(fresh) == ACME
            assert session(fresh, "SHOW lock_timeout") == "1234ms"  # set for the transaction
        fresh.set_tenant(provisioned["globex"].tenant)
        assert first_owner_email(fresh) == GLOBEX
        # Outside the block the timeout is back to the session's, in the same transaction.
        with fresh.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout')")
            assert cursor.fetchone()[0] == default
    finally:
        fresh.rollback()
        fresh.set_autocommit(True)


def test_a_savepoint_rollback_that_undoes_the_scope_is_followed_by_a_new_one(tenant, other_tenant):
    assert first_owner_email(connection) == ACME  # inside the test's transaction
    with transaction.atomic():
        connection.set_tenant(other_tenant.tenant)
        with pytest.raises(IntegrityError), transaction.atomic():
            assert first_owner_email(connection) == GLOBEX
            User.objects.create(email=GLOBEX, name="Twin")  # duplicate: the savepoint rolls back
        # The rollback to the savepoint undid the SET LOCAL that chose globex.
        assert first_owner_email(connection) == GLOBEX
    connection.set_tenant(tenant.tenant)
    assert first_owner_email(connection) == ACME


def insert_contacts(names: list[str]) -> None:
    """``executemany()``, which psycopg pipelines: the scope cannot travel as a prefix."""
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO contacts_contact (name, contact_type, status, email, phone, mobile, "
            "identification_type, identification_number, credit_limit, notes, metadata, "
            "created_at, updated_at) VALUES (%s, 'customer', 'active', '', '', '', '', '', 0, "
            "'', '{}', now(), now())",
            [(name,) for name in names],
        )


def test_row_counts_returning_and_bulk_writes_see_the_callers_statement(tenant):
    names = [f"Bulk {uuid.uuid4().hex[:8]}" for _ in range(3)]
    created = Contact.objects.bulk_create(Contact(name=n, contact_type="customer") for n in names)
    assert all(contact.pk for contact in created)  # RETURNING id, read past the SETs

    assert Contact.objects.filter(name__in=names).update(notes="x") == 3
    assert Contact.objects.filter(name__in=names).delete()[0] == 3
    insert_contacts(names)
    assert Contact.objects.filter(name__in=names).count() == 3


def test_timestamps_are_read_as_djangos_own_loader_reads_them(tenant):
    texts = [
        "2026-01-01 10:00:00.5+05:30",
        "2026-06-30 23:59:59.123456-07",
        "2000-02-29 12:00:00+00",
        "0001-01-01 00:00:00+00",
        "9999-12-31 23:59:59.999999+00",
    ]
    query = "SELECT " + ", ".join(["%s::timestamptz"] * len(texts))
    with connection.cursor() as cursor:
        loader = cursor.cursor.adapters.get_loader(TIMESTAMPTZ_OID, pq.Format.TEXT)
        assert loader is UtcTimestamptzLoader
        cursor.execute(query, texts)
        fast = cursor.fetchone()
        register_tzloader(dt.UTC, cursor.cursor)  # Django's loader, on this cursor only
        cursor.execute(query, texts)
        reference = cursor.fetchone()
    assert fast == reference
    assert all(value.tzinfo is dt.UTC for value in (*fast, *reference))


def test_autocommit_statements_of_every_kind_run_in_the_tenant(committed_tenant, other_tenant):
    """Outside a transaction each statement is its own implicit one, prefix included."""
    names = [f"Auto {uuid.uuid4().hex[:8]}" for _ in range(2)]
    default = session(connection, "SHOW search_path")
    assert connection.get_autocommit()
    # What another client of a pooled server session may leave behind.
    session(connection, 'SET search_path TO "t_globex"')
    try:
        assert not Contact.objects.filter(name__in=names).exists()  # its scope ended with it
        insert_contacts(names)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM contacts_contact")  # refused in a transaction: no prefix
    finally:
        session(connection, "RESET search_path")
    assert Contact.objects.filter(name__in=names).update(notes="y") == 2
    assert [c.name for c in Contact.objects.filter(name__in=names).iterator()] == sorted(names)
    assert Contact.objects.filter(name__in=names).delete()[0] == 2
    with schema_context(other_tenant.tenant.schema_name):
        assert not Contact.objects.filter(name__in=names).exists()
    assert session(connection, "SHOW search_path") == default


def test_a_durable_transaction_commits_into_its_tenant(committed_tenant, other_tenant):
    name = f"Durable {uuid.uuid4().hex[:8]}"
    session(connection, 'SET search_path TO "t_globex"')
    try:
        with transaction.atomic(durable=True):
            Contact.objects.create(name=name, contact_type="customer")
            assert Contact.objects.filter(name=name).count() == 1
    finally:
        session(connection, "RESET search_path")
    assert Contact.objects.filter(name=name).delete()[0] == 1  # it was committed, in conc
    with schema_context(other_tenant.tenant.schema_name):
        assert not Contact.objects.filter(name=name).exists()


def test_copy_needs_a_transaction(committed_tenant):
    with connection.cursor() as cursor, pytest.raises(NotSupportedError):
        cursor.cursor.copy("COPY contacts_contact (name) TO STDOUT")
    emails = "COPY (SELECT email FROM tenants_user ORDER BY id) TO STDOUT"
    with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(emails) as copy:
        data = b"".join(bytes(block) for block in copy)
    assert data.startswith(b"owner@conc.test\n")


def test_server_side_cursors_and_bindings_are_refused(provisioned, fresh):
    fresh.ensure_connection()
    with pytest.raises(NotSupportedError):
        fresh.create_cursor(name="spans_transactions")
    fresh.settings_dict["OPTIONS"] = {**fresh.settings_dict["OPTIONS"], "server_side_binding": True}
    with pytest.raises(ImproperlyConfigured):
        fresh.get_connection_params()


@pytest.mark.parametrize("pooled", [True, False], ids=["pool", "persistent"])
def test_a_connection_that_served_too_many_tenants_is_retired(provisioned, fresh, pooled):
    if not pooled:  # one persistent connection per thread (OPTIFLOW_DB_POOL=0)
        fresh.settings_dict["OPTIONS"].pop("pool", None)
        fresh.settings_dict["CONN_MAX_AGE"] = 60

    def request(*slugs: str) -> object:
        """Touch the tenants on one connection and release it, as a request does."""
        for slug in slugs:
            fresh.set_tenant(provisioned[slug].tenant)
            first_owner_email(fresh)
        server_connection = fresh.connection
        fresh.close_if_unusable_or_obsolete()
        return server_connection

    with override_settings(OPTIFLOW_DB_SCHEMAS_PER_CONNECTION=1000):
        assert not request("acme", "globex").closed  # kept (or back in the pool)
    with override_settings(OPTIFLOW_DB_SCHEMAS_PER_CONNECTION=1):
        assert request("acme", "globex").closed
