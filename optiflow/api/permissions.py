"""Doors 1 and 2 of ``tenants.access``: the permissions each action needs, and the checks made
on the record an action touches. (Door 3, ids in request bodies, is
``optiflow.api.serializers.ScopedRelatedField``.)

1. ``required_permissions`` on a view maps each action (or the lower-case method of a plain
   view) to the permissions it needs, all of them, in the request's workspace;
   ``permission_table`` builds it. ``HasPermission`` asks it before the handler runs.
2. ``record_checks`` on a view maps an action to checks of the record it touches, asked by DRF
   through ``has_object_permission`` when the view calls ``get_object()`` (or
   ``check_object_permissions`` with the record as a write would leave it).
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.access import Access
from tenants.models import ApiToken, User, Workspace

#: The permissions of an action any authenticated caller may use: none.
AUTHENTICATED: tuple[str, ...] = ()
#: ``permission_table`` keys that stand for several actions which always go together.
ACTION_GROUPS = {"read": ("list", "retrieve"), "update": ("update", "partial_update")}


def permission_table(**needs: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Action → the permissions it needs (all of them; ``AUTHENTICATED``: none). ``read``
    stands for list and retrieve, ``update`` for update and partial_update:
    ``permission_table(read="contacts:view", create="contacts:create", ...)``."""
    table: dict[str, tuple[str, ...]] = {}
    for key, permissions in needs.items():
        for action in ACTION_GROUPS.get(key, (key,)):
            table[action] = (permissions,) if isinstance(permissions, str) else permissions
    return table


class HasPermission(BasePermission):
    """Door 1: grants an action when the caller holds every permission the view's
    ``required_permissions`` names for it, in the request's workspace (membership ∩ token
    abilities). An action missing from that table is refused: a new action is closed until
    someone decides who may use it. Workspace-scoped views first need a workspace at all."""

    def has_permission(self, request: Request, view) -> bool:
        if getattr(view, "public", False):
            return True
        if not (request.user and request.user.is_authenticated):
            return False
        method = request.method.lower()
        routed = view.action is not None if hasattr(view, "action_map") else hasattr(view, method)
        if not routed:
            return True  # let dispatch answer 405 rather than hide the route behind a 403
        key = getattr(view, "action", None) or method
        required = getattr(view, "required_permissions", {})
        if key not in required:
            return False
        access: Access = request.access
        needed = required[key]
        if getattr(view, "workspace_scoped", False):
            access.require_workspace()
        elif access.workspace is None and not all(access.has(p) for p in needed):
            # Permissions are held per workspace: without one there is nothing to check.
            access.require_workspace()
        access.require(*needed)
        return True


# --- door 2: checks of the record an action touches -----------------------------------------


class HeldInWorkspace(BasePermission):
    """The permissions must be held in the workspace being administered (the record), not in
    the request's: changing a workspace or its members needs ``workspaces:manage`` *there*."""

    def __init__(self, *permissions: str) -> None:
        self.permissions = permissions

    def has_object_permission(self, request: Request, view, obj: Workspace) -> bool:
        request.access.require(*self.permissions, workspace=obj)
        return True


class IsWorkspaceOwner(BasePermission):
    """Only a workspace's owner may delete it (SPEC §4)."""

    def has_object_permission(self, request: Request, view, obj: Workspace) -> bool:
        return request.access.owns(obj)


class MayChangeAccount(BasePermission):
    """Only a tenant admin may create, change, promote or demote a tenant admin."""

    def has_object_permission(self, request: Request, view, obj: User) -> bool:
        return request.access.may_change_account(obj)


class MayMintToken(BasePermission):
    """A new token's abilities must be within the calling token's (SPEC §3)."""

    def has_object_permission(self, request: Request, view, obj: ApiToken) -> bool:
        return request.access.may_mint(obj.abilities)


class MayRevokeToken(BasePermission):
    """A token revokes itself; only a ``["*"]`` token revokes its user's others (SPEC §3)."""

    def has_object_permission(self, request: Request, view, obj: ApiToken) -> bool:
        return request.access.may_revoke(obj)
