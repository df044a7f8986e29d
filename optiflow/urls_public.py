"""URLs of the bare host: health, the platform admin and the API documentation; nothing of
any tenant."""

from django.urls import include, path, re_path

from optiflow.admin_sites import public_admin
from optiflow.api.exceptions import json_not_found
from optiflow.api.views import HealthView
from optiflow.urls_api import docs_urlpatterns

urlpatterns = [
    path("health", HealthView.as_view(), name="public-health"),
    path("api/v1/", include(docs_urlpatterns)),
    re_path(r"^api/", json_not_found),
    path("admin/", public_admin.urls),
]

handler400 = "optiflow.api.exceptions.json_bad_request"
handler404 = "optiflow.api.exceptions.json_not_found"
handler500 = "optiflow.api.exceptions.json_server_error"
