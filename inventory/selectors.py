"""Reads of the catalog and the stock ledger. Workspace scoping of the ledger is applied by
the API base view; related records are fetched by the views' include prefetches."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from inventory.models import (
    Category,
    Product,
    StockAdjustment,
    StockLevel,
    StockMovement,
    StockTransfer,
    Tax,
)


def tax_list() -> QuerySet[Tax]:
    return Tax.objects.all()


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def stock_level_list(*, workspace_ids: Iterable[int] | None = None) -> QuerySet[StockLevel]:
    """``workspace_ids``: only levels in these workspaces (``None``: every workspace)."""
    levels = StockLevel.objects.order_by("workspace_id", "id")
    return levels if workspace_ids is None else levels.filter(workspace_id__in=workspace_ids)


def stock_movement_list() -> QuerySet[StockMovement]:
    return StockMovement.objects.all()


def stock_adjustment_list() -> QuerySet[StockAdjustment]:
    return StockAdjustment.objects.all()


def stock_transfer_list() -> QuerySet[StockTransfer]:
    return StockTransfer.objects.all()
