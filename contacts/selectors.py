"""Reads of contacts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet

from contacts.models import Contact


@dataclass(frozen=True)
class ContactFigures:
    """Figures an include annotates onto each contact in the same SELECT, drawn from records
    of several workspaces: only those of ``workspace_ids`` count (``None``: every workspace),
    the workspaces where the caller holds ``permission``."""

    permission: str
    annotate: Callable[[QuerySet[Contact], list[int] | None], QuerySet[Contact]]


#: Include name → its figures. Apps that own the figures register here (billing adds
#: ``balance``), so contacts never imports them.
CONTACT_INCLUDE_FIGURES: dict[str, ContactFigures] = {}


def contact_list(
    *,
    includes: frozenset[str] = frozenset(),
    workspace_ids_with: Callable[[str], list[int] | None] = lambda permission: None,
) -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    for name, figures in CONTACT_INCLUDE_FIGURES.items():
        if name in includes:
            contacts = figures.annotate(contacts, workspace_ids_with(figures.permission))
    return contacts
