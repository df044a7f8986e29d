"""Two admin sites: the bare host's (platform staff: tenants and domains) and each tenant's
(its users, workspaces, tokens, catalog, documents). Apps register tenant models on
``tenant_admin``; nothing of a tenant is reachable from the public one.

Both use the django-unfold theme. Their "delete selected" action runs in one transaction and
shows a service's refusal as a message (``optiflow.admin_base.delete_selected``). The tenant
site's index is the dashboard: panels that apps contribute (``optiflow.dashboard``).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from unfold.sites import UnfoldAdminSite

from optiflow.admin_base import delete_selected
from optiflow.dashboard import dashboard_panels


class OptiFlowAdminSite(UnfoldAdminSite):
    site_subheader = ""
    login_template = "admin/optiflow/login.html"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.add_action(delete_selected, "delete_selected")

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        # Unfold reads titles from the UNFOLD setting, shared by both sites: each site's own
        # attributes say which admin this is.
        context.update(
            site_title=self.site_title,
            site_header=self.site_header,
            site_subheader=self.site_subheader,
            site_url=self.site_url,
            show_view_on_site=False,
        )
        return context


class PublicAdminSite(OptiFlowAdminSite):
    site_header = "OptiFlow platform"
    site_title = "OptiFlow platform"
    site_subheader = "Tenants and domains"
    index_title = "Tenants"
    site_url = None


class TenantAdminSite(OptiFlowAdminSite):
    site_header = "OptiFlow"
    site_title = "OptiFlow"
    site_subheader = "Back office"
    index_title = "Dashboard"
    index_template = "admin/optiflow/dashboard.html"

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["site_url"] = reverse("docs")  # the API this admin stands beside
        return context

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None):
        panels = dashboard_panels(request) if self.has_permission(request) else []
        return super().index(request, {"panels": panels, **(extra_context or {})})


public_admin = PublicAdminSite(name="public_admin")
tenant_admin = TenantAdminSite(name="admin")
