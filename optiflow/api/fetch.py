"""How a list page's rows and their includes, and a detail's record, are read into model
instances.

Django's ``QuerySet`` iteration and ``prefetch_related`` serve any model, queryset and
relation, and on a page of 100 rows their generality costs more than the queries: each id of
a prefetch becomes a ``Value`` of a ``TupleIn``, compiled and quoted one by one; every record
goes through ``Model.__init__`` and then through descriptors and caches several times.

* ``records`` builds a queryset's instances as ``Model.from_db`` would, without
  ``Model.__init__``, where nothing can tell the difference (else Django iterates).
* ``prefetch`` fetches the relations includes walk — a foreign key and the reverse of one,
  the latter possibly as a ``Prefetch`` with a queryset and ``to_attr`` — with the ids as one
  array parameter (``AnyOf``), one query per relation as Django's, and leaves each record
  where Django's prefetch would (the relation's cache, the prefetched objects' cache or
  ``to_attr``), so that plans, serializers and the models' own code read them unchanged. Any
  other lookup (a many-to-many, a generic relation, a queryset with its own prefetches) is
  left to ``prefetch_related_objects``.
* ``Statement`` is a queryset compiled once and executed many times with other values in its
  ``Slot``s: a detail read's SQL is the same for every request of a viewset, only the ids
  change, and compiling it costs more than executing it.
* ``record`` builds one record from a row read some other way, as ``records`` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import (
    F,
    Field,
    ForeignKey,
    Lookup,
    Model,
    Prefetch,
    QuerySet,
    Value,
    prefetch_related_objects,
)
from django.db.models.base import ModelState
from django.db.models.constants import LOOKUP_SEP
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.fields.reverse_related import ManyToOneRel
from django.db.models.query import MAX_GET_RESULTS
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

from optiflow.db.prefetch import set_prefetched


class AnyOf(Lookup):
    """``column = ANY(%s)``, the values as one array parameter: ``__in`` binds and quotes one
    parameter per value. Used as an expression (``filter(AnyOf(F("id"), ids))``), not
    registered on any field."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, self.rhs)


def prefetch(rows: Sequence[Model], lookups: Iterable[str | Prefetch]) -> None:
    """Fetch ``lookups`` (as ``prefetch_related`` takes them, each after the lookups of the
    levels it goes through) for ``rows``, all of one model."""
    #: Records reached so far, by the path that reached them (``items``, ``items__product``).
    reached: dict[str, list[Model]] = {"": list(rows)}
    for lookup in lookups:
        lookup = lookup if isinstance(lookup, Prefetch) else Prefetch(lookup)
        through, _, name = lookup.prefetch_through.rpartition(LOOKUP_SEP)
        parents = reached.get(through)
        found = None if parents is None else _fetch(parents, name, lookup)
        if found is None:
            prefetch_related_objects(list(rows), lookup)
        else:
            reached[lookup.prefetch_to] = found


def _fetch(parents: list[Model], name: str, lookup: Prefetch) -> list[Model] | None:
    """Relation ``name`` of ``parents`` fetched and attached; the records found, or ``None``
    for a relation (or queryset) left to Django."""
    if not parents:
        return []
    field = type(parents[0])._meta.get_field(name)
    queryset, to_attr = lookup.queryset, lookup.to_attr
    if queryset is not None and queryset.query.is_sliced:
        return None
    if field.many_to_one and field.concrete and len(field.foreign_related_fields) == 1:
        return _forward(parents, field, queryset, to_attr)
    if isinstance(field, ManyToOneRel) and field.one_to_many and (queryset is None or to_attr):
        return _reverse(parents, field, queryset, to_attr)
    return None


def _forward(
    parents: list[Model], field: ForeignKey, queryset: QuerySet | None, to_attr: str | None
) -> list[Model]:
    """A foreign key: the records it points at, once each, on the parents that point at them.
    Django's forward prefetch reads them through the related model's base manager."""
    target = field.foreign_related_fields[0]
    keys = {key for parent in parents if (key := getattr(parent, field.attname)) is not None}
    queryset = field.related_model._base_manager.all() if queryset is None else queryset
    found = {}
    if keys:
        found = {
            getattr(record, target.attname): record
            for record in records(queryset.filter(AnyOf(F(target.name), list(keys))).order_by())
        }
    for parent in parents:
        record = found.get(getattr(parent, field.attname))
        if to_attr is None:
            field.set_cached_value(parent, record)
        else:
            setattr(parent, to_attr, record)
    return list(found.values())


def _reverse(
    parents: list[Model], relation: ManyToOneRel, queryset: QuerySet | None, to_attr: str | None
) -> list[Model]:
    """The reverse of a foreign key (an invoice's items): each parent's records in the
    queryset's order (the related model's default manager, as Django's), each record's own
    foreign key pointing back at its parent as after Django's prefetch."""
    remote = relation.field
    target = remote.foreign_related_fields[0]
    by_key = {getattr(parent, target.attname): parent for parent in parents}
    queryset = relation.related_model._default_manager.all() if queryset is None else queryset
    groups: dict[Any, list[Model]] = {key: [] for key in by_key}
    found = records(queryset.filter(AnyOf(F(remote.attname), list(by_key))))
    for record in found:
        key = getattr(record, remote.attname)
        groups[key].append(record)
        remote.set_cached_value(record, by_key[key])
    accessor = relation.get_accessor_name()
    for key, parent in by_key.items():
        if to_attr is None:
            set_prefetched(parent, accessor, groups[key])
        else:
            setattr(parent, to_attr, groups[key])
    return found


