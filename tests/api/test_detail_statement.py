"""``optiflow.api.fetch.Statement`` and the viewsets' detail statements
(``optiflow.api.views.detail_statement``) against Django: a detail read through its compiled
statement runs the SQL ``QuerySet.get`` runs, builds the instance Django builds and answers the
same bytes. Scoping through the statement (another workspace's record is a ``404``) is proven
for every route by ``test_isolation_matrix``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, get_resolver

from billing import demo as billing_demo
from company import demo as company_demo
from contacts import demo as contacts_demo
from contacts.models import Contact
from inventory import demo as inventory_demo
from inventory.models import Product
from optiflow.api import views
from optiflow.api.fetch import Slot, Statement
from optiflow.api.views import ApiViewSet, detail_statement

#: The viewsets whose detail read is a statement: every other one builds its queryset per
#: request (``base_queryset`` or ``filter_queryset`` overridden) and is read by the ORM.
STATEMENT_VIEWSETS = frozenset(
    {
        "CategoryViewSet",
        "DocumentSeriesViewSet",
        "PaymentViewSet",
        "ProductViewSet",
        "StockAdjustmentViewSet",
        "StockMovementViewSet",
        "StockTransferViewSet",
        "TaxViewSet",
        "UserViewSet",
    }
)


def detail_routes() -> Iterator[tuple[str, type[ApiViewSet]]]:
    """``(route, viewset)`` of every ``GET /{resource}/{pk}`` of ``optiflow.urls_api``."""

    def walk(patterns, prefix: str = "") -> Iterator[tuple[str, object]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    for route, callback in walk(get_resolver("optiflow.urls_api").url_patterns):
        viewset = getattr(callback, "cls", None)
        if (getattr(callback, "actions", None) or {}).get("get") == "retrieve":
            yield route.removeprefix("^").split("/(?P<pk>")[0], viewset


def test_the_viewsets_with_a_detail_statement_are_pinned():
    assert {
        viewset.__name__ for _, viewset in detail_routes() if detail_statement(viewset)
    } == STATEMENT_VIEWSETS


@pytest.fixture
def seeded(owner, main, branch) -> None:
    for seed in (company_demo.seed, contacts_demo.seed, inventory_demo.seed, billing_demo.seed):
        seed(owner=owner, workspaces=[main, branch])


def statement_routes() -> list[tuple[str, type[ApiViewSet]]]:
    return [(route, viewset) for route, viewset in detail_routes() if detail_statement(viewset)]


@pytest.mark.parametrize(("route", "viewset"), statement_routes())
def test_a_detail_read_runs_the_orms_sql_and_answers_the_same(
    seeded, api, main, monkeypatch, route, viewset
):
    record = viewset.queryset.order_by("pk").first()
    assert record is not None
    headers = {"X-Workspace-ID": str(main.pk)}
    api.get("/me")  # the token's last use written before the reads compared

    def read() -> tuple[int, bytes, str | None, list[str]]:
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/{route}/{record.pk}", headers=headers)
        return (
            response.status_code,
            response.content,
            response.get("ETag"),
            [query["sql"] for query in queries],
        )

    through_statement = read()
    monkeypatch.setattr(views, "detail_statement", lambda viewset: None)
    through_orm = read()
    assert through_statement[0] == 200
    assert through_statement[:3] == through_orm[:3]
    # The caller, then the record; a detail's includes are prefetched after it (the ORM's
    # prefetch_related and fetch.prefetch write those statements differently).
    assert len(through_statement[3]) == len(through_orm[3])
    assert through_statement[3][:2] == through_orm[3][:2]


def state(record) -> tuple:
    return type(record), record._state.adding, record._state.db, vars(record) | {"_state": None}


def test_a_statement_builds_the_record_django_builds_its_converters_applied(seeded):
    """Contact's ``metadata`` is a JSONField: a column with a converter."""
    contact = Contact.objects.exclude(metadata={}).first() or Contact.objects.first()
    contact.metadata = {"source": "fair", "tags": ["a", "b"]}
    contact.save()
    statement = Statement.one_of(Contact.objects.filter(pk=Slot("pk", Contact._meta.pk)))
    assert statement.converters
    built = statement.get(pk=contact.pk)
    assert built.metadata == {"source": "fair", "tags": ["a", "b"]}
    assert state(built) == state(Contact.objects.get(pk=contact.pk))


def test_a_statement_is_executed_with_its_slots_filled(seeded, django_assert_num_queries):
    statement = Statement.one_of(Product.objects.filter(pk=Slot("pk", Product._meta.pk)))
    first, second = Product.objects.order_by("pk")[:2]
    with django_assert_num_queries(2):
        assert statement.get(pk=first.pk).sku == first.sku
        assert statement.get(pk=second.pk).sku == second.sku


def test_a_statement_answers_as_get_does(seeded):
    missing = Statement.one_of(Product.objects.filter(pk=Slot("pk", Product._meta.pk)))
    with pytest.raises(Product.DoesNotExist):
        missing.get(pk=0)
    active = Slot("active", Product._meta.get_field("is_active"))
    every = Statement.one_of(Product.objects.filter(is_active=active))
    with pytest.raises(Product.MultipleObjectsReturned):
        every.get(active=True)


def test_a_queryset_records_would_leave_to_django_has_no_statement(seeded):
    assert Statement.one_of(Product.objects.annotate(levels=Count("stock_levels"))) is None
    assert Statement.one_of(Product.objects.select_related("category")) is None
    assert Statement.one_of(Product.objects.only("sku")) is None
    assert Statement.one_of(Product.objects.values_list("sku")) is None


@pytest.mark.parametrize("name", ["get_queryset", "scoped"])
def test_a_viewset_cannot_override_workspace_scoping(name):
    with pytest.raises(TypeError, match=f"overrides {name}"):
        type("Bypass", (ApiViewSet,), {name: lambda self, *args: None})
