"""Conditional requests (SPEC §5): every single-record answer carries a strong ``ETag`` of the
record and its lines; ``If-None-Match`` makes a read a ``304``; ``If-Match`` makes a write
refuse (``412``, nothing written) when the record changed since it was read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from billing.models import Invoice, Payment
from inventory.models import StockMovement
from optiflow.models import Event
from tenants.models import Membership
from tests.billing.factories import item, make_invoice, product_with_stock
from tests.conftest import run_concurrently
from tests.contacts.factories import ContactFactory
from tests.factories import ApiClient, UserFactory

STALE = {"message": "The record was changed since you read it."}


@pytest.fixture
def invoice(owner, main) -> Invoice:
    product = product_with_stock(main, "10", actor=owner, price="5.00")
    return make_invoice(
        workspace=main, actor=owner, contact=ContactFactory(), items=[item(product, 2)]
    )


def test_a_record_carries_an_etag_and_an_unchanged_one_is_304(api, invoice):
    read = api.get(f"/invoices/{invoice.pk}")
    tag = read["ETag"]
    assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")
    for header in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        cached = api.get(f"/invoices/{invoice.pk}", headers={"If-None-Match": header})
        assert (cached.status_code, cached.content, cached["ETag"]) == (304, b"", tag)
    fresh = api.get(f"/invoices/{invoice.pk}", headers={"If-None-Match": '"other"'})
    assert fresh.status_code == 200 and fresh.json() == read.json()


def test_the_etag_ignores_includes_and_follows_the_record_and_its_lines(api, invoice):
    tag = api.get(f"/invoices/{invoice.pk}")["ETag"]
    assert api.get(f"/invoices/{invoice.pk}", {"include": "contact,payments"})["ETag"] == tag
    [line] = api.get(f"/invoices/{invoice.pk}").json()["data"]["items"]
    changed = api.patch(f"/invoices/{invoice.pk}", {"items": [{"id": line["id"], "quantity": 3}]})
    assert changed["ETag"] not in (tag, None)
    assert api.get(f"/invoices/{invoice.pk}")["ETag"] == changed["ETag"]
    noted = api.patch(f"/invoices/{invoice.pk}", {"notes": "Fragile"})
    assert noted["ETag"] not in (tag, changed["ETag"])
    assert "ETag" not in api.get("/invoices")  # a list is not a record


def test_every_single_record_answer_has_the_tag_a_later_read_has(api, owner, main):
    product = api.post("/products", {"name": "Lamp", "sku": "L-1", "price": "9"})
    assert product["ETag"] == api.get(f"/products/{product.json()['data']['id']}")["ETag"]
    pk = product.json()["data"]["id"]
    deactivated = api.post(f"/products/{pk}/deactivate")
    assert deactivated["ETag"] == api.get(f"/products/{pk}")["ETag"] != product["ETag"]
    assert api.get("/me")["ETag"]


def test_a_stale_if_match_is_412_and_nothing_is_written(api, invoice):
    tag = api.get(f"/invoices/{invoice.pk}")["ETag"]
    api.patch(f"/invoices/{invoice.pk}", {"notes": "changed by a colleague"})
    [line] = invoice.items.all()
    before = (
        Invoice.objects.filter(pk=invoice.pk).values().get(),
        StockMovement.objects.count(),
        Event.objects.count(),
    )
    stale = {"If-Match": tag}
    body = {"notes": "mine", "items": [{"id": line.pk, "quantity": 1}]}
    for response in (
        api.patch(f"/invoices/{invoice.pk}", body, headers=stale),
        api.put(f"/invoices/{invoice.pk}", body, headers=stale),
        api.delete(f"/invoices/{invoice.pk}", headers=stale),
        api.post(f"/invoices/{invoice.pk}/payments", {"amount": "1", "method": "cash"}, stale),
    ):
        assert (response.status_code, response.json()) == (412, STALE)
    after = (
        Invoice.objects.filter(pk=invoice.pk).values().get(),
        StockMovement.objects.count(),
        Event.objects.count(),
    )
    assert after == before
    assert not Payment.objects.exists()


def test_a_current_if_match_lets_the_write_through(api, invoice):
    tag = api.get(f"/invoices/{invoice.pk}")["ETag"]
    first = api.patch(f"/invoices/{invoice.pk}", {"notes": "a"}, headers={"If-Match": tag})
    assert first.status_code == 200, first.content
    chained = {"If-Match": first["ETag"]}
    assert api.patch(f"/invoices/{invoice.pk}", {"notes": "b"}, headers=chained).status_code == 200
    any_version = {"If-Match": "*"}
    assert (
        api.patch(f"/invoices/{invoice.pk}", {"notes": "c"}, headers=any_version).status_code == 200
    )
    no_tag = {"If-Match": ""}  # lists no version: no condition, as in Django's own views
    assert api.patch(f"/invoices/{invoice.pk}", {"notes": "c"}, headers=no_tag).status_code == 200
    weak = {"If-Match": f"W/{api.get(f'/invoices/{invoice.pk}')['ETag']}"}  # never matches
    assert api.patch(f"/invoices/{invoice.pk}", {"notes": "d"}, headers=weak).status_code == 412
    assert Invoice.objects.get(pk=invoice.pk).notes == "c"


def test_actions_and_voids_check_if_match(api, owner, main, invoice):
    payment = api.post(f"/invoices/{invoice.pk}/payments", {"amount": "1.00", "method": "cash"})
    payment_id = payment.json()["data"]["id"]
    tag = payment["ETag"]
    assert api.get(f"/payments/{payment_id}")["ETag"] == tag
    api.post(f"/invoices/{invoice.pk}/payments", {"amount": "1.00", "method": "cash"})
    assert api.delete(f"/payments/{payment_id}", headers={"If-Match": '"x"'}).status_code == 412
    assert Payment.objects.get(pk=payment_id).status == "completed"
    assert api.delete(f"/payments/{payment_id}", headers={"If-Match": tag}).status_code == 204
    assert Payment.objects.get(pk=payment_id).status == "voided"

    draft = api.post(
        "/invoices",
        {
            "contact_id": invoice.contact_id,
            "items": [{"product_id": invoice.items.get().product_id, "quantity": 1}],
            "status": "draft",
        },
    ).json()["data"]
    stale = {"If-Match": '"not-the-current-one"'}
    assert api.post(f"/invoices/{draft['id']}/issue", {}, headers=stale).status_code == 412
    assert Invoice.objects.get(pk=draft["id"]).status == "draft"


def test_a_members_if_match_is_the_members(api, tenant, main):
    user = UserFactory()
    added = api.post(f"/workspaces/{main.pk}/members", {"user_id": user.pk, "role": "member"})
    tag = added["ETag"]
    path = f"/workspaces/{main.pk}/members/{user.pk}"
    workspace_tag = api.get(f"/workspaces/{main.pk}")["ETag"]
    grant = {"permissions": ["contacts:view"]}
    assert api.patch(path, grant, headers={"If-Match": workspace_tag}).status_code == 412
    assert Membership.objects.get(user=user).permissions == []
    changed = api.patch(path, grant, headers={"If-Match": tag})
    assert changed.status_code == 200, changed.content
    assert api.delete(path, headers={"If-Match": tag}).status_code == 412
    assert api.delete(path, headers={"If-Match": changed["ETag"]}).status_code == 204


@pytest.mark.concurrency
def test_two_writers_with_the_same_version_one_wins_the_other_is_412(committed_tenant):
    """The comparison is made under the row lock: of two edits based on one read, the second
    sees the first's result and is refused, not silently lost."""
    conc = committed_tenant
    product = product_with_stock(conc.workspace, "10", actor=conc.owner)
    invoice = make_invoice(
        workspace=conc.workspace,
        actor=conc.owner,
        contact=ContactFactory(),
        items=[item(product, 1)],
    )

    def client() -> ApiClient:
        return ApiClient(Client(), conc.token, prefix=f"/t/{conc.tenant.slug}")

    tag = client().get(f"/invoices/{invoice.pk}")["ETag"]
    responses = run_concurrently(
        conc.tenant,
        lambda i: client().patch(
            f"/invoices/{invoice.pk}", {"notes": f"writer {i}"}, headers={"If-Match": tag}
        ),
        2,
    )
    assert sorted(r.status_code for r in responses) == [200, 412]
    [winner] = [r for r in responses if r.status_code == 200]
    invoice.refresh_from_db()
    assert invoice.notes == winner.json()["data"]["notes"]
    assert invoice.total_amount == Decimal("10.00")
