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
   The member lacks only ``view_all_locations``, the documented read-across permission.
3. **Ids in bodies.** Every id a request body names is a ``ScopedRelatedField`` (door 3 of
   ``tenants.access``); the cases are derived from the fields declared on every route's input
   serializers (``BODY_REFERENCES``), not kept by hand. Each names a row the caller must not
   use — another workspace's row, a workspace where the caller lacks the field's permission, or
   another tenant's row for tenant-wide records — and is refused (``422`` under that field, or
   ``403``) writing nothing; the same body naming the caller's own row is not refused there.
4. **Token abilities.** A token of the tenant owner limited to ``["contacts:view"]`` reaches
   exactly the routes any token may use and the contact reads; every other route, the token
   routes included (minting ``["*"]``, revoking the owner's other token), is ``403`` and writes
   nothing.
5. **Public routes.** The set of (method, route) answering an anonymous request with anything
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
from django_tenants.utils import schema_context
from rest_framework import serializers

from billing.models import DocumentSeries, DocumentType, Invoice, Payment, Quotation
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
from optiflow.api.serializers import ScopedRelatedField
from optiflow.models import Event
from tenants.access import PERMISSIONS
from tenants.models import ApiToken, Membership, User, Workspace
from tenants.routers import PUBLIC_ONLY_MODELS
from tenants.services import token_create
from tests.billing.factories import item, make_invoice, make_quotation
from tests.contacts.factories import ContactFactory
from tests.factories import FORBIDDEN, ApiClient, UserFactory, WorkspaceFactory, make_user
from tests.inventory.factories import CategoryFactory, ProductFactory, TaxFactory, give_stock
from webhooks.models import WebhookDelivery, WebhookSubscription
from webhooks.services import subscription_create

D = Decimal
UNAUTHENTICATED = {"message": "Unauthenticated."}

#: The only (method, route) pairs that answer without a token (SPEC §3, §10).
PUBLIC = frozenset(
    {
        ("GET", "health"),
        ("GET", "health/ready"),
        ("GET", "schema"),
        ("GET", "docs"),
        ("GET", "redoc"),
        ("POST", "auth/token"),
    }
)

#: Resources shared by every workspace of a tenant. SPEC §8.1–§8.4 says so for contacts, taxes,
#: categories and products; document series (§8.6) and users (§4) have no workspace either.
TENANT_WIDE_RESOURCES = frozenset(
    {"categories", "contacts", "document-series", "products", "taxes", "users"}
)
#: Resources whose records name their workspaces in a list (``workspace_ids``), not a foreign
#: key: each caller sees those within the workspaces where they hold the permission that
#: matters (events: the kind's view permission; webhooks: ``webhooks:manage``). Private, as
#: workspace-scoped ones are.
WORKSPACE_LIST_RESOURCES = frozenset({"events", "webhooks"})
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
        if (
            getattr(self.view, "workspace_scoped", False)
            or self.resource in WORKSPACE_LIST_RESOURCES
        ):
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
    """Rate limits have their own tests and would cut the matrix short."""
    settings.OPTIFLOW_RATE_LIMIT_USER = "100000/min"
    settings.OPTIFLOW_RATE_LIMIT_ANON = "100000/min"


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


# --- 5. the public routes -------------------------------------------------------------------


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
    #: The branch member's own records of the workspace-owned models (and their workspace).
    own: dict[type[Model], Model]

    def record(self, model: type[Model] | None, route: Route) -> Model:
        if model not in self.records:
            name = model.__name__ if model else "(none derived)"
            pytest.fail(
                f"{route.template}: add a record for model {name} to the matrix fixture",
                pytrace=False,
            )
        return self.records[model]

    def path(self, route: Route, *, own: bool = False) -> str:
        """The route's path naming the main records, or (``own``) the branch member's where
        the model is workspace-owned."""
        path = route.template
        for name in route.params:
            if name == "pk" and own and route.model in self.own:
                value = self.own[route.model].pk
            elif name == "pk":
                value = getattr(self.record(route.model, route), route.view.lookup_field)
            elif name in self.params:
                value = self.params[name].pk
            else:
                pytest.fail(f"{route.template}: add a value for {{{name}}} to Matrix.params")
            path = path.replace(f"{{{name}}}", str(value))
        return "/" + path


@pytest.fixture
def matrix(tenant, owner, main, branch, settings) -> Matrix:
    # A main → branch transfer is listed in both workspaces by design (SPEC §8.5); the record
    # the branch member must not see moves stock between main and a third workspace.
    warehouse = WorkspaceFactory(owner=owner, name="Warehouse")
    contact, category, tax = ContactFactory(), CategoryFactory(), TaxFactory()
    product = ProductFactory(category=category, default_tax=tax)
    level = give_stock(product, main, "100", actor=owner)
    adjustment = stock_adjustment_create(
        workspace=main,
        actor=owner,
        items=[AdjustmentItem(product=product, quantity=D("-1"), reason="damaged")],
    )
    transfer = stock_transfer_create(
        from_workspace=main,
        to_workspace=warehouse,
        actor=owner,
        items=[TransferItem(product=product, quantity=D("2"))],
    )
    invoice = make_invoice(
        workspace=main,
        actor=owner,
        contact=contact,
        items=[item(product, 3)],
        payment={"amount": D("1.00"), "method": "cash"},
    )
    quotation = make_quotation(workspace=main, actor=owner, contact=contact, items=[item(product)])
    member = UserFactory(name="Main Member")
    Membership.objects.create(user=member, workspace=main, role="member")
    settings.OPTIFLOW_WEBHOOKS_ALLOW_PRIVATE = True  # no name to resolve
    webhook = subscription_create(
        url="https://127.0.0.1/hook", events=["*"], workspace_ids=[main.pk]
    )
    delivery = WebhookDelivery.objects.create(subscription=webhook, event=Event.objects.first())

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
        Event: Event.objects.filter(workspace_ids=[main.pk]).order_by("pk").first(),
        WebhookSubscription: webhook,
        WebhookDelivery: delivery,
    }
    # Taken before the branch member exists: nothing below is theirs except their workspace.
    hidden = {model: set(model.objects.values_list("pk", flat=True)) for model in records}
    hidden[Workspace].discard(branch.pk)
    # Records of the branch, for the routes a body case goes through (a draft of each kind:
    # editable, convertible).
    own = {
        Workspace: branch,
        Invoice: make_invoice(
            workspace=branch, actor=owner, contact=contact, items=[item(product)], draft=True
        ),
        Quotation: make_quotation(
            workspace=branch, actor=owner, contact=contact, items=[item(product)]
        ),
        WebhookSubscription: subscription_create(
            url="https://127.0.0.1/hook", events=["*"], workspace_ids=[branch.pk]
        ),
    }
    return Matrix(main, branch, records, {"user_id": member, "webhook_pk": webhook}, hidden, own)


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
    for label in ("tenants", "optiflow", "contacts", "inventory", "billing", "company", "webhooks"):
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


