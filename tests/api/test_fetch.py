"""``optiflow.api.fetch`` and ``optiflow.db.records`` against Django: ``records`` builds the
instances ``QuerySet`` iteration builds, and ``prefetch`` reaches from every row the records
``prefetch_related_objects`` reaches, the same way (caches, prefetched querysets, ``to_attr``),
with one query per lookup and none afterwards."""

from __future__ import annotations

import pytest
from django.db.models import Count, Model, Prefetch, prefetch_related_objects
from django.db.models.signals import post_init

from billing import demo as billing_demo
from billing.models import Invoice
from company import demo as company_demo
from contacts import demo as contacts_demo
from inventory import demo as inventory_demo
from inventory.models import Product, StockLevel
from inventory.selectors import stock_level_list
from optiflow.api.fetch import prefetch
from optiflow.db.records import record, records


@pytest.fixture
def seeded(owner, main, branch) -> None:
    for seed in (company_demo.seed, contacts_demo.seed, inventory_demo.seed, billing_demo.seed):
        seed(owner=owner, workspaces=[main, branch])


def reached(record: Model, path: list[str]) -> list:
    """What ``path`` reaches from ``record`` through the caches a prefetch fills, as ids."""
    if not path:
        return [record.pk]
    name, rest = path[0], path[1:]
    value = getattr(record, name)
    if hasattr(value, "all"):  # a related manager: its prefetched queryset
        value = value.all()
    if value is None:
        return [None]
    related = value if isinstance(value, list | tuple) or hasattr(value, "model") else [value]
    return [[each.pk, reached(each, rest)] for each in related]


def paths(lookups: list) -> list[list[str]]:
    return [
        (lookup.prefetch_to if isinstance(lookup, Prefetch) else lookup).split("__")
        for lookup in lookups
    ]


def lookups_of(model: type[Model], main) -> list:
    return {
        Invoice: [
            "items",
            "items__product",
            "items__product__category",
            "items__taxes",
            "contact",
            "document_series",
            "workspace",
            "created_by",
            "payments",
            "quotation",  # a one-to-one: left to Django
        ],
        StockLevel: ["product", "product__category", "workspace"],
        Product: [
            Prefetch(
                "stock_levels", stock_level_list(workspace_ids=[main.pk]), "current_stock_levels"
            ),
            Prefetch("stock_levels", stock_level_list(), "visible_stock_levels"),
            "category",
            "default_tax",
        ],
    }[model]


@pytest.mark.parametrize("model", [Invoice, StockLevel, Product])
def test_a_page_reaches_what_djangos_prefetch_reaches(
    seeded, main, model, django_assert_num_queries
):
    lookups = lookups_of(model, main)
    reference = list(model.objects.order_by("pk"))
    prefetch_related_objects(reference, *lookups)
    rows = list(model.objects.order_by("pk"))
    assert rows

    with django_assert_num_queries(len(lookups)):
        prefetch(rows, lookups_of(model, main))
    with django_assert_num_queries(0):
        fast = [[reached(row, path) for path in paths(lookups)] for row in rows]
    assert fast == [[reached(row, path) for path in paths(lookups)] for row in reference]


def test_an_empty_page_queries_nothing(tenant, django_assert_num_queries):
    with django_assert_num_queries(0):
        prefetch([], ["items", "items__product"])


def state(record: Model) -> tuple:
    return type(record), record.__dict__.keys(), record._state.adding, record._state.db


@pytest.mark.parametrize("model", [Invoice, StockLevel, Product])
def test_records_are_the_instances_django_builds(seeded, model):
    built = records(model.objects.order_by("pk"))
    django = list(model.objects.order_by("pk"))
    assert built
    assert [state(record) for record in built] == [state(record) for record in django]
    assert [vars(record) | {"_state": None} for record in built] == [
        vars(record) | {"_state": None} for record in django
    ]


def test_an_annotated_queryset_is_iterated_by_django(seeded):
    (product,) = records(Product.objects.annotate(levels=Count("stock_levels"))[:1])
    assert product.levels == product.stock_levels.count()


def test_a_record_from_a_row_is_the_instance_django_builds(seeded):
    names = [field.attname for field in Product._meta.concrete_fields]
    (values,) = Product.objects.order_by("pk").values_list(*names)[:1]
    built = record(Product, names, values, "default")
    assert state(built) == state(django := Product.objects.get(pk=values[0]))
    assert vars(built) | {"_state": None} == vars(django) | {"_state": None}


def test_a_record_is_built_by_django_while_an_init_signal_has_a_receiver(seeded):
    names = [field.attname for field in Product._meta.concrete_fields]
    (values,) = Product.objects.order_by("pk").values_list(*names)[:1]
    seen = []

    def receiver(sender, instance, **kwargs) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=Product)
    try:
        built = record(Product, names, values, "default")
    finally:
        post_init.disconnect(receiver, sender=Product)
    assert seen == [built]
