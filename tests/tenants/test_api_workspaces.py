"""SPEC §4 endpoints: /workspaces (+ switch, members) and /users."""

import pytest

from tenants.models import Membership, User, Workspace
from tests.factories import FORBIDDEN, UserFactory, WorkspaceFactory
from tests.inventory.factories import ProductFactory, give_stock


def test_create_workspace_makes_the_creator_owner(api, tenant):
    response = api.post("/workspaces", {"name": "North Branch", "code": "NB", "phone": "555"})
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["slug"] == "north-branch" and data["owner_id"] == tenant.owner.pk
    assert data["is_owner"] is True
    assert Membership.objects.get(workspace_id=data["id"], user=tenant.owner).role == "owner"


def test_workspace_slug_is_unique_and_code_is_case_insensitively_unique(api):
    first = api.post("/workspaces", {"name": "Depot", "code": "DP"}).json()["data"]
    second = api.post("/workspaces", {"name": "Depot"}).json()["data"]
    assert first["slug"] == "depot" and second["slug"] == "depot-2"
    clash = api.post("/workspaces", {"name": "Other", "code": "dp"})
    assert clash.status_code == 422
    assert clash.json()["errors"] == {"code": ["The code has already been taken."]}


def test_workspace_list_is_the_callers_and_not_paginated(member_api, tenant):
    WorkspaceFactory()  # not a member
    body = member_api().get("/workspaces").json()
    assert set(body) == {"data"}
    assert [w["id"] for w in body["data"]] == [tenant.workspace.pk]
    assert body["data"][0]["is_owner"] is False


def test_non_member_cannot_see_a_workspace(member_api):
    other = WorkspaceFactory()
    assert member_api().get(f"/workspaces/{other.pk}").status_code == 404


def test_updating_a_workspace_needs_workspaces_manage_there(member_api, tenant):
    path = f"/workspaces/{tenant.workspace.pk}"
    assert member_api().patch(path, {"phone": "1"}).status_code == 403
    allowed = member_api(permissions=["workspaces:manage"]).patch(path, {"phone": "1"})
    assert allowed.status_code == 200 and allowed.json()["data"]["phone"] == "1"


def test_only_the_owner_deletes_a_workspace(api, member_api, tenant):
    workspace = WorkspaceFactory(owner=tenant.owner)
    assert (
        member_api(role="admin", workspace=workspace)
        .delete(f"/workspaces/{workspace.pk}")
        .status_code
        == 403
    )
    assert api.delete(f"/workspaces/{workspace.pk}").status_code == 204
    assert not Workspace.objects.filter(pk=workspace.pk).exists()


def test_the_owners_token_must_carry_workspaces_manage_to_delete(api, tenant):
    workspace = WorkspaceFactory(owner=tenant.owner)
    created = api.post("/tokens", {"name": "read-only", "abilities": ["contacts:view"]})
    narrow = api.as_token(created.json()["data"]["token"])
    response = narrow.delete(f"/workspaces/{workspace.pk}")
    assert response.status_code == 403 and response.json() == FORBIDDEN
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_deleting_a_workspace_takes_its_memberships_and_unsets_current_workspaces(api, tenant):
    workspace = WorkspaceFactory(owner=tenant.owner)
    member = UserFactory()
    Membership.objects.create(user=member, workspace=workspace)
    User.objects.filter(pk=member.pk).update(current_workspace=workspace)

    assert api.delete(f"/workspaces/{workspace.pk}").status_code == 204

    assert not Membership.objects.filter(workspace_id=workspace.pk).exists()
    member.refresh_from_db()
    assert member.current_workspace_id is None


def test_workspace_delete_is_refused_while_it_holds_stock(api, tenant):
    workspace = WorkspaceFactory(owner=tenant.owner)
    give_stock(ProductFactory(), workspace, "1", actor=tenant.owner)
    response = api.delete(f"/workspaces/{workspace.pk}")
    assert response.status_code == 422
    assert response.json() == {
        "message": "The workspace holds stock records; it cannot be deleted.",
        "errors": {
            "non_field_errors": ["The workspace holds stock records; it cannot be deleted."]
        },
    }
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_members_add_update_and_remove(api, tenant):
    user = UserFactory()
    path = f"/workspaces/{tenant.workspace.pk}/members"
    added = api.post(path, {"user_id": user.pk, "role": "member", "permissions": ["contacts:view"]})
    assert added.status_code == 201
    assert added.json()["data"]["permissions"] == ["contacts:view"]
    assert api.post(path, {"user_id": user.pk, "role": "member"}).status_code == 422
    listed = api.get(path).json()["data"]
    assert {m["user_id"] for m in listed} == {tenant.owner.pk, user.pk}
    changed = api.patch(f"{path}/{user.pk}", {"role": "admin"})
    assert changed.status_code == 200 and changed.json()["data"]["role"] == "admin"
    assert api.delete(f"{path}/{user.pk}").status_code == 204
    assert not Membership.objects.filter(user=user, workspace=tenant.workspace).exists()


