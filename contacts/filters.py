"""Query filters of the contacts list (SPEC §8.1)."""

from __future__ import annotations

from contacts.models import Contact
from optiflow.api.query import AnyOfFilter, ResourceFilterSet


class ContactFilterSet(ResourceFilterSet):
    contact_type = AnyOfFilter(choices=Contact.Type.values)
    status = AnyOfFilter(choices=Contact.Status.values)
