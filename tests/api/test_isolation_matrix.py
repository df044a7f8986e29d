"""The isolation matrix: every API route, every method it allows, against the two boundaries a
record must never cross (SPEC §2–§4).

1. **Tenants.** A valid token of tenant ``globex`` presented to tenant ``acme`` is
   ``401 {"message": "Unauthenticated."}`` on every route and method, through both addresses
   (``/t/acme/api/v1/...`` and ``Host: acme.{OPTIFLOW_BASE_DOMAIN}``).
2. **Workspaces.** A user who is a member of the ``branch`` workspace only, holding every
   permission there, cannot read or change the records of the ``main`` workspace: naming the
   main workspace in ``X-Workspace-ID`` is ``403`` on every authenticated route; addressing a
   main record by id on a workspace-scoped route is ``404``/``403`` and writes nothing at all
   (every tenant table is compared before and after); lists do not contain the main records.
   Routes over tenant-wide resources are asserted to *be* shared (the branch member reads the
   main-created record) and are pinned in ``TENANT_WIDE_RESOURCES`` for a reviewer to see.
   Creations whose body names another workspace or its rows (``CROSS_REFERENCES``) are refused.
   The member lacks only ``view_all_locations``, the documented read-across permission.
3. **Public routes.** The set of (method, route) answering an anonymous request with anything
   but ``401`` is exactly ``PUBLIC``: a new route that forgot authentication fails.

Routes are enumerated at collection time by walking ``optiflow.urls_api`` (``URLResolver`` /
``URLPattern``, DRF router regexes turned into templates such as ``invoices/{pk}``). A viewset
route's methods are its ``actions`` map; a plain view's are the handlers it implements among
``http_method_names`` (``HEAD`` and ``OPTIONS`` are left out: Django and DRF derive them from
``GET`` and the metadata class for every view alike). A route's model comes from its viewset
(``queryset.model``, else the output serializer's ``Meta.model``), its isolation class from the
viewset's ``workspace_scoped`` flag (the one ``ApiViewSet.get_queryset`` and the OpenAPI schema
read) and the model's relation to ``Workspace``. So a new route on an existing resource, or a new
workspace-scoped resource, is covered without editing this file; a new resource that is *not*
workspace-scoped fails ``test_route_classification_is_pinned`` until someone declares it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.db.models import ForeignKey, Model
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from billing.models import DocumentSeries, Invoice, Payment, Quotation
from contacts.models import Contact
from inventory.models import (
    Category,
    Product,
    StockAdjustment,
    StockLevel,
    StockMovement,
    StockTransfer,
    Tax,
)
from inventory.services import (
    AdjustmentItem,
    TransferItem,
    stock_adjustment_create,
    stock_transfer_create,
)
from tenants.access import PERMISSIONS
from tenants.models import ApiToken, Membership, User, Workspace
from tenants.routers import PUBLIC_ONLY_MODELS
from tests.billing.factories import item, make_invoice, make_quotation
from tests.contacts.factories import ContactFactory
from tests.factories import FORBIDDEN, ApiClient, UserFactory, WorkspaceFactory, make_user
from tests.inventory.factories import CategoryFactory, ProductFactory, TaxFactory, give_stock

D = Decimal
UNAUTHENTICATED = {"message": "Unauthenticated."}

#: The only (method, route) pairs that answer without a token (SPEC §3, §10).
PUBLIC = frozenset({
    ("GET", "health"),
    ("GET", "health/ready"),
    ("GET", "schema"),
    ("GET", "docs"),
    ("GET", "redoc"),
    ("POST", "auth/token"),
})  # fmt: skip

#: Resources shared by every workspace of a tenant. SPEC §8.1–§8.4 says so for contacts, taxes,
#: categories and products; document series (§8.6) and users (§4) have no workspace either.
TENANT_WIDE_RESOURCES = frozenset(
    {"categories", "contacts", "document-series", "products", "taxes", "users"}
)
#: Unscoped routes over a workspace-owned model that take the workspace from the body and
#: check the caller's permission in it (``test_bodies_cannot_reach_into_another_workspace``).
WORKSPACE_IN_BODY_RESOURCES = frozenset({"initial-stock"})
#: Records that belong to one user rather than a workspace: another user's are out of reach.
OWN_RECORD_MODELS = frozenset({ApiToken})

# Isolation classes.
PUBLIC_ROUTE = "public"
WORKSPACE = "workspace-scoped"
WORKSPACE_ADMIN = "workspace administration"
OWN_RECORDS = "caller's own records"
TENANT_WIDE = "tenant-wide"
WORKSPACE_IN_BODY = "workspace in body"
NO_RECORD = "no record"
#: Classes whose records the branch member must not reach.
PRIVATE = frozenset({WORKSPACE, WORKSPACE_ADMIN, OWN_RECORDS})

#: Sent on every write: a field each resource could change, so a leaking write is visible in
#: the before/after comparison of the tables rather than a no-op.
WRITE_BODY = {
    "name": "Leaked",
    "description": "leaked",
    "notes": "leaked",
    "minimum_quantity": "99.00",
    "amount": "1.00",
    "method": "cash",
    "role": "admin",
    "is_active": False,
}


# --- route enumeration (collection time: URL resolution needs no database) -----------------


def _template(pattern: RoutePattern | RegexPattern) -> str:
    """``^invoices/(?P<pk>[0-9]+)$`` → ``invoices/{pk}``; ``<int:pk>`` → ``{pk}``."""
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = re.sub(r"\(\?P<(\w+)>[^()]*\)", r"{\1}", text.removeprefix("^").removesuffix("$"))
        if re.search(r"[\\()\[\]^$*+?|]", text):
            raise ValueError(f"Cannot turn URL regex {pattern!s} into a template; extend _template")
        return text
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)


@dataclass(frozen=True)
class Route:
    template: str
    view: type
    #: Upper-case method → viewset action (or the lower-case handler name of a plain view).
    actions: tuple[tuple[str, str], ...]

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(method for method, _ in self.actions)

    @property
    def resource(self) -> str:
        return self.template.split("/", 1)[0]

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.template)

    @property
    def model(self) -> type[Model] | None:
        queryset = getattr(self.view, "queryset", None)
        if queryset is not None:
            return queryset.model
        meta = getattr(getattr(self.view, "serializer_class", None), "Meta", None)
        return getattr(meta, "model", None)

    def is_list(self, method: str) -> bool:
        return dict(self.actions).get(method) == "list"

    def isolation(self, method: str) -> str:
        if (method, self.template) in PUBLIC:
            return PUBLIC_ROUTE
        model = self.model
        if getattr(self.view, "workspace_scoped", False):
            return WORKSPACE
        if model is Workspace:
            return WORKSPACE_ADMIN
        if model in OWN_RECORD_MODELS:
            return OWN_RECORDS
        if model is None:
            return NO_RECORD
        if any(
            isinstance(field, ForeignKey) and field.related_model is Workspace and not field.null
            for field in model._meta.get_fields()
        ):
            return WORKSPACE_IN_BODY
        return TENANT_WIDE


def _walk(patterns, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _template(entry.pattern))
        else:
            yield prefix + _template(entry.pattern), entry


def enumerate_routes() -> list[Route]:
    routes = []
    for template, pattern in _walk(get_resolver("optiflow.urls_api").url_patterns):
        callback = pattern.callback
        view = getattr(callback, "cls", None) or callback.view_class
        actions = getattr(callback, "actions", None)
        if actions is None:  # a plain view: the handlers it implements
            actions = {
                name: name
                for name in view.http_method_names
                if name not in ("head", "options") and hasattr(view, name)
            }
        pairs = tuple(
            (method.upper(), action)
            for method, action in actions.items()
            if method not in ("head", "options")
        )
        routes.append(Route(template, view, pairs))
    return routes


ROUTES = enumerate_routes()
PAIRS = [(route, method) for route in ROUTES for method in route.methods]
AUTHENTICATED_PAIRS = [(r, m) for r, m in PAIRS if r.isolation(m) != PUBLIC_ROUTE]


def pair_id(pair: tuple[Route, str]) -> str:
    route, method = pair
    return f"{method} {route.template}"


def by_pair(pairs: list[tuple[Route, str]]):
    return pytest.mark.parametrize(("route", "method"), pairs, ids=[pair_id(p) for p in pairs])


# --- requests -------------------------------------------------------------------------------


def address_forms(client, token: str | None, slug: str = "acme") -> dict[str, ApiClient]:
    """The same caller through both tenant addresses (SPEC §2)."""
    return {
        "path prefix": ApiClient(client, token, prefix=f"/t/{slug}"),
        "host": ApiClient(client, token, host=f"{slug}.{settings.OPTIFLOW_BASE_DOMAIN}"),
    }


def call(api: ApiClient, route: Route, method: str, path: str, headers: dict | None = None):
    if method == "GET":
        params = {"per_page": 100} if route.is_list(method) else {}
        return api.get(path, params, headers=headers)
    body = WRITE_BODY if method in ("POST", "PUT", "PATCH") else None
    return api.send(method.lower(), path, body, headers=headers)


def placeholder_path(route: Route) -> str:
    # Authentication runs before any record is looked up, so any id will do: a route that
    # answered anything but 401 (a 404 for an unknown id included) would fail all the same.
    return "/" + re.sub(r"\{\w+\}", "1", route.template)


@pytest.fixture(autouse=True)
def matrix_settings(settings) -> None:
    """Rate limits have their own tests and would cut the matrix short; the users the matrix
    makes need no slow password hashing (each test makes two)."""
    settings.OPTIFLOW_RATE_LIMIT_USER = "100000/min"
    settings.OPTIFLOW_RATE_LIMIT_ANON = "100000/min"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- 1. another tenant's token -------------------------------------------------------------


def test_other_tenants_token_is_valid_in_its_own_tenant(client, tenant, other_tenant):
    """The control for the next test: the 401s below come from the tenant boundary, not from
    a broken token."""
    for form, api in address_forms(client, other_tenant.token, slug="globex").items():
        response = api.get("/me")
        assert response.status_code == 200, (form, response.content)
        assert response.json()["data"]["email"] == other_tenant.owner.email


@by_pair(PAIRS)
def test_other_tenants_token_is_401(route, method, client, tenant, other_tenant):
    # Both tenants were provisioned with token id 1: the foreign id names a real acme token,
    # so only the secret separates them.
    foreign_id = int(other_tenant.token.split("|", 1)[0])
    assert ApiToken.objects.filter(pk=foreign_id).exists(), "precondition: colliding token ids"
    anonymous = address_forms(client, None)

    for form, api in address_forms(client, other_tenant.token).items():
        response = call(api, route, method, placeholder_path(route))
        if route.isolation(method) == PUBLIC_ROUTE:
            # A public route may answer without a token, but the foreign one adds nothing.
            expected = call(anonymous[form], route, method, placeholder_path(route)).status_code
            assert response.status_code in (401, expected), (form, response.content)
            continue
        assert response.status_code == 401, (form, response.content)
        assert response.json() == UNAUTHENTICATED, form
        assert response["WWW-Authenticate"] == "Bearer", form


# --- 3. the public routes -------------------------------------------------------------------


def test_only_the_declared_public_routes_answer_without_a_token(client, tenant):
    declared = set(PUBLIC)
    enumerated = {(method, route.template) for route, method in PAIRS}
    assert declared <= enumerated, f"PUBLIC names routes that do not exist: {declared - enumerated}"

    for form, api in address_forms(client, None).items():
        answered, wrong_body = set(), []
        for route, method in PAIRS:
            response = call(api, route, method, placeholder_path(route))
            if response.status_code != 401:
                answered.add((method, route.template))
            elif response.json() != UNAUTHENTICATED or response["WWW-Authenticate"] != "Bearer":
                wrong_body.append(pair_id((route, method)))
        assert answered == declared, (
            f"{form}: routes answering without a token: {sorted(answered - declared)}; "
            f"declared public but demanding one: {sorted(declared - answered)}"
        )
        assert wrong_body == [], f"{form}: 401 without the SPEC §3 body/header: {wrong_body}"


# --- 2. another workspace's member ---------------------------------------------------------


@dataclass
class Matrix:
    """One record of every kind in the main workspace (or tenant-wide, created from it)."""

    main: Workspace
    branch: Workspace
    records: dict[type[Model], Model]
    #: Path parameters other than ``pk``.
    params: dict[str, Model]
    #: Every row of each model the branch member must not see in a list.
    hidden: dict[type[Model], set[int]]

    def record(self, model: type[Model] | None, route: Route) -> Model:
        if model not in self.records:
            name = model.__name__ if model else "(none derived)"
            pytest.fail(
                f"{route.template}: add a record for model {name} to the matrix fixture",
                pytrace=False,
            )
        return self.records[model]

    def path(self, route: Route) -> str:
        path = route.template
        for name in route.params:
            if name == "pk":
                value = self.record(route.model, route).pk
            elif name in self.params:
                value = self.params[name].pk
            else:
                pytest.fail(f"{route.template}: add a value for {{{name}}} to Matrix.params")
            path = path.replace(f"{{{name}}}", str(value))
        return "/" + path


@pytest.fixture
def matrix(tenant, owner, main, branch) -> Matrix:
    # A main → branch transfer is listed in both workspaces by design (SPEC §8.5); the record
    # the branch member must not see moves stock between main and a third workspace.
    warehouse = WorkspaceFactory(owner=owner, name="Warehouse")
    contact, category, tax = ContactFactory(), CategoryFactory(), TaxFactory()
    product = ProductFactory(category=category, default_tax=tax)
    level = give_stock(product, main, "100", actor=owner)
    adjustment = stock_adjustment_create(
        workspace=main, actor=owner,
        items=[AdjustmentItem(product=product, quantity=D("-1"), reason="damaged")],
    )  # fmt: skip
    transfer = stock_transfer_create(
        from_workspace=main, to_workspace=warehouse, actor=owner,
        items=[TransferItem(product=product, quantity=D("2"))],
    )  # fmt: skip
    invoice = make_invoice(
        workspace=main, actor=owner, contact=contact, items=[item(product, 3)],
        payment={"amount": D("1.00"), "method": "cash"},
    )  # fmt: skip
    quotation = make_quotation(workspace=main, actor=owner, contact=contact, items=[item(product)])
    member = UserFactory(name="Main Member")
    Membership.objects.create(user=member, workspace=main, role="member")

    records: dict[type[Model], Model] = {
        Contact: contact,
        Category: category,
        Tax: tax,
        Product: product,
        StockLevel: level,
        StockMovement: StockMovement.objects.filter(workspace=main).order_by("pk").first(),
        StockAdjustment: adjustment,
        StockTransfer: transfer,
        DocumentSeries: invoice.document_series,
        Invoice: invoice,
        Payment: invoice.payments.get(),
        Quotation: quotation,
        User: member,
        ApiToken: ApiToken.objects.filter(user=owner).order_by("pk").first(),
        Workspace: main,
    }
    # Taken before the branch member exists: nothing below is theirs except their workspace.
    hidden = {model: set(model.objects.values_list("pk", flat=True)) for model in records}
    hidden[Workspace].discard(branch.pk)
    return Matrix(main, branch, records, {"user_id": member}, hidden)


@pytest.fixture
def outsider(tenant, branch, client) -> dict[str, ApiClient]:
    """A member of the branch workspace only, holding every permission there except
    ``view_all_locations`` (the documented way to read other workspaces, SPEC §4), through
    both addresses. Warmed up so that its token's ``last_used_at`` is already written."""
    _, token = make_user(
        workspace=branch,
        role="member",
        permissions=[p for p in PERMISSIONS if p != "view_all_locations"],
    )
    forms = address_forms(client, token)
    for api in forms.values():
        assert api.get("/me").status_code == 200
    return forms


