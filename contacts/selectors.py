"""Reads of contacts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from contacts.models import Contact


@dataclass(frozen=True)
class ContactFigures:
    """Figures an include annotates onto each contact in the same SELECT, drawn from records
    of several workspaces: only those of the workspaces passed count, the ones where the
    caller holds ``permission``."""

    permission: str
    annotate: Callable[[QuerySet[Contact], Iterable[int]], QuerySet[Contact]]


#: Include name → its figures. Apps that own the figures register here (billing adds
#: ``balance``), so contacts never imports them.
CONTACT_INCLUDE_FIGURES: dict[str, ContactFigures] = {}


def contact_list(
    *,
    includes: frozenset[str] = frozenset(),
    visible_workspace_ids: Callable[[str], Iterable[int]] = lambda permission: (),
) -> QuerySet[Contact]:
    """``visible_workspace_ids``: permission → the workspaces whose records may count in a
    figure (``tenants.access.Access.visible_workspace_ids``); by default, none."""
    contacts = Contact.objects.all()
    for name, figures in CONTACT_INCLUDE_FIGURES.items():
        if name in includes:
            contacts = figures.annotate(contacts, visible_workspace_ids(figures.permission))
    return contacts
