"""SPEC §5: every status code with its exact body; never HTML, never a traceback."""

import pytest
from django.db import IntegrityError, OperationalError
from django.test import Client, override_settings

from contacts.models import Contact


def test_malformed_json_is_400(api):
    response = api.post_raw("/users", "{not json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Malformed JSON: ")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"name": "a\\u0000b", "contact_type": "customer"}', "NUL characters"),
        ('{"name": "Ada", "contact_type": "customer", "metadata": {"\\ud800": 1}}', "surrogate"),
    ],
)
def test_text_postgresql_cannot_store_is_malformed_json(api, body, problem):
    response = api.post_raw("/contacts", body)
    assert response.status_code == 400
    assert response.json()["message"].startswith("Malformed JSON: ")
    assert problem in response.json()["message"]
    assert not Contact.objects.exists()


def test_non_json_body_is_415(api):
    response = api.post_raw("/users", "name=x", "application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json() == {
        "message": 'Unsupported media type "application/x-www-form-urlencoded" in request.'
    }


def test_unknown_api_url_is_json_404(api):
    response = api.get("/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found."}


def test_unknown_api_url_is_json_404_for_unsafe_methods_without_csrf_token(tenant):
    """A browser-less API client never has a CSRF cookie: the catch-all must still be JSON."""
    client = Client(enforce_csrf_checks=True)
    for method in (client.post, client.put, client.patch, client.delete):
        response = method("/t/acme/api/v1/categories/not-a-number")
        assert response.status_code == 404
        assert response.json() == {"message": "Not found."}


def test_unknown_record_is_404(api):
    response = api.get("/users/999999")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found."}


def test_method_not_allowed_is_405(api):
    response = api.delete("/me")
    assert response.status_code == 405
    assert response.json() == {"message": 'Method "DELETE" not allowed.'}


def test_method_not_allowed_comes_before_token_and_workspace_checks(api, client):
    bad_workspace = api.delete("/stock-movements", headers={"X-Workspace-ID": "0"})
    assert bad_workspace.status_code == 405
    anonymous = client.generic("TRACE", "/t/acme/api/v1/invoices")
    assert anonymous.status_code == 405
    assert anonymous.json() == {"message": 'Method "TRACE" not allowed.'}


def test_a_repeated_query_parameter_is_400(api):
    response = api.get("/users?per_page=5&per_page=6")
    assert response.status_code == 400
    assert response.json() == {"message": "Query parameter per_page is given more than once."}


def test_validation_error_is_422_with_field_errors(api):
    response = api.post("/users", {"name": "", "email": "not-an-email"})
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "The given data was invalid."
    assert set(body["errors"]) == {"name", "email", "password"}
    assert all(isinstance(messages, list) for messages in body["errors"].values())


def test_weak_password_is_422_on_password(api):
    response = api.post("/users", {"name": "A", "email": "a@x.test", "password": "123"})
    assert response.status_code == 422
    assert "password" in response.json()["errors"]


def test_constraint_violation_from_a_race_is_409(api, monkeypatch):
    def collide(**kwargs):
        raise IntegrityError("insert or update violates foreign key constraint")

    monkeypatch.setattr("tenants.views.selectors.token_list_for_user", collide)
    response = api.get("/tokens")
    assert response.status_code == 409
    assert response.json() == {
        "message": "The request conflicts with a concurrent change; retry it."
    }


def test_uncaught_error_is_500_json(api, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("boom with secrets")

    monkeypatch.setattr("tenants.views.selectors.token_list_for_user", explode)
    response = api.get("/tokens")
    assert response.status_code == 500
    assert response.json() == {"message": "Server Error."}
    assert b"boom" not in response.content


def test_lost_database_is_503(api, monkeypatch):
    def unavailable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("tenants.views.selectors.token_list_for_user", unavailable)
    response = api.get("/tokens")
    assert response.status_code == 503
    assert response.json() == {"message": "Service unavailable."}
    assert response["Retry-After"] == "5"


@pytest.mark.parametrize("value", ["abc", "req-1.2_3", "x" * 128])
def test_well_formed_request_id_is_echoed(api, value):
    assert api.get("/me", headers={"X-Request-Id": value})["X-Request-Id"] == value


def test_request_id_is_generated_when_missing_or_bad(api):
    assert len(api.get("/me")["X-Request-Id"]) == 32
    for bad in ("has space", "x" * 129):
        assert api.get("/me", headers={"X-Request-Id": bad})["X-Request-Id"] != bad


def test_cors_is_off_by_default(api):
    response = api.get("/me", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example"])
def test_cors_allows_configured_origins_and_exposes_rate_headers(api):
    response = api.get("/me", headers={"Origin": "https://app.example"})
    assert response["Access-Control-Allow-Origin"] == "https://app.example"
    exposed = response["Access-Control-Expose-Headers"]
    assert "X-RateLimit-Remaining" in exposed and "Retry-After" in exposed
    assert "ETag" in exposed and "Idempotent-Replayed" in exposed
    preflight = api.client.options(
        "/t/acme/api/v1/invoices/1",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, if-match, idempotency-key",
        },
    )
    allowed = preflight["Access-Control-Allow-Headers"]
    assert {"if-match", "if-none-match", "idempotency-key"} <= set(allowed.split(", "))


@pytest.mark.parametrize("name", ["filter[smart]", "sort", "include", "filter[created_at]"])
def test_a_nul_in_a_query_value_is_400(api, name):
    response = api.get("/users", {name: "a\x00b"})
    assert (response.status_code, response.json()) == (
        400,
        {"message": f"Query parameter {name} contains a NUL character."},
    )
