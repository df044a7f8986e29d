"""``filter[...]`` of the event feed, subscriptions and the delivery log (SPEC §8.10)."""

from __future__ import annotations

from optiflow.api.query import AnyOfFilter, BoolFilter, ResourceFilterSet
from optiflow.events import EVENT_TYPES
from webhooks.models import PING, WebhookDelivery


class EventFilterSet(ResourceFilterSet):
    type = AnyOfFilter(choices=sorted(EVENT_TYPES))
    updated_at = None  # events never change


class WebhookFilterSet(ResourceFilterSet):
    is_active = BoolFilter(field_name="is_active")


class WebhookDeliveryFilterSet(ResourceFilterSet):
    status = AnyOfFilter(choices=WebhookDelivery.Status.values)
    event_type = AnyOfFilter(field_name="event__type", choices=[*sorted(EVENT_TYPES), PING])
