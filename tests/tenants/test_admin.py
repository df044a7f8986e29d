"""SPEC §9: the tenant admin manages tokens, users, workspaces and memberships under the API's
rules; the platform admin provisions tenants, keeps the bare host's names, and deletes a
tenant only with its slug typed out."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists

from optiflow.errors import DomainError
from tenants.access import PERMISSIONS
from tenants.models import ApiToken, Domain, Membership, Tenant, User, Workspace
from tenants.services import membership_add, membership_update, tenant_provision
from tests.admin_session import AdminSession, csrf_token, form_values, page_text
from tests.conftest import OWNER_PASSWORD
from tests.factories import UserFactory, WorkspaceFactory


@pytest.fixture
def tenant_admin_client(client, tenant):
    assert client.login(email=tenant.owner.email, password=OWNER_PASSWORD)
    return client


def test_creating_a_token_in_the_admin_shows_its_plaintext_once(tenant_admin_client, tenant):
    response = tenant_admin_client.post(
        "/t/acme/admin/tenants/apitoken/add/",
        {"user": tenant.owner.pk, "name": "from admin", "abilities": ["contacts:view"]},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get(name="from admin")
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    plaintext = next(m.split(": ", 1)[1] for m in shown if "shown only once" in m)
    assert plaintext.startswith(f"{token.pk}|")
    assert token.token_hash == ApiToken.digest(plaintext.split("|", 1)[1])
    assert token.abilities == ["contacts:view"]
    assert (
        tenant_admin_client.get(f"/t/acme/admin/tenants/apitoken/{token.pk}/change/").status_code
        == 200
    )
    assert (
        plaintext.encode()
        not in tenant_admin_client.get(f"/t/acme/admin/tenants/apitoken/{token.pk}/change/").content
    )


def test_revoking_tokens_is_one_admin_action(tenant_admin_client, tenant):
    token = ApiToken.objects.get(user=tenant.owner)
    response = tenant_admin_client.post(
        "/t/acme/admin/tenants/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_platform_admin_creating_a_tenant_provisions_it(client, provisioned, db):
    connection.set_schema_to_public()
    User.objects.create_superuser("staff@platform.test", "platform-pass-123", name="Staff")
    assert client.login(email="staff@platform.test", password="platform-pass-123")
    response = client.post(
        "/admin/tenants/tenant/add/",
        {
            "slug": "umbrella",
            "name": "Umbrella",
            "currency": "USD",
            "owner_email": "boss@umbrella.test",
            "owner_password": "",
            "domain": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    assert Tenant.objects.filter(slug="umbrella").exists()
    assert any("token" in str(m) for m in get_messages(response.wsgi_request))
    assert client.get("/t/umbrella/api/v1/health").status_code == 200


# --- memberships: the owner stays, permissions from the one list ----------------------------


def test_the_owners_membership_cannot_be_deleted(staff, owner, main):
    membership = Membership.objects.get(user=owner, workspace=main)
    path = f"/tenants/membership/{membership.pk}/delete/"

    confirmation = staff.get(path)
    refused = staff.client.post(
        staff.url(path), {"post": "yes", "csrfmiddlewaretoken": csrf_token(confirmation)}
    )

    for page in (confirmation, refused):
        assert page.status_code == 200
        assert "The owner cannot be removed from the workspace." in page_text(page)
    assert Membership.objects.filter(pk=membership.pk, role="owner").exists()


def test_the_owner_cannot_be_demoted(staff, owner, main):
    membership = Membership.objects.get(user=owner, workspace=main)

    page = staff.submit(f"/tenants/membership/{membership.pk}/change/", {"role": "member"})

    assert page.status_code == 200
    assert page.context["adminform"].form.errors == {"role": ["The owner's role cannot change."]}
    assert Membership.objects.get(pk=membership.pk).role == "owner"


def test_membership_permissions_are_checkboxes_of_the_known_permissions(staff, main):
    member = UserFactory()
    membership = membership_add(workspace=main, user=member, role="member")
    path = f"/tenants/membership/{membership.pk}/change/"

    offered = form_values(staff.get(path).content.decode())
    invalid = staff.submit(path, {"permissions": ["contacts:view", "contacts:fly"]})
    valid = staff.submit(path, {"permissions": ["invoices:view", "contacts:view"]})

    assert "permissions" not in offered  # none ticked yet, each a checkbox of PERMISSIONS
    assert staff.get(path).content.decode().count('name="permissions"') == len(PERMISSIONS)
    assert invalid.status_code == 200 and "permissions" in invalid.context["adminform"].form.errors
    assert valid.status_code == 302
    assert Membership.objects.get(pk=membership.pk).permissions == [
        "contacts:view",
        "invoices:view",
    ]


def test_the_membership_service_refuses_unknown_permissions(main):
    membership = membership_add(workspace=main, user=UserFactory(), role="member")
    with pytest.raises(DomainError) as refused:
        membership_update(membership=membership, data={"permissions": ["contacts:fly"]})
    assert refused.value.errors == {"permissions": ["Unknown permissions: contacts:fly."]}
    assert Membership.objects.get(pk=membership.pk).permissions == []


def test_a_workspace_is_deleted_by_its_owner_only(staff, tenant):
    someone_elses = WorkspaceFactory()
    own = WorkspaceFactory(owner=tenant.owner)

    assert staff.get(f"/tenants/workspace/{someone_elses.pk}/delete/").status_code == 403
    deleted = staff.submit(f"/tenants/workspace/{own.pk}/delete/", {"post": "yes"})

    assert deleted.status_code == 302
    assert not Workspace.objects.filter(pk=own.pk).exists()
    assert Workspace.objects.filter(pk=someone_elses.pk).exists()


def test_a_user_cannot_deactivate_themselves_in_the_admin(staff, owner):
    page = staff.submit(f"/tenants/user/{owner.pk}/change/", {"is_active": None})
    assert page.context["adminform"].form.errors == {
        "is_active": ["You cannot deactivate yourself."]
    }
    owner.refresh_from_db()
    assert owner.is_active


def test_a_user_created_in_the_admin_gets_the_password_rules(staff):
    weak = staff.submit(
        "/tenants/user/add/", {"email": "new@acme.test", "name": "New", "password": "123"}
    )
    created = staff.submit(
        "/tenants/user/add/",
        {"email": "New@Acme.test", "name": "New", "password": "a-long-passphrase-42"},
    )

    assert "password" in weak.context["adminform"].form.errors
    assert created.status_code == 302
    assert User.objects.get(email="new@acme.test").check_password("a-long-passphrase-42")


# --- the platform admin ---------------------------------------------------------------------


@pytest.fixture
def platform(provisioned, db) -> AdminSession:
    connection.set_schema_to_public()
    User.objects.create_superuser("staff@platform.test", "platform-pass-123", name="Staff")
    return AdminSession(prefix="/admin").login("staff@platform.test", "platform-pass-123")


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("localhost", "localhost is the platform's own address and cannot belong to a tenant."),
        ("127.0.0.1", "An IP address reaches the platform itself; a tenant needs a host name."),
        (
            "globex.localhost",
            "globex.localhost is under localhost, whose names are the "
            "tenants' slugs: this tenant's is acme.localhost.",
        ),
        ("http://shop.example.com/", "Enter a host name such as shop.example.com"),
    ],
)
def test_a_bare_host_name_cannot_become_a_tenants_domain(platform, provisioned, host, reason):
    acme = provisioned["acme"].tenant
    domains = set(Domain.objects.values_list("domain", flat=True))

    page = platform.submit("/tenants/domain/add/", {"tenant": acme.pk, "domain": host})

    assert page.status_code == 200
    assert reason in " ".join(page.context["adminform"].form.errors["domain"])
    assert set(Domain.objects.values_list("domain", flat=True)) == domains
    bare = Client()
    assert bare.get("/health", headers={"Host": "localhost"}).status_code == 200
    assert bare.get("/admin/login/", headers={"Host": "localhost"}).status_code == 200
    assert b"OptiFlow platform" in bare.get("/admin/login/", headers={"Host": "localhost"}).content


def test_a_tenant_gets_another_host_name_and_a_new_primary(platform, provisioned, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "shop.acme.test"]
    acme = provisioned["acme"].tenant

    page = platform.submit(
        "/tenants/domain/add/", {"tenant": acme.pk, "domain": "Shop.Acme.TEST", "is_primary": "on"}
    )

    assert page.status_code == 302, page_text(page)
    assert list(
        Domain.objects.filter(tenant=acme, is_primary=True).values_list("domain", flat=True)
    ) == ["shop.acme.test"]
    assert Client().get("/api/v1/health", headers={"Host": "shop.acme.test"}).status_code == 200


def test_provisioning_refuses_the_bare_host_too(provisioned, db):
    connection.set_schema_to_public()
    with pytest.raises(DomainError) as refused:
        tenant_provision(
            slug="squat", name="Squat", owner_email="x@squat.test", domains=["localhost"]
        )
    assert "platform's own address" in refused.value.message
    assert not Tenant.objects.filter(slug="squat").exists()


def test_deleting_a_tenant_takes_its_slug_typed_out(platform, provisioned):
    connection.set_schema_to_public()
    doomed = tenant_provision(slug="doomed", name="Doomed", owner_email="x@doomed.test").tenant
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        # Provisioned in this test's transaction: run its deferred foreign-key checks now, as
        # its commit would, or PostgreSQL refuses to drop tables with pending checks.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    path = f"/tenants/tenant/{doomed.pk}/delete/"

    page = platform.get(path)
    wrong = platform.submit(path, {"confirmation": "acme"})
    assert schema_exists("t_doomed") and Tenant.objects.filter(slug="doomed").exists()
    right = platform.submit(path, {"confirmation": "doomed"})

    assert "drops its PostgreSQL schema t_doomed and all its data" in page_text(page)
    assert wrong.status_code == 200 and "Type doomed exactly" in page_text(wrong)
    assert right.status_code == 302
    assert not schema_exists("t_doomed")
    assert not Tenant.objects.filter(slug="doomed").exists()
    assert not Domain.objects.filter(domain="doomed.localhost").exists()


def test_tenants_have_no_bulk_delete(platform):
    page = platform.get("/tenants/tenant/")
    assert 'value="delete_selected"' not in page.content.decode()
