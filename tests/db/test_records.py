"""``optiflow.db.records.CompiledQuery`` runs the SQL Django compiles for its queryset, with
each call's values, in whichever tenant's schema is active, and builds the records Django
builds."""

from __future__ import annotations

from decimal import Decimal
from inspect import signature

import pytest
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.transaction import TransactionManagementError

import billing.services.invoices  # noqa: F401  (its compiled queries, compared below)
from billing.models import Invoice, InvoiceItem, Payment
from billing.services.invoices import invoice_create
from inventory.models import Product
from optiflow.db.records import AnyOf, CompiledQuery, raw_records
from optiflow.db.timeouts import lock_for_change
from optiflow.models import Event
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import ProductFactory


def loaded(record) -> tuple:
    """A record's class, state and values, with those of the records in its caches."""
    cached = {
        name: None if related is None else loaded(related)
        for name, related in record._state.fields_cache.items()
    }
    state = (type(record), record._state.adding, record._state.db)
    return state, vars(record) | {"_state": None}, cached


def invoice(owner, main, lines: int = 2) -> Invoice:
    products = [ProductFactory(track_stock=False) for _ in range(lines)]
    return invoice_create(
        workspace=main,
        actor=owner,
        contact=ContactFactory(),
        items=[{"product": product, "quantity": Decimal(1)} for product in products],
        draft=True,
    )


def lines_of(invoice_id):
    return InvoiceItem.objects.filter(invoice_id=invoice_id).select_related("product")


def test_records_are_djangos_for_each_call_with_one_statement(
    owner, main, django_assert_num_queries
):
    lines = CompiledQuery(lines_of)
    first, second = invoice(owner, main, 2), invoice(owner, main, 3)
    for document in (first, second, first):
        with django_assert_num_queries(1):
            found = lines.records(document.pk)
        assert [loaded(item) for item in found] == [loaded(item) for item in lines_of(document.pk)]
    assert len(lines.records(second.pk)) == 3


@pytest.mark.parametrize(
    ("model", "related"),
    [
        (InvoiceItem, ("product",)),
        # default_tax and category are nullable: joined outer, None where the key is null.
        (Product, ("default_tax", "category")),
    ],
)
def test_select_related_is_read_in_the_statement_as_django(
    owner, main, model, related, django_assert_num_queries
):
    invoice(owner, main, 3)
    ProductFactory(default_tax=None, category=None)
    compiled = CompiledQuery(
        lambda pk: model.objects.select_related(*related).filter(pk__gte=pk).order_by("pk")
    )
    with django_assert_num_queries(1):
        built = compiled.records(0)
    assert compiled.compiled.shape.joined
    django = list(model.objects.select_related(*related).filter(pk__gte=0).order_by("pk"))
    assert built
    assert [loaded(record) for record in built] == [loaded(record) for record in django]
    if model is Product:
        assert any(record.default_tax is None for record in built)


def test_deeper_select_related_is_left_to_django(owner, main, django_assert_num_queries):
    invoice(owner, main)
    compiled = CompiledQuery(
        lambda pk: InvoiceItem.objects.select_related("product__category").filter(pk__gte=pk)
    )
    (item, *_) = compiled.records(0)
    assert compiled.compiled.shape is None
    with django_assert_num_queries(0):  # Django's select_related filled both levels
        assert item.product.category_id is None or item.product.category is not None


def test_one_statement_serves_every_tenants_schema(owner, main, other_tenant, tenant):
    products = CompiledQuery(lambda pk: Product.objects.filter(pk__gte=pk))
    ProductFactory()
    here = {product.pk for product in products.records(0)}
    connection.set_tenant(other_tenant.tenant)
    try:
        there = {product.pk for product in products.records(0)}
        assert there == set(Product.objects.values_list("pk", flat=True))
    finally:
        connection.set_tenant(tenant.tenant)
    assert here == set(Product.objects.values_list("pk", flat=True))


def test_constants_are_kept_and_lists_go_as_one_array(owner, main):
    completed = CompiledQuery(
        lambda invoice_ids: Payment.objects.filter(
            AnyOf(F("invoice_id"), invoice_ids), status=Payment.Status.COMPLETED
        )
    )
    document = invoice(owner, main)
    assert completed.records([document.pk, document.pk + 1]) == []
    assert "ANY(%s)" in completed.compiled.sql


