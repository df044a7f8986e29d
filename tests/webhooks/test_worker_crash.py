"""A worker killed in the middle of a delivery (SPEC §8.10: "never lost"). In a module of
its own: no other worker may be running, or it could take the job instead."""

from __future__ import annotations

import os
import signal
import threading

from werkzeug import Request, Response

from tests.inventory.factories import ProductFactory
from tests.servers import workers
from tests.webhooks.conftest import adjust, wait_until
from webhooks.models import WebhookDelivery


def test_a_worker_killed_mid_delivery_leaves_it_to_another(
    provisioned, committed_tenant, hooks_for, receiver
):
    """SIGKILL while the receiver holds the request: the job is stalled in the queue until
    the dead worker's heartbeat is missed, then retried by a worker started afterwards."""
    hooks = hooks_for(committed_tenant, receiver.url, ["stock.adjusted"])
    in_flight, release = threading.Event(), threading.Event()

    def hold_the_first(request: Request) -> Response:
        if not in_flight.is_set():
            in_flight.set()
            release.wait(timeout=60)
        return Response(status=200)

    receiver.answer = hold_the_first
    with workers() as [first]:
        adjust(hooks, ProductFactory().pk, 1)
        assert in_flight.wait(timeout=60), first.output()
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    release.set()
    (delivery,) = hooks.deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 0)

    with workers() as [second]:
        wait_until(
            lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "succeeded",
            what=f"the retry; {second.output()}",
        )
    assert receiver.event_ids() == [delivery.event.public_id] * 2  # cut off once, then sent
    assert receiver.accepted == {delivery.event.public_id: 1}
    assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == 1
