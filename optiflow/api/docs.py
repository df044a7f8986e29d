"""The API documentation pages (SPEC §10): Swagger UI and ReDoc, served with the assets of
drf-spectacular-sidecar and nothing from elsewhere.

Both pages answer with a Content-Security-Policy that lets the browser load scripts, styles,
images and data only from this server, so an asset that would reach out (ReDoc's bundle shows
a logo from ``cdn.redoc.ly``) is refused by the browser rather than fetched. Swagger UI's init
script is served as a file (``SpectacularSwaggerSplitView``), so no inline script is allowed.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response


def content_security_policy() -> str:
    # Swagger UI's "Try it out" may target the tenants' own subdomains (`servers`).
    tenants = f"*.{settings.OPTIFLOW_BASE_DOMAIN}:*"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Both UIs set inline styles and ReDoc injects <style> elements.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            # ReDoc's search index runs in a worker built from a blob.
            "worker-src 'self' blob:",
            f"connect-src 'self' {tenants}",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ]
    )


class SwaggerView(SpectacularSwaggerSplitView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args, **kwargs) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = content_security_policy()
        return response


class RedocView(SpectacularRedocView):
    template_name = "optiflow/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args, **kwargs) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = content_security_policy()
        return response
