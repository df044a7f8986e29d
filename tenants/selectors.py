"""Reads of tenancy and access data."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet

from optiflow.db.records import record
from tenants.models import ApiToken, Membership, User, Workspace


@dataclass(frozen=True)
class Caller:
    """A token (its ``user`` loaded) and that user's memberships, with their workspaces, in
    workspace order."""

    token: ApiToken
    memberships: list[Membership]


#: The four tables of a caller, joined from the token; each one's columns are read whole.
CALLER_MODELS: tuple[tuple[type[Model], str], ...] = (
    (ApiToken, "t"),
    (User, "u"),
    (Membership, "m"),
    (Workspace, "w"),
)


@dataclass(frozen=True)
class Columns:
    """How one model's instances are built from its columns in a row, as the ORM builds them:
    the same converters, then as ``Model.from_db`` would (``optiflow.db.records.record``:
    without ``Model.__init__`` where nothing can tell, as a list's rows are built)."""

    model: type[Model]
    start: int
    attnames: list[str]
    pk_index: int
    converters: list[tuple[int, list, Any]]

    def build(self, row: Sequence[Any], database: BaseDatabaseWrapper) -> Model | None:
        """The instance, or ``None`` where an outer join found no row (a NULL primary key)."""
        values = list(row[self.start : self.start + len(self.attnames)])
        if values[self.pk_index] is None:
            return None
        for index, converters, column in self.converters:
            for converter in converters:
                values[index] = converter(values[index], column, database)
        return record(self.model, self.attnames, values, database.alias)


@functools.cache
def caller_query() -> tuple[str, tuple[Columns, ...]]:
    """The caller query (with ``{condition}`` to fill in) and how to read its rows.

    Written out because the ORM cannot say it in one statement: ``select_related`` follows
    only single-valued relations, and ``prefetch_related`` reads the memberships with a
    second query. The columns are each model's own, so the instances are complete."""
    quote = connection.ops.quote_name
    selected, readers, start = [], [], 1  # column 0 is the condition
    for model, alias in CALLER_MODELS:
        fields = model._meta.concrete_fields
        selected += [f"{alias}.{quote(field.column)}" for field in fields]
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(alias)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, found, column))
        attnames = [field.attname for field in fields]
        pk_index = attnames.index(model._meta.pk.attname)
        readers.append(Columns(model, start, attnames, pk_index, converters))
        start += len(fields)
    table = {model: quote(model._meta.db_table) for model, _ in CALLER_MODELS}
    sql = (
        f"SELECT ({{condition}}), {', '.join(selected)} FROM (SELECT 1) AS one"
        f" LEFT JOIN {table[ApiToken]} t ON t.id = %s"
        f" LEFT JOIN {table[User]} u ON u.id = t.user_id"
        f" LEFT JOIN {table[Membership]} m ON m.user_id = u.id"
        f" LEFT JOIN {table[Workspace]} w ON w.id = m.workspace_id"
        " ORDER BY m.workspace_id"
    )
    return sql, tuple(readers)


def caller_for_token(
    *, token_id: int, condition: tuple[str, Sequence[Any]] = ("TRUE", ())
) -> tuple[Caller | None, bool]:
    """The caller of token ``token_id`` (``None`` when there is no such token), in one
    statement, and the value of ``condition`` (SQL and its parameters) evaluated in that same
    statement: every authenticated request runs this first, so it can carry a check for free
    (``tenants.middleware.TenantCheck``). The statement gives one row per membership, or one
    row of NULLs past the token for a user with none (and past the condition for no token)."""
    sql, readers = caller_query()
    with connection.cursor() as cursor:
        cursor.execute(sql.replace("{condition}", condition[0]), [*condition[1], token_id])
        rows = cursor.fetchall()
        database = cursor.db  # the connection itself, not the proxy `connection` looks it up by
    holds = rows[0][0]
    token, user = readers[0].build(rows[0], database), readers[1].build(rows[0], database)
    if token is None:
        return None, holds
    # Each related record is cached as select_related leaves it (its foreign key already names
    # it), rather than assigned through the descriptor, whose checks are for a new value.
    ApiToken.user.field.set_cached_value(token, user)
    memberships = []
    for row in rows:
        membership = readers[2].build(row, database)
        if membership is not None:
            Membership.user.field.set_cached_value(membership, user)
            Membership.workspace.field.set_cached_value(membership, readers[3].build(row, database))
            memberships.append(membership)
    return Caller(token, memberships), holds


def workspace_members(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user").order_by("user_id")


def token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    """The caller's live tokens (revoked ones are kept for audit but not listed)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("id")
