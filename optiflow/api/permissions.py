"""Permission checks: each view names the permission string every action needs."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

#: Marks an action that any authenticated caller may use.
AUTHENTICATED = None


class HasPermission(BasePermission):
    """Grants an action when the caller's effective permissions (membership ∩ token abilities)
    contain the string the view's ``required_permissions`` names for it. An action missing
    from that mapping is refused: a new action is closed until someone decides who may use it."""

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
        required: dict = getattr(view, "required_permissions", {})
        if key not in required:
            return False
        permission = required[key]
        if permission is AUTHENTICATED or request.access.has(permission):
            return True
        if request.access.workspace is None:
            # Permissions are held per workspace: without one there is nothing to check.
            raise exceptions.PermissionDenied("No workspace selected.")
        return False
