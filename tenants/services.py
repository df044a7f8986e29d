"""Writes for tenancy and access: provisioning, users, workspaces, memberships, tokens."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django_tenants.utils import schema_context

from optiflow.deletion import delete_or_refuse
from optiflow.errors import NON_FIELD, DomainError
from tenants.access import ALL_ABILITIES, ALL_PERMISSIONS, PERMISSIONS
from tenants.models import ROLE_OWNER, ApiToken, Domain, Membership, Tenant, User, Workspace
from tenants.schemas import schema_create

#: Called inside the new schema after the owner, workspace and token exist, e.g. to create the
#: default document series. Apps register here instead of this module importing them.
PROVISIONING_HOOKS: list[Callable[[Tenant, User, Workspace], None]] = []


class TenantExists(DomainError):
    pass


class DomainRefused(DomainError):
    """A host name a tenant cannot have: malformed, taken, or one of the bare host's."""


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


def workspace_delete(*, workspace: Workspace) -> None:
    """Refused while it holds documents or stock records (their models say why); its
    memberships go with it, and users whose current workspace it was have none."""
    delete_or_refuse(workspace)


def workspace_switch(*, user: User, workspace: Workspace) -> User:
    user.current_workspace = workspace
    user.save(update_fields=["current_workspace", "updated_at"])
    return user


def membership_permissions(permissions: Iterable[str]) -> list[str]:
    """The permissions a membership stores: known ones only (SPEC §4), sorted, once each."""
    permissions = set(permissions)
    unknown = sorted(permissions - ALL_PERMISSIONS)
    if unknown:
        raise DomainError(f"Unknown permissions: {', '.join(unknown)}.", field="permissions")
    return [permission for permission in PERMISSIONS if permission in permissions]


def membership_add(
    *, workspace: Workspace, user: User, role: str, permissions: list[str] | None = None
) -> Membership:
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise DomainError("The user is already a member of this workspace.", field="user_id")
    if role == ROLE_OWNER:
        raise DomainError("A workspace has one owner, set at creation.", field="role")
    return Membership.objects.create(
        workspace=workspace,
        user=user,
        role=role,
        permissions=membership_permissions(permissions or []),
    )


def membership_update(*, membership: Membership, data: dict) -> Membership:
    """Role and permissions; the owner stays the owner (SPEC §4)."""
    if membership.role == ROLE_OWNER and data.get("role", ROLE_OWNER) != ROLE_OWNER:
        raise DomainError("The owner's role cannot change.", field="role")
    if data.get("role") == ROLE_OWNER and membership.role != ROLE_OWNER:
        raise DomainError("A workspace has one owner, set at creation.", field="role")
    if "permissions" in data:
        data["permissions"] = membership_permissions(data["permissions"])
    for field, value in data.items():
        setattr(membership, field, value)
    membership.save()
    return membership


def membership_remove_check(*, membership: Membership) -> None:
    """Raises the refusal ``membership_remove`` would: a workspace keeps its owner."""
    if membership.role == ROLE_OWNER or membership.workspace.owner_id == membership.user_id:
        raise DomainError("The owner cannot be removed from the workspace.", field=NON_FIELD)


def membership_remove(*, membership: Membership) -> None:
    membership_remove_check(membership=membership)
    User.objects.filter(pk=membership.user_id, current_workspace_id=membership.workspace_id).update(
        current_workspace=None
    )
    membership.delete()


# --- tenants and their domains (public schema) ----------------------------------------------

#: One DNS label; a host name is one or more of them, joined by dots.
HOST_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


def bare_host_names() -> frozenset[str]:
    """Names that reach the bare host (health, platform admin, docs): a Domain row with one
    of them would hand the platform's own address to a tenant."""
    return frozenset(
        {settings.OPTIFLOW_BASE_DOMAIN, "localhost", *settings.OPTIFLOW_RESERVED_HOSTS}
    )


