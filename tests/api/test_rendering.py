"""The compiled plans of ``optiflow.api.rendering`` against the serializers they are compiled
from: for every resource list, each include it accepts (alone, all together, none), and each
record's detail, the body and ``ETag`` are byte for byte those DRF's serializers and renderer
give on the same rows (a list's includes fetched by Django's prefetch rather than
``optiflow.api.fetch``), and the body validates against the OpenAPI document.

The rows are the demo tenant's (every resource and relation) plus the awkward ones: nulls,
non-ASCII and U+2028 text, zero and negative decimals, floats Python and orjson spell
differently, an integer beyond 64 bits, empty includes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
import schemathesis
from django.core.exceptions import ImproperlyConfigured
from django.db.models import prefetch_related_objects
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer
from schemathesis.core.transport import Response as CheckedResponse

from billing import demo as billing_demo
from company import demo as company_demo
from contacts import demo as contacts_demo
from contacts.services import contact_create
from inventory import demo as inventory_demo
from inventory.models import StockLevel
from inventory.services import product_create
from optiflow.api import renderers, views
from optiflow.api.rendering import ExactFloat, dumps, exact_floats, plan_for
from optiflow.api.views import ApiViewSet, ListMixin, RetrieveMixin
from tests.factories import ids
from webhooks.models import WebhookSubscription
from webhooks.services import subscription_create


def routes() -> list[tuple[str, type[ApiViewSet]]]:
    from billing.urls import router as billing
    from contacts.urls import router as contacts
    from inventory.urls import router as inventory
    from tenants.urls import router as tenants
    from webhooks.urls import router as webhooks

    return [
        (prefix, viewset)
        for router in (contacts, inventory, billing, tenants, webhooks)
        for prefix, viewset, _ in router.registry
    ]


def accepted_includes(viewset: type[ApiViewSet]) -> list[str]:
    view = viewset()
    view.request = None  # as at schema generation: the declared includes, whoever asks
    return sorted(view.include_prefetches)


@pytest.fixture
def seeded(tenant, owner, main, branch, settings) -> WebhookSubscription:
    """The demo's records, their events delivered to a webhook, and the awkward rows."""
    settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE = True  # no name to resolve
    webhook = subscription_create(url="https://127.0.0.1/hook", events=["*"])
    for seed in (company_demo.seed, contacts_demo.seed, inventory_demo.seed, billing_demo.seed):
        seed(owner=owner, workspaces=[main, branch])
    contact_create(
        name="Zoë Ünal – 東京\u2028Ω",
        contact_type="customer",
        metadata={
            "ratio": 1e16,
            "small": 1.5e-7,
            "tiny": 0.00001,
            "nested": [0.1, {"x": -2.5, "none": None}, []],
            "text": "line\u2029end",
            "huge": 2**70,  # beyond orjson's 64 bits
        },
    )
    product_create(
        actor=owner,
        name="Café crème ☕",
        sku="CAFE-0",
        product_type="service",
        price=Decimal("0.00"),
        cost=None,
        default_tax=None,
    )
    level = StockLevel.objects.filter(workspace=main).order_by("id").first()
    StockLevel.objects.filter(pk=level.pk).update(quantity=Decimal("-3.50"))
    return webhook


@pytest.fixture(scope="module")
def document() -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))


