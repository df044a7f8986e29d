"""``include=balance`` on ``/contacts`` (SPEC §8.1): totals over issued, non-cancelled
invoices, computed in the list's own query."""

from __future__ import annotations

from decimal import Decimal

from tests.billing.factories import item, make_invoice
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import give_stock

D = Decimal


def test_balance_counts_issued_invoices_and_their_payments_only(
    api, owner, main, customer, widget, gadget
):
    def invoice(**fields):
        return make_invoice(workspace=main, actor=owner, contact=customer, **fields)

    invoice(items=[item(widget, 2)], payment={"amount": D("10.00"), "method": "cash"})  # 23.60
    invoice(items=[item(gadget, 1)])  # 25.00
    invoice(items=[item(gadget, 1)], draft=True)  # drafts do not count
    cancelled = invoice(items=[item(widget, 1)])
    api.delete(f"/invoices/{cancelled.pk}")
    idle = ContactFactory(name="Zoe Idle")

    response = api.get("/contacts", {"include": "balance"})

    assert response.status_code == 200
    balances = {row["name"]: row["balance"] for row in response.json()["data"]}
    assert balances[customer.name] == {
        "total_invoiced": "48.60",
        "total_paid": "10.00",
        "balance_due": "38.60",
    }
    assert balances[idle.name] == {
        "total_invoiced": "0.00",
        "total_paid": "0.00",
        "balance_due": "0.00",
    }
    detail = api.get(f"/contacts/{customer.pk}", {"include": "balance"}).json()["data"]
    assert detail["balance"]["balance_due"] == "38.60"
    assert "balance" not in api.get("/contacts").json()["data"][0]


def test_balance_counts_only_workspaces_where_the_caller_views_invoices(
    api, member_api, owner, main, branch, customer, widget
):
    make_invoice(workspace=main, actor=owner, contact=customer, items=[item(widget, 1)])  # 11.80
    give_stock(widget, branch, "5", actor=owner)
    make_invoice(workspace=branch, actor=owner, contact=customer, items=[item(widget, 2)])

    def balance_due(client) -> str:
        response = client.get(f"/contacts/{customer.pk}", {"include": "balance"})
        return response.json()["data"]["balance"]["balance_due"]

    assert balance_due(api) == "35.40"  # a tenant admin sees every workspace
    branch_only = member_api(workspace=branch, permissions=["contacts:view", "invoices:view"])
    assert balance_due(branch_only) == "23.60"
    contacts_only = member_api(workspace=branch, permissions=["contacts:view"])
    assert balance_due(contacts_only) == "0.00"


def test_contact_list_with_balance_query_count_is_constant(
    api, owner, main, widget, django_assert_num_queries
):
    def add_customers(count):
        for _ in range(count):
            make_invoice(
                workspace=main, actor=owner, contact=ContactFactory(), items=[item(widget, "0.10")]
            )

    add_customers(3)
    api.get("/me")  # the token's last_used_at is written once a minute: not in the count
    with django_assert_num_queries(QUERIES_PER_CONTACT_LIST):
        response = api.get("/contacts", {"include": "balance,addresses", "per_page": 100})
    assert len(response.json()["data"]) == 3

    add_customers(27)
    with django_assert_num_queries(QUERIES_PER_CONTACT_LIST):
        response = api.get("/contacts", {"include": "balance,addresses", "per_page": 100})
    assert len(response.json()["data"]) == 30


#: The caller (token, user, memberships), count, page (balances included), addresses.
QUERIES_PER_CONTACT_LIST = 4