def test_the_owner_cannot_be_removed(api, tenant):
    response = api.delete(f"/workspaces/{tenant.workspace.pk}/members/{tenant.owner.pk}")
    assert response.status_code == 422
    assert "owner cannot be removed" in response.json()["message"]


def test_invalid_member_input_is_422(api, tenant):
    response = api.post(
        f"/workspaces/{tenant.workspace.pk}/members",
        {"user_id": 999999, "role": "boss", "permissions": ["fly"]},
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"user_id", "role", "permissions.0"}


class TestUsers:
    def test_create_user_hides_the_password(self, api):
        response = api.post(
            "/users", {"name": "Ana", "email": "Ana@Example.test", "password": "a-Long-pass-123"}
        )
        assert response.status_code == 201
        data = response.json()["data"]
        assert data["email"] == "ana@example.test" and "password" not in data
        assert User.objects.get(pk=data["id"]).check_password("a-Long-pass-123")

    def test_duplicate_email_is_422(self, api, tenant):
        response = api.post(
            "/users",
            {"name": "X", "email": tenant.owner.email.upper(), "password": "a-Long-pass-123"},
        )
        assert response.status_code == 422
        assert response.json()["errors"] == {"email": ["The email has already been taken."]}

    def test_update_user(self, api):
        user = UserFactory()
        response = api.patch(f"/users/{user.pk}", {"name": "Renamed", "is_active": False})
        assert response.status_code == 200
        assert response.json()["data"]["name"] == "Renamed"
        assert response.json()["data"]["is_active"] is False

    @pytest.mark.parametrize(
        ("change", "field"),
        [({"is_active": False}, "is_active"), ({"is_tenant_admin": False}, "is_tenant_admin")],
    )
    def test_nobody_can_lock_themselves_out(self, api, owner, change, field):
        response = api.patch(f"/users/{owner.pk}", change)
        assert response.status_code == 422
        assert set(response.json()["errors"]) == {field}
        owner.refresh_from_db()
        assert owner.is_active and owner.is_tenant_admin
        assert api.get("/me").status_code == 200

    def test_users_manage_cannot_make_or_touch_tenant_admins(self, member_api, owner):
        manager = member_api(permissions=["users:manage"])
        me = manager.get("/me").json()["data"]
        assert manager.patch(f"/users/{me['id']}", {"is_tenant_admin": True}).json() == FORBIDDEN
        new_admin = {"name": "A", "email": "a@x.test", "password": "a-Long-pass-123"}
        assert manager.post("/users", {**new_admin, "is_tenant_admin": True}).status_code == 403
        assert (
            manager.patch(f"/users/{owner.pk}", {"password": "taken-Over-123"}).status_code == 403
        )
        assert not User.objects.filter(email="a@x.test").exists()
        owner.refresh_from_db()
        assert not owner.check_password("taken-Over-123")
        assert not User.objects.get(pk=me["id"]).is_tenant_admin
        assert manager.patch(f"/users/{me['id']}", {"name": "Still me"}).status_code == 200

    def test_users_need_users_manage(self, member_api):
        assert member_api().get("/users").status_code == 403
        assert member_api(permissions=["users:manage"]).get("/users").status_code == 200


@pytest.mark.parametrize("count", [3, 30])
def test_query_counts_are_pinned(api, tenant, count, django_assert_num_queries):
    for _ in range(count):
        user = UserFactory()
        Membership.objects.create(user=tenant.owner, workspace=WorkspaceFactory(owner=user))
    api.get("/me")  # the first call records last_used_at; measure steady state
    # Every request: the token with its user and their memberships (with workspaces), in
    # the statement that also checks the cached tenant; the schema travels with it.
    per_request = 1
    with django_assert_num_queries(per_request):
        assert api.get("/me").status_code == 200
    with django_assert_num_queries(per_request + 1):
        assert api.get("/workspaces").status_code == 200
    with django_assert_num_queries(per_request + 2):  # count + page
        assert api.get("/users", {"per_page": 100}).status_code == 200
