"""Webhook test tools: a receiver on loopback (pytest-httpserver, a real HTTP server in a
thread), a way to wait on a condition rather than sleep, and, for tests with worker processes,
subscriptions in committed tenants, each limited to a workspace of its own so that no other
test's events reach it (deleted afterwards, their deliveries with them: a job still queued
for those then has nothing to do)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tenants.models import Workspace
from tenants.services import ProvisionedTenant
from tests.conftest import provision
from tests.factories import ApiClient, WorkspaceFactory
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import subscription_create

#: Generous: the machine may be busy (several test suites share two cores).
PATIENCE = 60.0


def wait_until(condition: Callable[[], object], timeout: float = PATIENCE, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


class Receiver:
    """A de-duplicating webhook receiver: it accepts each event id once (and answers 200 to a
    repeat, as a receiver that already has the event should), and records every request.
    ``answer`` decides the status of a request it would accept (default 200)."""

    def __init__(self, server: HTTPServer, path: str = "/hook") -> None:
        self.server, self.path = server, path
        self.requests: list[Request] = []
        self.accepted: Counter[str] = Counter()
        self.answer: Callable[[Request], Response] = lambda request: Response(status=200)
        self.lock = threading.Lock()
        server.expect_request(path, method="POST").respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return self.server.url_for(self.path)

    def handle(self, request: Request) -> Response:
        request.get_data()  # read before the handler returns; kept for assertions
        with self.lock:
            self.requests.append(request)
            event_id = request.headers["X-OptiFlow-Event-Id"]
            if self.accepted[event_id]:
                return Response(status=200)
        response = self.answer(request)
        if 200 <= response.status_code < 300:
            with self.lock:
                self.accepted[event_id] += 1
        return response

    def event_ids(self) -> list[str]:
        with self.lock:
            return [request.headers["X-OptiFlow-Event-Id"] for request in self.requests]


@pytest.fixture
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def receiver(http_server) -> Receiver:
    return Receiver(http_server)


@pytest.fixture
def private_webhooks(settings) -> None:
    """Loopback receivers over plain HTTP, as the tests' own server is."""
    settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE = True
    settings.OPTIFLOW_WEBHOOKS_ALLOW_HTTP = True


@pytest.fixture(scope="session")
def second_committed_tenant(provisioned, django_db_blocker) -> ProvisionedTenant:
    """Another tenant with committed data, for a worker serving two tenants at once."""
    with django_db_blocker.unblock():
        tenant = provision("hooks")
        connection.set_schema_to_public()
    return tenant


class WorkspaceClient(ApiClient):
    """The tenant owner, acting in one workspace."""

    def __init__(self, tenant: ProvisionedTenant, workspace: Workspace) -> None:
        super().__init__(Client(), tenant.token, prefix=f"/t/{tenant.tenant.slug}")
        self.workspace = workspace

    def headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return super().headers({"X-Workspace-ID": str(self.workspace.pk), **(extra or {})})


@dataclass
class Hooks:
    """A fresh workspace of a committed tenant, a subscription limited to it, and an API client
    acting in it."""

    workspace: Workspace
    subscription: WebhookSubscription
    api: WorkspaceClient

    def deliveries(self) -> list[WebhookDelivery]:
        return list(WebhookDelivery.objects.filter(subscription=self.subscription))


@pytest.fixture
def hooks_for(private_webhooks) -> Iterator[Callable[..., Hooks]]:
    made: list[tuple[ProvisionedTenant, Hooks]] = []

    def make(tenant: ProvisionedTenant, url: str, events: list[str]) -> Hooks:
        with tenant_context(tenant.tenant):
            workspace = WorkspaceFactory(owner=tenant.owner)
            subscription = subscription_create(url=url, events=events, workspace_ids=[workspace.pk])
        made.append((tenant, Hooks(workspace, subscription, WorkspaceClient(tenant, workspace))))
        return made[-1][1]

    yield make
    for tenant, hooks in made:
        with tenant_context(tenant.tenant):
            hooks.subscription.delete()


def adjust(hooks: Hooks, product_id: int, count: int) -> None:
    """``count`` stock adjustments through the API: one ``stock.adjusted`` event each."""
    for quantity in range(1, count + 1):
        adjusted = hooks.api.post(
            "/stock-adjustments",
            {
                "items": [
                    {"product_id": product_id, "quantity": str(quantity), "reason": "found"},
                ]
            },
        )
        assert adjusted.status_code == 201, adjusted.content