# --- 3. ids in request bodies ---------------------------------------------------------------


@dataclass(frozen=True)
class BodyReference:
    """A ``ScopedRelatedField`` on the input serializer of one (route, method), at ``path`` in
    the body (``("items", 0, "tax_ids", 0)``)."""

    route: Route
    method: str
    path: tuple[str | int, ...]
    field: ScopedRelatedField

    @property
    def key(self) -> str:
        """Where its errors are reported (SPEC §5): ``items.0.tax_ids.0``."""
        return ".".join(str(part) for part in self.path)

    @property
    def model(self) -> type[Model]:
        return self.field.queryset.model

    def body(self, pk: int) -> dict[str, Any]:
        """The smallest body naming ``pk`` at ``path``."""
        value: Any = pk
        for part in reversed(self.path):
            value = [value] if isinstance(part, int) else {part: value}
        return value

    def __str__(self) -> str:
        return f"{self.method} {self.route.template} {self.key}"


def body_fields(serializer: serializers.Serializer, prefix: tuple = ()) -> Iterator[tuple]:
    """(path, field) of every writable leaf field of an input serializer, nested ones too."""
    for name, field in serializer.fields.items():
        if not field.read_only:
            yield from _leaves(field, (*prefix, name))


def _leaves(field: serializers.Field, path: tuple) -> Iterator[tuple]:
    if isinstance(field, serializers.ListSerializer):
        yield from body_fields(field.child, (*path, 0))
    elif isinstance(field, serializers.ListField):
        yield from _leaves(field.child, (*path, 0))
    elif isinstance(field, serializers.Serializer):
        yield from body_fields(field, path)
    else:
        yield path, field


