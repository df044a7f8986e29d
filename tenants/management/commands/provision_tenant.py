"""``manage.py provision_tenant SLUG --name NAME --owner-email EMAIL ...`` (SPEC §10)."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand, CommandError

from optiflow.errors import DomainError
from tenants.services import tenant_provision


class Command(BaseCommand):
    help = "Create a tenant: schema, domains, owner, default workspace and series, API token."
    # Run per sign-up, it should answer in well under a second; the system checks (a third of
    # its start-up) belong to deploys (`check --deploy`, `migrate_schemas`).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password")
        parser.add_argument("--domain", action="append", dest="domains", metavar="HOST")
        parser.add_argument("--currency", default="USD")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="Print exactly one JSON object on stdout; progress goes to stderr.",
        )

    def handle(
        self,
        *args,
        slug: str,
        name: str,
        owner_email: str,
        owner_password: str | None,
        domains: list[str] | None,
        currency: str,
        as_json: bool,
        **options,
    ) -> None:
        progress = self.stderr if as_json else self.stdout
        progress.write(f"Provisioning tenant '{slug}' (schema, defaults)...")
        # Output of migrations (run if the template lags behind the code) goes to stdout; keep
        # stdout clean for --json.
        real_stdout = sys.stdout
        if as_json:
            sys.stdout = sys.stderr
        try:
            result = tenant_provision(
                slug=slug,
                name=name,
                owner_email=owner_email,
                owner_password=owner_password,
                domains=domains,
                currency=currency,
                verbosity=0,
            )
        except DomainError as error:
            raise CommandError(error.message, returncode=1) from None
        finally:
            sys.stdout = real_stdout
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "tenant": result.tenant.slug,
                        "schema": result.tenant.schema_name,
                        "domains": result.domains,
                        "owner_email": result.owner.email,
                        "workspace_id": result.workspace.pk,
                        "token": result.token,
                    }
                )
            )
            return
        self.stdout.write(
            f"Tenant '{slug}' ready: schema {result.tenant.schema_name}, "
            f"domains {', '.join(result.domains)}, owner {result.owner.email}."
        )
        self.stdout.write(f"API token: {result.token}")
