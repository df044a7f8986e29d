"""Who may do what (SPEC §3–§4): the one module that holds the access rule.

Permission strings, what each role grants, the token ∩ membership rule, the
``view_all_locations`` fallback, which workspace a request acts in, and what a token may do
with tokens all live here. ``access_for`` builds the ``Access`` of one request; the API asks it
at three doors only (``optiflow.api.permissions`` and ``optiflow.api.serializers``):

1. the action's permissions, on the viewset (``has`` in the request's workspace);
2. per-record checks through DRF's ``has_object_permission`` (``owns``,
   ``may_change_account``, ``has`` in *that* workspace, ``may_mint`` / ``may_revoke``);
3. one scoped related field for every id a request body names (``has`` in the workspace the
   id names; rows of other workspaces do not resolve).

Selectors that add up figures across workspaces take ``visible_workspace_ids``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import PermissionDenied

from tenants.models import ROLE_ADMIN, ROLE_OWNER, ApiToken, Membership, User, Workspace

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
VIEW_ALL = "view_all_locations"
#: Permissions that reach past the workspace's own records: reading every workspace, and
#: managing accounts that belong to other workspaces too. An owner or admin role holds every
#: permission *in its workspace*, not these: they come from tenant admin, or an explicit grant
#: on the membership. Otherwise creating a workspace (and so owning it) would open all others.
CROSS_WORKSPACE_PERMISSIONS = frozenset({VIEW_ALL, "users:manage"})
ALL_ABILITIES = "*"
FULL_ACCESS_ROLES = frozenset({ROLE_OWNER, ROLE_ADMIN})


def token_grants(abilities: Iterable[str]) -> frozenset[str]:
    """What a token's ability list allows: ``["*"]`` is everything."""
    abilities = set(abilities)
    return ALL_PERMISSIONS if ALL_ABILITIES in abilities else frozenset(abilities) & ALL_PERMISSIONS


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


