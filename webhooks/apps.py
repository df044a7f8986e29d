import datetime as dt

from django.apps import AppConfig

#: A delivery that has been due this long without a worker taking it means the workers are
#: gone or swamped: ``/health/ready`` then answers 503 (retries scheduled later do not count).
QUEUE_MAX_AGE = dt.timedelta(minutes=5)


class WebhooksConfig(AppConfig):
    """Webhook subscriptions and deliveries, and the event feed (SPEC §8.10)."""

    name = "webhooks"

    def ready(self) -> None:
        from optiflow.events import event_recorded
        from optiflow.health import READINESS_CHECKS, Check, queue_age
        from webhooks.selectors import oldest_pending_job_age
        from webhooks.services import deliveries_create

        event_recorded.connect(deliveries_create, dispatch_uid="webhooks.deliveries_create")
        READINESS_CHECKS.append(
            Check(
                "webhook_queue",
                queue_age(oldest_pending_job_age, max_age=QUEUE_MAX_AGE),
                needs=("database",),
            )
        )
