from rest_framework.routers import SimpleRouter

from webhooks import views

router = SimpleRouter(trailing_slash=False)
router.register("events", views.EventViewSet, basename="event")
router.register("webhooks", views.WebhookViewSet, basename="webhook")
router.register(
    r"webhooks/(?P<webhook_pk>[0-9]+)/deliveries",
    views.WebhookDeliveryViewSet,
    basename="webhook-delivery",
)

urlpatterns = router.urls