def input_serializers() -> Iterator[tuple[Route, str, serializers.Serializer]]:
    for route, method in PAIRS:
        serializer_class = getattr(route.view, "input_serializers", {}).get(
            dict(route.actions)[method]
        )
        if serializer_class is not None:
            yield route, method, serializer_class()


BODY_REFERENCES = [
    BodyReference(route, method, path, field)
    for route, method, serializer in input_serializers()
    for path, field in body_fields(serializer)
    if isinstance(field, ScopedRelatedField)
]
#: The body references this matrix listed by hand before it derived them: still covered.
HAND_KEPT_BEFORE = frozenset(
    {
        ("POST", "payments", "invoice_id"),
        ("POST", "stock-transfers", "from_workspace_id"),
        ("POST", "stock-transfers", "to_workspace_id"),
        ("POST", "initial-stock", "workspace_id"),
        ("POST", "products", "initial_stock.0.workspace_id"),
    }
)


def test_every_id_in_a_body_is_a_scoped_field(capsys):
    """An ``*_id`` / ``*_ids`` input resolved any other way would escape door 3 and this
    matrix; the derived cases cover at least those once kept by hand."""
    unscoped = [
        f"{method} {route.template} {'.'.join(map(str, path))}"
        for route, method, serializer in input_serializers()
        for path, field in body_fields(serializer)
        if str([p for p in path if isinstance(p, str)][-1]).endswith(("_id", "_ids"))
        and not isinstance(field, ScopedRelatedField)
    ]
    assert unscoped == []
    derived = {(r.method, r.route.template, r.key) for r in BODY_REFERENCES}
    assert derived >= HAND_KEPT_BEFORE, HAND_KEPT_BEFORE - derived
    with capsys.disabled():
        print(
            f"\n[isolation matrix] {len(BODY_REFERENCES)} (route, method, body reference) cases "
            f"derived from the scoped fields ({len(HAND_KEPT_BEFORE)} were kept by hand before)"
        )


#: Far above any id this session's tenants reach, so no row of acme has it.
FOREIGN_ID = 900_000


def foreign_rows(model: type[Model]) -> list[Model]:
    """Rows of ``model`` in the other tenant, with ids no row of this tenant has (run inside
    the other tenant's schema); several where a field may accept only some of them."""
    builders = {
        Contact: lambda: [ContactFactory(id=FOREIGN_ID)],
        Product: lambda: [ProductFactory(id=FOREIGN_ID)],
        Tax: lambda: [TaxFactory(id=FOREIGN_ID)],
        Category: lambda: [CategoryFactory(id=FOREIGN_ID)],
        User: lambda: [UserFactory(id=FOREIGN_ID)],
        Workspace: lambda: [WorkspaceFactory(id=FOREIGN_ID)],
        DocumentSeries: lambda: [
            DocumentSeries.objects.create(
                id=FOREIGN_ID + n, name="Foreign", document_type=kind, prefix=f"F{n}-"
            )
            for n, kind in enumerate(DocumentType.values)
        ],
    }
    if model not in builders:
        pytest.fail(f"add a row of the other tenant for {model.__name__} to foreign_rows")
    return builders[model]()


@dataclass(frozen=True)
class BodyCase:
    reference: BodyReference
    refused: int  # the id the caller must not use
    allowed: int  # the caller's own, for the control
    status: int  # 403, or 422 under the field


def body_case(reference: BodyReference, matrix: Matrix, other_tenant, made: dict) -> BodyCase:
    field = reference.field
    if field.permission is not None:  # a workspace id: the caller lacks the permission in main
        return BodyCase(reference, matrix.main.pk, matrix.branch.pk, 403)
    if field.workspace_lookup is not None:  # a workspace-owned row: main's is out of reach
        rows = field.queryset.order_by("pk")
        main_row = rows.filter(**{field.workspace_lookup: matrix.main}).first()
        own_row = rows.filter(**{field.workspace_lookup: matrix.branch}).first()
        assert main_row and own_row, f"{reference}: the fixture needs a row in each workspace"
        return BodyCase(reference, main_row.pk, own_row.pk, 422)
    # A tenant-wide row: another tenant's, one the field would take in that tenant.
    model = reference.model
    with schema_context(other_tenant.tenant.schema_name):
        if model not in made:
            made[model] = [row.pk for row in foreign_rows(model)]
        foreign = field.queryset.filter(pk__in=made[model]).values_list("pk", flat=True).first()
    assert foreign is not None, f"{reference}: no row of the other tenant fits the field"
    assert not model.objects.filter(pk=foreign).exists(), f"{reference}: id {foreign} exists here"
    return BodyCase(reference, foreign, field.queryset.order_by("pk").first().pk, 422)


