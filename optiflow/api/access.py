"""The access context of a request: who, through which token, in which workspace, allowed what.

Resolved once per request by the base view, before permission checks, and kept on
``request.access``. Workspace selection (SPEC §4): the ``X-Workspace-ID`` header, else the
user's current workspace, else their first membership.

A user holding ``view_all_locations`` in any of their memberships may select a workspace they
are not a member of; there they hold only the ``:view`` permissions they hold anywhere, plus
``view_all_locations`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework import exceptions
from rest_framework.request import Request

from optiflow.api.exceptions import BadRequest
from optiflow.api.query import parse_integer
from tenants.access import ALL_PERMISSIONS, effective_permissions, token_grants
from tenants.models import ApiToken, Membership, User, Workspace
from tenants.selectors import membership_list_for_user

WORKSPACE_HEADER = "X-Workspace-ID"
VIEW_ALL = "view_all_locations"


@dataclass
class Access:
    user: User
    token: ApiToken
    workspace: Workspace | None
    memberships: list[Membership] = field(default_factory=list)
    permissions: frozenset[str] = frozenset()

    def has(self, permission: str) -> bool:
        return permission in self.permissions

    def permissions_in(self, workspace: Workspace) -> frozenset[str]:
        """Effective permissions of this token in another workspace (e.g. a transfer's target)."""
        return permissions_for(self.user, self.token, workspace, self.memberships)

    def require_in(self, permission: str, *workspaces: Workspace) -> None:
        """For writes that reach beyond the request's workspace (a transfer's two ends, a
        workspace being managed): the permission must be held in each of them."""
        if any(permission not in self.permissions_in(workspace) for workspace in workspaces):
            raise exceptions.PermissionDenied()

    def workspace_ids_with(self, permission: str) -> list[int] | None:
        """Workspaces where this token holds ``permission``, for figures drawn from several
        workspaces at once (stock per workspace, a contact's balance); ``None``: all of them
        (tenant admins, and ``:view`` permissions with ``view_all_locations``)."""
        if permission in self.permissions_in(Workspace()):  # a workspace of no membership
            return None
        return [
            membership.workspace_id
            for membership in self.memberships
            if permission in self.permissions_in(membership.workspace)
        ]

    def require_workspace(self) -> Workspace:
        if self.workspace is None:
            raise exceptions.PermissionDenied("No workspace selected.")
        return self.workspace


def permissions_for(
    user: User, token: ApiToken, workspace: Workspace | None, memberships: list[Membership]
) -> frozenset[str]:
    if workspace is None:
        return (
            ALL_PERMISSIONS & token_grants(token.abilities) if user.is_tenant_admin else frozenset()
        )
    membership = next((m for m in memberships if m.workspace_id == workspace.pk), None)
    if membership is not None or user.is_tenant_admin:
        return effective_permissions(
            is_tenant_admin=user.is_tenant_admin,
            role=membership.role if membership else None,
            member_permissions=membership.permissions if membership else (),
            abilities=token.abilities,
        )
    held_anywhere = set().union(
        *(permissions_for(user, token, m.workspace, memberships) for m in memberships)
    )
    if VIEW_ALL not in held_anywhere:
        return frozenset()
    return frozenset(p for p in held_anywhere if p.endswith(":view") or p == VIEW_ALL)


def resolve_access(request: Request) -> Access:
    user: User = request.user
    token: ApiToken = request.auth
    memberships = membership_list_for_user(user=user)
    header = request.headers.get(WORKSPACE_HEADER)
    workspace: Workspace | None
    if header is not None:  # present but empty is as wrong as any other non-integer
        workspace_id = parse_integer(header)
        if workspace_id is None or workspace_id < 1:  # ids are positive (the schema says so)
            raise BadRequest(f"{WORKSPACE_HEADER} must be a positive integer workspace id.")
        workspace = next((m.workspace for m in memberships if m.workspace_id == workspace_id), None)
        if workspace is None:
            workspace = Workspace.objects.filter(pk=workspace_id).first()
            if workspace is None:
                raise exceptions.NotFound("Workspace not found.")
    else:
        workspace = None
        if user.current_workspace_id is not None:
            workspace = next(
                (m.workspace for m in memberships if m.workspace_id == user.current_workspace_id),
                None,
            )
            if workspace is None and user.is_tenant_admin:
                workspace = Workspace.objects.filter(pk=user.current_workspace_id).first()
        if workspace is None and memberships:
            workspace = memberships[0].workspace
    permissions = permissions_for(user, token, workspace, memberships)
    is_member = any(m.workspace_id == getattr(workspace, "pk", None) for m in memberships)
    if header and not (user.is_tenant_admin or is_member or VIEW_ALL in permissions):
        raise exceptions.PermissionDenied()
    return Access(user, token, workspace, memberships, permissions)
