"""``/contacts`` (SPEC §8.1): tenant-wide CRUD under ``contacts:*``."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from contacts import selectors, services
from contacts.filters import ContactFilterSet
from contacts.models import Contact
from contacts.serializers import ContactSerializer, ContactWriteSerializer
from optiflow.api.permissions import permission_table
from optiflow.api.views import (
    ApiViewSet,
    CreateMixin,
    DestroyMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
)


class ContactViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ApiViewSet):
    """Customers and suppliers. `addresses` is written nested (the list sent replaces the
    stored one) and is always embedded on single-record responses. Delete is refused (`422`)
    once the contact has quotations, invoices or payments: set it inactive instead."""

    serializer_class = ContactSerializer
    input_serializers = dict.fromkeys(
        ["create", "update", "partial_update"], ContactWriteSerializer
    )
    required_permissions = permission_table(
        read="contacts:view",
        create="contacts:create",
        update="contacts:edit",
        destroy="contacts:delete",
    )
    filterset_class = ContactFilterSet
    smart_fields = ("name", "email", "identification_number", "phone", "mobile")
    sort_fields = ("name", "created_at", "updated_at", "id")
    default_sort = "name"
    # `balance` needs no prefetch: it is annotated onto the same query (see
    # contacts.selectors.CONTACT_INCLUDE_FIGURES; billing registers it).
    include_prefetches = {"addresses": ("addresses",), "balance": ()}
    detail_includes = frozenset({"addresses"})

    def base_queryset(self) -> QuerySet[Contact]:
        access = getattr(self.request, "access", None)  # None: schema generation
        if access is None:
            return selectors.contact_list(includes=self.includes)
        return selectors.contact_list(
            includes=self.includes, visible_workspace_ids=access.visible_workspace_ids
        )

    def perform_create(self, data: dict[str, Any]) -> Contact:
        return services.contact_create(**data)

    def perform_update(self, instance: Contact, data: dict[str, Any]) -> Contact:
        return services.contact_update(contact=instance, data=data)

    def perform_destroy(self, instance: Contact) -> None:
        services.contact_delete(contact=instance)
