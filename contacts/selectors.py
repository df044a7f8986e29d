"""Reads of contacts."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

from contacts.models import Contact

#: Include name → function annotating a contact queryset with that include's figures, in the
#: same SELECT. Apps that own the figures register here (billing adds ``balance``), so contacts
#: never imports them.
CONTACT_INCLUDE_ANNOTATORS: dict[str, Callable[[QuerySet[Contact]], QuerySet[Contact]]] = {}


def contact_list(*, includes: frozenset[str] = frozenset()) -> QuerySet[Contact]:
    contacts = Contact.objects.all()
    for name, annotate in CONTACT_INCLUDE_ANNOTATORS.items():
        if name in includes:
            contacts = annotate(contacts)
    return contacts