@contextlib.contextmanager
def serializers_render() -> Iterator[None]:
    """Answers built as before plans: a list page's includes fetched by Django's
    ``prefetch_related_objects``, DRF's serializers on the rows, DRF's renderer."""

    def django_prefetch(rows, lookups):
        prefetch_related_objects(rows, *lookups)

    def drf_rows(self, rows, includes=None):
        includes = self.includes if includes is None else includes
        context = {**self.get_serializer_context(), "include": includes}
        return self.get_serializer_class()(rows, many=True, context=context).data

    def drf_dumps(data):
        return DRFJSONRenderer().render(data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(views, "prefetch", django_prefetch)
        patch.setattr(ApiViewSet, "render_rows", drf_rows)
        patch.setattr(views, "dumps", drf_dumps)
        patch.setattr(renderers, "dumps", drf_dumps)
        yield


def assert_same_answer(
    api, document, template: str, path: str, params: dict[str, str]
) -> list[int]:
    """``path`` answers the same with plans as with serializers, as ``template`` documents;
    the ids of a list's rows."""
    fast = api.get(path, params)
    with serializers_render():
        reference = api.get(path, params)
    where = f"GET {path} {params}"
    assert fast.status_code == reference.status_code == 200, (where, fast.content[:300])
    assert fast.content == reference.content, where
    assert fast.get("ETag") == reference.get("ETag"), where
    checked = CheckedResponse(
        status_code=fast.status_code,
        headers={key: [value] for key, value in fast.headers.items()},
        content=fast.content,
        request=requests.Request("GET", f"http://testserver/api/v1{path}").prepare(),
        elapsed=0,
        verify=False,
    )
    document["/api/v1" + template]["GET"].validate_response(checked)
    return ids(fast) if isinstance(fast.json()["data"], list) else []


def test_every_list_and_record_renders_as_its_serializer_does(api, document, seeded, settings):
    settings.OPTIFLOW_RATE_LIMIT_USER = "100000/min"
    for prefix, viewset in routes():
        if not issubclass(viewset, ListMixin):
            continue
        # A nested route's parent (a webhook's deliveries), as the document names it.
        template = "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", prefix)
        path = "/" + re.sub(r"\(\?P<\w+>[^)]*\)", str(seeded.pk), prefix)
        includes = accepted_includes(viewset)
        requests_ = [{}, *({"include": name} for name in includes)]
        if len(includes) > 1:
            requests_.append({"include": ",".join(includes)})
        found: list[int] = []
        for params in requests_:
            params = {"per_page": "100", **params}
            found = assert_same_answer(api, document, template, path, params)
        if issubclass(viewset, RetrieveMixin) and found:
            for params in [{}, *({"include": name} for name in includes)]:
                detail = f"{path}/{found[0]}"
                assert_same_answer(api, document, template + "/{id}", detail, params)


def test_stock_shows_where_the_caller_may_see_it(member_api, document, seeded, settings):
    """A member with ``inventory:view`` in the main workspace only: the permission-filtered
    includes render the same visible levels as the serializers do."""
    settings.OPTIFLOW_RATE_LIMIT_USER = "100000/min"
    member = member_api(permissions=["products:view", "inventory:view"])
    for include in ("stock", "stock_levels", "stock,stock_levels"):
        params = {"per_page": "100", "include": include}
        assert_same_answer(member, document, "/products", "/products", params)


def test_a_pretty_printed_body_is_drfs(api, seeded):
    pretty = {"Accept": "application/json; indent=2"}
    fast = api.get("/contacts", {"per_page": "100"}, headers=pretty)
    with serializers_render():
        reference = api.get("/contacts", {"per_page": "100"}, headers=pretty)
    assert fast.content.startswith(b'{\n  "data": [')
    assert fast.content == reference.content


def test_floats_are_written_as_python_writes_them():
    data = exact_floats({"a": [1e16, 1.5e-7, 0.00001, 0.1], "b": {"c": 2.5}, "d": "é\u2028"})
    assert isinstance(data["a"][0], ExactFloat)
    assert dumps(data) == DRFJSONRenderer().render(data)


def test_what_orjson_cannot_hold_is_written_by_drf():
    data = {"huge": 2**70, "ratio": ExactFloat(1e16)}
    assert dumps(data) == DRFJSONRenderer().render(data)


def test_values_without_floats_are_not_copied():
    metadata = {"a": ["x", 1, None, {"b": True}]}
    assert exact_floats(metadata) is metadata


class WithFloat(serializers.Serializer):
    ratio = serializers.FloatField()


class OwnRepresentation(serializers.Serializer):
    name = serializers.CharField()

    def to_representation(self, instance):
        return {"name": instance.name.upper()}


class OwnField(serializers.CharField):
    def to_representation(self, value):
        return value.upper()


class WithOwnField(serializers.Serializer):
    name = OwnField()


@pytest.mark.parametrize("serializer_class", [WithFloat, OwnRepresentation, WithOwnField])
def test_what_the_compiler_does_not_know_fails_loudly(serializer_class):
    with pytest.raises(ImproperlyConfigured):
        plan_for(serializer_class, frozenset())