def domain_check(*, host: str, slug: str) -> str:
    """The host name (lower case, no trailing dot) that tenant ``slug`` may add, or the
    refusal: malformed, an IP address or a bare-host name, another name under the base
    domain than the tenant's own ``{slug}.{base}`` (those belong to other slugs), or taken."""
    host = host.strip().lower().rstrip(".")
    base = settings.OPTIFLOW_BASE_DOMAIN
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise DomainRefused(
            "An IP address reaches the platform itself; a tenant needs a host name.",
            field="domain",
        )
    if len(host) > 253 or not HOST_NAME.match(host):
        raise DomainRefused(
            "Enter a host name such as shop.example.com (no scheme, port or path).",
            field="domain",
        )
    if host in bare_host_names():
        raise DomainRefused(
            f"{host} is the platform's own address and cannot belong to a tenant.",
            field="domain",
        )
    own = f"{slug}.{base}"
    if host.endswith("." + base) and host != own:
        raise DomainRefused(
            f"{host} is under {base}, whose names are the tenants' slugs: this tenant's is {own}.",
            field="domain",
        )
    if Domain.objects.filter(domain=host).exists():
        raise DomainRefused(f"{host} is already in use.", field="domain")
    return host


@transaction.atomic
def domain_add(*, tenant: Tenant, domain: str, is_primary: bool = False) -> Domain:
    """A tenant's first domain is its primary one; a new primary replaces the previous."""
    host = domain_check(host=domain, slug=tenant.slug)
    others = Domain.objects.filter(tenant=tenant)
    if is_primary:
        others.update(is_primary=False)
    else:
        is_primary = not others.exists()
    return Domain.objects.create(tenant=tenant, domain=host, is_primary=is_primary)


@transaction.atomic
def domain_update(*, domain: Domain, data: dict) -> Domain:
    """Only ``is_primary`` changes (a host name is removed and added instead)."""
    if "is_primary" in data:
        if not data["is_primary"] and domain.is_primary:
            raise DomainRefused("Mark another domain as primary instead.", field="is_primary")
        if data["is_primary"]:
            Domain.objects.filter(tenant_id=domain.tenant_id).exclude(pk=domain.pk).update(
                is_primary=False
            )
            domain.is_primary = True
            domain.save(update_fields=["is_primary"])
    return domain


def domain_remove_check(*, domain: Domain) -> None:
    if domain.is_primary and Domain.objects.filter(tenant_id=domain.tenant_id).count() > 1:
        raise DomainRefused("Mark another domain as primary before removing this one.")


@transaction.atomic
def domain_remove(*, domain: Domain) -> None:
    """The tenant stays reachable at ``/t/{slug}/`` whatever domains it has."""
    domain_remove_check(domain=domain)
    domain.delete()


def tenant_update(*, tenant: Tenant, data: dict) -> Tenant:
    """Name and default currency (documents keep the currency they were issued in)."""
    if "currency" in data:
        data["currency"] = data["currency"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", data["currency"]):
            raise DomainError("The currency is a three-letter ISO 4217 code.", field="currency")
    for field, value in data.items():
        setattr(tenant, field, value)
    tenant.save()
    return tenant


@transaction.atomic
def tenant_delete(*, tenant: Tenant) -> None:
    """Drop the tenant's schema, and with it all its data (users, documents, stock), then
    its row and domains. Irreversible: the platform admin asks for the slug typed out."""
    tenant.delete(force_drop=True)


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
    hosts = []
    for host in domains or [f"{slug}.{settings.OPTIFLOW_BASE_DOMAIN}"]:
        try:
            host = domain_check(host=host, slug=slug)
        except DomainRefused as error:
            raise DomainRefused(error.message, field="domains") from None
        if host not in hosts:
            hosts.append(host)
    tenant = Tenant(
        slug=slug, name=name, currency=currency.upper(), schema_name=Tenant.schema_name_for(slug)
    )
    tenant.full_clean(exclude=["schema_name"])
    tenant.save()
    try:
        schema_create(tenant.schema_name, verbosity=verbosity)
        for index, host in enumerate(hosts):
            Domain.objects.create(domain=host, tenant=tenant, is_primary=index == 0)
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