def tenant_tables() -> dict[str, list[tuple]]:
    """Every row of every tenant table (``last_used_at`` aside): equal before and after a
    refused request means it wrote nothing anywhere, outbox events included."""
    state = {}
    for label in ("tenants", "optiflow", "contacts", "inventory", "billing"):
        for model in apps.get_app_config(label).get_models():
            meta = model._meta
            if (meta.app_label, meta.model_name) in PUBLIC_ONLY_MODELS:
                continue
            rows = model.objects.order_by("pk").values()
            state[meta.label] = [
                tuple(sorted((k, v) for k, v in row.items() if k != "last_used_at")) for row in rows
            ]
    return state


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(label for label in before if before[label] != after[label])


def test_route_classification_is_pinned():
    """Which routes the matrix treats as shared by all workspaces, and which take their
    workspace from the body: derived from the code, pinned here for a reviewer."""
    derived: dict[str, set[str]] = {}
    for route, method in PAIRS:
        derived.setdefault(route.isolation(method), set()).add(route.resource)
    assert derived.get(TENANT_WIDE, set()) == TENANT_WIDE_RESOURCES, derived
    assert derived.get(WORKSPACE_IN_BODY, set()) == WORKSPACE_IN_BODY_RESOURCES, derived
    # Every scoped viewset's model really is workspace-owned (a ForeignKey path to Workspace).
    for route, _ in PAIRS:
        if getattr(route.view, "workspace_scoped", False):
            lookups = route.view.workspace_lookup
            for lookup in (lookups,) if isinstance(lookups, str) else lookups:
                model = route.model
                for part in lookup.split("__"):
                    model = model._meta.get_field(part).related_model
                assert model is Workspace, (route.template, lookup)


