"""Rows in hand, given to their parent's relation as if prefetched."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Model


def set_prefetched(instance: Model, name: str, rows: Iterable[Model]) -> None:
    """Make ``instance.<name>.all()`` (a reverse foreign key, such as ``invoice.items``)
    answer ``rows`` without a query, exactly as ``prefetch_related`` would have left it: for
    a service that has just written a record's whole set of related rows (rendering the
    record then reads back nothing), and for a list page's includes
    (``optiflow.api.fetch.prefetch``).

    Django has no public way to give a relation rows already in memory, so this stores them
    where ``prefetch_related_objects`` does: a queryset filtered on ``instance`` (which
    ``.filter()`` and friends go on from) whose result cache holds ``rows``, under the
    relation's cache name in ``instance._prefetched_objects_cache``."""
    manager = getattr(instance, name)
    cache = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    cache_name = manager.field.remote_field.cache_name
    cache.pop(cache_name, None)  # otherwise get_queryset() answers the stale prefetch
    queryset = manager.get_queryset()
    queryset._result_cache = list(rows)
    queryset._prefetch_done = True
    cache[cache_name] = queryset
