"""SPEC §8.10, §9: the tenant admin manages subscriptions through the API's services and
shows their delivery log read-only, with a redeliver action."""

from __future__ import annotations

import pytest
from procrastinate.contrib.django.models import ProcrastinateJob

from tests.conftest import OWNER_PASSWORD
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import subscription_create, subscription_ping

ADMIN = "/t/acme/admin/webhooks"


@pytest.fixture
def admin_client(client, tenant):
    assert client.login(email=tenant.owner.email, password=OWNER_PASSWORD)
    return client


def test_adding_a_subscription_shows_its_secret_once(admin_client, main, private_webhooks):
    response = admin_client.post(
        f"{ADMIN}/webhooksubscription/add/",
        {
            "url": "http://127.0.0.1:9/hook",
            "description": "ERP",
            "events": ["invoice.paid"],
            "workspaces": [main.pk],
            "is_active": "on",
        },
        follow=True,
    )

    subscription = WebhookSubscription.objects.get()
    assert (subscription.events, subscription.workspace_ids) == (["invoice.paid"], [main.pk])
    assert subscription.secret.encode() in response.content  # the message, this once
    page = admin_client.get(f"{ADMIN}/webhooksubscription/{subscription.pk}/change/")
    assert page.status_code == 200 and subscription.secret.encode() not in page.content


def test_the_services_rules_apply_in_the_admin(admin_client):
    response = admin_client.post(
        f"{ADMIN}/webhooksubscription/add/",
        {
            "url": "https://10.0.0.1/hook",
            "events": ["*"],
            "is_active": "on",
        },
    )

    assert response.status_code == 200  # the form again, with its error
    assert b"a private or reserved address" in response.content
    assert not WebhookSubscription.objects.exists()


def test_deliveries_are_read_only_with_a_redeliver_action(admin_client, private_webhooks):
    subscription = subscription_create(url="http://127.0.0.1:9/hook", events=["*"])
    delivery = subscription_ping(subscription=subscription)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")

    assert admin_client.get(f"{ADMIN}/webhookdelivery/").status_code == 200
    assert admin_client.get(f"{ADMIN}/webhookdelivery/add/").status_code == 403
    page = admin_client.get(f"{ADMIN}/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    jobs = ProcrastinateJob.objects.filter(
        task_name="webhooks.deliver", args__delivery_id=delivery.pk
    )
    assert jobs.count() == 1  # the ping's

    admin_client.post(
        f"{ADMIN}/webhookdelivery/",
        {
            "action": "redeliver",
            "_selected_action": [delivery.pk],
        },
    )

    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"
    assert jobs.count() == 2
