from rest_framework.routers import SimpleRouter

from inventory import views

router = SimpleRouter(trailing_slash=False)
router.register("taxes", views.TaxViewSet, basename="tax")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("products", views.ProductViewSet, basename="product")
router.register("stock-levels", views.StockLevelViewSet, basename="stock-level")
router.register("stock-movements", views.StockMovementViewSet, basename="stock-movement")
router.register("initial-stock", views.InitialStockViewSet, basename="initial-stock")
router.register("stock-adjustments", views.StockAdjustmentViewSet, basename="stock-adjustment")
router.register("stock-transfers", views.StockTransferViewSet, basename="stock-transfer")

urlpatterns = router.urls
