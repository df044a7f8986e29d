"""The query count of every catalog and ledger list, with every include on, is pinned and the
same for 3 rows as for 30 (SPEC §6: prefetching, never a query per row).

Each count is the request's fixed cost (6: the search path twice, the tenant, the token and its
last use, the memberships), the page's count and rows (2), and one query per include path."""

from decimal import Decimal

import pytest

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
    fetch(api, "/taxes", "", 8, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_categories(api, rows, django_assert_num_queries):
    parent = CategoryFactory()
    CategoryFactory.create_batch(rows - 1, parent=parent)
    fetch(api, "/categories", "", 8, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_products(api, owner, main, branch, rows, django_assert_num_queries):
    products_with_stock(rows, owner, main, branch)
    include = "category,default_tax,stock,stock_levels"
    fetch(api, "/products", include, 12, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_stock_levels(api, owner, main, branch, rows, django_assert_num_queries):
    products_with_stock(rows, owner, main, branch)
    include = "product,product.category,workspace"
    fetch(api, "/stock-levels", include, 11, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_stock_movements(api, owner, main, branch, rows, django_assert_num_queries):
    products_with_stock(rows, owner, main, branch)
    fetch(api, "/stock-movements", "product,created_by", 10, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_stock_adjustments(api, owner, main, branch, rows, django_assert_num_queries):
    products = products_with_stock(2, owner, main, branch)
    for _ in range(rows):
        items = [AdjustmentItem(product, Decimal("1"), "found") for product in products]
        stock_adjustment_create(workspace=main, actor=owner, items=items)
    include = "items,items.product,created_by"
    fetch(api, "/stock-adjustments", include, 11, django_assert_num_queries, rows)


@pytest.mark.parametrize("rows", ROWS)
def test_stock_transfers(api, owner, main, branch, rows, django_assert_num_queries):
    products = products_with_stock(2, owner, main, branch)
    for index in range(rows):
        source, target = (main, branch) if index % 2 else (branch, main)
        items = [TransferItem(product, Decimal("0.1")) for product in products]
        stock_transfer_create(from_workspace=source, to_workspace=target, actor=owner, items=items)
    include = "items,items.product,from_workspace,to_workspace,created_by"
    fetch(api, "/stock-transfers", include, 13, django_assert_num_queries, rows)
