from rest_framework.routers import SimpleRouter

from billing import views

router = SimpleRouter(trailing_slash=False)
router.register("document-series", views.DocumentSeriesViewSet, basename="document-series")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("quotations", views.QuotationViewSet, basename="quotation")

urlpatterns = router.urls
