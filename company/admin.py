"""Tenant admin for the company profile: one record, edited through ``company_update`` (the
same rules and messages as ``PATCH /company``, via ``ServiceAdmin``), with the logo uploaded as
a file."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from company.models import ADDRESS_FIELDS, Company
from company.services import LOGO_MAX_BYTES, company_update, logo_content_type
from optiflow.admin_base import ServiceAdmin, ServiceModelForm
from optiflow.admin_sites import tenant_admin
from optiflow.errors import DomainError

PROFILE_FIELDS = [
    "legal_name",
    "trade_name",
    "tax_id",
    "email",
    "phone",
    "website",
    "invoice_footer",
    "quotation_footer",
]
ADDRESS_COLUMNS = [f"address_{key}" for key in ADDRESS_FIELDS]


class CompanyForm(ServiceModelForm):
    website = forms.URLField(max_length=200, required=False, assume_scheme="https")
    logo_file = forms.FileField(
        label="New logo", required=False, help_text="PNG or JPEG, at most 512 KB."
    )
    remove_logo = forms.BooleanField(required=False)

    class Meta:
        model = Company
        fields = [*PROFILE_FIELDS, *ADDRESS_COLUMNS]

    def clean_logo_file(self) -> bytes | None:
        upload = self.cleaned_data.get("logo_file")
        if not upload:
            return None
        content = upload.read(LOGO_MAX_BYTES + 1)  # one byte more than allowed is enough
        try:
            logo_content_type(content)
        except DomainError as error:
            raise forms.ValidationError(error.message) from None
        return content


@admin.register(Company, site=tenant_admin)
class CompanyAdmin(ServiceAdmin):
    form = CompanyForm
    readonly_fields = ["current_logo", "updated_at"]
    fieldsets = [
        (None, {"fields": ["legal_name", "trade_name", "tax_id"]}),
        ("Contact", {"fields": ["email", "phone", "website"]}),
        ("Address", {"fields": ADDRESS_COLUMNS}),
        ("Logo", {"fields": ["current_logo", "logo_file", "remove_logo"]}),
        ("Documents", {"fields": ["invoice_footer", "quotation_footer", "updated_at"]}),
    ]

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponseRedirect:
        """A list of one: go straight to the profile."""
        change = f"{self.admin_site.name}:company_company_change"
        return HttpResponseRedirect(reverse(change, args=[Company.SINGLETON_ID]))

    @admin.display(description="Current logo")
    def current_logo(self, company: Company) -> str:
        if company.logo is None:
            return "—"
        return format_html('<img src="{}" alt="" style="max-height: 80px">', company.logo_data_uri)

    def service_update(
        self, request: HttpRequest, obj: Company, data: dict, form: CompanyForm
    ) -> Company:
        """The whole profile as the form shows it: the address whole, as ``PATCH`` sends it."""
        fields = {name: form.cleaned_data[name] for name in PROFILE_FIELDS}
        fields["address"] = {key: form.cleaned_data[f"address_{key}"] for key in ADDRESS_FIELDS}
        if form.cleaned_data["remove_logo"]:
            fields["logo"] = None
        elif form.cleaned_data["logo_file"] is not None:
            fields["logo"] = form.cleaned_data["logo_file"]
        return company_update(company=obj, data=fields)
