"""``Model.save`` of one record without compiling its statement each time: for the records
every write request saves (an invoice, its series, its events).

``Model.save`` builds an ``InsertQuery`` or ``UpdateQuery`` and compiles it on every call,
which costs several times what running the statement does. Here the statement is made from
the model's fields directly (its text cached where it cannot vary), each value prepared as
Django prepares it (``pre_save``, ``get_db_prep_save``, a field's own placeholder), and the
columns Django reads back are read back. A model that overrides ``save``, has ``pre_save`` or
``post_save`` receivers, or inherits from a concrete model is saved by Django, as is a value
that is an expression (a database default): nothing then differs from ``save()``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import DatabaseError, connection
from django.db.models import Field, Model
from django.db.models.signals import post_save, pre_save


def save_new(instance: Model) -> None:
    """``instance.save()`` of a new instance (no id yet): an INSERT of its columns that
    reads back its id and generated columns."""
    model = type(instance)
    if not _plain_save(model) or instance.pk is not None:
        instance.save()
        return
    # Django's check that no related record is unsaved (and its refresh of their keys).
    instance._prepare_related_fields_for_save(operation_name="save")
    meta = model._meta
    fields = [
        field
        for field in meta.local_concrete_fields
        if not field.generated and field is not meta.auto_field
    ]
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    if any(hasattr(value, "as_sql") for value in values):
        instance.save()  # an expression (a database default) for Django to compile
        return
    placeholders = [
        field.get_placeholder(value, None, connection)
        if hasattr(field, "get_placeholder")
        else "%s"
        for field, value in zip(fields, values, strict=True)
    ]
    quote = connection.ops.quote_name
    returned = meta.db_returning_fields
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" VALUES ({', '.join(placeholders)})"
        f" RETURNING {', '.join(quote(f.column) for f in returned)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    for field, value in zip(returned, row, strict=True):
        for converter in field.get_db_converters(connection):
            value = converter(value, field, connection)
        setattr(instance, field.attname, value)
    instance._state.adding = False
    instance._state.db = connection.alias


def save_fields(instance: Model, fields: Sequence[str]) -> None:
    """``instance.save(update_fields=fields)``: ``pre_save`` runs (``auto_now`` sets
    ``updated_at``, which must be among ``fields`` to be written, as with Django), and an
    instance whose row is gone raises Django's ``DatabaseError``."""
    model = type(instance)
    statement = _update(model, tuple(fields)) if _plain_save(model) else None
    if statement is None:
        instance.save(update_fields=fields)
        return
    sql, written = statement
    values = [
        field.get_db_prep_save(field.pre_save(instance, False), connection) for field in written
    ]
    if any(hasattr(value, "as_sql") for value in values):
        instance.save(update_fields=fields)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, instance.pk])
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")


def _plain_save(model: type[Model]) -> bool:
    """Whether saving ``model`` is its one table's INSERT or UPDATE and nothing else."""
    return (
        model.save is Model.save
        and model.save_base is Model.save_base
        and not model._meta.parents
        and model._meta.order_with_respect_to is None
        and not pre_save.has_listeners(model)
        and not post_save.has_listeners(model)
    )


@functools.cache
def _update(model: type[Model], names: tuple[str, ...]) -> tuple[str, list[Field]] | None:
    """The UPDATE of ``names`` of one ``model`` row by id, and their fields; ``None`` where
    Django must write them (a field with its own placeholder)."""
    fields = [model._meta.get_field(name) for name in names]
    if any(
        not field.concrete
        or field.primary_key
        or field.generated
        or hasattr(field, "get_placeholder")
        for field in fields
    ):
        return None
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    pk = quote(model._meta.pk.column)
    return f"UPDATE {table} SET {assignments} WHERE {table}.{pk} = %s", fields
