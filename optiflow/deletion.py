"""Deleting a record that other records may still reference.

Models protect what they reference with ``on_delete=PROTECT`` and declare, beside the foreign
key, why that reference blocks a delete: ``in_use_reasons``, field name → the message clients
see ("The product is on document lines; deactivate it instead."). ``refuse_if_in_use`` is the
one place that turns a protected reference into that ``422``, so no service restates a
reference as a query of its own, and an app that adds a protecting foreign key (billing's
documents referencing contacts, products, taxes, workspaces) needs no hook in the app it
references.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import PROTECT, Model
from django.db.models.deletion import get_candidate_relations_to_delete

from optiflow.errors import RecordInUse


def refuse_if_in_use(instance: Model) -> None:
    """Raise ``RecordInUse`` with the declared reason of the first protecting reference to
    ``instance`` that has rows (in app and model order), as deleting it would; for a
    confirmation page as much as for ``delete_or_refuse``.

    Each protecting relation is asked with one ``EXISTS``: Django's collector would load every
    referencing row before raising ``ProtectedError``."""
    # The relations Django's collector follows, hidden ones (related_name="+") included.
    for relation in get_candidate_relations_to_delete(instance._meta):
        if relation.on_delete is not PROTECT:
            continue
        referencing = relation.related_model
        if referencing._base_manager.filter(**{relation.field.name: instance}).exists():
            reason = getattr(referencing, "in_use_reasons", {}).get(relation.field.name)
            raise RecordInUse(
                reason
                or f"The {instance._meta.verbose_name} is used by "
                f"{referencing._meta.verbose_name_plural}."
            )


def delete_or_refuse(instance: Model) -> None:
    """Delete ``instance`` and what cascades from it, unless ``refuse_if_in_use`` refuses. A
    reference added concurrently after the check still fails the delete (an
    ``IntegrityError``: ``409``, retry)."""
    refuse_if_in_use(instance)
    instance.delete()


class _Preview(Exception):
    """Rolls a previewed delete back."""


def refusal_preview(delete: Callable[[], object]) -> None:
    """Raise what ``delete`` would refuse with, deleting nothing: it runs in a savepoint that
    is always rolled back. For a confirmation page of a delete whose rule is more than its
    protecting references (a product goes with its opening stock), so that the page and the
    delete cannot disagree."""
    try:
        with transaction.atomic():
            delete()
            raise _Preview
    except _Preview:
        pass