def test_ids_in_bodies_cannot_name_rows_out_of_reach(matrix, outsider, other_tenant):
    made: dict[type[Model], list[int]] = {}
    failures = []
    for reference in BODY_REFERENCES:
        case = body_case(reference, matrix, other_tenant, made)
        path = matrix.path(reference.route, own=True)
        message = reference.field.error_messages["does_not_exist"]
        for form, api in outsider.items():
            where = f"{form}: {reference}"
            before = tenant_tables()
            response = call_with(api, reference.method, path, reference.body(case.refused))
            if response.status_code != case.status:
                failures.append(f"{where}: {response.status_code} {response.content[:200]!r}")
            elif case.status == 403 and response.json() != FORBIDDEN:
                failures.append(f"{where}: {response.json()}")
            elif case.status == 422 and response.json()["errors"].get(reference.key) != [message]:
                failures.append(f"{where}: {response.json()['errors']}")
            written = changed_tables(before, tenant_tables())
            if written:
                failures.append(f"{where}: wrote {written}")
            # The control: the caller's own row is not refused there.
            response = call_with(api, reference.method, path, reference.body(case.allowed))
            errors = response.json().get("errors", {}) if response.status_code == 422 else {}
            if response.status_code == 403 or message in errors.get(reference.key, []):
                failures.append(f"{where}: own row refused: {response.content[:200]!r}")
    assert failures == [], "\n".join(failures)


def call_with(api: ApiClient, method: str, path: str, body: dict[str, Any]):
    return api.send(method.lower(), path, body)


# --- 4. a narrow token of the tenant owner --------------------------------------------------

NARROW_ABILITIES = ["contacts:view"]
#: What a token limited to ``NARROW_ABILITIES`` reaches: the routes open to any token, and
#: contact reads. Everything else, the token routes included, is ``403``.
REACHED_BY_NARROW_TOKEN = frozenset(
    {
        ("GET", "me"),
        ("GET", "tokens"),
        ("GET", "workspaces"),
        ("GET", "workspaces/{pk}"),
        ("GET", "workspaces/{pk}/members"),
        ("POST", "workspaces/{pk}/switch"),
        ("GET", "company"),
        ("GET", "taxes"),
        ("GET", "taxes/{pk}"),
        ("GET", "contacts"),
        ("GET", "contacts/{pk}"),
        ("GET", "events"),  # every caller reads the feed, seeing only the kinds they may view
    }
)
#: Open to any token, but the matrix's record is of a kind the narrow token may not view.
HIDDEN_FROM_NARROW_TOKEN = frozenset({("GET", "events/{pk}")})


def test_a_narrow_token_reaches_only_what_its_abilities_allow(matrix, client, tenant, owner):
    """The tenant owner holds every permission everywhere: only the token limits it. Token
    routes included: the body asks for the default `["*"]` token, and the token revoked is the
    owner's provisioned one (SPEC §3)."""
    _, token = token_create(user=owner, name="narrow", abilities=NARROW_ABILITIES)
    api = ApiClient(client, token, prefix="/t/acme")
    assert api.get("/me").status_code == 200  # warm up: last_used_at written
    failures = []
    before = tenant_tables()
    for route, method in AUTHENTICATED_PAIRS:
        where = f"{method} {route.template}"
        path = matrix.path(route)
        if method == "GET":
            response = call(api, route, method, path)
        else:  # a body any route accepts as far as its permission checks
            response = call_with(api, method, path, {"name": "Leaked"})
        if (method, route.template) in HIDDEN_FROM_NARROW_TOKEN:
            if response.status_code != 404:
                failures.append(f"{where}: {response.status_code} {response.content[:200]!r}")
            continue
        if (method, route.template) in REACHED_BY_NARROW_TOKEN:
            if response.status_code != 200:
                failures.append(f"{where}: {response.status_code} {response.content[:200]!r}")
            before = tenant_tables()  # a reached write may write (switch)
            continue
        if response.status_code != 403 or response.json() != FORBIDDEN:
            failures.append(f"{where}: {response.status_code} {response.content[:200]!r}")
        after = tenant_tables()
        if changed_tables(before, after):
            failures.append(f"{where}: wrote {changed_tables(before, after)}")
            before = after
    assert failures == [], "\n".join(failures)
