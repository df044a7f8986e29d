from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"

    def ready(self) -> None:
        from inventory.services import workspace_stock_guard
        from tenants.services import WORKSPACE_DELETE_GUARDS

        WORKSPACE_DELETE_GUARDS.append(workspace_stock_guard)
