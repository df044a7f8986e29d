"""The viewsets' compiled detail reads (``optiflow.api.views.detail_query``) against Django:
a detail read through its compiled query runs the SQL ``QuerySet.get`` runs and answers the
same bytes (``tests/db/test_records.py`` compares ``CompiledQuery`` itself with Django).
Scoping through it (another workspace's record is a ``404``) is proven for every route by
``test_isolation_matrix``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, get_resolver

from billing import demo as billing_demo
from company import demo as company_demo
from contacts import demo as contacts_demo
from inventory import demo as inventory_demo
from optiflow.api import views
from optiflow.api.views import ApiViewSet, detail_query
from optiflow.db.records import shape

#: The viewsets whose detail read is compiled once: every other one builds its queryset per
#: request (``base_queryset`` or ``filter_queryset`` overridden) and is read by the ORM.
STATEMENT_VIEWSETS = frozenset(
    {
        "CategoryViewSet",
        "DocumentSeriesViewSet",
        "InvoiceViewSet",
        "PaymentViewSet",
        "ProductViewSet",
        "QuotationViewSet",
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


def test_the_viewsets_with_a_detail_query_are_pinned():
    assert {
        viewset.__name__ for _, viewset in detail_routes() if detail_query(viewset)
    } == STATEMENT_VIEWSETS


@pytest.fixture
def seeded(owner, main, branch) -> None:
    for seed in (company_demo.seed, contacts_demo.seed, inventory_demo.seed, billing_demo.seed):
        seed(owner=owner, workspaces=[main, branch])


def compiled_routes() -> list[tuple[str, type[ApiViewSet]]]:
    return [(route, viewset) for route, viewset in detail_routes() if detail_query(viewset)]


@pytest.mark.parametrize(("route", "viewset"), compiled_routes())
def test_a_detail_read_runs_djangos_sql_and_answers_as_the_orm_path(
    seeded, api, main, monkeypatch, route, viewset
):
    record = viewset.queryset.order_by("pk").first()
    assert record is not None
    headers = {"X-Workspace-ID": str(main.pk)}
    # What Django runs for the compiled query's queryset with this request's values: the
    # viewset's rows, scoped to the workspace, by id, as ``QuerySet.get`` reads them.
    query = detail_query(viewset)
    values = [record.pk, main.pk] if viewset.workspace_scoped else [record.pk]
    with CaptureQueriesContext(connection) as django:
        queryset = query.build(*values)
        list(queryset.values_list(*shape(queryset).lookups))
    (djangos,) = [query["sql"] for query in django]
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

    through_compiled = read()
    monkeypatch.setattr(views, "detail_query", lambda viewset: None)
    through_orm = read()
    assert through_compiled[0] == 200
    assert through_compiled[:3] == through_orm[:3]
    # The caller, then the record; a detail's includes are prefetched after it (the ORM's
    # prefetch_related and fetch.prefetch write those statements differently).
    assert len(through_compiled[3]) == len(through_orm[3])
    assert through_compiled[3][0] == through_orm[3][0]
    assert through_compiled[3][1] == djangos


@pytest.mark.parametrize("name", ["get_queryset", "scoped"])
def test_a_viewset_cannot_override_workspace_scoping(name):
    with pytest.raises(TypeError, match=f"overrides {name}"):
        type("Bypass", (ApiViewSet,), {name: lambda self, *args: None})
