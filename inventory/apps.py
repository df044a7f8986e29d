from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        from inventory.models import StockAdjustment, StockLevel, StockTransfer
        from inventory.views import (
            StockAdjustmentViewSet,
            StockLevelViewSet,
            StockTransferViewSet,
        )
        from optiflow.api.views import detail_renderer
        from optiflow.events import EVENT_SOURCES, EventSource

        EVENT_SOURCES[StockLevel] = EventSource(
            detail_renderer(StockLevelViewSet), lambda level: [level.workspace_id]
        )
        EVENT_SOURCES[StockAdjustment] = EventSource(
            detail_renderer(StockAdjustmentViewSet), lambda adjustment: [adjustment.workspace_id]
        )
        EVENT_SOURCES[StockTransfer] = EventSource(
            detail_renderer(StockTransferViewSet),
            lambda transfer: [transfer.from_workspace_id, transfer.to_workspace_id],
        )
