"""Contacts (SPEC §8.1): the customers and suppliers of a tenant, with their addresses."""

from __future__ import annotations

from django.db import models

from optiflow.money import AMOUNT


class Contact(models.Model):
    class Type(models.TextChoices):
        CUSTOMER = "customer"
        SUPPLIER = "supplier"
        BOTH = "both"

    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"

    class IdentificationType(models.TextChoices):
        TAX_ID = "tax_id"
        NATIONAL_ID = "national_id"
        PASSPORT = "passport"
        OTHER = "other"

    name = models.CharField(max_length=200)
    contact_type = models.CharField(max_length=10, choices=Type.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    mobile = models.CharField(max_length=50, blank=True, default="")
    identification_type = models.CharField(
        max_length=20, choices=IdentificationType.choices, blank=True, default=""
    )
    identification_number = models.CharField(max_length=100, blank=True, default="")
    credit_limit = models.DecimalField(**AMOUNT, default=0)
    notes = models.TextField(blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credit_limit__gte=0), name="contact_credit_limit_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Address(models.Model):
    class Type(models.TextChoices):
        BILLING = "billing"
        SHIPPING = "shipping"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="addresses")
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.BILLING)
    line1 = models.CharField(max_length=200, blank=True, default="")
    line2 = models.CharField(max_length=200, blank=True, default="")
    city = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=100, blank=True, default="")
    postal_code = models.CharField(max_length=20, blank=True, default="")
    country = models.CharField(max_length=100, blank=True, default="")
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["contact_id", "id"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "type"],
                condition=models.Q(is_primary=True),
                name="address_one_primary_per_type",
            ),
        ]

    def __str__(self) -> str:
        return ", ".join(part for part in (self.line1, self.city, self.country) if part)
