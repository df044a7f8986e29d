"""SPEC §5 limits and the 503 contract, in process: oversized bodies, deep JSON, long request
lines and a lost database all answer in the JSON error shape. ``test_server_edges`` sends the
same through a real server."""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError
from django.test import override_settings

from tenants.middleware import tenant_cache
from tenants.models import Tenant


@override_settings(OPTIFLOW_MAX_BODY_BYTES=1000)
def test_a_body_over_the_limit_is_413_before_it_is_read(api):
    at_limit = '{"name": "t"' + " " * 987 + "}"
    assert len(at_limit) == 1000
    assert api.post_raw("/tokens", at_limit).status_code == 201

    response = api.post_raw("/tokens", at_limit + " ")
    assert response.status_code == 413
    assert response.json() == {"message": "Request body too large (over 1000 bytes)."}


def nested(depth: int) -> str:
    return '{"name": "n", "abilities": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


def test_json_nested_64_deep_is_parsed(api):
    response = api.post_raw("/tokens", nested(64))
    assert response.status_code == 422  # the parser took it; the field refuses lists of lists


@pytest.mark.parametrize("depth", [65, 100_000])
def test_json_nested_deeper_than_64_is_400(api, depth):
    response = api.post_raw("/tokens", nested(depth))
    assert response.status_code == 400
    assert response.json() == {"message": "Malformed JSON: nested deeper than 64 levels."}


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    response = api.post_raw("/tokens", json.dumps({"name": "[" * 66 + '{"' * 66}))
    assert response.status_code == 201


def test_a_request_line_over_8_kb_is_414_json(api):
    # "GET /t/acme/api/v1/contacts?filter[smart]=xx… HTTP/1.1"
    fixed = len("GET /t/acme/api/v1/contacts?filter%5Bsmart%5D= HTTP/1.1")
    fits = api.get("/contacts", {"filter[smart]": "x" * (8192 - fixed)})
    assert fits.status_code == 200
    response = api.get("/contacts", {"filter[smart]": "x" * (8193 - fixed)})
    assert response.status_code == 414
    assert response.json() == {"message": "Request line too long (over 8192 bytes)."}


def test_a_broken_content_length_is_400_json(client, tenant):
    response = client.post(
        "/t/acme/api/v1/auth/token",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH="ten",
    )
    assert response.status_code == 400
    assert response.json() == {"message": "Invalid Content-Length header."}


def test_a_disallowed_host_is_400_json(client, tenant):
    response = client.get("/health", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.json() == {"message": "Bad request."}


def test_a_database_lost_while_finding_the_tenant_is_503_with_retry_after(
    client, tenant, monkeypatch
):
    def unavailable(*args, **kwargs):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(Tenant.objects, "filter", unavailable)
    tenant_cache.forget(("slug", "acme"))  # a process finds a tenant it has not served yet
    response = client.get("/t/acme/api/v1/me")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["message"]
