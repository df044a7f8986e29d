"""The company profile (SPEC §8.11): who the tenant is on the documents it sends — names, tax
id, contact details, address, logo and document footers. One row per tenant schema."""

from __future__ import annotations

import base64

from django.db import models
from django.db.models import Q

#: The keys of ``Company.address`` (SPEC §8.11), each stored in an ``address_<key>`` column.
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")
#: What a logo may be, judged by its content (``company.services.logo_content_type``).
LOGO_TYPES = ("image/png", "image/jpeg")


class Company(models.Model):
    """The tenant's own profile. A tenant is one company, so the table holds one row (``id`` 1,
    enforced by a constraint), created by provisioning or, for older tenants, the migration."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    legal_name = models.CharField(max_length=200)
    trade_name = models.CharField(max_length=200, blank=True, default="")
    tax_id = models.CharField("tax ID", max_length=50, blank=True, default="")
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    website = models.URLField(max_length=200, blank=True, default="")
    address_line1 = models.CharField("address line 1", max_length=200, blank=True, default="")
    address_line2 = models.CharField("address line 2", max_length=200, blank=True, default="")
    address_city = models.CharField("city", max_length=100, blank=True, default="")
    address_state = models.CharField("state", max_length=100, blank=True, default="")
    address_postal_code = models.CharField("postal code", max_length=20, blank=True, default="")
    address_country = models.CharField("country", max_length=100, blank=True, default="")
    #: The image as uploaded (at most 512 KB), and its type as read from the bytes.
    logo = models.BinaryField(null=True, blank=True)
    logo_type = models.CharField(max_length=20, blank=True, default="")
    # Printed at the foot of every page: a few lines (bank details, registration), not prose.
    invoice_footer = models.TextField(max_length=1000, blank=True, default="")
    quotation_footer = models.TextField(max_length=1000, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "company profile"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="company_single_row"),
            models.CheckConstraint(
                # Equalities, not `logo_type__in`: PostgreSQL prints an IN over a varchar
                # column in a form that parses back differently, and a tenant cloned from the
                # template (tenants.schemas) must match one built by the migrations.
                condition=Q(logo__isnull=True, logo_type="")
                | Q(logo__isnull=False, logo_type=LOGO_TYPES[0])
                | Q(logo__isnull=False, logo_type=LOGO_TYPES[1]),
                name="company_logo_has_type",
            ),
        ]

    def __str__(self) -> str:
        return self.trade_name or self.legal_name

    @property
    def address(self) -> dict[str, str]:
        return {key: getattr(self, f"address_{key}") for key in ADDRESS_FIELDS}

    @property
    def logo_data_uri(self) -> str | None:
        if self.logo is None:
            return None
        return f"data:{self.logo_type};base64,{base64.b64encode(self.logo).decode('ascii')}"
