"""``/api/v1/`` of a tenant: every resource's routes, the health check and the docs."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

import billing.urls
import company.urls
import contacts.urls
import inventory.urls
import tenants.urls
import webhooks.urls
from optiflow.api.docs import RedocView, SwaggerView
from optiflow.api.views import HealthView, ReadinessView

docs_urlpatterns = [
    path("schema", SpectacularAPIView.as_view(throttle_classes=[]), name="schema"),
    path("docs", SwaggerView.as_view(url_name="schema", throttle_classes=[]), name="docs"),
    path("redoc", RedocView.as_view(url_name="schema", throttle_classes=[]), name="redoc"),
]

# Each app's routes are spliced in rather than included under an empty prefix: such an include
# only adds a resolver that every request walks (and that raises and catches a Resolver404 for
# each app it passes), for the same routes, names and order.
urlpatterns = [
    path("health", HealthView.as_view(), name="health"),
    path("health/ready", ReadinessView.as_view(), name="ready"),
    *docs_urlpatterns,
    *tenants.urls.urlpatterns,
    *contacts.urls.urlpatterns,
    *inventory.urls.urlpatterns,
    *billing.urls.urlpatterns,
    *company.urls.urlpatterns,
    *webhooks.urls.urlpatterns,
]
