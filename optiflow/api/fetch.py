"""How a list page's rows and their includes are read into model instances.

Django's ``QuerySet`` iteration and ``prefetch_related`` serve any model, queryset and
relation, and on a page of 100 rows their generality costs more than the queries: each id of
a prefetch becomes a ``Value`` of a ``TupleIn``, compiled and quoted one by one; every record
goes through ``Model.__init__`` and then through descriptors and caches several times.

* ``records`` (``optiflow.db.records``) builds a queryset's instances as ``Model.from_db``
  would, without ``Model.__init__``, where nothing can tell the difference (else Django
  iterates).
* ``prefetch`` fetches the relations includes walk — a foreign key and the reverse of one,
  the latter possibly as a ``Prefetch`` with a queryset and ``to_attr`` — with the ids as one
  array parameter (``AnyOf``), one query per relation as Django's, and leaves each record
  where Django's prefetch would (the relation's cache, the prefetched objects' cache or
  ``to_attr``), so that plans, serializers and the models' own code read them unchanged. Any
  other lookup (a many-to-many, a generic relation, a queryset with its own prefetches) is
  left to ``prefetch_related_objects``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import F, ForeignKey, Model, Prefetch, QuerySet, prefetch_related_objects
from django.db.models.constants import LOOKUP_SEP
from django.db.models.fields.reverse_related import ManyToOneRel

from optiflow.db.prefetch import set_prefetched
from optiflow.db.records import AnyOf, records


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
