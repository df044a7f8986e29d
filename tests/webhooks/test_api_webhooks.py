"""``/webhooks`` and their delivery log (SPEC §8.10): the secret shown once, URL safety, event
types, who may subscribe to what, rotation, ping and redeliver (each queued as a job in the
transaction that answers)."""

from __future__ import annotations

import re

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from optiflow.events import event_record
from tests.billing.factories import item, make_invoice, product_with_stock
from tests.contacts.factories import ContactFactory
from tests.factories import FORBIDDEN, errors, ids
from tests.inventory.factories import ProductFactory, give_stock
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import subscription_create

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def created(api, private_webhooks):
    response = api.post("/webhooks", {"url": HOOK, "events": ["invoice.paid"]})
    assert response.status_code == 201, response.content
    return response.json()["data"]


def jobs_for(*deliveries: WebhookDelivery) -> list[dict]:
    wanted = {delivery.pk for delivery in deliveries}
    return [
        job.args
        for job in ProcrastinateJob.objects.filter(task_name="webhooks.deliver").order_by("id")
        if job.args["delivery_id"] in wanted and job.args["schema"] == "t_acme"
    ]


def test_a_subscription_shows_its_secret_once(api, created):
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", created["secret"])
    assert created | {"id": None, "secret": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "url": HOOK,
        "description": "",
        "events": ["invoice.paid"],
        "workspace_ids": None,
        "is_active": True,
        "disabled_reason": "",
        "secret": None,
        "created_at": None,
        "updated_at": None,
    }
    shown = api.get(f"/webhooks/{created['id']}").json()["data"]
    assert "secret" not in shown
    assert all("secret" not in row for row in api.get("/webhooks").json()["data"])


def test_rotating_gives_a_new_secret_and_keeps_the_old_one_signing(api, created):
    rotated = api.post(f"/webhooks/{created['id']}/rotate-secret")

    assert rotated.status_code == 200
    new = rotated.json()["data"]["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    subscription = WebhookSubscription.objects.get(pk=created["id"])
    assert (subscription.secret, subscription.previous_secret) == (new, created["secret"])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "The URL must use https."),
        ("http://example.com/hook", "The URL must use https."),
        ("https://127.0.0.1/hook", "127.0.0.1 resolves to 127.0.0.1, a private"),
        ("https://localhost:8443/hook", "localhost resolves to"),
        ("https://10.1.2.3/hook", "10.1.2.3 resolves to 10.1.2.3, a private"),
        ("https://[::1]/hook", "::1 resolves to ::1"),
        ("https://[::ffff:192.168.0.1]/hook", "a private"),
        ("https://169.254.169.254/latest/meta-data", "a private"),
        ("https://224.0.0.1/hook", "a private"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_unsafe_urls_are_refused_on_url(api, url, message):
    response = api.post("/webhooks", {"url": url, "events": ["*"]})

    assert message in " ".join(errors(response)["url"])
    assert not WebhookSubscription.objects.exists()


def test_private_addresses_and_plain_http_each_need_their_setting(api, settings):
    settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE = True
    assert (
        "must use https" in errors(api.post("/webhooks", {"url": HOOK, "events": ["*"]}))["url"][0]
    )
    https = api.post("/webhooks", {"url": "https://127.0.0.1:8443/hook", "events": ["*"]})
    assert https.status_code == 201, https.content

    settings.OPTIFLOW_WEBHOOKS_ALLOW_HTTP = True
    assert api.post("/webhooks", {"url": HOOK, "events": ["*"]}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": []}, "events"),
        ({"events": ["invoice.exploded"]}, "events"),
        ({"events": ["*", "invoice.paid"]}, "events"),
        ({"events": ["*"], "workspace_ids": [999999]}, "workspace_ids.0"),
        ({"events": ["*"], "workspace_ids": []}, "workspace_ids"),
        ({"events": "invoice.paid"}, "events"),
    ],
)
def test_invalid_subscriptions_are_refused(api, private_webhooks, body, field):
    assert field in errors(api.post("/webhooks", {"url": HOOK, **body}))
    assert not WebhookSubscription.objects.exists()


def test_webhooks_need_webhooks_manage(member_api, private_webhooks):
    api = member_api(permissions=["invoices:view"])
    assert api.post("/webhooks", {"url": HOOK, "events": ["*"]}).json() == FORBIDDEN
    assert api.get("/webhooks").status_code == 403


def test_a_subscription_reaches_no_further_than_its_creator(member_api, main, private_webhooks):
    api = member_api(permissions=["webhooks:manage", "invoices:view"])
    mine = {"url": HOOK, "workspace_ids": [main.pk]}

    assert api.post("/webhooks", {**mine, "events": ["invoice.paid"]}).status_code == 201
    # Payments it cannot read; all workspaces (null) it does not manage.
    assert api.post("/webhooks", {**mine, "events": ["payment.received"]}).status_code == 403
    assert api.post("/webhooks", {**mine, "events": ["*"]}).status_code == 403
    everywhere = {"url": HOOK, "events": ["invoice.paid"], "workspace_ids": None}
    assert api.post("/webhooks", everywhere).status_code == 403
    assert WebhookSubscription.objects.count() == 1