def test_get_answers_as_django(owner, main):
    by_id = CompiledQuery(lambda pk: Invoice.objects.filter(pk=pk))
    document = invoice(owner, main)
    assert loaded(by_id.get(document.pk)) == loaded(Invoice.objects.get(pk=document.pk))
    with pytest.raises(Invoice.DoesNotExist):
        by_id.get(document.pk + 1000)


def test_a_value_may_be_used_twice_but_not_never(owner, main):
    product = ProductFactory()
    twice = CompiledQuery(lambda pk: Product.objects.filter(Q(pk=pk) | Q(category_id=pk)))
    assert [found.pk for found in twice.records(product.pk)] == [product.pk]
    assert twice.compiled.params([product.pk]) == [product.pk, product.pk]
    with pytest.raises(ValueError, match="must be a parameter"):
        CompiledQuery(lambda pk: Product.objects.all()).records(1)


def test_a_lock_is_refused_outside_a_transaction_as_django_refuses_it(committed_tenant):
    locked = CompiledQuery(lambda pk: Product.objects.select_for_update().filter(pk=pk))
    with pytest.raises(TransactionManagementError):
        locked.records(1)  # before it is compiled
    with transaction.atomic():
        product = ProductFactory()
        assert locked.get(product.pk).pk == product.pk
    with pytest.raises(TransactionManagementError):
        locked.records(product.pk)  # once it is


def test_a_converted_column_is_converted_as_django_converts_it(tenant):
    # ``payload`` is a JSONField: Django parses what it reads.
    Event.objects.create(type="invoice.created", payload={"a": [1, "ü"], "b": None})
    events = CompiledQuery(lambda pk: Event.objects.filter(pk__gte=pk).order_by("pk"))
    found = events.records(0)
    assert found and events.compiled.converters
    assert [loaded(event) for event in found] == [
        loaded(event) for event in Event.objects.filter(pk__gte=0).order_by("pk")
    ]
    assert found[-1].payload == {"a": [1, "ü"], "b": None}


def test_every_compiled_query_is_what_django_compiles(owner, main):
    """The guard on Django's compiler: for every ``CompiledQuery`` of the code (and the
    statements of ``lock_for_change``), the SQL and parameters it runs for some values are
    exactly those Django compiles for its queryset with these values."""
    document = invoice(owner, main)
    with transaction.atomic():
        lock_for_change(Invoice, document.pk, label="invoice", related=("workspace",))
        lock_for_change(Invoice, document.pk, label="invoice")
    compared = 0
    for query in CompiledQuery.every:
        if query.build.__module__.startswith("tests."):
            continue
        with transaction.atomic():
            compiled = query.compiled or query.compile(len(signature(query.build).parameters))
        if compiled.shape is None:
            continue
        values = [document.pk + index for index in range(query.compiled.count)]
        django = query.build(*values).values_list(*query.compiled.shape.lookups)
        with transaction.atomic():
            sql, params = django.query.sql_with_params()
        assert (query.compiled.sql, list(query.compiled.params(values))) == (sql, list(params))
        compared += 1
    # The void's three and the invoice lock with its workspace; a lock with every relation
    # (``select_related()``) is Django's.
    assert compared >= 4


def test_raw_records_are_the_records_raw_builds(owner, main):
    invoice(owner, main, 3)
    sql = 'SELECT {columns} FROM "billing_invoiceitem" WHERE id >= %s ORDER BY id'
    built = raw_records(InvoiceItem, sql, [0])
    django = list(InvoiceItem.objects.raw(sql.format(columns="*"), [0]))
    assert len(built) >= 3
    assert [loaded(item) for item in built] == [loaded(item) for item in django]


def test_raw_records_of_a_converted_column_are_djangos(tenant):
    sql = 'SELECT {columns} FROM "optiflow_event" WHERE id >= %s'
    assert raw_records(Event, sql, [0]) == list(Event.objects.raw(sql.format(columns="*"), [0]))
