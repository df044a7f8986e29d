"""Who sees which events and webhooks: the caller's permissions, workspace by workspace.

Events show to callers holding their kind's view permission (``invoice.*`` → ``invoices:view``,
…) in one of the event's workspaces. A subscription is managed by whoever holds
``webhooks:manage`` in every workspace it covers (all of them when it covers all); and it may
only cover what its creator could read in the feed, so a webhook is never a way around a
permission.
"""

from __future__ import annotations

from collections.abc import Iterable

from optiflow.api.access import Access
from optiflow.events import EVENT_PERMISSIONS
from webhooks.models import ALL_EVENTS

MANAGE = "webhooks:manage"


def workspace_ids_with(access: Access, permission: str) -> list[int] | None:
    """Workspaces where the caller holds ``permission`` (``None``: all). The one call into the
    access context: issue-10 renames it ``visible_workspace_ids``."""
    return access.workspace_ids_with(permission)


def event_visibility(access: Access) -> dict[str, list[int] | None]:
    """Each event view permission → the workspaces where the caller holds it."""
    permissions = sorted(set(EVENT_PERMISSIONS.values()))
    return {permission: workspace_ids_with(access, permission) for permission in permissions}


def _covers(allowed: list[int] | None, wanted: Iterable[int] | None) -> bool:
    if allowed is None:
        return True
    return wanted is not None and set(wanted) <= set(allowed)


def subscription_reach_allowed(
    access: Access, *, events: Iterable[str], workspace_ids: list[int] | None
) -> bool:
    """Whether the caller may subscribe to ``events`` in ``workspace_ids`` (``None``: all)."""
    events = set(events)
    types = EVENT_PERMISSIONS if ALL_EVENTS in events else events & set(EVENT_PERMISSIONS)
    needed = {MANAGE} | {EVENT_PERMISSIONS[type] for type in types}
    return all(_covers(workspace_ids_with(access, p), workspace_ids) for p in needed)
