"""Factories for contacts."""

from __future__ import annotations

import factory

from contacts.models import Address, Contact


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    name = factory.Sequence(lambda n: f"Contact {n:03d}")
    contact_type = Contact.Type.CUSTOMER
    email = factory.Sequence(lambda n: f"contact{n}@example.test")


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    contact = factory.SubFactory(ContactFactory)
    line1 = factory.Sequence(lambda n: f"{n} Main Street")
    city = "Springfield"
    country = "US"
