"""The fixed cost of a request (issue 16): a cached tenant, and the token, its user and their
memberships read in one statement that also proves the cached tenant right.

The cache is per process and nothing in this process tells it about a change: a row changed
with ``QuerySet.update`` here is what another process's change looks like to it.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import Product
from tenants.middleware import tenant_cache
from tenants.models import ApiToken, Domain, Membership, Tenant, User
from tenants.selectors import caller_for_token
from tenants.services import token_revoke
from tests.conftest import OWNER_PASSWORD
from tests.factories import ApiClient, make_user
from tests.inventory.factories import ProductFactory
from tests.servers import web_servers


def statements(call) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    return response, [query["sql"] for query in captured.captured_queries]


@pytest.fixture
def product(tenant) -> Product:
    return ProductFactory()


def test_an_authenticated_detail_read_costs_one_statement_besides_its_own(api, main, product):
    """The tenant from the cache, checked inside the token's statement; the token, its user
    and the memberships in that statement; then the product."""
    headers = {"X-Workspace-ID": str(main.pk)}
    assert api.get(f"/products/{product.pk}", headers=headers).status_code == 200  # warm
    response, sql = statements(lambda: api.get(f"/products/{product.pk}", headers=headers))
    assert response.status_code == 200
    assert response.json()["data"]["id"] == product.pk
    assert len(sql) == 2
    assert "tenants_apitoken" in sql[0] and "tenants_tenant" in sql[0]


def test_the_same_through_a_domain(client, tenant, product):
    api = ApiClient(client, tenant.token, host="acme.localhost")
    assert api.get(f"/products/{product.pk}").status_code == 200
    response, sql = statements(lambda: api.get(f"/products/{product.pk}"))
    assert response.status_code == 200
    assert len(sql) == 2
    assert "tenants_domain" in sql[0]


def test_memberships_read_with_the_token_are_the_callers(member_api, tenant, branch):
    member = member_api(permissions=["contacts:view"])
    me = member.get("/me").json()["data"]
    Membership.objects.create(user_id=me["id"], workspace=branch, permissions=["products:view"])
    assert member.get("/contacts").status_code == 200
    headers = {"X-Workspace-ID": str(branch.pk)}
    assert member.get("/contacts", headers=headers).status_code == 403
    assert member.get("/products", headers=headers).status_code == 200


def test_the_callers_records_are_those_the_orm_reads(tenant, main, branch):
    """The token, its user, and each membership with its workspace, each record as the ORM
    reads it and each relation already cached (reading it runs no statement)."""
    token = ApiToken.objects.get(user=tenant.owner)
    caller, holds = caller_for_token(token_id=token.pk)
    assert holds is True

    def state(record) -> tuple:
        fields = {f.attname: getattr(record, f.attname) for f in record._meta.concrete_fields}
        return type(record), fields, record._state.adding, record._state.db

    with CaptureQueriesContext(connection) as captured:
        found = [
            (caller.token, caller.token.user),
            *((m, m.user, m.workspace) for m in caller.memberships),
        ]
    assert not captured.captured_queries
    expected = [
        (token, token.user),
        *(
            (m, m.user, m.workspace)
            for m in Membership.objects.filter(user=tenant.owner).order_by("workspace_id")
        ),
    ]
    assert [[state(record) for record in each] for each in found] == [
        [state(record) for record in each] for each in expected
    ]
    assert {m.workspace for m in caller.memberships} == {main, branch}
    assert all(m.user is caller.token.user for m in caller.memberships)


def test_a_user_without_memberships_is_served(api, tenant):
    user, token = make_user(is_tenant_admin=True)
    response = api.as_token(token).get("/me")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == user.pk


# --- the tenant cache: changes made elsewhere ----------------------------------------------


def test_a_changed_tenant_row_is_read_again_by_the_next_request(api, tenant):
    assert api.get("/me").status_code == 200
    Tenant.objects.filter(pk=tenant.tenant.pk).update(name="Renamed", currency="EUR")
    response, sql = statements(lambda: api.get("/me"))
    assert response.status_code == 200
    assert len(sql) == 3  # the failed check, the tenant read again, the token read again
    cached = tenant_cache.get(("slug", "acme")).tenant
    assert (cached.name, cached.currency) == ("Renamed", "EUR")
    assert len(statements(lambda: api.get("/me"))[1]) == 1


def test_a_deleted_tenant_is_not_found_on_the_next_request(api, tenant):
    assert api.get("/me").status_code == 200
    Tenant.objects.filter(pk=tenant.tenant.pk).delete()  # the schema stays, as a moment ago
    response = api.get("/me")
    assert (response.status_code, response.json()) == (404, {"message": "Tenant not found."})
    assert tenant_cache.get(("slug", "acme")) is None
    assert api.get("/me").json() == {"message": "Tenant not found."}


def test_a_tenant_dropped_with_its_schema_is_not_found_on_the_next_request(
    client, committed_tenant
):
    """What a process that served a tenant since deleted holds: an entry for a schema that is
    gone (the request runs outside a transaction here, as a server's does)."""
    gone = Tenant(pk=2**31 - 1, slug="vanished", name="Gone", schema_name="t_vanished")
    tenant_cache.put(("slug", "vanished"), gone)
    api = ApiClient(client, committed_tenant.token, prefix="/t/vanished")
    response = api.get("/me")
    assert (response.status_code, response.json()) == (404, {"message": "Tenant not found."})
    assert tenant_cache.get(("slug", "vanished")) is None
    assert api.get("/me").json() == {"message": "Tenant not found."}


def test_a_domain_moved_to_another_tenant_answers_for_that_tenant(
    client, tenant, other_tenant, product
):
    acme = ApiClient(client, tenant.token, host="acme.localhost")
    assert acme.get(f"/products/{product.pk}").status_code == 200
    Domain.objects.filter(domain="acme.localhost").update(tenant=other_tenant.tenant)
    # acme's token means nothing in globex's schema, and acme's product is not there.
    assert acme.get(f"/products/{product.pk}").status_code == 401
    globex = ApiClient(client, other_tenant.token, host="acme.localhost")
    assert globex.get(f"/products/{product.pk}").status_code == 404
    assert globex.get("/me").json()["data"]["email"] == other_tenant.owner.email


def test_a_request_without_a_token_checks_the_cached_tenant_first(client, tenant, other_tenant):
    """The guard: a request whose first statement carries no check runs the check before it
    (here a password sign-in, on a host that moved to another tenant)."""
    acme = ApiClient(client, None, host="acme.localhost")
    assert acme.get("/health").status_code == 200  # cached
    assert tenant_cache.get(("host", "acme.localhost")).tenant.pk == tenant.tenant.pk
    Domain.objects.filter(domain="acme.localhost").update(tenant=other_tenant.tenant)
    login = {"email": other_tenant.owner.email, "password": OWNER_PASSWORD, "name": "n"}
    assert acme.post("/auth/token", login).status_code == 201
    login = {"email": tenant.owner.email, "password": OWNER_PASSWORD, "name": "n"}
    assert acme.post("/auth/token", login).status_code == 401


def test_unknown_addresses_are_not_cached(client, tenant):
    before = len(tenant_cache)
    for n in range(20):
        assert client.get(f"/t/nosuch-{n}/api/v1/me").status_code == 404
        host = {"Host": f"nosuch-{n}.localhost"}
        assert client.get("/api/v1/me", headers=host).status_code == 404
    assert client.get("/health").status_code == 200  # the bare host: the public schema
    assert len(tenant_cache) == before


def test_the_bare_hosts_own_names_need_no_lookup(client, tenant):
    response, sql = statements(lambda: client.get("/health", headers={"Host": "localhost"}))
    assert response.json() == {"data": {"status": "ok"}}
    assert [statement.rsplit("\n", 1)[-1] for statement in sql] == ["SELECT 1"]  # its own


# --- revocation, seen by the next request in another process ----------------------------


class Client:
    """A kept-alive connection to one server."""

    def __init__(self, url: str, token: str) -> None:
        address = urlparse(url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        self.token = token

    def call(self, method: str, path: str, body=None, token: str | None = None) -> int:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        self.connection.request(method, f"/t/conc/api/v1{path}", body=body, headers=headers)
        response = self.connection.getresponse()
        response.read()
        return response.status


@pytest.fixture(scope="module")
def two_servers(provisioned, django_db_blocker) -> Iterator[list[str]]:
    with web_servers({"OPTIFLOW_RATE_LIMIT_USER": "1000/min"}, count=2) as urls:
        yield urls


def test_revocations_reach_the_next_request_in_another_process(two_servers, committed_tenant):
    """Every change goes through one server (or, for the admin's revoke, this process), and
    the next request goes to the other, which has just served the caller."""
    owner_token = committed_tenant.token
    workspace = committed_tenant.workspace
    one, other = (Client(url, owner_token) for url in two_servers)

    _, token = make_user(workspace=workspace, permissions=["contacts:view"])
    token_id = int(token.split("|")[0])
    assert other.call("GET", "/me", token=token) == 200
    assert one.call("DELETE", f"/tokens/{token_id}", token=token) == 204
    assert other.call("GET", "/me", token=token) == 401

    _, token = make_user(workspace=workspace, permissions=["contacts:view"])
    assert other.call("GET", "/me", token=token) == 200
    token_revoke(token=ApiToken.objects.get(pk=int(token.split("|")[0])))  # the admin's revoke
    assert other.call("GET", "/me", token=token) == 401

    user, token = make_user(workspace=workspace, permissions=["contacts:view"])
    assert other.call("GET", "/me", token=token) == 200
    assert one.call("PATCH", f"/users/{user.pk}", {"is_active": False}) == 200
    assert other.call("GET", "/me", token=token) == 401
    assert not User.objects.get(pk=user.pk).is_active

    user, token = make_user(workspace=workspace, permissions=["contacts:view"])
    members = f"/workspaces/{workspace.pk}/members/{user.pk}"
    assert other.call("GET", "/contacts", token=token) == 200
    assert one.call("PATCH", members, {"permissions": ["products:view"]}) == 200
    assert other.call("GET", "/contacts", token=token) == 403
    assert other.call("GET", "/products", token=token) == 200
    assert one.call("DELETE", members) == 204
    assert other.call("GET", "/products", token=token) == 403


def test_a_tenant_change_reaches_the_next_request_in_another_process(
    two_servers, committed_tenant, other_tenant
):
    """A domain another process has cached, moved by this one: the server's next request on
    it is served by the tenant it names now."""
    server = Client(two_servers[0], committed_tenant.token)
    domain = Domain.objects.create(domain="conc-moved.localhost", tenant=committed_tenant.tenant)
    try:

        def me(token: str) -> int:
            server.connection.request(
                "GET",
                "/api/v1/me",
                headers={"Host": "conc-moved.localhost", "Authorization": f"Bearer {token}"},
            )
            response = server.connection.getresponse()
            response.read()
            return response.status

        assert me(committed_tenant.token) == 200
        Domain.objects.filter(pk=domain.pk).update(tenant=other_tenant.tenant)
        assert me(committed_tenant.token) == 401
        assert me(other_tenant.token) == 200
    finally:
        Domain.objects.filter(pk=domain.pk).delete()
