"""Model instances read without Django's per-row and per-statement generality.

* ``records`` builds a queryset's instances as ``Model.from_db`` would, without
  ``Model.__init__``, where nothing can tell the difference (else Django iterates).
* ``raw_records`` does the same for the rows of a SELECT written in SQL, ``record`` for one
  row read some other way.
* ``CompiledQuery`` is a queryset of a fixed shape whose values change from call to call (the
  lines of an invoice, a record locked by id): compiling a queryset into SQL costs more CPU
  than running the statement and building its rows (about 0.35 ms for a lookup by id, 0.6 ms
  for a join), so its SQL is compiled once per process and run with each call's values.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.exceptions import FieldDoesNotExist
from django.db import connections
from django.db.models import ForeignKey, Lookup, Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.constants import LOOKUP_SEP
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from django.db.transaction import TransactionManagementError


class AnyOf(Lookup):
    """``column = ANY(%s)``, the values as one array parameter: ``__in`` binds and quotes one
    parameter per value. Used as an expression (``filter(AnyOf(F("id"), ids))``), not
    registered on any field."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, self.rhs)


@dataclass(frozen=True)
class Shape:
    """How ``records`` reads a queryset: the model's column attributes, then those of each
    foreign key ``select_related`` follows, as one ``values_list`` row."""

    model: type[Model]
    names: tuple[str, ...]
    joined: tuple[tuple[ForeignKey, tuple[str, ...]], ...]

    @property
    def lookups(self) -> list[str]:
        lookups = [*self.names]
        for field, related_names in self.joined:
            lookups += [f"{field.name}{LOOKUP_SEP}{name}" for name in related_names]
        return lookups

    def build(self, rows: Sequence[Sequence[Any]], db: str) -> list[Model]:
        found = []
        width = len(self.names)
        for values in rows:
            record = _build(self.model, self.names, values[:width], db)
            start = width
            for field, related_names in self.joined:
                related_values = values[start : start + len(related_names)]
                start += len(related_names)
                # A null key (a nullable one, joined outer) reads every related column as null.
                related = None
                if getattr(record, field.attname) is not None:
                    related = _build(field.related_model, related_names, related_values, db)
                field.set_cached_value(record, related)
            found.append(record)
        return found


def shape(queryset: QuerySet, *, joins: bool = False) -> Shape | None:
    """How ``records`` may read ``queryset``, or ``None`` where Django must iterate it.

    Only where nothing could see the difference: a queryset of the model's own columns (no
    annotation, ``extra``, deferred field or prefetch of its own: attributes of
    ``QuerySet.query`` Django exposes no public test for), a model that overrides neither
    ``__init__`` nor ``from_db``, with no init signal receiver and only plain field
    descriptors.

    With ``joins``, also ``select_related`` of foreign keys of the model itself (one level, to
    models that qualify as above), read through the join ``values_list`` of ``fk__column``
    makes, which is ``select_related``'s: inner for a required key, left outer for a nullable
    one. Only for a ``CompiledQuery``: building that ``values_list`` (a join resolved per
    column) costs more than Django's own iteration saves, unless it is built once."""
    model, query = queryset.model, queryset.query
    names = _plain_columns(model)
    joined = _joined(model, query.select_related) if joins or not query.select_related else None
    if (
        names is None
        or joined is None
        or query.annotations
        or query.extra
        or query.deferred_loading != (frozenset(), True)
        or queryset._prefetch_related_lookups
        or any(_has_init_receivers(each) for each in (model, *(f.related_model for f, _ in joined)))
    ):
        return None
    return Shape(model, names, tuple(joined))


def records(queryset: QuerySet) -> list[Model]:
    """``queryset``'s records, built as ``Model.from_db`` builds them but without running
    ``Model.__init__``: its pass over every field (a descriptor call per foreign key, the
    ``pre_init``/``post_init`` signals) is a fifth to a third of the CPU of reading a page's
    rows and includes. A queryset ``shape`` refuses is iterated by Django."""
    found = shape(queryset)
    if found is None:
        return list(queryset)
    return found.build(queryset.values_list(*found.lookups), queryset.db)


