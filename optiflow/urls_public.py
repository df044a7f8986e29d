"""URLs of the bare host: health, the platform admin, the API documentation and, when
enabled, the Prometheus metrics; nothing of any tenant."""

from django.conf import settings
from django.urls import include, path, re_path

from optiflow.admin_sites import public_admin
from optiflow.api.exceptions import json_not_found
from optiflow.api.views import HealthView, ReadinessView
from optiflow.urls_api import docs_urlpatterns

urlpatterns = [
    path("health", HealthView.as_view(), name="public-health"),
    # Also served ahead of the tenant lookup (optiflow.middleware.ReadinessMiddleware).
    path("health/ready", ReadinessView.as_view(), name="public-ready"),
    path("api/v1/", include(docs_urlpatterns)),
    re_path(r"^api/", json_not_found),
    path("admin/", public_admin.urls),
]
if settings.OPTIFLOW_METRICS:
    from django_prometheus.exports import ExportToDjangoView

    # Never on a tenant's address. Every worker's counts: PROMETHEUS_MULTIPROC_DIR, uwsgi.ini.
    urlpatterns.append(path("metrics", ExportToDjangoView, name="metrics"))

handler400 = "optiflow.api.exceptions.json_bad_request"
handler404 = "optiflow.api.exceptions.json_not_found"
handler500 = "optiflow.api.exceptions.json_server_error"
