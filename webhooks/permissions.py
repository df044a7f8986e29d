"""Door 2 of ``tenants.access`` for webhook subscriptions: what a subscription may reach."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from optiflow.events import EVENT_PERMISSIONS
from webhooks.models import ALL_EVENTS, WebhookSubscription

MANAGE = "webhooks:manage"


class MayCoverEvents(BasePermission):
    """A subscription reaches only what its creator may manage and read: ``webhooks:manage``
    and the view permission of each event type it takes, in every workspace it covers (all of
    them, present and future, when it names none). A webhook is never a way around a
    permission."""

    def has_object_permission(self, request: Request, view, obj: WebhookSubscription) -> bool:
        types = EVENT_PERMISSIONS if ALL_EVENTS in obj.events else obj.events
        needed = {MANAGE, *(EVENT_PERMISSIONS[t] for t in types if t in EVENT_PERMISSIONS)}
        return request.access.may_cover(needed, obj.workspace_ids)
