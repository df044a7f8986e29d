"""Admin for the platform (bare host: tenants, domains, staff) and for each tenant (users,
workspaces, memberships, API tokens)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils import timezone

from optiflow.admin_sites import public_admin, tenant_admin
from tenants import services
from tenants.access import ALL_ABILITIES, PERMISSIONS
from tenants.models import ApiToken, Domain, Membership, Tenant, User, Workspace

# --- platform (public schema) ---------------------------------------------------------------


class TenantCreationForm(forms.ModelForm):
    owner_email = forms.EmailField()
    owner_password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        help_text="Leave empty to create the owner without one.",
    )
    domain = forms.CharField(required=False, help_text="Default: {slug}.{base domain}.")

    class Meta:
        model = Tenant
        fields = ["slug", "name", "currency"]

    def clean_domain(self) -> str:
        domain = self.cleaned_data["domain"].strip().lower()
        if domain and Domain.objects.filter(domain=domain).exists():
            raise forms.ValidationError("This domain is already in use.")
        return domain


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant, site=public_admin)
class TenantAdmin(admin.ModelAdmin):
    """Adding a tenant provisions it (schema, owner, workspace, defaults, token)."""

    list_display = ["slug", "name", "schema_name", "currency", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [DomainInline]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TenantCreationForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["slug", "schema_name"] if obj else []

    def get_inlines(self, request, obj):
        return self.inlines if obj else []

    def save_model(self, request: HttpRequest, obj: Tenant, form, change: bool) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        result = services.tenant_provision(
            slug=data["slug"],
            name=data["name"],
            currency=data["currency"],
            owner_email=data["owner_email"],
            owner_password=data["owner_password"] or None,
            domains=[data["domain"]] if data["domain"] else None,
        )
        # The admin goes on with `obj` (logging, redirect): make it the provisioned row.
        obj.__dict__.update(result.tenant.__dict__)
        messages.success(request, f"Owner API token (shown only once): {result.token}")

    def save_related(self, request, form, formsets, change) -> None:
        if change:
            super().save_related(request, form, formsets, change)


@admin.register(Domain, site=public_admin)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain"]
    list_select_related = ["tenant"]


class StaffUserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_active", "is_staff", "is_tenant_admin"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "name", "password"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "is_tenant_admin"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "name", "password1", "password2"]})]
    filter_horizontal = []
    list_filter = ["is_active", "is_staff", "is_tenant_admin"]


public_admin.register(User, StaffUserAdmin)

# --- tenant ---------------------------------------------------------------------------------


class TenantUserAdmin(StaffUserAdmin):
    fieldsets = [
        (None, {"fields": ["email", "name", "password"]}),
        (
            "Access",
            {
                "fields": [
                    "is_active",
                    "is_tenant_admin",
                    "is_staff",
                    "is_superuser",
                    "current_workspace",
                ]
            },
        ),
    ]


tenant_admin.register(User, TenantUserAdmin)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace, site=tenant_admin)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "slug", "owner", "is_active", "is_default"]
    search_fields = ["name", "code", "slug"]
    list_select_related = ["owner"]
    inlines = [MembershipInline]
    autocomplete_fields = ["owner"]


@admin.register(Membership, site=tenant_admin)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role"]
    list_filter = ["role", "workspace"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["user", "workspace"]


class TokenCreationForm(forms.ModelForm):
    abilities = forms.MultipleChoiceField(
        choices=[(a, a) for a in (ALL_ABILITIES, *PERMISSIONS)], initial=[ALL_ABILITIES]
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "abilities", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at


@admin.register(ApiToken, site=tenant_admin)
class ApiTokenAdmin(admin.ModelAdmin):
    """Creating a token shows its plaintext once (as a message); revoking is one action."""

    list_display = ["name", "user", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__email"]
    actions = ["revoke"]
    readonly_fields = [
        "user",
        "name",
        "abilities",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "created_at",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TokenCreationForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row stays for audit

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            return
        data = form.cleaned_data
        token, plaintext = services.token_create(
            user=data["user"],
            name=data["name"],
            abilities=data["abilities"],
            expires_at=data["expires_at"],
        )
        obj.__dict__.update(token.__dict__)  # the admin logs and redirects with `obj`
        messages.success(request, f"Token created. Copy it now, it is shown only once: {plaintext}")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset) -> None:
        for token in queryset:
            services.token_revoke(token=token)
        messages.success(request, f"Revoked {queryset.count()} token(s).")
