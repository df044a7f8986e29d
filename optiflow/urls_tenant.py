"""URLs of a tenant address (``acme.example.com`` or ``/t/acme/``)."""

from django.urls import include, path, re_path

from optiflow.admin_sites import tenant_admin
from optiflow.api.exceptions import json_not_found

urlpatterns = [
    path("api/v1/", include("optiflow.urls_api")),
    # Unknown API paths answer JSON even with DEBUG on (handler404 only covers DEBUG off).
    re_path(r"^api/", json_not_found),
    path("admin/", tenant_admin.urls),
]

handler400 = "optiflow.api.exceptions.json_bad_request"
handler404 = "optiflow.api.exceptions.json_not_found"
handler500 = "optiflow.api.exceptions.json_server_error"
