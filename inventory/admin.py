"""Tenant admin: the catalog is editable; the stock ledger (levels, movements, adjustments,
transfers) is read-only, because only ``inventory.services.stock_apply`` may write it."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from inventory.models import (
    Category,
    Product,
    StockAdjustment,
    StockAdjustmentLine,
    StockLevel,
    StockMovement,
    StockTransfer,
    StockTransferLine,
    Tax,
)
from optiflow.admin_sites import tenant_admin


@admin.register(Tax, site=tenant_admin)
class TaxAdmin(admin.ModelAdmin):
    list_display = ["name", "rate", "is_default", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name"]


@admin.register(Category, site=tenant_admin)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "parent"]
    search_fields = ["name"]


@admin.register(Product, site=tenant_admin)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "product_type", "price", "track_stock", "is_active"]
    list_filter = ["product_type", "is_active", "track_stock", "category"]
    search_fields = ["name", "sku", "barcode"]
    list_select_related = ["category"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(StockLevel, site=tenant_admin)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["product", "workspace", "quantity", "minimum_quantity", "status"]
    list_filter = ["workspace"]
    search_fields = ["product__name", "product__sku"]
    list_select_related = ["product", "workspace"]


@admin.register(StockMovement, site=tenant_admin)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "type",
        "product",
        "workspace",
        "quantity",
        "quantity_after",
        "reference",
    ]
    list_filter = ["type", "workspace"]
    search_fields = ["product__name", "product__sku", "reference"]
    list_select_related = ["product", "workspace"]


class StockAdjustmentLineInline(ReadOnlyInline):
    model = StockAdjustmentLine


@admin.register(StockAdjustment, site=tenant_admin)
class StockAdjustmentAdmin(ReadOnlyAdmin):
    list_display = ["id", "workspace", "reference", "created_by", "created_at"]
    list_filter = ["workspace"]
    inlines = [StockAdjustmentLineInline]


class StockTransferLineInline(ReadOnlyInline):
    model = StockTransferLine


@admin.register(StockTransfer, site=tenant_admin)
class StockTransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "from_workspace", "to_workspace", "reference", "created_by", "created_at"]
    inlines = [StockTransferLineInline]
