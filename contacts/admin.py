"""Tenant admin for contacts, written through ``contacts.services`` as the API writes them:
the addresses inline is the service's nested ``addresses`` input (replaced as a whole), and a
contact with documents cannot be deleted (set it inactive instead)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from contacts import services
from contacts.models import Address, Contact
from optiflow.admin_base import ServiceAdmin, ServiceInline
from optiflow.admin_sites import tenant_admin
from optiflow.deletion import refuse_if_in_use


class AddressInline(ServiceInline):
    model = Address
    service_field = "addresses"
    fields = ["type", "line1", "line2", "city", "postal_code", "country", "is_primary"]


@admin.register(Contact, site=tenant_admin)
class ContactAdmin(ServiceAdmin):
    list_display = ["name", "contact_type", "status", "email", "phone"]
    list_filter = ["contact_type", "status"]
    search_fields = ["name", "email", "identification_number", "phone", "mobile"]
    inlines = [AddressInline]
    fieldsets = [
        (None, {"fields": ["name", "contact_type", "status"]}),
        ("Reach", {"fields": ["email", "phone", "mobile"]}),
        (
            "Identification and credit",
            {"fields": ["identification_type", "identification_number", "credit_limit"]},
        ),
        ("Notes", {"fields": ["notes", "metadata"]}),
    ]

    def service_create(self, request: HttpRequest, data: dict, form) -> Contact:
        return services.contact_create(**data)

    def service_update(self, request: HttpRequest, obj: Contact, data: dict, form) -> Contact:
        return services.contact_update(contact=obj, data=data)

    def service_delete(self, request: HttpRequest, obj: Contact) -> None:
        services.contact_delete(contact=obj)

    def service_delete_check(self, request: HttpRequest, obj: Contact) -> None:
        refuse_if_in_use(obj)
