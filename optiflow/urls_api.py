"""``/api/v1/`` of a tenant: every resource's routes, the health check and the docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from optiflow.api.docs import RedocView, SwaggerView
from optiflow.api.views import HealthView, ReadinessView

docs_urlpatterns = [
    path("schema", SpectacularAPIView.as_view(throttle_classes=[]), name="schema"),
    path("docs", SwaggerView.as_view(url_name="schema", throttle_classes=[]), name="docs"),
    path("redoc", RedocView.as_view(url_name="schema", throttle_classes=[]), name="redoc"),
]

urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("health/ready", ReadinessView.as_view(), name="ready"),
    *docs_urlpatterns,
    path("", include("tenants.urls")),
    path("", include("contacts.urls")),
    path("", include("inventory.urls")),
    path("", include("billing.urls")),
    path("", include("company.urls")),
    path("", include("webhooks.urls")),
]
