"""Two admin sites: the bare host's (platform staff: tenants and domains) and each tenant's
(its users, workspaces, tokens, catalog, documents). Apps register tenant models on
``tenant_admin``; nothing of a tenant is reachable from the public one."""

from django.contrib.admin import AdminSite


class PublicAdminSite(AdminSite):
    site_header = "OptiFlow platform"
    site_title = "OptiFlow platform"
    index_title = "Tenants"


class TenantAdminSite(AdminSite):
    site_header = "OptiFlow"
    site_title = "OptiFlow"
    index_title = "Administration"


public_admin = PublicAdminSite(name="public_admin")
tenant_admin = TenantAdminSite(name="admin")
