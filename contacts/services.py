"""Writes for contacts: create, update (addresses replaced as a whole), delete."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db import transaction

from contacts.models import Address, Contact
from optiflow.errors import DomainError

#: Checks that refuse deleting a contact still referenced by records of other apps (billing's
#: quotations, invoices and payments). Each returns the reason, or ``None`` to allow; the
#: reason is the 422's message, so it should suggest setting the contact inactive instead.
CONTACT_DELETE_GUARDS: list[Callable[[Contact], str | None]] = []


class ContactInUse(DomainError):
    pass


def _addresses_replace(*, contact: Contact, addresses: Iterable[Mapping[str, Any]]) -> None:
    contact.addresses.all().delete()
    Address.objects.bulk_create(Address(contact=contact, **address) for address in addresses)


@transaction.atomic
def contact_create(
    *, name: str, contact_type: str, addresses: Iterable[Mapping[str, Any]] = (), **fields: Any
) -> Contact:
    contact = Contact.objects.create(name=name, contact_type=contact_type, **fields)
    _addresses_replace(contact=contact, addresses=addresses)
    return contact


@transaction.atomic
def contact_update(*, contact: Contact, data: Mapping[str, Any]) -> Contact:
    """Sets the given fields; ``addresses``, when given, replaces the whole list."""
    data = dict(data)
    addresses = data.pop("addresses", None)
    for field, value in data.items():
        setattr(contact, field, value)
    contact.save()
    if addresses is not None:
        _addresses_replace(contact=contact, addresses=addresses)
    return contact


def contact_delete_check(*, contact: Contact) -> None:
    """Raises the refusal ``contact_delete`` would (for a confirmation page)."""
    for guard in CONTACT_DELETE_GUARDS:
        reason = guard(contact)
        if reason:
            raise ContactInUse(reason)


@transaction.atomic
def contact_delete(*, contact: Contact) -> None:
    contact_delete_check(contact=contact)
    contact.delete()