def record(model: type[Model], names: Sequence[str], values: Sequence[Any], db: str) -> Model:
    """One record of ``model`` from ``values`` of all its columns (``names``: their attribute
    names, in the order of its concrete fields), already converted as the ORM converts them,
    for a row read some other way (``tenants.selectors.caller_for_token``): built as
    ``records`` builds it where it may, else by ``Model.from_db``."""
    if _plain_columns(model) is None or _has_init_receivers(model):
        return model.from_db(db, names, values)
    return _build(model, tuple(names), values, db)


def raw_records(model: type[Model], sql: str, params: Sequence[Any]) -> list[Model]:
    """The rows of ``sql``, a SELECT of ``model``'s rows written with ``{columns}`` where
    its columns go, built as ``records`` builds them: ``model.objects.raw`` builds each
    through ``Model.__init__`` after matching its columns to the fields by name, row by row.
    A model ``records`` may not build, or with a column Django converts after reading it, is
    read by ``raw`` (``{columns}`` then stands for ``*``)."""
    columns = _raw_columns(model)
    if columns is None:
        return list(model.objects.raw(sql.format(columns="*"), params))
    db = model._default_manager.db
    with connections[db].cursor() as cursor:
        cursor.execute(sql.format(columns=columns), params)
        rows = cursor.fetchall()
    return Shape(model, _plain_columns(model), ()).build(rows, db)


@functools.cache
def _raw_columns(model: type[Model]) -> str | None:
    """``model``'s columns in the order of ``_plain_columns``, quoted, if ``raw_records`` may
    build its rows."""
    if _plain_columns(model) is None or _has_init_receivers(model):
        return None
    connection = connections[model._default_manager.db]
    fields = model._meta.concrete_fields
    if any(
        connection.ops.get_db_converters(field.cached_col)
        + field.cached_col.get_db_converters(connection)
        for field in fields
    ):
        return None
    return ", ".join(connection.ops.quote_name(field.column) for field in fields)


class CompiledQuery:
    """The records of ``build(*values)``: a queryset of a fixed shape, built from nothing but
    its integer ``values`` and constants (``lambda pk: Invoice.objects.filter(pk=pk)``), so
    that its SQL never changes, only the values.

    The first call compiles ``build`` applied to placeholder integers (Django's compiler, as
    ``records`` would run it) and finds where each placeholder landed among the statement's
    parameters; every call then runs that SQL with its own values in those places (any other
    parameter is one of ``build``'s constants, kept as compiled) and builds the rows as
    ``records`` does, each record ``select_related`` reads left in its key's cache (``None``
    where the key is null) as Django leaves it, and each value Django converts after reading
    it (``from_db_value``: a JSON column) converted as its compiler converts it. A queryset
    ``shape`` refuses is built and iterated by Django at every call; a value the statement
    does not use (compiled away) is refused (``ValueError``) at the first. A value may be used
    more than once (a transfer visible from either of its workspaces).

    Unqualified table names are resolved through the connection's ``search_path``, so one
    compiled statement serves every tenant's schema. A ``select_for_update`` is refused
    outside a transaction, as Django refuses it."""

    #: Placeholder values: small negative integers, which no id takes and which fit every
    #: integer column (Django compiles an out-of-range value into no condition at all).
    PLACEHOLDER = -7301

    #: Every instance alive, for the test that compares each with what Django compiles.
    every: ClassVar[weakref.WeakSet[CompiledQuery]] = weakref.WeakSet()

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self.build = build
        self.compiled: _Compiled | None = None
        CompiledQuery.every.add(self)

    def records(self, *values: Any) -> list[Model]:
        compiled = self.compiled or self.compile(len(values))
        if len(values) != compiled.count:
            raise TypeError(f"Expected {compiled.count} values, got {len(values)}.")
        if compiled.shape is None:
            return list(self.build(*values))
        connection = connections[compiled.db]
        if compiled.locks and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.params(values))
            rows = cursor.fetchall()
        if compiled.converters:
            rows = [compiled.convert(row, connection) for row in rows]
        return compiled.shape.build(rows, compiled.db)

    def get(self, *values: Any) -> Model:
        """The one record, as ``QuerySet.get`` answers it (``DoesNotExist``,
        ``MultipleObjectsReturned``)."""
        found = self.records(*values)
        model = self.compiled.model
        if not found:
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        if len(found) > 1:
            raise model.MultipleObjectsReturned(
                f"get() returned more than one {model._meta.object_name} -- it returned "
                f"{len(found)}!"
            )
        return found[0]

    def compile(self, count: int) -> _Compiled:
        placeholders = [self.PLACEHOLDER - index for index in range(count)]
        queryset = self.build(*placeholders)
        model, found = queryset.model, shape(queryset, joins=True)
        if found is None:
            self.compiled = _Compiled(model, None, queryset.db, "", count, (), False, ())
            return self.compiled
        query = queryset.values_list(*found.lookups).query
        connection = connections[queryset.db]
        if query.select_for_update and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        compiler = query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        # What SQLCompiler.apply_converters runs on a column: the backend's, then the field's.
        converters = []
        for index, (expression, _, _) in enumerate(compiler.select):
            functions = connection.ops.get_db_converters(expression) + expression.get_db_converters(
                connection
            )
            if functions:
                converters.append((index, tuple(functions), expression))
        # Each parameter: the index of the value it takes, or the constant itself.
        slots: list[int | _Constant] = []
        for param in params:
            match = [index for index, each in enumerate(placeholders) if each == param]
            slots.append(match[0] if match else _Constant(param))
        if {slot for slot in slots if isinstance(slot, int)} != set(range(count)):
            raise ValueError("Each value must be a parameter of the statement.")
        self.compiled = _Compiled(
            model,
            found,
            queryset.db,
            sql,
            count,
            tuple(slots),
            bool(query.select_for_update),
            tuple(converters),
        )
        return self.compiled