def records(queryset: QuerySet) -> list[Model]:
    """``queryset``'s records, built as ``Model.from_db`` builds them but without running
    ``Model.__init__``: its pass over every field (a descriptor call per foreign key, the
    ``pre_init``/``post_init`` signals) is a fifth to a third of the CPU of reading a page's
    rows and includes. Only where nothing could see the difference (``_buildable_columns``);
    any other queryset is iterated by Django."""
    names = _buildable_columns(queryset)
    if names is None:
        return list(queryset)
    return _build(queryset.model, names, queryset.values_list(*names), queryset.db)


def record(model: type[Model], names: Sequence[str], values: Sequence[Any], db: str) -> Model:
    """One record of ``model`` from ``values`` of all its columns (``names``: their attribute
    names, in the order of its concrete fields), converted as the ORM converts them: built as
    ``records`` builds them where it may, else by ``Model.from_db``."""
    if _plain_columns(model) is None or _init_observed(model):
        return model.from_db(db, names, values)
    return _build(model, names, (values,), db)[0]


def _build(
    model: type[Model], names: Sequence[str], rows: Iterable[Sequence[Any]], db: str
) -> list[Model]:
    """What ``Model.from_db`` returns for each row, without ``Model.__init__``
    (``_plain_columns``)."""
    new, found = model.__new__, []
    for values in rows:
        instance = new(model)
        instance.__dict__.update(zip(names, values, strict=True))
        instance._state = state = ModelState()
        state.adding, state.db = False, db
        found.append(instance)
    return found


def _buildable_columns(queryset: QuerySet) -> tuple[str, ...] | None:
    """The columns ``records`` reads for ``queryset``, if it may build its records: a
    queryset of the model's own columns (no annotation, ``extra``, ``select_related``,
    deferred field or prefetch of its own: attributes of ``QuerySet.query`` Django exposes no
    public test for), a model that overrides neither ``__init__`` nor ``from_db``, with no
    init signal receiver and only plain field descriptors."""
    model, query = queryset.model, queryset.query
    names = _plain_columns(model)
    if (
        names is None
        or query.annotations
        or query.extra
        or query.select_related
        or query.deferred_loading != (frozenset(), True)
        or queryset._prefetch_related_lookups
        or _init_observed(model)
    ):
        return None
    return names


def _init_observed(model: type[Model]) -> bool:
    """Whether a receiver would miss the ``pre_init``/``post_init`` of a record not built by
    ``Model.__init__`` (checked on every read: receivers may be connected at any time)."""
    return pre_init.has_listeners(model) or post_init.has_listeners(model)


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


class Slot(Value):
    """A parameter of a ``Statement``, named ``name``: compiled as the placeholder a value of
    ``field`` would be (a ``Value``, so a lookup does not parenthesize it), its value given at
    each execution."""

    def __init__(self, name: str, field: Field) -> None:
        super().__init__(None, output_field=field)
        self.name = name

    def as_sql(self, compiler, connection) -> tuple[str, list[Any]]:
        return "%s", [self]

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


@dataclass(frozen=True)
class Statement:
    """A queryset's SQL, compiled once, and how its rows become records as ``records``
    builds them. Holds only what does not depend on the request: the values that do are
    ``Slot``s, filled in by ``get``. Use it where the queryset is the same for every call
    (not one built from the request) and ``records`` may build its records.

    It reads rows as the ORM's compiler does, through what Django does not document: the
    compiler's ``select`` and ``get_converters`` (kept across requests, as
    ``tenants.selectors.caller_query`` keeps them), ``MAX_GET_RESULTS``, and a lookup leaving
    a ``Value`` unparenthesized. ``tests/api/test_detail_statement.py`` compares its SQL with
    the ORM's for every viewset that has one, so a change of any of them fails there."""

    sql: str
    #: The compiled parameters: values, and ``Slot``s to fill in.
    params: tuple[Any, ...]
    model: type[Model]
    names: tuple[str, ...]
    #: Column index → the converters the ORM applies to it, and its column expression.
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    db: str

    @classmethod
    def one_of(cls, queryset: QuerySet) -> Statement | None:
        """The statement of ``queryset.get()`` (its ordering dropped and at most
        ``MAX_GET_RESULTS`` rows read, as ``QuerySet.get`` does), or ``None`` where
        ``records`` would leave the queryset to Django."""
        names = _buildable_columns(queryset)
        if names is None or queryset.query.distinct_fields or not queryset.query.can_filter():
            return None
        compiler = queryset.order_by()[:MAX_GET_RESULTS].query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        # compiler.select (filled by as_sql): (expression, (sql, params), alias) per column
        # read. A plain queryset reads the model's columns in field order: ``names``.
        columns = [column for column, _, _ in compiler.select]
        read = tuple(
            getattr(getattr(column, "target", None), "attname", None) for column in columns
        )
        if read != names:
            return None
        found = compiler.get_converters(columns)
        converters = tuple((index, tuple(found[index][0]), found[index][1]) for index in found)
        return cls(sql, tuple(params), queryset.model, names, converters, queryset.db)

    def get(self, **values: Any) -> Model:
        """The one record the statement reads with ``values`` in its slots, as
        ``QuerySet.get`` answers (``DoesNotExist``, ``MultipleObjectsReturned``)."""
        params = [values[p.name] if isinstance(p, Slot) else p for p in self.params]
        connection = connections[self.db]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if len(rows) != 1:
            model, name = self.model, self.model._meta.object_name
            if not rows:
                raise model.DoesNotExist(f"{name} matching query does not exist.")
            raise model.MultipleObjectsReturned(f"get() returned more than one {name}.")
        row = list(rows[0])
        for index, converters, column in self.converters:
            for converter in converters:
                row[index] = converter(row[index], column, connection)
        return record(self.model, self.names, row, self.db)
