"""SPEC §10: provision_tenant, as a command and a service."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_tenants.utils import schema_context

from tenants.models import ApiToken, Domain, Membership, Tenant, User, Workspace
from tests.conftest import test_database_url

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def public_schema(provisioned):
    connection.set_schema_to_public()


def test_provision_tenant_json_prints_one_object_and_a_working_tenant():
    # A separate process commits the tenant; the test database is discarded after the session.
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "provision_tenant",
            "initech",
            "--name",
            "Initech",
            "--owner-email",
            "Boss@Initech.test",
            "--domain",
            "initech.example.test",
            "--domain",
            "api.initech.test",
            "--currency",
            "eur",
            "--json",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": test_database_url()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # exactly one JSON document on stdout
    assert data["tenant"] == "initech" and data["schema"] == "t_initech"
    assert data["domains"] == ["initech.example.test", "api.initech.test"]
    assert data["owner_email"] == "boss@initech.test"
    tenant = Tenant.objects.get(slug="initech")
    assert tenant.currency == "EUR"
    assert set(Domain.objects.filter(tenant=tenant).values_list("domain", flat=True)) == {
        "initech.example.test",
        "api.initech.test",
    }
    with schema_context(tenant.schema_name):
        owner = User.objects.get(email="boss@initech.test")
        assert owner.is_tenant_admin
        workspace = Workspace.objects.get(pk=data["workspace_id"])
        assert workspace.name == "Main" and workspace.is_default
        assert Membership.objects.get(user=owner, workspace=workspace).role == "owner"
        token_id = int(data["token"].split("|")[0])
        assert ApiToken.objects.get(pk=token_id).user == owner


def test_existing_slug_fails_with_status_1():
    with pytest.raises(CommandError) as error:
        call_command("provision_tenant", "acme", name="Again", owner_email="x@acme.test")
    assert error.value.returncode == 1
    assert "already exists" in str(error.value)


def test_provision_refuses_a_domain_in_use():
    with pytest.raises(CommandError) as error:
        call_command(
            "provision_tenant",
            "newco",
            name="NewCo",
            owner_email="x@newco.test",
            domains=["acme.localhost"],
        )
    assert "acme.localhost" in str(error.value)
    assert not Tenant.objects.filter(slug="newco").exists()
