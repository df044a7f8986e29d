"""Factories and the API client shared by every test module."""

from __future__ import annotations

import json
from typing import Any

import factory
from django.test import Client

from tenants.models import Membership, User, Workspace
from tenants.services import token_create

FORBIDDEN = {"message": "This action is unauthorized."}


def ids(response) -> list[int]:
    """The ids of a successful list response, in order."""
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["data"]]


def errors(response) -> dict[str, list[str]]:
    """The field errors of a 422 response."""
    assert response.status_code == 422, response.content
    return response.json()["errors"]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    name = factory.Sequence(lambda n: f"User {n}")
    email = factory.Sequence(lambda n: f"user{n}@example.test")
    password = factory.django.Password("s3cret-Passw0rd!")


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Branch {n}")
    slug = factory.Sequence(lambda n: f"branch-{n}")
    owner = factory.SubFactory(UserFactory)

    @factory.post_generation
    def owner_membership(self, create, extracted, **kwargs):
        if create:
            Membership.objects.get_or_create(user=self.owner, workspace=self, role="owner")


def make_user(
    *,
    workspace: Workspace | None = None,
    role: str = "member",
    permissions=(),
    abilities=None,
    is_tenant_admin: bool = False,
) -> tuple[User, str]:
    """A user (optionally a member of ``workspace``) and a plaintext token for them."""
    user = UserFactory(is_tenant_admin=is_tenant_admin)
    if workspace is not None:
        Membership.objects.create(
            user=user, workspace=workspace, role=role, permissions=list(permissions)
        )
    _, plaintext = token_create(user=user, name="test", abilities=abilities)
    return user, plaintext


class ApiClient:
    """Calls ``/api/v1`` of a tenant with a bearer token, through the path prefix (default)
    or a ``Host`` header."""

    def __init__(
        self, client: Client, token: str | None, prefix: str = "", host: str | None = None
    ):
        self.client = client
        self.token = token
        self.prefix = prefix
        self.host = host

    def headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if self.host is not None:
            headers.setdefault("Host", self.host)
        return headers

    def url(self, path: str) -> str:
        return f"{self.prefix}/api/v1{path}"

    def get(self, path: str, params: dict | None = None, headers: dict | None = None):
        return self.client.get(self.url(path), params or {}, headers=self.headers(headers))

    def send(self, method: str, path: str, body: Any = None, headers: dict | None = None):
        call = getattr(self.client, method)
        data = json.dumps(body) if body is not None else None
        return call(
            self.url(path), data, content_type="application/json", headers=self.headers(headers)
        )

    def post_raw(self, path: str, body: str, content_type: str = "application/json"):
        """A body sent as given, for what ``post`` cannot express (broken JSON, forms)."""
        return self.client.post(
            self.url(path), body, content_type=content_type, headers=self.headers(None)
        )

    def post(self, path: str, body: Any = None, headers: dict | None = None):
        return self.send("post", path, body if body is not None else {}, headers)

    def patch(self, path: str, body: Any, headers: dict | None = None):
        return self.send("patch", path, body, headers)

    def put(self, path: str, body: Any, headers: dict | None = None):
        return self.send("put", path, body, headers)

    def delete(self, path: str, headers: dict | None = None):
        return self.send("delete", path, None, headers)

    def as_token(self, token: str | None) -> ApiClient:
        return ApiClient(self.client, token, self.prefix, self.host)
