"""SPEC §2: both tenant addresses, unknown tenants, the bare host."""

import pytest

from tests.factories import ApiClient


def test_path_prefix_reaches_the_tenant(api, tenant):
    response = api.get("/me")
    assert response.status_code == 200
    assert response.json()["data"]["email"] == tenant.owner.email


def test_subdomain_reaches_the_tenant(client, tenant):
    api = ApiClient(client, tenant.token, host="acme.localhost:8000")
    response = api.get("/me")
    assert response.status_code == 200
    assert response.json()["data"]["email"] == tenant.owner.email


@pytest.mark.parametrize(
    "kwargs", [{"prefix": "/t/nosuch"}, {"host": "nosuch.localhost"}], ids=["prefix", "subdomain"]
)
def test_unknown_tenant_is_a_json_404(client, tenant, kwargs):
    response = ApiClient(client, tenant.token, **kwargs).get("/me")
    assert response.status_code == 404
    assert response.json() == {"message": "Tenant not found."}


def test_bare_host_serves_health_and_nothing_of_a_tenant(client, tenant):
    assert client.get("/health").json() == {"data": {"status": "ok"}}
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tenant.token}"})
    assert response.status_code == 404
    assert response.json() == {"message": "Not found."}


def test_tenant_health_needs_no_token(client, tenant):
    response = client.get("/t/acme/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"data": {"status": "ok"}}


def test_pagination_links_keep_the_address_form_used(client, tenant):
    prefixed = ApiClient(client, tenant.token, prefix="/t/acme").get("/users", {"per_page": 1})
    assert prefixed.json()["links"]["first"].startswith("http://testserver/t/acme/api/v1/users")
    hosted = ApiClient(client, tenant.token, host="acme.localhost").get("/users", {"per_page": 1})
    assert hosted.json()["links"]["first"].startswith("http://acme.localhost/api/v1/users")


def test_admin_login_page_and_its_static_files_are_served(client, tenant):
    assert client.get("/t/acme/admin/login/").status_code == 200
    assert client.get("/admin/login/").status_code == 200
    static = client.get("/static/admin/css/base.css")
    assert static.status_code == 200
