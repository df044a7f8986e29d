"""Permission strings (SPEC §4) and the rule that turns roles, memberships and token abilities
into the effective permissions of one request."""

from __future__ import annotations

from collections.abc import Iterable

PERMISSIONS: tuple[str, ...] = (
    "contacts:view",
    "contacts:create",
    "contacts:edit",
    "contacts:delete",
    "products:view",
    "products:create",
    "products:edit",
    "products:delete",
    "inventory:view",
    "inventory:adjust",
    "inventory:transfer",
    "quotations:view",
    "quotations:create",
    "quotations:edit",
    "quotations:delete",
    "invoices:view",
    "invoices:create",
    "invoices:edit",
    "invoices:delete",
    "payments:view",
    "payments:create",
    "payments:delete",
    "taxes:manage",
    "settings:manage",
    "workspaces:manage",
    "users:manage",
    "webhooks:manage",
    "view_all_locations",
)
ALL_PERMISSIONS = frozenset(PERMISSIONS)
#: Permissions that reach past the workspace's own records: reading every workspace, and
#: managing accounts that belong to other workspaces too. An owner or admin role holds every
#: permission *in its workspace*, not these: they come from tenant admin, or an explicit grant
#: on the membership. Otherwise creating a workspace (and so owning it) would open all others.
CROSS_WORKSPACE_PERMISSIONS = frozenset({"view_all_locations", "users:manage"})
ALL_ABILITIES = "*"

ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER = "owner", "admin", "member"
FULL_ACCESS_ROLES = frozenset({ROLE_OWNER, ROLE_ADMIN})


def token_grants(abilities: Iterable[str]) -> frozenset[str]:
    """What a token's ability list allows: ``["*"]`` is everything."""
    abilities = set(abilities)
    return ALL_PERMISSIONS if ALL_ABILITIES in abilities else frozenset(abilities) & ALL_PERMISSIONS


def token_may_grant(token_abilities: Iterable[str], requested: Iterable[str]) -> bool:
    """A token never mints more power than it has (SPEC §3): the new token's abilities must be
    within the calling token's, and ``["*"]`` (which also covers permissions added later) only
    comes from a ``["*"]`` token."""
    requested = set(requested)
    if ALL_ABILITIES in requested:
        return ALL_ABILITIES in set(token_abilities)
    return requested <= token_grants(token_abilities)


def token_may_revoke(token_id: int, token_abilities: Iterable[str], target_id: int) -> bool:
    """A token may revoke itself; only a ``["*"]`` token may revoke its user's other tokens."""
    return target_id == token_id or ALL_ABILITIES in set(token_abilities)


def effective_permissions(
    *,
    is_tenant_admin: bool,
    role: str | None,
    member_permissions: Iterable[str],
    abilities: Iterable[str],
) -> frozenset[str]:
    """Held permissions in a workspace ∩ what the token allows (SPEC §4)."""
    explicit = frozenset(member_permissions) & ALL_PERMISSIONS
    if is_tenant_admin:
        held = ALL_PERMISSIONS
    elif role in FULL_ACCESS_ROLES:
        held = (ALL_PERMISSIONS - CROSS_WORKSPACE_PERMISSIONS) | explicit
    else:
        held = explicit
    return held & token_grants(abilities)
