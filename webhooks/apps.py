from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Webhook subscriptions and deliveries, and the event feed (SPEC §8.10)."""

    name = "webhooks"

    def ready(self) -> None:
        from optiflow.events import event_recorded
        from webhooks.services import deliveries_create

        event_recorded.connect(deliveries_create, dispatch_uid="webhooks.deliveries_create")
