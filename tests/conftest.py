"""Test harness: real PostgreSQL, real tenant schemas, real URLs and bearer tokens.

Two tenants are provisioned once per session (``tenant`` and ``other_tenant``, for isolation
tests). Ordinary tests run inside a transaction rolled back at the end, with the first tenant's
schema active. Concurrency tests use ``committed_tenant``: a third tenant whose data is really
committed, so several threads (each with its own connection) can see and fight over it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from urllib.parse import urlparse, urlunparse

import pytest
from django.db import connection, connections
from django.test import Client, override_settings

from optiflow.ratelimit import limiter
from tenants.middleware import tenant_cache
from tenants.models import Domain
from tenants.services import ProvisionedTenant, tenant_provision
from tests import server_settings
from tests.admin_session import AdminSession
from tests.factories import ApiClient, WorkspaceFactory, make_user

OWNER_PASSWORD = "correct-horse-battery-staple"


def provision(slug: str) -> ProvisionedTenant:
    connection.set_schema_to_public()
    return tenant_provision(
        slug=slug,
        name=slug.title(),
        owner_email=f"owner@{slug}.test",
        owner_password=OWNER_PASSWORD,
    )


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Tests make hundreds of users; the production hasher is slow on purpose (PBKDF2, a
    million iterations), so tests use a fast one, as the server processes they start do
    (``tests/server_settings.py``). Passwords are still hashed and checked."""
    with override_settings(PASSWORD_HASHERS=server_settings.PASSWORD_HASHERS):
        yield


@pytest.fixture(scope="session")
def django_db_setup(
    request, django_test_environment, django_db_blocker, django_db_modify_db_settings
):
    """Always create the test database. pytest-django creates it only when a selected test
    takes the ``db`` fixture, and concurrency tests deliberately do not (they commit)."""
    from django.test.utils import setup_databases, teardown_databases

    verbosity = request.config.option.verbose
    with django_db_blocker.unblock():
        config = setup_databases(verbosity=verbosity, interactive=False, aliases={"default"})
    yield
    limiter().close()  # its connection would keep the test database from being dropped
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=verbosity)


@pytest.fixture(scope="session")
def provisioned(django_db_setup, django_db_blocker) -> dict[str, ProvisionedTenant]:
    with django_db_blocker.unblock():
        tenants = {slug: provision(slug) for slug in ("acme", "globex", "conc")}
        connection.set_schema_to_public()
    return tenants


@pytest.fixture
def tenant(provisioned, db) -> Iterator[ProvisionedTenant]:
    """The main test tenant, its schema active for the duration of the test."""
    acme = provisioned["acme"]
    connection.set_tenant(acme.tenant)
    yield acme
    connection.set_schema_to_public()


@pytest.fixture
def owner(tenant):
    return tenant.owner


@pytest.fixture
def main(tenant):
    """The owner's current workspace: the one API calls act in by default."""
    return tenant.workspace


@pytest.fixture
def branch(tenant):
    return WorkspaceFactory(owner=tenant.owner, name="Branch")


@pytest.fixture
def other_tenant(provisioned) -> ProvisionedTenant:
    return provisioned["globex"]


@pytest.fixture(autouse=True)
def clear_rate_limits(django_db_setup) -> None:
    """Counts are committed by the limiter's own connection, outside the test's rollback."""
    limiter().reset()


@pytest.fixture(autouse=True)
def warm_tenant_cache(provisioned, django_db_blocker) -> None:
    """Each test starts with this process's tenant cache holding every address as the
    database has it, as a server that has served them does: a test's first request then
    costs what any other does, whichever tests ran before (and whatever rows they changed,
    then rolled back)."""
    tenant_cache.clear()
    with django_db_blocker.unblock():
        for domain in Domain.objects.select_related("tenant"):
            tenant_cache.put(("host", domain.domain), domain.tenant)
            tenant_cache.put(("slug", domain.tenant.slug), domain.tenant)


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def api(tenant, client) -> ApiClient:
    """The tenant owner (a tenant admin), through the ``/t/{slug}`` prefix."""
    return ApiClient(client, tenant.token, prefix=f"/t/{tenant.tenant.slug}")


@pytest.fixture
def staff(tenant) -> AdminSession:
    """The tenant owner signed in to the tenant admin (``/t/{slug}/admin``), CSRF enforced."""
    session = AdminSession(prefix=f"/t/{tenant.tenant.slug}/admin")
    return session.login(tenant.owner.email, OWNER_PASSWORD)


@pytest.fixture
def member_api(tenant, client) -> Callable[..., ApiClient]:
    """Build a client for a new user who is a ``member`` of the main workspace holding
    ``permissions`` (and a token limited to ``abilities``)."""

    def build(permissions=(), abilities=None, role="member", workspace=None) -> ApiClient:
        _, plaintext = make_user(
            workspace=workspace or tenant.workspace,
            role=role,
            permissions=permissions,
            abilities=abilities,
        )
        return ApiClient(client, plaintext, prefix=f"/t/{tenant.tenant.slug}")

    return build


@pytest.fixture
def committed_tenant(provisioned, django_db_blocker) -> Iterator[ProvisionedTenant]:
    """A tenant whose writes are committed (no per-test rollback), for concurrency tests.
    Tests create their own rows (fresh products, documents), so they do not interfere."""
    conc = provisioned["conc"]
    with django_db_blocker.unblock():
        connection.set_tenant(conc.tenant)
        yield conc
        connection.set_schema_to_public()


def test_database_url() -> str:
    """``DATABASE_URL`` pointed at the test database, for server processes a test starts."""
    url = urlparse(os.environ["DATABASE_URL"])
    return urlunparse(url._replace(path="/" + connection.settings_dict["NAME"]))


test_database_url.__test__ = False  # a helper, not a test


def run_concurrently(tenant, work: Callable[[int], object], count: int) -> list:
    """Run ``work(i)`` in ``count`` threads released at the same instant, each on its own
    connection in ``tenant``'s schema; returns results (or raised exceptions) by index."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(index: int) -> None:
        try:
            connection.set_tenant(tenant)
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # collected for the test to assert on
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread deadlocked or hung"
    return results
