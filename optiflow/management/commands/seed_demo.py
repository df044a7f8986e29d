"""``manage.py seed_demo``: provision the ``demo`` tenant with sample data if it is missing,
then print a token and ready-to-paste ``curl`` commands (used by ``make run``)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import schema_context

from billing import demo as billing_demo
from company import demo as company_demo
from contacts import demo as contacts_demo
from inventory import demo as inventory_demo
from tenants.models import ApiToken, Tenant, User
from tenants.services import tenant_provision, token_create, workspace_create

SLUG = "demo"
OWNER_EMAIL = "owner@demo.test"
OWNER_PASSWORD = "demo-password-123"


class Command(BaseCommand):
    help = "Provision the demo tenant (once) and print a token with example calls."

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=SLUG).first()
        if tenant is None:
            self.stdout.write("Provisioning the demo tenant (first run only)...")
            result = tenant_provision(
                slug=SLUG,
                name="Demo Company",
                owner_email=OWNER_EMAIL,
                owner_password=OWNER_PASSWORD,
                owner_name="Demo Owner",
            )
            tenant, token = result.tenant, result.token
            with schema_context(tenant.schema_name), transaction.atomic():
                branch = workspace_create(owner=result.owner, name="Downtown Branch", code="DT")
                workspaces = [result.workspace, branch]
                for seed in (
                    company_demo.seed,
                    contacts_demo.seed,
                    inventory_demo.seed,
                    billing_demo.seed,
                ):
                    seed(owner=result.owner, workspaces=workspaces)
        else:
            with schema_context(tenant.schema_name):
                owner = User.objects.get(email=OWNER_EMAIL)
                ApiToken.objects.filter(user=owner, name="make run").delete()
                _, token = token_create(user=owner, name="make run")
        port = os.environ.get("PORT", "8000")
        host = f"{SLUG}.{settings.OPTIFLOW_BASE_DOMAIN}"
        self.stdout.write(self.style.SUCCESS(f"\nDemo tenant '{SLUG}' is ready."))
        self.stdout.write(
            f"  Admin:     http://{host}:{port}/admin/  ({OWNER_EMAIL} / {OWNER_PASSWORD})"
        )
        self.stdout.write(f"  API docs:  http://127.0.0.1:{port}/api/v1/docs")
        self.stdout.write(f"  API token: {token}\n")
        self.stdout.write("Try it:")
        self.stdout.write(
            f"  curl -H 'Authorization: Bearer {token}' http://127.0.0.1:{port}/t/{SLUG}/api/v1/me"
        )
        self.stdout.write(
            f"  curl -H 'Host: {host}' -H 'Authorization: Bearer {token}' http://127.0.0.1:{port}/api/v1/me\n"
        )