@dataclass(frozen=True)
class _Constant:
    value: Any


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    #: ``None``: Django builds and iterates the queryset at every call.
    shape: Shape | None
    db: str
    sql: str
    count: int
    #: For each parameter of ``sql``, the index of the value it takes, or a constant.
    slots: tuple[int | _Constant, ...]
    locks: bool
    #: The columns Django converts after reading: (index, converter functions, expression).
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]

    def params(self, values: Sequence[Any]) -> list[Any]:
        return [slot.value if isinstance(slot, _Constant) else values[slot] for slot in self.slots]

    def convert(self, row: Sequence[Any], connection: Any) -> list[Any]:
        row = list(row)
        for index, functions, expression in self.converters:
            value = row[index]
            for function in functions:
                value = function(value, expression, connection)
            row[index] = value
        return row


def _build(model: type[Model], names: tuple[str, ...], values: Sequence[Any], db: str) -> Model:
    """An instance of ``model`` loaded from the database, as ``Model.from_db`` leaves it."""
    record = model.__new__(model)
    record.__dict__.update(zip(names, values, strict=True))
    record._state = state = ModelState()
    state.adding, state.db = False, db
    return record


def _has_init_receivers(model: type[Model]) -> bool:
    return pre_init.has_listeners(model) or post_init.has_listeners(model)


def _joined(
    model: type[Model], select_related: bool | dict[str, Any]
) -> list[tuple[ForeignKey, tuple[str, ...]]] | None:
    """The foreign keys ``select_related`` follows with their models' column names, if
    ``records`` may build them (``[]`` for none); ``None`` for anything else (every relation,
    more than one level, a reverse one-to-one, a related model ``records`` may not build).
    ``query.select_related`` is ``False``, ``True`` (all) or a nested dict of names."""
    if select_related is False:
        return []
    if select_related is True:
        return None
    joined = []
    for name, deeper in select_related.items():
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        if deeper or not (field.many_to_one and field.concrete):
            return None
        related_names = _plain_columns(field.related_model)
        if related_names is None:
            return None
        joined.append((field, related_names))
    return joined


@functools.cache
def _plain_columns(model: type[Model]) -> tuple[str, ...] | None:
    """The attribute names of ``model``'s columns, if ``records`` may build it."""
    if model.__init__ is not Model.__init__ or model.from_db.__func__ is not Model.from_db.__func__:
        return None
    names = tuple(field.attname for field in model._meta.concrete_fields)
    plain = (DeferredAttribute, ForeignKeyDeferredAttribute)
    if any(type(getattr(model, name, None)) not in plain for name in names):
        return None
    return names
