"""New rows inserted in one statement from one JSON parameter: the hot paths' ``bulk_create``.

A sale writes its item rows, their tax copies and a ledger movement per line; Django's
``bulk_create`` prepares every value of every row field by field (``pre_save``,
``get_db_prep_save``, one bound parameter each), which made a 10-row insert cost about four
times the CPU it does here. The rows these paths build hold plain Python values already
(``Decimal`` amounts, dates, strings, ids), so here they go to PostgreSQL as one JSON array
that ``json_populate_recordset`` turns into rows of the table's own type: PostgreSQL parses
each value with its column's input function, as it parses an INSERT's, so a string over its
column's length or a number over its precision fails the statement, and extra places are
rounded as the column always rounds them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from django.db import connection
from django.db.models import Field, Model


def _json_value(value: Any) -> str:
    # orjson writes str, int, bool, None, dates and aware datetimes itself; a Decimal goes as
    # its exact text, which the numeric column parses without a float in between.
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"bulk_insert takes plain values, not {type(value).__name__}")


@functools.cache
def _statement(model: type[Model]) -> tuple[str, list[Field]]:
    """The INSERT of ``model``'s rows (every concrete column but the id and generated ones)
    and those columns' fields."""
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not field.generated
    ]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    sql = (
        f"INSERT INTO {table} ({columns}) SELECT {columns}"
        f" FROM json_populate_recordset(NULL::{table}, %s) RETURNING {quote(model._meta.pk.column)}"
    )
    return sql, fields


def bulk_insert(rows: Sequence[Model]) -> None:
    """Insert ``rows``, new instances of one model whose field values are the Python values
    their columns take (what ``bulk_create`` would pass, not strings to convert), and set
    their ids. Like ``bulk_create``: ``pre_save`` runs (``auto_now`` and ``auto_now_add``
    timestamps), no signal is sent, and the rows are saved instances afterwards.

    The ids come back in the order of ``rows``: PostgreSQL inserts the rows of a set-returning
    function in order and numbers them from the sequence as it goes, which ``bulk_create``
    relies on too (it inserts from ``unnest`` on PostgreSQL)."""
    if not rows:
        return
    sql, fields = _statement(type(rows[0]))
    data = orjson.dumps(
        [{field.column: field.pre_save(row, True) for field in fields} for row in rows],
        default=_json_value,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [data.decode()])
        ids = cursor.fetchall()
    pk, alias = type(rows[0])._meta.pk.attname, connection.alias
    for row, (row_id,) in zip(rows, ids, strict=True):
        setattr(row, pk, row_id)
        row._state.adding = False
        row._state.db = alias
