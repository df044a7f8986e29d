from rest_framework.routers import SimpleRouter

from contacts import views

router = SimpleRouter(trailing_slash=False)
router.register("contacts", views.ContactViewSet, basename="contact")

urlpatterns = router.urls
