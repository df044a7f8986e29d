"""Admin for the platform (bare host: tenants, domains, staff) and for each tenant (users,
workspaces, memberships, API tokens). Every write is a ``tenants.services`` call
(``optiflow.admin_base.ServiceAdmin``), the ones the API and ``provision_tenant`` make."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import router, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django_tenants.utils import schema_context
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminPasswordWidget,
    UnfoldAdminTextInputWidget,
)

from optiflow.admin_base import ReadOnlyInline, ServiceAdmin, ServiceModelForm
from optiflow.admin_sites import public_admin, tenant_admin
from optiflow.deletion import refuse_if_in_use
from tenants import services
from tenants.access import ALL_ABILITIES, FULL_ACCESS_ROLES, PERMISSIONS
from tenants.models import ApiToken, Domain, Membership, Tenant, User, Workspace


def admin_link(obj: Any, site_name: str, action: str = "change", **query: Any) -> str:
    opts = obj._meta
    args = () if action in ("add", "changelist") else (obj.pk,)
    url = reverse(f"{site_name}:{opts.app_label}_{opts.model_name}_{action}", args=args)
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


# --- platform (public schema) ---------------------------------------------------------------


class TenantCreationForm(ServiceModelForm):
    owner_email = forms.EmailField(widget=UnfoldAdminTextInputWidget)
    owner_password = forms.CharField(
        widget=UnfoldAdminPasswordWidget(render_value=False),
        required=False,
        help_text="Leave empty to create the owner without one (they get an API token).",
    )
    domains = forms.CharField(
        label="Domain",
        required=False,
        widget=UnfoldAdminTextInputWidget,
        help_text="Default: {slug}.{base domain}. The platform's own names are refused.",
    )

    class Meta:
        model = Tenant
        fields = ["slug", "name", "currency"]


class TenantDeleteForm(forms.Form):
    confirmation = forms.CharField(label="Type the tenant's slug to confirm", strip=True)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["confirmation"].widget = UnfoldAdminTextInputWidget(
            attrs={"autocomplete": "off", "placeholder": tenant.slug}
        )

    def clean_confirmation(self) -> str:
        if self.cleaned_data["confirmation"] != self.tenant.slug:
            raise forms.ValidationError(f"Type {self.tenant.slug} exactly to delete this tenant.")
        return self.cleaned_data["confirmation"]


class DomainInline(ReadOnlyInline):
    model = Domain
    fields = ["domain", "is_primary"]


@admin.register(Tenant, site=public_admin)
class TenantAdmin(ServiceAdmin):
    """Adding a tenant provisions it (schema, owner, workspace, defaults, token). Deleting
    one drops its schema with all its data, so it asks for the slug typed out; there is no
    bulk delete."""

    list_display = ["slug", "name", "currency", "primary_domain", "created_at"]
    search_fields = ["slug", "name", "domains__domain"]
    readonly_fields = ["slug", "schema_name", "domain_links"]
    fields = ["slug", "name", "currency", "schema_name", "domain_links"]
    inlines = [DomainInline]
    delete_confirmation_template = "admin/tenants/tenant/delete_confirmation.html"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("domains")

    @admin.display(description="Primary domain")
    def primary_domain(self, tenant: Tenant) -> str:
        return next((d.domain for d in tenant.domains.all() if d.is_primary), "–")

    @admin.display(description="Domains")
    def domain_links(self, tenant: Tenant) -> str:
        add = admin_link(Domain, "public_admin", "add", tenant=tenant.pk)
        return format_html(
            '{} <a class="text-primary-600" href="{}">Add a domain</a>',
            f"Reachable at /t/{tenant.slug}/ and the domains below.",
            add,
        )

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TenantCreationForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ["slug", "name", "currency", "owner_email", "owner_password", "domains"]
        return self.fields

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.readonly_fields if obj else []

    def get_inlines(self, request: HttpRequest, obj):
        return self.inlines if obj else []

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def service_create(self, request: HttpRequest, data: dict, form) -> Tenant:
        extra = form.cleaned_data
        result = services.tenant_provision(
            slug=data["slug"],
            name=data["name"],
            currency=data["currency"],
            owner_email=extra["owner_email"],
            owner_password=extra["owner_password"] or None,
            domains=[extra["domains"]] if extra["domains"] else None,
        )
        messages.success(request, f"Owner API token (shown only once): {result.token}")
        return result.tenant

    def service_update(self, request: HttpRequest, obj: Tenant, data: dict, form) -> Tenant:
        return services.tenant_update(tenant=obj, data=data)

    def service_delete(self, request: HttpRequest, obj: Tenant) -> None:
        services.tenant_delete(tenant=obj)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """The typed confirmation: the page says what is dropped; only the slug typed out
        deletes."""
        tenant = self.get_object(request, unquote(object_id))
        if tenant is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_delete_permission(request, tenant):
            raise PermissionDenied
        form = TenantDeleteForm(request.POST or None, tenant=tenant)
        if request.method == "POST" and form.is_valid():
            with transaction.atomic(using=router.db_for_write(Tenant)):
                self.log_deletions(request, [tenant])
                self.delete_model(request, tenant)
            self.message_user(
                request, f"Tenant {tenant.slug} deleted: schema {tenant.schema_name} dropped."
            )
            return HttpResponseRedirect(reverse("public_admin:tenants_tenant_changelist"))
        with schema_context(tenant.schema_name):
            counts = {"users": User.objects.count(), "workspaces": Workspace.objects.count()}
        context = {
            **self.admin_site.each_context(request),
            "title": f"Delete tenant {tenant.slug}",
            "subtitle": None,
            "object": tenant,
            "object_name": "tenant",
            "form": form,
            "counts": counts,
            "domains": list(tenant.domains.values_list("domain", flat=True)),
            "opts": self.opts,
            "app_label": self.opts.app_label,
        }
        return TemplateResponse(request, self.delete_confirmation_template, context)


@admin.register(Domain, site=public_admin)
class DomainAdmin(ServiceAdmin):
    """A tenant's host names. The platform's own names (the base domain, ``localhost``, IP
    addresses, ``OPTIFLOW_RESERVED_HOSTS``) and other tenants' ``{slug}.{base}`` names are
    refused (``tenants.services.domain_check``, which provisioning uses too)."""

    list_display = ["domain", "tenant", "is_primary"]
    list_filter = ["is_primary"]
    search_fields = ["domain", "tenant__slug"]
    list_select_related = ["tenant"]
    fields = ["tenant", "domain", "is_primary"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["tenant", "domain"] if obj else []

    def service_create(self, request: HttpRequest, data: dict, form) -> Domain:
        return services.domain_add(**data)

    def service_update(self, request: HttpRequest, obj: Domain, data: dict, form) -> Domain:
        return services.domain_update(domain=obj, data=data)

    def service_delete(self, request: HttpRequest, obj: Domain) -> None:
        services.domain_remove(domain=obj)

    def service_delete_check(self, request: HttpRequest, obj: Domain) -> None:
        services.domain_remove_check(domain=obj)


# --- users (both schemas) -------------------------------------------------------------------


class UserAddForm(ServiceModelForm):
    password = forms.CharField(
        widget=UnfoldAdminPasswordWidget(render_value=False),
        help_text="Checked by the same password rules as the API.",
    )

    class Meta:
        model = User
        fields = ["email", "name", "is_tenant_admin"]


class UserChangeForm(ServiceModelForm):
    new_password = forms.CharField(
        required=False,
        widget=UnfoldAdminPasswordWidget(render_value=False),
        help_text="Leave empty to keep the current password.",
    )

    class Meta:
        model = User
        fields = [
            "email",
            "name",
            "is_active",
            "is_tenant_admin",
            "is_staff",
            "is_superuser",
            "current_workspace",
        ]


class UserAdmin(ServiceAdmin):
    """Users are created and changed by ``user_create``/``user_update`` (email uniqueness,
    password rules, nobody deactivating themselves or dropping their own admin rights), and
    deactivated, never deleted: their documents and ledger rows name them."""

    ordering = ["email"]
    list_display = ["email", "name", "is_active", "is_tenant_admin", "last_login"]
    list_filter = ["is_active", "is_tenant_admin", "is_staff"]
    search_fields = ["email", "name"]
    form = UserChangeForm
    add_form = UserAddForm
    #: Flags only a tenant admin may set: they open every workspace (as in the API).
    access_fields = ["is_tenant_admin", "is_staff", "is_superuser"]
    fieldsets = [
        (None, {"fields": ["email", "name", "new_password"]}),
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
    add_fieldsets = [(None, {"fields": ["email", "name", "password", "is_tenant_admin"]})]

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is not None and not request.user.is_tenant_admin:
            return self.access_fields
        return []

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if obj is not None and obj.is_tenant_admin and not request.user.is_tenant_admin:
            return False
        return super().has_change_permission(request, obj)

    def service_create(self, request: HttpRequest, data: dict, form) -> User:
        return services.user_create(**data)  # `password`: the plaintext the form asked for

    def service_update(self, request: HttpRequest, obj: User, data: dict, form) -> User:
        if form.cleaned_data.get("new_password"):
            data["password"] = form.cleaned_data["new_password"]
        return services.user_update(user=obj, data=data, actor=request.user)


class StaffUserAdmin(UserAdmin):
    """Platform staff (the public schema's users): no workspaces there."""

    list_display = ["email", "name", "is_active", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_superuser"]
    fieldsets = [
        (None, {"fields": ["email", "name", "new_password"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "name", "password"]})]

    def service_create(self, request: HttpRequest, data: dict, form) -> User:
        # Staff sign in to the platform admin: `user_create` gives admins that flag.
        return services.user_create(is_tenant_admin=True, **data)


public_admin.register(User, StaffUserAdmin)
tenant_admin.register(User, UserAdmin)


# --- workspaces and memberships (tenant) ----------------------------------------------------


def permission_choices() -> list[tuple[str, str]]:
    return [(permission, permission) for permission in PERMISSIONS]


class MembershipForm(ServiceModelForm):
    permissions = forms.MultipleChoiceField(
        choices=permission_choices,
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text="What a member holds in this workspace. Owners and admins hold every "
        "permission here already; view_all_locations and users:manage reach other "
        "workspaces and are granted explicitly.",
    )

    class Meta:
        model = Membership
        fields = ["user", "workspace", "role", "permissions"]


class MembershipInline(ReadOnlyInline):
    model = Membership
    fields = ["user", "role", "granted"]
    readonly_fields = ["granted"]

    @admin.display(description="Permissions")
    def granted(self, membership: Membership) -> str:
        if membership.role in FULL_ACCESS_ROLES:
            return "All (by role)"
        return ", ".join(membership.permissions) or "None"


@admin.register(Workspace, site=tenant_admin)
class WorkspaceAdmin(ServiceAdmin):
    """The creator of a workspace is its owner; only the owner deletes it, and not while it
    holds documents or stock. Members are managed on their own pages (linked)."""

    list_display = ["name", "code", "owner", "is_active", "is_default"]
    list_filter = ["is_active"]
    search_fields = ["name", "code", "slug"]
    list_select_related = ["owner"]
    inlines = [MembershipInline]
    autocomplete_fields = ["owner"]
    fields = [
        "name",
        "code",
        "owner",
        "description",
        "address",
        "phone",
        "is_active",
        "is_default",
        "members",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # The owner is set at creation; the default workspace is chosen when one is created.
        return ["owner", "is_default", "members"] if obj else ["members"]

    @admin.display(description="Members")
    def members(self, workspace: Workspace) -> str:
        if workspace.pk is None:
            return "The owner becomes its first member."
        return format_html(
            '<a class="text-primary-600" href="{}">Add a member</a> · '
            '<a class="text-primary-600" href="{}">All members</a>',
            admin_link(Membership, "admin", "add", workspace=workspace.pk),
            admin_link(Membership, "admin", "changelist", workspace__id__exact=workspace.pk),
        )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Owner only (SPEC §4): an admin permission, checked here as the API checks it.
        if obj is not None and obj.owner_id != request.user.pk:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # owner-only deletes are decided one by one
        return actions

    def service_create(self, request: HttpRequest, data: dict, form) -> Workspace:
        return services.workspace_create(**data)

    def service_update(self, request: HttpRequest, obj: Workspace, data: dict, form) -> Workspace:
        return services.workspace_update(workspace=obj, data=data)

    def service_delete(self, request: HttpRequest, obj: Workspace) -> None:
        services.workspace_delete(workspace=obj)

    def service_delete_check(self, request: HttpRequest, obj: Workspace) -> None:
        refuse_if_in_use(obj)


@admin.register(Membership, site=tenant_admin)
class MembershipAdmin(ServiceAdmin):
    """Permissions are chosen from the one list (``tenants.access.PERMISSIONS``); the owner's
    membership can be neither removed nor demoted."""

    form = MembershipForm
    list_display = ["user", "workspace", "role", "permission_count"]
    list_filter = ["role", "workspace"]
    list_select_related = ["user", "workspace"]
    search_fields = ["user__email", "user__name", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]

    @admin.display(description="Permissions")
    def permission_count(self, membership: Membership) -> str:
        if membership.role in FULL_ACCESS_ROLES:
            return "All (by role)"
        return str(len(membership.permissions))

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return ["user", "workspace"] if obj else []

    def service_create(self, request: HttpRequest, data: dict, form) -> Membership:
        return services.membership_add(**data)

    def service_update(self, request: HttpRequest, obj: Membership, data: dict, form) -> Membership:
        return services.membership_update(membership=obj, data=data)

    def service_delete(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(membership=obj)

    def service_delete_check(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove_check(membership=obj)


# --- API tokens (tenant) --------------------------------------------------------------------


class TokenCreationForm(ServiceModelForm):
    abilities = forms.MultipleChoiceField(
        choices=[(ALL_ABILITIES, "* (everything the user may do)"), *permission_choices()],
        initial=[ALL_ABILITIES],
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text="The token is limited to these, within what its user holds.",
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "abilities", "expires_at"]


class TokenStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin):
        return [("usable", "Usable"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset):
        now = timezone.now()
        if self.value() == "usable":
            return queryset.usable()
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.register(ApiToken, site=tenant_admin)
class ApiTokenAdmin(ServiceAdmin):
    """Creating a token shows its plaintext once (as a message); revoking is one action.
    Tokens are never edited or deleted: a revoked one stays for audit."""

    list_display = ["name", "user", "status", "last_used_at", "expires_at", "created_at"]
    list_filter = [TokenStatusFilter]
    list_select_related = ["user"]
    search_fields = ["name", "user__email"]
    actions = ["revoke"]
    fields = ["user", "name", "abilities", "expires_at", "last_used_at", "revoked_at", "created_at"]
    readonly_fields = fields

    @admin.display(description="Status")
    def status(self, token: ApiToken) -> str:
        if token.revoked_at is not None:
            return "Revoked"
        return "Usable" if token.is_usable else "Expired"

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TokenCreationForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj=None):
        return self.fields if obj else ["user", "name", "abilities", "expires_at"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.readonly_fields if obj else []

    def service_create(self, request: HttpRequest, data: dict, form) -> ApiToken:
        token, plaintext = services.token_create(**data)
        messages.success(request, f"Token created. Copy it now, it is shown only once: {plaintext}")
        return token

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset) -> None:
        self.run_action(
            request,
            queryset,
            lambda token: services.token_revoke(token=token),
            "Revoked {count} token(s).",
        )
