"""SPEC §3: bearer tokens — every way a token can fail, and the token endpoints."""

import datetime as dt

import pytest
from django.utils import timezone

from tenants.models import ApiToken
from tests.conftest import OWNER_PASSWORD
from tests.factories import FORBIDDEN

UNAUTHENTICATED = {"message": "Unauthenticated."}


def assert_unauthenticated(response):
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert response["WWW-Authenticate"] == "Bearer"


def test_missing_token_is_401(api):
    assert_unauthenticated(api.as_token(None).get("/me"))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearer nopipe",
        "Bearer abc|secret",
        "Bearer 1|",
        "Token 1|x",
    ],
)
def test_malformed_token_is_401(api, header):
    assert_unauthenticated(api.get("/me", headers={"Authorization": header}))


def test_unknown_token_id_and_wrong_secret_are_401(api, tenant):
    token_id = tenant.token.split("|")[0]
    assert_unauthenticated(api.as_token("999999|" + "x" * 54).get("/me"))
    assert_unauthenticated(api.as_token(f"{token_id}|{'y' * 54}").get("/me"))


def test_expired_token_is_401(api, tenant):
    token_id = int(tenant.token.split("|")[0])
    ApiToken.objects.filter(pk=token_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert_unauthenticated(api.get("/me"))


def test_revoked_token_is_401(api):
    created = api.post("/tokens", {"name": "temp"}).json()["data"]
    temp = api.as_token(created["token"])
    assert temp.get("/me").status_code == 200
    assert api.delete(f"/tokens/{created['id']}").status_code == 204
    assert_unauthenticated(temp.get("/me"))


def test_another_tenants_token_is_401(api, other_tenant):
    assert_unauthenticated(api.as_token(other_tenant.token).get("/me"))


def test_only_a_digest_of_the_secret_is_stored(api, tenant):
    token_id, secret = tenant.token.split("|")
    stored = ApiToken.objects.get(pk=token_id)
    assert secret not in stored.token_hash
    assert stored.token_hash == ApiToken.digest(secret)
    assert len(secret) >= 40


def test_login_issues_a_token_shown_once(api, tenant):
    login = api.as_token(None).post(
        "/auth/token",
        {
            "email": tenant.owner.email,
            "password": OWNER_PASSWORD,
            "name": "cli",
            "abilities": ["contacts:view"],
        },
    )
    assert login.status_code == 201
    data = login.json()["data"]
    assert set(data) == {
        "id",
        "name",
        "abilities",
        "expires_at",
        "created_at",
        "token",
        "last_used_at",
    }
    assert data["abilities"] == ["contacts:view"]
    listed = api.get("/tokens").json()["data"]
    assert data["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)


def test_login_with_wrong_password_is_401(api, tenant):
    response = api.as_token(None).post(
        "/auth/token", {"email": tenant.owner.email, "password": "nope", "name": "x"}
    )
    assert_unauthenticated(response)


def test_token_expiring_in_the_past_is_422(api):
    response = api.post("/tokens", {"name": "old", "expires_at": "2000-01-01T00:00:00Z"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"expires_at": ["The expiry must be in the future."]}


def test_token_defaults_and_last_used(api):
    data = api.post("/tokens", {"name": "defaults"}).json()["data"]
    assert data["abilities"] == ["*"] and data["expires_at"] is None
    assert data["last_used_at"] is None
    api.as_token(data["token"]).get("/me")
    assert ApiToken.objects.get(pk=data["id"]).last_used_at is not None


def test_tokens_list_is_paginated_and_only_the_callers(api, member_api):
    member_api()  # another user's token must not appear
    body = api.get("/tokens").json()
    assert body["meta"]["total"] == 1
    assert {"data", "meta", "links"} == set(body)


def test_narrow_token_cannot_mint_a_broader_token(api):
    narrow = api.as_token(
        api.post("/tokens", {"name": "n", "abilities": ["contacts:view"]}).json()["data"]["token"]
    )
    assert narrow.post("/contacts", {"name": "X", "contact_type": "customer"}).status_code == 403
    for abilities in (["*"], ["contacts:create"], ["contacts:view", "contacts:create"]):
        response = narrow.post("/tokens", {"name": "wider", "abilities": abilities})
        assert response.status_code == 403, abilities
        assert response.json() == FORBIDDEN
    # The default is ["*"]: a narrow token must name what it passes on.
    assert narrow.post("/tokens", {"name": "default"}).status_code == 403
    assert ApiToken.objects.filter(name__in=["wider", "default"]).count() == 0
    same = narrow.post("/tokens", {"name": "same", "abilities": ["contacts:view"]})
    assert same.status_code == 201 and same.json()["data"]["abilities"] == ["contacts:view"]


def test_narrow_token_revokes_only_itself(api, tenant):
    owner_token_id = int(tenant.token.split("|")[0])
    created = api.post("/tokens", {"name": "n", "abilities": ["contacts:view"]}).json()["data"]
    narrow = api.as_token(created["token"])
    response = narrow.delete(f"/tokens/{owner_token_id}")
    assert response.status_code == 403 and response.json() == FORBIDDEN
    assert ApiToken.objects.get(pk=owner_token_id).revoked_at is None
    assert narrow.delete(f"/tokens/{created['id']}").status_code == 204
    assert ApiToken.objects.get(pk=created["id"]).revoked_at is not None


def test_full_token_mints_any_token_and_revokes_the_users_others(api):
    created = api.post("/tokens", {"name": "all"}).json()["data"]
    assert created["abilities"] == ["*"]
    full = api.as_token(created["token"])
    minted = full.post("/tokens", {"name": "narrow", "abilities": ["invoices:view"]})
    assert minted.status_code == 201
    assert full.post("/tokens", {"name": "all again", "abilities": ["*"]}).status_code == 201
    assert full.delete(f"/tokens/{minted.json()['data']['id']}").status_code == 204
    assert ApiToken.objects.get(pk=minted.json()["data"]["id"]).revoked_at is not None
