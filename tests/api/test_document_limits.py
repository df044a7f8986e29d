"""SPEC §5 "Limits": a document, adjustment or transfer holds at most 1,000 items. One more is
a 422 on ``items``, refused before any line is looked at, so nothing is written and no
numbering or stock lock is taken; exactly 1,000 is accepted."""

from __future__ import annotations

import pytest

from optiflow.api.serializers import MAX_DOCUMENT_ITEMS
from tests.billing.factories import billing_state, item, make_invoice, make_quotation
from tests.contacts.factories import ContactFactory
from tests.factories import WorkspaceFactory
from tests.inventory.factories import ProductFactory

TOO_MANY = {"items": ["At most 1,000 items are allowed; split the document."]}


@pytest.fixture
def customer(tenant):
    return ContactFactory()


@pytest.fixture
def service(tenant):
    return ProductFactory(product_type="service", track_stock=False)


def lines(product, count: int, **extra) -> list[dict]:
    return [item(product, 1, **extra) for _ in range(count)]


@pytest.fixture
def bodies(owner, main, customer, service) -> dict:
    """Each write that takes items: (method, path, body with one item too many)."""
    over = MAX_DOCUMENT_ITEMS + 1
    draft = make_invoice(
        workspace=main, actor=owner, contact=customer, items=lines(service, 1), draft=True
    )
    quotation = make_quotation(
        workspace=main, actor=owner, contact=customer, items=lines(service, 1)
    )
    branch = WorkspaceFactory(owner=owner)
    return {
        "invoice create": (
            "post",
            "/invoices",
            {"contact_id": customer.pk, "items": lines(service, over)},
        ),
        "invoice update": ("patch", f"/invoices/{draft.pk}", {"items": lines(service, over)}),
        "quotation create": (
            "post",
            "/quotations",
            {"contact_id": customer.pk, "items": lines(service, over)},
        ),
        "quotation update": (
            "patch",
            f"/quotations/{quotation.pk}",
            {"items": lines(service, over)},
        ),
        "adjustment": (
            "post",
            "/stock-adjustments",
            {"items": [{"product_id": service.pk, "quantity": "1", "reason": "found"}] * over},
        ),
        "transfer": (
            "post",
            "/stock-transfers",
            {
                "to_workspace_id": branch.pk,
                "items": [{"product_id": service.pk, "quantity": "1"}] * over,
            },
        ),
    }


@pytest.mark.parametrize(
    "write",
    [
        "invoice create",
        "invoice update",
        "quotation create",
        "quotation update",
        "adjustment",
        "transfer",
    ],
)
def test_one_item_over_the_limit_is_refused_before_any_line_is_read(
    api, bodies, write, django_assert_max_num_queries
):
    method, path, body = bodies[write]
    before = billing_state()

    # The request's own few queries (tenant, token, memberships, the record), none per line.
    with django_assert_max_num_queries(10):
        response = getattr(api, method)(path, body)

    assert response.status_code == 422, response.content
    assert response.json()["errors"] == TOO_MANY
    assert billing_state() == before


def test_exactly_the_limit_is_accepted(api, customer, service):
    response = api.post(
        "/quotations", {"contact_id": customer.pk, "items": lines(service, MAX_DOCUMENT_ITEMS)}
    )

    assert response.status_code == 201, response.content
    assert len(response.json()["data"]["items"]) == MAX_DOCUMENT_ITEMS


def test_the_openapi_document_states_the_limit(api):
    schema = api.client.get("/api/v1/schema", {"format": "json"}).json()["components"]["schemas"]

    for name in (
        "InvoiceCreateRequest",
        "PatchedQuotationUpdateRequest",
        "StockTransferCreateRequest",
    ):
        items = schema[name]["properties"]["items"]
        assert (items["minItems"], items["maxItems"]) == (1, MAX_DOCUMENT_ITEMS)