@by_pair(AUTHENTICATED_PAIRS)
def test_other_workspace_member_cannot_reach_main_records(route, method, matrix, outsider):
    isolation = route.isolation(method)
    path = matrix.path(route)
    model = route.model

    before = tenant_tables()
    for form, api in outsider.items():
        where = f"{form}: {method} {path} ({isolation})"

        # Selecting the main workspace is refused before any handler runs.
        response = call(api, route, method, path, headers={"X-Workspace-ID": str(matrix.main.pk)})
        assert response.status_code == 403, (where, response.content)
        assert response.json() == FORBIDDEN, where
        assert changed_tables(before, tenant_tables()) == [], where

        # In their own workspace (no header: their only membership).
        if isolation in PRIVATE and route.params:
            response = call(api, route, method, path)
            assert response.status_code in (403, 404), (where, response.content)
            assert set(response.json()) == {"message"}, where
            assert changed_tables(before, tenant_tables()) == [], where
        elif isolation in PRIVATE and method == "GET":
            response = call(api, route, method, path)
            assert response.status_code == 200, (where, response.content)
            listed = {row["id"] for row in response.json()["data"]}
            assert matrix.hidden[model], where  # the fixture made rows to hide
            assert listed & matrix.hidden[model] == set(), where
        elif isolation == TENANT_WIDE:
            # Shared by design: the branch member reaches the record created from main.
            record = matrix.record(model, route)
            response = call(api, route, method, path)
            if method == "GET" and route.params:
                assert response.status_code == 200, (where, response.content)
                assert response.json()["data"]["id"] == record.pk, where
            elif method == "GET":
                assert response.status_code == 200, (where, response.content)
                assert record.pk in {row["id"] for row in response.json()["data"]}, where
            else:
                assert response.status_code not in (401, 403, 404), (where, response.content)
                assert response.status_code < 500, (where, response.content)
                before = tenant_tables()  # the write may have succeeded, as it may here
        # Left: creating on a private collection (lands in the caller's own workspace; bodies
        # naming another workspace's rows are the next test), the workspace-in-body route
        # (ditto) and routes without a record (`/me`): the header check above is theirs.


