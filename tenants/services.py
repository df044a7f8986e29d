"""Writes for tenancy and access: provisioning, users, workspaces, memberships, tokens."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django_tenants.utils import schema_context

from optiflow.errors import NON_FIELD, DomainError
from tenants.access import ALL_ABILITIES, ALL_PERMISSIONS, ROLE_OWNER
from tenants.models import ApiToken, Domain, Membership, Tenant, User, Workspace
from tenants.schemas import schema_create

#: Called inside the new schema after the owner, workspace and token exist, e.g. to create the
#: default document series. Apps register here instead of this module importing them.
PROVISIONING_HOOKS: list[Callable[[Tenant, User, Workspace], None]] = []


class TenantExists(DomainError):
    pass


class WorkspaceNotEmpty(DomainError):
    pass


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    domains: list[str]
    owner: User
    workspace: Workspace
    token: str


# --- tokens ---------------------------------------------------------------------------------


def token_create(
    *,
    user: User,
    name: str,
    abilities: Iterable[str] | None = None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with its plaintext ``{id}|{secret}``, shown only this once."""
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError("The expiry must be in the future.", field="expires_at")
    abilities = list(abilities) if abilities is not None else [ALL_ABILITIES]
    unknown = sorted(set(abilities) - ALL_PERMISSIONS - {ALL_ABILITIES})
    if unknown:
        raise DomainError(f"Unknown abilities: {', '.join(unknown)}.", field="abilities")
    secret = secrets.token_urlsafe(40)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        abilities=abilities,
        expires_at=expires_at,
        token_hash=ApiToken.digest(secret),
    )
    return token, f"{token.pk}|{secret}"


def token_revoke(*, token: ApiToken) -> None:
    """Revoked tokens stop working at once and stay in the table for audit."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


# --- users ----------------------------------------------------------------------------------


def check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as error:
        raise DomainError(error.messages[0], errors={"password": list(error.messages)}) from None


def user_create(*, name: str, email: str, password: str, is_tenant_admin: bool = False) -> User:
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise DomainError("The email has already been taken.", field="email")
    check_password(password, User(name=name, email=email))
    return User.objects.create_user(
        email, password, name=name, is_tenant_admin=is_tenant_admin, is_staff=is_tenant_admin
    )


def user_update(*, user: User, data: dict, actor: User) -> User:
    """Change a user. Nobody can deactivate themselves or drop their own tenant admin rights:
    a tenant would otherwise be able to lock out its last administrator."""
    if user.pk == actor.pk:
        if data.get("is_active") is False:
            raise DomainError("You cannot deactivate yourself.", field="is_active")
        if data.get("is_tenant_admin") is False and user.is_tenant_admin:
            raise DomainError(
                "You cannot remove your own tenant admin rights.", field="is_tenant_admin"
            )
    password = data.pop("password", None)
    if "email" in data:
        data["email"] = data["email"].strip().lower()
        if User.objects.filter(email__iexact=data["email"]).exclude(pk=user.pk).exists():
            raise DomainError("The email has already been taken.", field="email")
    for field, value in data.items():
        setattr(user, field, value)
    if password is not None:
        check_password(password, user)
        user.set_password(password)
    user.save()
    return user


# --- workspaces -----------------------------------------------------------------------------


def unique_workspace_slug(name: str) -> str:
    base = slugify(name)[:200] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def check_workspace_code(code: str, exclude_pk: int | None = None) -> None:
    if code and Workspace.objects.filter(code__iexact=code).exclude(pk=exclude_pk).exists():
        raise DomainError("The code has already been taken.", field="code")


@transaction.atomic
def workspace_create(*, owner: User, name: str, is_default: bool = False, **fields) -> Workspace:
    """The creator becomes the workspace's owner member."""
    check_workspace_code(fields.get("code", ""))
    if is_default:
        Workspace.objects.filter(is_default=True).update(is_default=False)
    workspace = Workspace.objects.create(
        owner=owner, name=name, slug=unique_workspace_slug(name), is_default=is_default, **fields
    )
    Membership.objects.create(user=owner, workspace=workspace, role=ROLE_OWNER)
    return workspace


def workspace_update(*, workspace: Workspace, data: dict) -> Workspace:
    if "code" in data:
        check_workspace_code(data["code"], exclude_pk=workspace.pk)
    for field, value in data.items():
        setattr(workspace, field, value)
    workspace.save()
    return workspace


#: Checks that refuse deleting a workspace that holds documents or stock. Apps that own such
#: records register a callable returning a reason (or ``None``).
WORKSPACE_DELETE_GUARDS: list[Callable[[Workspace], str | None]] = []


