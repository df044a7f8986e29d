"""The floor of ``make bench`` (``bench.floor_app``) answers what the API answers: the same
bytes for each read it serves, the same shape for the invoice write. ``bench.floor`` checks it
again on its own data before measuring; this keeps the floor from drifting from the API
unnoticed when a serializer changes (a new field, another order or format)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection

from bench import floor_app
from billing.services.invoices import invoice_create
from contacts.services import contact_create
from inventory.models import StockLevel
from inventory.services import InitialStock, category_create, product_create, tax_create
from tests.factories import WorkspaceFactory


@pytest.fixture
def catalog(tenant, owner, main):
    """Products with and without a category, cost and barcode, accents in their text, stock
    in two workspaces (one level low, one out of stock), and two invoices with contacts."""
    branch = WorkspaceFactory(owner=owner, name="Succursale")
    standard = tax_create(name="Standard", rate=Decimal(20), is_default=True)
    reduced = tax_create(name="Réduit", rate=Decimal("5.5"))
    tools = category_create(name="Outils")
    garden = category_create(name="Jardin", parent=tools)
    products = [
        product_create(
            actor=owner,
            name=name,
            sku=f"FL-{n}",
            barcode=f"BC{n}" if n % 2 else None,
            price=Decimal(price),
            cost=None if cost is None else Decimal(cost),
            category=category,
            default_tax=tax,
            initial_stock=[
                InitialStock(main, Decimal(quantity), minimum_quantity=Decimal(5)),
                InitialStock(branch, Decimal(7)),
            ],
        )
        for n, (name, price, cost, category, tax, quantity) in enumerate(
            [
                ("Pelle «acier»", "19.99", "7.50", garden, standard, "40"),
                ("Zèbre en bois", "5.00", None, None, reduced, "8"),
                ("Agrafeuse", "12.35", "0.00", tools, None, "30"),
            ]
        )
    ]
    StockLevel.objects.filter(product=products[2], workspace=main).update(quantity=0)
    contacts = [
        contact_create(
            name=f"Client {n} ünïcode",
            contact_type="customer",
            email=f"c{n}@example.test",
            credit_limit=Decimal(1000),
            metadata={"segment": "trade", "rank": n, "tags": ["a", "é"], "ratio": 1.5},
        )
        for n in range(2)
    ]
    for n, contact in enumerate(contacts):
        issue_date = dt.date(2026, 1, 10 + n)
        invoice_create(
            workspace=main,
            actor=owner,
            contact=contact,
            items=[{"product": product, "quantity": Decimal(n + 1)} for product in products[:2]],
            issue_date=issue_date,
            due_date=issue_date + dt.timedelta(days=30),
        )
    return products, contacts


def floor_body(path: str, build, workspace_id: int | None = None) -> bytes:
    """``build(db, schema, page, workspace_id)`` on the test's own connection (which sees the
    test's rows), rendered."""
    connection.ensure_connection()
    db = floor_app.Counted(connection.connection)
    query = parse_qs(urlsplit(path).query, keep_blank_values=True)
    page = floor_app.Page(f"http://testserver{path}", query)
    return floor_app.render(build(db, connection.schema_name, page, workspace_id))


def products(db, schema, page, _):
    return floor_app.product_list(db, schema, page)


def invoices(db, schema, page, workspace_id):
    today = dt.datetime.now(dt.UTC).date()
    return floor_app.invoice_list(db, schema, page, workspace_id, today)


READS = [
    ("/products?include=category&per_page=2", products),
    ("/products?include=category&per_page=2&page=2", products),
    ("/products?include=category&per_page=2&page=9", products),
    ("/stock-levels?include=product,workspace&per_page=100", floor_app.stock_level_list),
    ("/invoices?include=items.product.category,contact&per_page=1", invoices),
    ("/invoices?include=items.product.category,contact&per_page=100&page=3", invoices),
]


@pytest.mark.parametrize(("path", "build"), READS)
def test_the_floor_answers_each_list_as_the_api_does(api, main, catalog, path, build):
    ours = api.get(path, headers={"X-Workspace-ID": str(main.pk)})
    assert ours.status_code == 200
    assert floor_body(api.url(path), build, main.pk) == ours.content


def test_the_floor_answers_a_product_as_the_api_does(api, catalog):
    for product in catalog[0]:
        ours = api.get(f"/products/{product.pk}")
        assert ours.status_code == 200

        def detail(db, schema, _, __, pk=product.pk):
            return floor_app.product_detail(db, schema, pk)

        assert floor_body(api.url(f"/products/{product.pk}"), detail) == ours.content


def test_the_floor_writes_an_invoice_of_the_api_s_shape_and_voids_it(
    api, tenant, owner, main, catalog
):
    products, contacts = catalog
    body = {
        "contact_id": contacts[0].pk,
        "issue_date": "2000-01-01",
        "items": [{"product_id": product.pk, "quantity": "2"} for product in products[:2]],
    }
    ours = api.send("post", "/invoices", body, headers={"X-Workspace-ID": str(main.pk)})
    assert ours.status_code == 201
    level = StockLevel.objects.get(product=products[0], workspace=main)
    before = level.quantity

    connection.ensure_connection()
    db = floor_app.Counted(connection.connection)
    schema = floor_app.Tenant(connection.schema_name, tenant.tenant.currency)
    caller = floor_app.Caller(owner.pk, main.pk)
    floor = floor_app.invoice_create(db, schema, caller, body)

    assert floor_app.shape(floor) == floor_app.shape(ours.json())
    for name in ("subtotal_amount", "tax_amount", "total_amount", "document_series_id"):
        assert floor["data"][name] == ours.json()["data"][name]
    level.refresh_from_db()
    assert level.quantity == before - 2
    floor_app.invoice_void(db, schema, caller, floor["data"]["id"])
    level.refresh_from_db()
    assert level.quantity == before
    assert db.count == 18  # the create's 10 and the void's 8, authentication aside
