"""SPEC §4: effective permissions = membership ∩ token abilities; the workspace context."""

import pytest

from tenants.access import PERMISSIONS
from tests.factories import FORBIDDEN, WorkspaceFactory, make_user


@pytest.mark.parametrize(
    ("held", "abilities", "expected"),
    [
        (["users:manage"], ["*"], 200),
        (["users:manage"], ["contacts:view"], 403),
        ([], ["users:manage"], 403),
        (["users:manage"], ["users:manage"], 200),
    ],
)
def test_permission_needs_both_membership_and_token(member_api, held, abilities, expected):
    response = member_api(permissions=held, abilities=abilities).get("/users")
    assert response.status_code == expected
    if expected == 403:
        assert response.json() == FORBIDDEN


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_workspace_owner_and_admin_hold_every_permission_of_their_workspace(member_api, role):
    permissions = set(member_api(role=role).get("/me").json()["data"]["permissions"])
    assert permissions == set(PERMISSIONS) - {"view_all_locations", "users:manage"}


def test_cross_workspace_permissions_need_an_explicit_grant(member_api, tenant):
    """Owning a workspace (anyone with workspaces:manage can create one) must not open the
    others, nor the accounts of their members."""
    other = WorkspaceFactory()
    admin = member_api(role="admin")
    assert admin.get("/users").status_code == 403
    assert admin.get("/invoices", headers={"X-Workspace-ID": str(other.pk)}).status_code == 403
    granted = member_api(role="admin", permissions=["users:manage", "view_all_locations"])
    assert granted.get("/users").status_code == 200
    assert granted.get("/invoices", headers={"X-Workspace-ID": str(other.pk)}).status_code == 200


def test_me_reports_effective_permissions_for_the_token(member_api, tenant):
    api = member_api(permissions=["contacts:view", "users:manage"], abilities=["contacts:view"])
    data = api.get("/me").json()["data"]
    assert data["permissions"] == ["contacts:view"]
    assert data["current_workspace"] == {"id": tenant.workspace.pk, "name": "Main"}
    assert data["memberships"][0]["workspace"]["id"] == tenant.workspace.pk
    assert data["memberships"][0]["role"] == "member"
    # SPEC §3: what the membership grants, not cut down by the token.
    assert data["memberships"][0]["permissions"] == ["contacts:view", "users:manage"]


def test_a_user_without_a_workspace_is_told_so(tenant, client):
    from tests.factories import ApiClient

    _, token = make_user()  # no membership at all
    api = ApiClient(client, token, prefix="/t/acme")
    no_workspace = {"message": "No workspace selected."}
    for path in ("/invoices", "/stock-levels", "/contacts"):
        response = api.get(path)
        assert (response.status_code, response.json()) == (403, no_workspace), path
    me = api.get("/me").json()["data"]
    assert (me["current_workspace"], me["memberships"], me["permissions"]) == (None, [], [])


class TestWorkspaceHeader:
    def test_member_selects_their_workspace(self, member_api, tenant):
        other = WorkspaceFactory()
        api = member_api(permissions=["users:manage"], workspace=other)
        response = api.get("/me", headers={"X-Workspace-ID": str(other.pk)})
        assert response.status_code == 200
        assert response.json()["data"]["current_workspace"]["id"] == other.pk

    def test_non_member_is_403(self, member_api, tenant):
        other = WorkspaceFactory()
        response = member_api().get("/me", headers={"X-Workspace-ID": str(other.pk)})
        assert response.status_code == 403
        assert response.json() == FORBIDDEN

    def test_unknown_workspace_is_404(self, member_api):
        response = member_api().get("/me", headers={"X-Workspace-ID": "987654"})
        assert response.status_code == 404
        assert response.json() == {"message": "Workspace not found."}

    @pytest.mark.parametrize("value", ["main", "", "1.0", "+1", "1_0", "-1", "0"])
    def test_what_is_not_a_positive_integer_is_400(self, member_api, value):
        """The schema's ``minimum: 1``: below it is a malformed header; at or above it, an
        id that names no workspace is the 404 above."""
        response = member_api().get("/me", headers={"X-Workspace-ID": value})
        assert response.status_code == 400
        assert response.json() == {
            "message": "X-Workspace-ID must be a positive integer workspace id."
        }

    def test_view_all_locations_reads_any_workspace_without_writes(self, member_api, tenant):
        other = WorkspaceFactory()
        api = member_api(permissions=["view_all_locations", "contacts:view", "contacts:create"])
        response = api.get("/me", headers={"X-Workspace-ID": str(other.pk)})
        assert response.status_code == 200
        assert response.json()["data"]["permissions"] == ["contacts:view", "view_all_locations"]

    def test_tenant_admin_selects_any_workspace(self, api):
        other = WorkspaceFactory()
        response = api.get("/me", headers={"X-Workspace-ID": str(other.pk)})
        assert response.status_code == 200

    def test_without_header_the_first_membership_is_used(self, client, tenant):
        from tests.factories import ApiClient

        first, second = WorkspaceFactory(), WorkspaceFactory()
        user, token = make_user(workspace=first)
        from tenants.models import Membership

        Membership.objects.create(user=user, workspace=second, role="member")
        data = ApiClient(client, token, prefix="/t/acme").get("/me").json()["data"]
        assert data["current_workspace"]["id"] == first.pk

    def test_switch_makes_a_workspace_current(self, api):
        other = WorkspaceFactory()
        assert api.post(f"/workspaces/{other.pk}/switch").status_code == 200
        assert api.get("/me").json()["data"]["current_workspace"]["id"] == other.pk
