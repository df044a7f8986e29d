"""Resolves the tenant of each request and activates its schema (SPEC §2).

Two equivalent addresses reach a tenant:

* ``{slug}.{OPTIFLOW_BASE_DOMAIN}`` or any other ``Domain`` row: matched on the Host header;
* ``/t/{slug}/...`` on any host: the prefix is moved from ``path_info`` into the script prefix,
  so URL resolution sees ``/api/v1/...`` while ``request.path`` (and every link built from it,
  pagination included) keeps the form the client used.

A host under the base domain that matches no tenant, or an unknown slug, is a JSON 404. Any
other host is the bare host: the public schema and its URLs (health, platform admin, docs).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import get_script_prefix, set_script_prefix, set_urlconf

from tenants.models import SLUG_PATTERN, Domain, Tenant

PATH_PREFIX = re.compile(rf"^/t/(?P<slug>{SLUG_PATTERN})(?P<rest>/.*|$)")


def tenant_not_found() -> JsonResponse:
    return JsonResponse({"message": "Tenant not found."}, status=404)


class TenantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Restored afterwards, so code that serves a request inside another schema context
        # (tests, management commands) finds its schema as it left it.
        previous_tenant = connection.tenant
        connection.set_schema_to_public()
        script_prefix = get_script_prefix()
        try:
            resolved = self.resolve(request)
            if isinstance(resolved, HttpResponse):
                return resolved
            return self.get_response(request)
        except DatabaseError:
            return JsonResponse({"message": "Service unavailable."}, status=503)
        finally:
            set_script_prefix(script_prefix)
            set_urlconf(None)
            connection.set_tenant(previous_tenant)

    def resolve(self, request: HttpRequest) -> HttpResponse | None:
        match = PATH_PREFIX.match(request.path_info)
        if match:
            tenant = Tenant.objects.filter(slug=match["slug"]).first()
            if tenant is None:
                return tenant_not_found()
            prefix = f"/t/{match['slug']}"
            request.path_info = match["rest"] or "/"
            set_script_prefix(request.META.get("SCRIPT_NAME", "").rstrip("/") + prefix + "/")
            request.tenant_path_prefix = prefix
            return self.activate(request, tenant)

        host = request.get_host().rsplit(":", 1)[0].lower()
        domain = Domain.objects.select_related("tenant").filter(domain=host).first()
        if domain is not None:
            request.tenant_path_prefix = ""
            return self.activate(request, domain.tenant)
        if host.endswith("." + settings.OPTIFLOW_BASE_DOMAIN):
            return tenant_not_found()
        request.tenant = connection.tenant  # django-tenants' stand-in for the public schema
        request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
        set_urlconf(request.urlconf)
        return None

    @staticmethod
    def activate(request: HttpRequest, tenant: Tenant) -> None:
        request.tenant = tenant
        connection.set_tenant(tenant)
        request.urlconf = settings.ROOT_URLCONF
        set_urlconf(request.urlconf)
        return None