def test_the_list_holds_the_subscriptions_within_the_callers_workspaces(
    api, member_api, main, branch, private_webhooks
):
    in_main = subscription_create(url=HOOK, events=["*"], workspace_ids=[main.pk])
    subscription_create(url=HOOK, events=["*"], workspace_ids=[main.pk, branch.pk])
    everywhere = subscription_create(url=HOOK, events=["*"])

    member = member_api(permissions=["webhooks:manage"])
    assert ids(member.get("/webhooks")) == [in_main.pk]
    assert member.get(f"/webhooks/{everywhere.pk}").status_code == 404
    assert len(ids(api.get("/webhooks"))) == 3  # the tenant admin's


def test_turning_a_disabled_subscription_back_on_clears_its_reason(api, created, settings):
    WebhookSubscription.objects.filter(pk=created["id"]).update(
        is_active=False, disabled_reason="The receiver answered 410 Gone."
    )

    response = api.patch(f"/webhooks/{created['id']}", {"is_active": True})

    assert response.status_code == 200
    assert (response.json()["data"]["is_active"], response.json()["data"]["disabled_reason"]) == (
        True,
        "",
    )
    settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE = False
    unsafe = api.patch(f"/webhooks/{created['id']}", {"url": "https://10.0.0.1/"})
    assert "url" in errors(unsafe)


def test_ping_queues_one_delivery_at_once(api, created):
    response = api.post(f"/webhooks/{created['id']}/ping")

    assert response.status_code == 202, response.content
    delivery = response.json()["data"]
    assert (delivery["event_type"], delivery["status"], delivery["attempts"]) == (
        "ping",
        "pending",
        0,
    )
    (job,) = jobs_for(WebhookDelivery.objects.get(pk=delivery["id"]))
    assert job == {"schema": "t_acme", "delivery_id": delivery["id"], "manual": True}


def test_each_matching_event_queues_a_delivery_with_its_job(api, created, owner, main):
    product = product_with_stock(main, "5", actor=owner, price="10.00")
    invoice = make_invoice(
        workspace=main, actor=owner, contact=ContactFactory(), items=[item(product)]
    )
    assert not WebhookDelivery.objects.exists()  # created, not paid

    api.post("/payments", {"invoice_id": invoice.pk, "amount": "10.00", "method": "cash"})

    (delivery,) = WebhookDelivery.objects.all()
    assert (delivery.event.type, delivery.status) == ("invoice.paid", "pending")
    assert jobs_for(delivery) == [{"schema": "t_acme", "delivery_id": delivery.pk, "manual": False}]
    log = api.get(f"/webhooks/{created['id']}/deliveries").json()["data"]
    assert log == [
        {
            "id": delivery.pk,
            "event_id": delivery.event.public_id,
            "event_type": "invoice.paid",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": log[0]["next_attempt_at"],
            "last_attempt": None,
            "created_at": log[0]["created_at"],
            "updated_at": log[0]["updated_at"],
        }
    ]


def test_redeliver_queues_one_more_attempt(api, created):
    delivery = WebhookDelivery.objects.get(
        pk=api.post(f"/webhooks/{created['id']}/ping").json()["data"]["id"]
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=1)
    path = f"/webhooks/{created['id']}/deliveries/{delivery.pk}"

    response = api.post(f"{path}/redeliver")

    assert response.status_code == 202
    assert response.json()["data"]["status"] == "pending"
    assert [job["manual"] for job in jobs_for(delivery)] == [True, True]  # the ping, and this
    assert api.get(path).json()["data"]["attempt_log"] == []
    assert api.post(f"/webhooks/{created['id']}/deliveries/999999/redeliver").status_code == 404


def test_the_delivery_log_filters_by_status_and_event_type(api, created, private_webhooks):
    pinged = api.post(f"/webhooks/{created['id']}/ping").json()["data"]
    path = f"/webhooks/{created['id']}/deliveries"

    assert ids(api.get(path, {"filter[status]": "pending"})) == [pinged["id"]]
    assert ids(api.get(path, {"filter[status]": "failed"})) == []
    assert ids(api.get(path, {"filter[event_type]": "invoice.paid"})) == []
    assert api.get(path, {"filter[status]": "lost"}).status_code == 400
    assert api.get("/webhooks/999999/deliveries").status_code == 404


def test_deleting_a_subscription_deletes_its_log(api, created):
    api.post(f"/webhooks/{created['id']}/ping")

    assert api.delete(f"/webhooks/{created['id']}").status_code == 204
    assert not WebhookDelivery.objects.exists()


def test_an_event_without_subscriptions_costs_one_query_more(tenant, django_assert_num_queries):
    level = give_stock(ProductFactory(), tenant.workspace, "1", actor=tenant.owner)

    # The level read for its detail, the event, and the subscription lookup: nothing else.
    with django_assert_num_queries(3):
        event_record(type="product.stock_low", record=level)