def _payment_of_main_invoice(matrix: Matrix) -> dict[str, Any]:
    return {"invoice_id": matrix.records[Invoice].pk, "amount": "1.00", "method": "cash"}


def _transfer(source: str, target: str):
    def body(matrix: Matrix) -> dict[str, Any]:
        ends = {"main": matrix.main.pk, "branch": matrix.branch.pk}
        return {
            "from_workspace_id": ends[source],
            "to_workspace_id": ends[target],
            "items": [{"product_id": matrix.records[Product].pk, "quantity": "1"}],
        }

    return body


def _initial_stock_in_main(matrix: Matrix) -> dict[str, Any]:
    product = ProductFactory()  # no level anywhere yet: a leak would really write one
    return {"product_id": product.pk, "workspace_id": matrix.main.pk, "quantity": "5"}


def _product_with_stock_in_main(matrix: Matrix) -> dict[str, Any]:
    return {
        "name": "Smuggled",
        "sku": "SMUGGLED-1",
        "price": "1.00",
        "initial_stock": [{"workspace_id": matrix.main.pk, "quantity": "5"}],
    }


#: Creations whose body names a row of another workspace (declared by hand: bodies are not
#: derivable from the URL configuration).
CROSS_REFERENCES = [
    pytest.param("/payments", _payment_of_main_invoice, 422, id="payments: main invoice"),
    pytest.param("/stock-transfers", _transfer("main", "branch"), 403, id="transfer from main"),
    pytest.param("/stock-transfers", _transfer("branch", "main"), 403, id="transfer to main"),
    pytest.param("/initial-stock", _initial_stock_in_main, 403, id="initial stock in main"),
    pytest.param("/products", _product_with_stock_in_main, 403, id="product stocked in main"),
]


@pytest.mark.parametrize(("path", "body", "expected"), CROSS_REFERENCES)
def test_bodies_cannot_reach_into_another_workspace(path, body, expected, matrix, outsider):
    for form, api in outsider.items():
        payload = body(matrix)
        before = tenant_tables()
        response = api.post(path, payload)
        assert response.status_code == expected, (form, response.content)
        if expected == 422:
            assert list(response.json()["errors"]) == ["invoice_id"], form
        else:
            assert response.json() == FORBIDDEN, form
        assert changed_tables(before, tenant_tables()) == [], form
