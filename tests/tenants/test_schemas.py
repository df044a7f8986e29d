"""Tenant schemas from the template (tenants.schemas): a clone is identical to a schema built by
running every migration, a schema missing a migration is found in one query, and no tenant
table has a foreign key into the public schema (SPEC §2: Citus-ready)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import quote_schema_name, schema_exists

from tenants.models import Tenant
from tenants.schemas import (
    TEMPLATE_SCHEMA,
    expected_migrations,
    schema_clone,
    schema_create,
    schemas_missing_migrations,
)

pytestmark = pytest.mark.concurrency  # schemas are DDL: created and dropped for real

# Read with the schema alone on the search path, so definitions name its objects unqualified.
SIGNATURE = {
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid), a.attcollation,
               rank() OVER (PARTITION BY c.oid ORDER BY a.attnum)
        FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'r'""",
    "relations": """
        SELECT relname, relkind, relpersistence, pg_get_userbyid(relowner)
        FROM pg_class WHERE relnamespace = %(ns)s::regnamespace AND relkind <> 't'""",
    "constraints": """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        WHERE c.relnamespace = %(ns)s::regnamespace""",
    "indexes": """
        SELECT c.relname, ic.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class c ON c.oid = i.indrelid
        WHERE c.relnamespace = %(ns)s::regnamespace AND c.relkind = 'r'""",
    "sequences": """
        SELECT seq.relname, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin,
               s.seqmax, s.seqcache, s.seqcycle, owner.relname, a.attname, dep.deptype
        FROM pg_class seq JOIN pg_sequence s ON s.seqrelid = seq.oid
        LEFT JOIN pg_depend dep ON dep.objid = seq.oid AND dep.deptype IN ('a', 'i')
             AND dep.refclassid = 'pg_class'::regclass
        LEFT JOIN pg_class owner ON owner.oid = dep.refobjid
        LEFT JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
        WHERE seq.relnamespace = %(ns)s::regnamespace""",
    "comments": """
        SELECT c.relname, d.objsubid, d.description FROM pg_description d
        JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
        WHERE c.relnamespace = %(ns)s::regnamespace""",
}
ROWS = {
    "migration records": "SELECT app, name FROM django_migrations",
    "content types": "SELECT id, app_label, model FROM django_content_type",
    "permissions": "SELECT id, content_type_id, codename, name FROM auth_permission",
}


def signature(schema: str) -> dict[str, list]:
    """Everything that makes a schema what it is, as sorted rows."""
    previous = connection.tenant
    connection.set_schema(schema, include_public=False)
    try:
        result = {}
        with connection.cursor() as cursor:
            for what, query in SIGNATURE.items():
                cursor.execute(query, {"ns": quote_schema_name(schema)})
                result[what] = sorted(
                    tuple(re.sub(rf"\b{schema}\.", "", v) if isinstance(v, str) else v for v in row)
                    for row in cursor.fetchall()
                )
            for what, query in ROWS.items():
                cursor.execute(query)
                result[what] = sorted(cursor.fetchall())
            cursor.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = %s", [schema]
            )
            result["sequence positions"] = sorted(cursor.fetchall())
    finally:
        connection.set_tenant(previous)
    return result


@pytest.fixture
def schemas(provisioned, django_db_blocker) -> Iterator[list[str]]:
    """Names for schemas the test creates; they are dropped afterwards."""
    names: list[str] = []
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield names
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            for name in names:
                cursor.execute(f"DROP SCHEMA IF EXISTS {quote_schema_name(name)} CASCADE")


def test_a_clone_of_the_template_is_identical_to_a_schema_built_by_every_migration(schemas):
    schemas += ["t_by_migrations", "t_by_clone"]
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "t_by_migrations"')
    call_command("migrate_schemas", schema_name="t_by_migrations", interactive=False, verbosity=0)
    schema_clone(source=TEMPLATE_SCHEMA, target="t_by_clone")

    migrated, cloned = signature("t_by_migrations"), signature("t_by_clone")

    assert len(migrated["relations"]) > 150 and len(migrated["indexes"]) > 100  # not vacuous
    assert set(migrated["migration records"]) == expected_migrations()
    for what in migrated:
        assert cloned[what] == migrated[what], what


def test_the_template_is_a_migrated_schema_too(provisioned, db):
    assert schemas_missing_migrations([TEMPLATE_SCHEMA]) == []


def test_one_query_finds_the_schemas_missing_a_migration(schemas, provisioned):
    schemas += ["t_behind", "t_empty"]
    schema_clone(source=TEMPLATE_SCHEMA, target="t_behind")
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM t_behind.django_migrations WHERE app = 'billing' AND name = "
            "(SELECT max(name) FROM t_behind.django_migrations WHERE app = 'billing')"
        )
        cursor.execute('CREATE SCHEMA "t_empty"')
    acme, globex = provisioned["acme"].tenant.schema_name, provisioned["globex"].tenant.schema_name

    missing = schemas_missing_migrations([acme, "t_behind", globex, "t_empty", "t_nowhere"])

    assert missing == ["t_behind", "t_empty", "t_nowhere"]


def test_a_template_behind_the_code_still_gives_a_complete_schema(schemas, provisioned):
    """After a deploy, before migrate_schemas: the clone is migrated the rest of the way."""
    schemas += ["t_late"]
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {TEMPLATE_SCHEMA} RENAME TO template_aside")
        cursor.execute(f"CREATE SCHEMA {TEMPLATE_SCHEMA}")  # an empty, unmigrated template
    try:
        schema_create("t_late")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {TEMPLATE_SCHEMA} CASCADE")
            cursor.execute(f"ALTER SCHEMA template_aside RENAME TO {TEMPLATE_SCHEMA}")
    assert schemas_missing_migrations(["t_late"]) == []
    assert signature("t_late")["indexes"] == signature(TEMPLATE_SCHEMA)["indexes"]


def test_no_tenant_table_has_a_foreign_key_into_the_public_schema(provisioned, db):
    tenant_schemas = [TEMPLATE_SCHEMA, *Tenant.objects.values_list("schema_name", flat=True)]
    assert all(schema_exists(schema) for schema in tenant_schemas)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE target.relnamespace <> source.relnamespace) "
            "FROM pg_constraint con JOIN pg_class source ON source.oid = con.conrelid "
            "JOIN pg_class target ON target.oid = con.confrelid "
            "WHERE con.contype = 'f' AND source.relnamespace::regnamespace::text = ANY(%s)",
            [tenant_schemas],
        )
        foreign_keys, leaving_their_schema = cursor.fetchone()
    assert foreign_keys > 20 * len(tenant_schemas)  # the check saw real foreign keys
    assert leaving_their_schema == 0
