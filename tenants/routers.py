"""Decides which schema each table is created in.

django-tenants routes whole apps; ``tenants`` is in both SHARED_APPS and TENANT_APPS because
``User`` lives in both schemas, so this router narrows it per model.
"""

from __future__ import annotations

from django.db import connections
from django_tenants.routers import TenantSyncRouter
from django_tenants.utils import get_public_schema_name

PUBLIC_ONLY_MODELS = {
    ("tenants", "tenant"),
    ("tenants", "domain"),
    ("optiflow", "ratelimitwindow"),
}
TENANT_ONLY_MODELS = {
    ("tenants", "workspace"),
    ("tenants", "membership"),
    ("tenants", "apitoken"),
    ("optiflow", "event"),
}


class SchemaRouter(TenantSyncRouter):
    def allow_migrate(self, db, app_label, model_name=None, **hints):
        allowed = super().allow_migrate(db, app_label, model_name, **hints)
        if allowed is False or model_name is None:
            return allowed
        in_public = connections[db].schema_name == get_public_schema_name()
        excluded = TENANT_ONLY_MODELS if in_public else PUBLIC_ONLY_MODELS
        return False if (app_label, model_name) in excluded else allowed
