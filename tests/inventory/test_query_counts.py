"""The query count of every catalog and ledger list, with every include on, is pinned and the
same for 3 rows as for 30 (SPEC §6: prefetching, never a query per row).

Each count is the request's fixed cost (2: the token with its user and memberships, and its
last use), the page's count and rows (2), and one query per include path."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.services import (
    AdjustmentItem,
    TransferItem,
    stock_adjustment_create,
    stock_transfer_create,
)
from tests.inventory.factories import CategoryFactory, ProductFactory, TaxFactory, give_stock

ROWS = [3, 30]


def products_with_stock(count, owner, main, branch):
    products = []
    for _ in range(count):
        product = ProductFactory(category=CategoryFactory(), default_tax=TaxFactory())
        give_stock(product, main, "10", actor=owner)
        give_stock(product, branch, "10", actor=owner)
        products.append(product)
    return products


def fetch(api, path, include, queries, django_assert_num_queries, rows):
    with django_assert_num_queries(queries):
        response = api.get(path, {"include": include, "per_page": 100})
    assert response.status_code == 200, response.content
    assert len(response.json()["data"]) == rows


@pytest.mark.parametrize("rows", ROWS)
def test_taxes(api, rows, django_assert_num_queries):
    TaxFactory.create_batch(rows)
    fetch(api, "/taxes", "", 4, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_categories(api, rows, django_assert_num_queries):
    parent = CategoryFactory()
    CategoryFactory.create_batch(rows - 1, parent=parent)
    fetch(api, "/categories", "", 4, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_products(api, owner, main, branch, rows, django_assert_num_queries):
    products_with_stock(rows, owner, main, branch)
    include = "category,default_tax,stock,stock_levels"
    fetch(api, "/products", include, 8, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_stock_levels(api, owner, main, branch, rows, django_assert_num_queries):
    products_with_stock(rows, owner, main, branch)
    include = "product,product.category,workspace"
    fetch(api, "/stock-levels", include, 7, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_stock_movements(api, owner, main, branch, rows, django_assert_num_queries):
    products_with_stock(rows, owner, main, branch)
    fetch(api, "/stock-movements", "product,created_by", 6, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_stock_adjustments(api, owner, main, branch, rows, django_assert_num_queries):
    products = products_with_stock(2, owner, main, branch)
    for _ in range(rows):
        items = [AdjustmentItem(product, Decimal("1"), "found") for product in products]
        stock_adjustment_create(workspace=main, actor=owner, items=items)
    include = "items,items.product,created_by"
    fetch(api, "/stock-adjustments", include, 7, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_stock_transfers(api, owner, main, branch, rows, django_assert_num_queries):
    products = products_with_stock(2, owner, main, branch)
    for index in range(rows):
        source, target = (main, branch) if index % 2 else (branch, main)
        items = [TransferItem(product, Decimal("0.1")) for product in products]
        stock_transfer_create(from_workspace=source, to_workspace=target, actor=owner, items=items)
    include = "items,items.product,from_workspace,to_workspace,created_by"
    fetch(api, "/stock-transfers", include, 9, django_assert_num_queries, rows)


def created_with_queries(api, path, body) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.post(path, body)
    assert response.status_code == 201, response.content
    return len(queries)


def test_adjustment_and_transfer_writes_cost_the_same_for_3_lines_as_for_30(
    api, owner, main, branch
):
    """Line products are loaded for the whole request at once, never one query per line."""
    api.get("/me")  # the first call records the token's last use; measure steady state
    counts = {}
    for lines in ROWS:
        products = [ProductFactory() for _ in range(lines)]
        for product in products:
            give_stock(product, main, "10", actor=owner)
        adjustment = {
            "items": [{"product_id": p.pk, "quantity": "-1", "reason": "damaged"} for p in products]
        }
        transfer = {
            "to_workspace_id": branch.pk,
            "items": [{"product_id": p.pk, "quantity": "1"} for p in products],
        }
        counts[lines] = (
            created_with_queries(api, "/stock-adjustments", adjustment),
            created_with_queries(api, "/stock-transfers", transfer),
        )
    assert counts[3] == counts[30]


def test_unknown_line_product_is_422_on_that_line(api, owner, main):
    product = ProductFactory()
    give_stock(product, main, "10", actor=owner)
    response = api.post(
        "/stock-adjustments",
        {
            "items": [
                {"product_id": product.pk, "quantity": "1", "reason": "found"},
                {"product_id": 987654, "quantity": "1", "reason": "found"},
            ]
        },
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"items.1.product_id"}
