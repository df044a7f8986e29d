"""SPEC §9: the tenant admin manages tokens; the platform admin provisions tenants."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection

from tenants.models import ApiToken, Tenant, User
from tests.conftest import OWNER_PASSWORD


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
