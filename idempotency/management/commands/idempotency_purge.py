"""``manage.py idempotency_purge``: delete expired ``Idempotency-Key`` results in every
tenant, as the workers' hourly task (``optiflow.tasks.purge_idempotency_keys``) does. Lookups
already ignore them; this keeps the tables small. Safe to run at any time."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, schema_context

from idempotency.services import idempotency_key_purge
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Delete Idempotency-Key results older than 24 hours, in every tenant."

    def handle(self, *args, **options) -> None:
        total = 0
        for tenant in Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("slug"):
            with schema_context(tenant.schema_name):
                deleted = idempotency_key_purge()
            total += deleted
            if deleted:
                self.stdout.write(f"{tenant.slug}: {deleted} expired result(s) deleted.")
        self.stdout.write(f"Done: {total} expired result(s) deleted.")
