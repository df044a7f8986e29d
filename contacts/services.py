"""Writes for contacts: create, update (addresses replaced as a whole), delete."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from contacts.models import Address, Contact
from optiflow.deletion import delete_or_refuse


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


def contact_delete(*, contact: Contact) -> None:
    """Refused while documents reference the contact (their models say why)."""
    delete_or_refuse(contact)
