"""``GET /events`` (SPEC §8.10): the feed in id order, its filters, the ``after`` catch-up, and
who sees which events."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from inventory.services import TransferItem, stock_transfer_create
from optiflow.models import Event
from tests.billing.factories import item, make_invoice, product_with_stock
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import ProductFactory, give_stock
from webhooks.services import subscription_create, subscription_ping


def public_ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [event["id"] for event in response.json()["data"]]


@pytest.fixture
def sale(owner, main):
    """An invoice paid at once in the main workspace: invoice.created, payment.received,
    invoice.paid, in this order."""
    product = product_with_stock(main, "5", actor=owner, price="10.00")
    return make_invoice(
        workspace=main,
        actor=owner,
        contact=ContactFactory(),
        items=[item(product)],
        payment={"amount": Decimal("10.00"), "method": "cash"},
    )


def test_the_feed_lists_events_in_id_order_as_the_spec_shapes_them(api, sale, main):
    response = api.get("/events")

    events = response.json()["data"]
    assert [e["type"] for e in events] == ["invoice.created", "payment.received", "invoice.paid"]
    recorded = list(Event.objects.order_by("id"))
    assert [e["id"] for e in events] == [event.public_id for event in recorded]
    first = events[0]
    assert set(first) == {"id", "type", "created_at", "workspace_id", "data"}
    assert first["workspace_id"] == main.pk and first["created_at"].endswith("Z")
    assert first["data"]["object"]["id"] == sale.pk
    assert api.get(f"/events/{first['id']}").json()["data"] == first
    assert response.json()["meta"]["total"] == 3


def test_an_unknown_event_id_is_a_404(api, sale):
    assert api.get("/events/evt_00000000000000000000000000000000").status_code == 404
    assert api.get(f"/events/{Event.objects.first().pk}").status_code == 404  # not the row id


def test_type_and_created_at_filters(api, sale):
    paid = api.get("/events", {"filter[type]": "invoice.paid,payment.received"})
    assert [e["type"] for e in paid.json()["data"]] == ["payment.received", "invoice.paid"]

    tomorrow = (Event.objects.first().created_at + timedelta(days=1)).date().isoformat()
    assert (
        public_ids(api.get("/events", {"filter[created_at]": f'{{"fromDate":"{tomorrow}"}}'})) == []
    )
    assert (
        len(public_ids(api.get("/events", {"filter[created_at]": f'{{"toDate":"{tomorrow}"}}'})))
        == 3
    )

    unknown = api.get("/events", {"filter[type]": "invoice.exploded"})
    assert unknown.status_code == 400
    assert api.get("/events", {"filter[updated_at]": "2030-01-01"}).status_code == 400


def test_after_returns_the_events_that_follow_a_given_one(api, sale):
    first, second, third = public_ids(api.get("/events"))

    assert public_ids(api.get("/events", {"after": first})) == [second, third]
    assert public_ids(api.get("/events", {"after": third})) == []
    invoices = {"filter[type]": "invoice.created,invoice.paid"}
    assert public_ids(api.get("/events", {"after": first, **invoices})) == [third]
    # The cursor is a row of the list as filtered (SPEC §6): the payment's is not one there.
    outside = api.get("/events", {"after": second, **invoices})
    assert outside.status_code == 400 and second in outside.json()["message"]

    unknown = api.get("/events", {"after": "evt_00000000000000000000000000000000"})
    assert unknown.status_code == 400 and "No row" in unknown.json()["message"]
    assert api.get("/events", {"after": first, "page": 2}).status_code == 400


def test_events_show_to_holders_of_their_kinds_view_permission(member_api, sale):
    invoices_only = member_api(permissions=["invoices:view"])
    payments_only = member_api(permissions=["payments:view"])
    nothing = member_api(permissions=["contacts:view"])

    assert [e["type"] for e in invoices_only.get("/events").json()["data"]] == [
        "invoice.created",
        "invoice.paid",
    ]
    assert [e["type"] for e in payments_only.get("/events").json()["data"]] == ["payment.received"]
    assert nothing.get("/events").json()["data"] == []
    hidden = Event.objects.get(type="payment.received").public_id
    assert invoices_only.get(f"/events/{hidden}").status_code == 404
    assert invoices_only.get("/events", {"after": hidden}).status_code == 400


def test_events_of_another_workspace_are_hidden_unless_it_is_visible(
    member_api, sale, owner, branch
):
    in_branch = member_api(permissions=["invoices:view"], workspace=branch)
    assert in_branch.get("/events").json()["data"] == []

    everywhere = member_api(permissions=["invoices:view", "view_all_locations"], workspace=branch)
    assert len(everywhere.get("/events").json()["data"]) == 2  # the invoice's, not the payment's


def test_a_transfer_shows_from_either_end(member_api, owner, main, branch):
    product = ProductFactory()
    give_stock(product, main, "5", actor=owner)
    stock_transfer_create(
        from_workspace=main,
        to_workspace=branch,
        actor=owner,
        items=[TransferItem(product, Decimal("2"))],
    )

    at_target = member_api(permissions=["inventory:view"], workspace=branch)
    (event,) = at_target.get("/events").json()["data"]
    assert (event["type"], event["workspace_id"]) == ("stock.transferred", main.pk)
    assert event["data"]["object"]["to_workspace_id"] == branch.pk


def test_pings_are_not_in_the_feed(api, sale, private_webhooks):
    subscription = subscription_create(url="http://127.0.0.1:9/hook", events=["*"])
    subscription_ping(subscription=subscription)
    assert "ping" not in {e["type"] for e in api.get("/events").json()["data"]}
    assert api.get("/events", {"filter[type]": "ping"}).status_code == 400


QUERIES_PER_EVENT_PAGE = 3


def test_the_feed_reads_in_constant_queries(api, owner, main, django_assert_num_queries):
    product = ProductFactory()
    give_stock(product, main, "100", actor=owner)
    contact = ContactFactory()
    api.get("/me")  # the token's last use is written once, before counting

    def count_for(sales: int) -> int:
        for _ in range(sales):
            make_invoice(workspace=main, actor=owner, contact=contact, items=[item(product)])
        with django_assert_num_queries(QUERIES_PER_EVENT_PAGE) as captured:
            assert api.get("/events", {"per_page": 100}).status_code == 200
        return len(captured)

    assert count_for(3) == count_for(27)
