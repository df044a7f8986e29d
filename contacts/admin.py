"""Tenant admin for contacts: editable, addresses inline."""

from __future__ import annotations

from django.contrib import admin

from contacts.models import Address, Contact
from optiflow.admin_sites import tenant_admin


class AddressInline(admin.TabularInline):
    model = Address
    extra = 0


@admin.register(Contact, site=tenant_admin)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["name", "contact_type", "status", "email", "phone", "created_at"]
    list_filter = ["contact_type", "status"]
    search_fields = ["name", "email", "identification_number", "phone", "mobile"]
    inlines = [AddressInline]