@transaction.atomic
def workspace_delete(*, workspace: Workspace, actor: User) -> None:
    if workspace.owner_id != actor.pk:
        raise PermissionDenied("Only the owner can delete a workspace.")
    for guard in WORKSPACE_DELETE_GUARDS:
        reason = guard(workspace)
        if reason:
            raise WorkspaceNotEmpty(reason)
    User.objects.filter(current_workspace=workspace).update(current_workspace=None)
    workspace.delete()


def workspace_switch(*, user: User, workspace: Workspace) -> User:
    user.current_workspace = workspace
    user.save(update_fields=["current_workspace", "updated_at"])
    return user


def membership_add(
    *, workspace: Workspace, user: User, role: str, permissions: list[str] | None = None
) -> Membership:
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise DomainError("The user is already a member of this workspace.", field="user_id")
    if role == ROLE_OWNER:
        raise DomainError("A workspace has one owner, set at creation.", field="role")
    return Membership.objects.create(
        workspace=workspace, user=user, role=role, permissions=sorted(set(permissions or []))
    )


def membership_update(*, membership: Membership, data: dict) -> Membership:
    if membership.role == ROLE_OWNER and data.get("role", ROLE_OWNER) != ROLE_OWNER:
        raise DomainError("The owner's role cannot change.", field="role")
    if data.get("role") == ROLE_OWNER and membership.role != ROLE_OWNER:
        raise DomainError("A workspace has one owner, set at creation.", field="role")
    if "permissions" in data:
        data["permissions"] = sorted(set(data["permissions"]))
    for field, value in data.items():
        setattr(membership, field, value)
    membership.save()
    return membership


def membership_remove(*, membership: Membership) -> None:
    if membership.role == ROLE_OWNER or membership.workspace.owner_id == membership.user_id:
        raise DomainError("The owner cannot be removed from the workspace.", field=NON_FIELD)
    User.objects.filter(pk=membership.user_id, current_workspace_id=membership.workspace_id).update(
        current_workspace=None
    )
    membership.delete()


# --- provisioning ---------------------------------------------------------------------------


def tenant_provision(
    *,
    slug: str,
    name: str,
    owner_email: str,
    owner_password: str | None = None,
    domains: Iterable[str] | None = None,
    currency: str = "USD",
    owner_name: str | None = None,
    verbosity: int = 0,
) -> ProvisionedTenant:
    """Create a tenant: its schema (a clone of the migrated template, ``tenants.schemas``),
    domains, owner (a tenant admin), a default workspace "Main", the apps' defaults
    (``PROVISIONING_HOOKS``) and an owner API token.

    Creating the schema may run migrations, so this is not one transaction; if anything after
    the tenant row fails, the tenant and its schema are dropped again.
    """
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantExists(f"A tenant with the slug '{slug}' already exists.", field="slug")
    hosts = list(domains or [f"{slug}.{settings.OPTIFLOW_BASE_DOMAIN}"])
    taken = Domain.objects.filter(domain__in=hosts).values_list("domain", flat=True)
    if taken:
        raise DomainError(f"Domain already in use: {', '.join(taken)}.", field="domains")
    tenant = Tenant(
        slug=slug, name=name, currency=currency.upper(), schema_name=Tenant.schema_name_for(slug)
    )
    tenant.full_clean(exclude=["schema_name"])
    tenant.save()
    try:
        schema_create(tenant.schema_name, verbosity=verbosity)
        for index, host in enumerate(hosts):
            Domain.objects.create(domain=host.lower(), tenant=tenant, is_primary=index == 0)
        with schema_context(tenant.schema_name), transaction.atomic():
            owner = User.objects.create_user(
                owner_email,
                owner_password,
                name=owner_name or owner_email.split("@")[0],
                is_tenant_admin=True,
                is_staff=True,
                is_superuser=True,
            )
            if owner_password is None:
                owner.set_unusable_password()
                owner.save(update_fields=["password"])
            workspace = workspace_create(owner=owner, name="Main", code="MAIN", is_default=True)
            workspace_switch(user=owner, workspace=workspace)
            for hook in PROVISIONING_HOOKS:
                hook(tenant, owner, workspace)
            _, plaintext = token_create(user=owner, name="Owner token")
    except BaseException:
        Tenant.objects.filter(pk=tenant.pk).delete()
        tenant._drop_schema(force_drop=True)
        raise
    return ProvisionedTenant(tenant, hosts, owner, workspace, plaintext)
