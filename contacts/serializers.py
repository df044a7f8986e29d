"""Input and output shapes of contacts and their addresses."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from contacts.models import Address, Contact
from optiflow.api.serializers import IncludableModelSerializer, JSONObjectField, MoneyField

ADDRESS_FIELDS = [
    "type",
    "line1",
    "line2",
    "city",
    "state",
    "postal_code",
    "country",
    "is_primary",
]
CONTACT_FIELDS = [
    "name",
    "contact_type",
    "status",
    "email",
    "phone",
    "mobile",
    "identification_type",
    "identification_number",
    "credit_limit",
    "notes",
    "metadata",
]


class AddressSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ["id", *ADDRESS_FIELDS]
        read_only_fields = fields


class ContactBalanceSerializer(serializers.Serializer):
    """Over the contact's issued, non-cancelled invoices (drafts do not count) in the
    workspaces where the caller holds `invoices:view`: contacts are shared by every workspace,
    their invoices are not. Annotated by `billing.selectors.contact_balances_annotate`."""

    total_invoiced = MoneyField(read_only=True)
    total_paid = MoneyField(read_only=True)
    balance_due = MoneyField(read_only=True)


class ContactSerializer(IncludableModelSerializer):
    credit_limit = MoneyField(read_only=True)
    metadata = serializers.DictField(read_only=True)
    addresses = AddressSerializer(many=True, read_only=True)
    balance = ContactBalanceSerializer(source="*", read_only=True)

    class Meta:
        model = Contact
        fields = ["id", *CONTACT_FIELDS, "addresses", "balance", "created_at", "updated_at"]
        read_only_fields = fields
        include_fields = ("addresses", "balance")


class AddressWriteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = ADDRESS_FIELDS


class ContactWriteSerializer(serializers.ModelSerializer):
    """``addresses``, when sent, replaces the contact's whole address list."""

    credit_limit = MoneyField(min_value=0, required=False)
    metadata = JSONObjectField(
        required=False, help_text="Free-form JSON object; its numbers are stored as JSON numbers."
    )
    addresses = AddressWriteSerializer(many=True, required=False)

    class Meta:
        model = Contact
        fields = [*CONTACT_FIELDS, "addresses"]

    def validate_addresses(self, addresses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        errors: list[dict[str, list[str]]] = [{} for _ in addresses]
        primary_types: set[str] = set()
        for index, address in enumerate(addresses):
            if not address.get("is_primary"):
                continue
            kind = address.get("type", Address.Type.BILLING)
            if kind in primary_types:
                errors[index] = {"is_primary": [f"Only one {kind} address can be primary."]}
            primary_types.add(kind)
        if any(errors):
            raise serializers.ValidationError(errors)
        return addresses