@dataclass
class Access:
    """One request's caller: the user, the token they came with, the workspace the request
    acts in (``None`` when they have none) and their memberships."""

    user: User
    token: ApiToken
    workspace: Workspace | None
    memberships: list[Membership] = field(default_factory=list)

    @cached_property
    def permissions(self) -> frozenset[str]:
        """Effective permissions in the request's workspace."""
        return self.permissions_in(self.workspace)

    def permissions_in(self, workspace: Workspace | None) -> frozenset[str]:
        """Effective permissions of this token in ``workspace`` (a transfer's target, a
        workspace being managed); outside the user's memberships, ``permissions_elsewhere``."""
        membership = self.membership(workspace)
        if membership is None:
            return self.permissions_elsewhere
        return effective_permissions(
            is_tenant_admin=self.user.is_tenant_admin,
            role=membership.role,
            member_permissions=membership.permissions,
            abilities=self.token.abilities,
        )

    @cached_property
    def permissions_elsewhere(self) -> frozenset[str]:
        """What this token holds in a workspace the user is not a member of: everything for a
        tenant admin; else, with ``view_all_locations`` held in some membership, the ``:view``
        permissions held anywhere (and ``view_all_locations`` itself); else nothing."""
        if self.user.is_tenant_admin:
            return effective_permissions(
                is_tenant_admin=True,
                role=None,
                member_permissions=(),
                abilities=self.token.abilities,
            )
        held_anywhere = frozenset().union(
            *(self.permissions_in(m.workspace) for m in self.memberships)
        )
        if VIEW_ALL not in held_anywhere:
            return frozenset()
        return frozenset(p for p in held_anywhere if p.endswith(":view") or p == VIEW_ALL)

    def granted_by(self, membership: Membership) -> frozenset[str]:
        """What ``membership`` grants its user, whatever this token allows (``/me`` shows
        both, SPEC §3)."""
        return effective_permissions(
            is_tenant_admin=self.user.is_tenant_admin,
            role=membership.role,
            member_permissions=membership.permissions,
            abilities=[ALL_ABILITIES],
        )

    def membership(self, workspace: Workspace | None) -> Membership | None:
        if workspace is None:
            return None
        return next((m for m in self.memberships if m.workspace_id == workspace.pk), None)

    def has(self, permission: str, *, workspace: Workspace | None = None) -> bool:
        """Whether ``permission`` is held in ``workspace`` (default: the request's)."""
        held = self.permissions if workspace is None else self.permissions_in(workspace)
        return permission in held

    def require(self, *permissions: str, workspace: Workspace | None = None) -> None:
        """Every one of ``permissions`` must be held in ``workspace`` (default: the
        request's), else ``PermissionDenied`` (SPEC §4's ``403``)."""
        if not all(self.has(permission, workspace=workspace) for permission in permissions):
            raise PermissionDenied()

    def require_workspace(self) -> Workspace:
        if self.workspace is None:
            raise PermissionDenied("No workspace selected.")
        return self.workspace

    def may_select(self, workspace: Workspace) -> bool:
        """Whether a request may act in ``workspace`` (``X-Workspace-ID``): a member, a tenant
        admin, or a holder of ``view_all_locations`` (who reads there, SPEC §4)."""
        return (
            self.user.is_tenant_admin
            or self.membership(workspace) is not None
            or VIEW_ALL in self.permissions_in(workspace)
        )

    def own_workspace_ids(self) -> Iterable[int]:
        """The workspaces the caller works in (``GET /workspaces``): their memberships; every
        workspace for a tenant admin."""
        if self.user.is_tenant_admin:
            return Workspace.objects.values_list("pk", flat=True)
        return [m.workspace_id for m in self.memberships]

    def holds_everywhere(self, permission: str) -> bool:
        """Whether this token holds ``permission`` in every workspace, present and future
        (tenant admins; ``:view`` permissions with ``view_all_locations``)."""
        return permission in self.permissions_elsewhere

    def visible_workspace_ids(self, permission: str) -> Iterable[int]:
        """Ids of the workspaces where this token holds ``permission``, for figures drawn from
        several workspaces at once (stock per workspace, a contact's balance). Where it holds
        the permission everywhere that is every workspace: a subquery, not one more query."""
        if self.holds_everywhere(permission):
            return Workspace.objects.values_list("pk", flat=True)
        return [
            m.workspace_id for m in self.memberships if self.has(permission, workspace=m.workspace)
        ]

    def current_workspace_ids(self, permission: str) -> list[int]:
        """``[the request's workspace]`` when ``permission`` is held there, else ``[]``: for
        figures of the current workspace only (a product's ``stock``, ``filter[low_stock]``)."""
        workspace = self.workspace
        return [workspace.pk] if workspace is not None and self.has(permission) else []

    # --- per record -------------------------------------------------------------------------

    def owns(self, workspace: Workspace) -> bool:
        return workspace.owner_id == self.user.pk

    def may_change_account(self, user: User) -> bool:
        """Tenant admins hold every permission everywhere, so only a tenant admin may create,
        change, promote or demote one: ``users:manage`` in one workspace is not a way to
        become one."""
        return self.user.is_tenant_admin or not user.is_tenant_admin

    def may_mint(self, abilities: Iterable[str]) -> bool:
        """A token never mints more power than it has (SPEC §3): the new token's abilities
        must be within the calling token's, and ``["*"]`` (which also covers permissions added
        later) only comes from a ``["*"]`` token."""
        requested = set(abilities)
        if ALL_ABILITIES in requested:
            return ALL_ABILITIES in self.token.abilities
        return requested <= token_grants(self.token.abilities)

    def may_cover(self, permissions: Iterable[str], workspace_ids: Iterable[int] | None) -> bool:
        """Whether every one of ``permissions`` is held in each of ``workspace_ids`` (``None``:
        every workspace, present and future): what a standing grant may reach, such as a
        webhook subscription, which must never deliver what its creator could not read."""
        needed = set(permissions)
        if needed <= self.permissions_elsewhere:
            return True
        if workspace_ids is None:
            return False
        held = {m.workspace_id: self.permissions_in(m.workspace) for m in self.memberships}
        return all(needed <= held.get(pk, self.permissions_elsewhere) for pk in workspace_ids)

    def may_revoke(self, token: ApiToken) -> bool:
        """A token may revoke itself; only a ``["*"]`` token may revoke its user's others."""
        return token.pk == self.token.pk or ALL_ABILITIES in self.token.abilities


def access_for(
    *, user: User, token: ApiToken, memberships: list[Membership], workspace_id: int | None
) -> Access:
    """The access of one request, from the user's ``memberships`` (with their workspaces, in
    workspace order: ``tenants.selectors.caller_for_token`` reads them with the token). It
    acts in the workspace ``workspace_id`` names (the ``X-Workspace-ID`` header), else the
    user's current workspace, else their first membership (SPEC §4). Raises
    ``Workspace.DoesNotExist`` for an unknown id and ``PermissionDenied`` for a workspace the
    caller may not select."""
    member_of = {m.workspace_id: m.workspace for m in memberships}
    if workspace_id is not None:
        workspace = member_of.get(workspace_id) or Workspace.objects.get(pk=workspace_id)
        access = Access(user, token, workspace, memberships)
        if not access.may_select(workspace):
            raise PermissionDenied()
        return access
    workspace = member_of.get(user.current_workspace_id)
    if workspace is None and user.current_workspace_id is not None and user.is_tenant_admin:
        workspace = Workspace.objects.filter(pk=user.current_workspace_id).first()
    if workspace is None and memberships:
        workspace = memberships[0].workspace
    return Access(user, token, workspace, memberships)
