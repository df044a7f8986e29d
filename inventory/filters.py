"""Query filters of the catalog and ledger lists (SPEC §8.2-§8.5)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from inventory.models import LOW_STOCK, Product, StockLevel, StockMovement
from optiflow.api.query import AnyOfFilter, BoolFilter, ResourceFilterSet


class TaxFilterSet(ResourceFilterSet):
    is_active = BoolFilter(field_name="is_active")
    is_default = BoolFilter(field_name="is_default")


class CategoryFilterSet(ResourceFilterSet):
    parent_id = AnyOfFilter(integer=True)


class ProductFilterSet(ResourceFilterSet):
    """``stock_workspace_ids``: where ``low_stock`` looks, given by the view (the request's
    workspace, where the caller may see its stock)."""

    product_type = AnyOfFilter(choices=Product.Type.values)
    category_id = AnyOfFilter(integer=True)
    is_active = BoolFilter(field_name="is_active")
    track_stock = BoolFilter(field_name="track_stock")
    low_stock = BoolFilter(method="filter_low_stock")

    def __init__(self, *args, stock_workspace_ids: Iterable[int] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stock_workspace_ids = stock_workspace_ids

    def filter_low_stock(self, queryset: QuerySet[Product], name: str, value: bool):
        """At or below the minimum (out of stock included)."""
        return queryset.low_stock_in(self.stock_workspace_ids, low=value)


class StockLevelFilterSet(ResourceFilterSet):
    product_id = AnyOfFilter(integer=True)
    status = AnyOfFilter(choices=StockLevel.Status.values, method="filter_status")
    low_stock = BoolFilter(method="filter_low_stock")

    def filter_status(self, queryset: QuerySet[StockLevel], name: str, value: list[str]):
        return queryset.with_status(value)

    def filter_low_stock(self, queryset: QuerySet[StockLevel], name: str, value: bool):
        return queryset.filter(LOW_STOCK) if value else queryset.exclude(LOW_STOCK)


class StockMovementFilterSet(ResourceFilterSet):
    product_id = AnyOfFilter(integer=True)
    type = AnyOfFilter(choices=StockMovement.Type.values)
    invoice_id = AnyOfFilter(integer=True)


class StockTransferFilterSet(ResourceFilterSet):
    from_workspace_id = AnyOfFilter(integer=True)
    to_workspace_id = AnyOfFilter(integer=True)
