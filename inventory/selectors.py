"""Reads of the stock ledger beyond a model's plain rows (those are the viewsets'
``queryset``). Workspace scoping is applied by the API base view, or comes in as the workspace
ids the caller may see (``tenants.access.Access.visible_workspace_ids``); related records are
fetched by the views' include prefetches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value, Window
from django.db.models.functions import Coalesce, RowNumber

from inventory.models import Product, StockLevel
from tenants.models import Workspace


def product_list_with_stock(*, queryset: QuerySet[Product] | None = None) -> QuerySet[Product]:
    """Products with ``on_hand``: their quantity summed over every workspace."""
    queryset = Product.objects.all() if queryset is None else queryset
    zero = Value(Decimal("0.00"), output_field=DecimalField(max_digits=14, decimal_places=2))
    return queryset.annotate(on_hand=Coalesce(Sum("stock_levels__quantity"), zero))


def stock_level_list(*, workspace_ids: Iterable[int] | None = None) -> QuerySet[StockLevel]:
    """``workspace_ids``: only levels in these workspaces (``None``: every workspace)."""
    levels = StockLevel.objects.order_by("workspace_id", "id")
    return levels if workspace_ids is None else levels.filter(workspace_id__in=workspace_ids)


@dataclass(frozen=True)
class WorkspaceLowStock:
    workspace: Workspace
    #: Active products at or below their minimum, out-of-stock ones included.
    low: int
    out: int
    #: The lowest of them first, at most the selector's ``limit``.
    levels: list[StockLevel]


def low_stock_by_workspace(
    *, workspace_ids: Iterable[int] | None = None, limit: int = 5
) -> list[WorkspaceLowStock]:
    """Low stock of active products per workspace (``None``: every workspace), in one query
    whatever the number of levels: window functions count each workspace's low levels and
    pick its ``limit`` lowest."""
    low = StockLevel.objects.low().filter(product__is_active=True)
    if workspace_ids is not None:
        low = low.filter(workspace_id__in=workspace_ids)
    per_workspace = {"partition_by": F("workspace_id")}
    ranked = (
        low.annotate(
            rank=Window(RowNumber(), order_by=[F("quantity"), F("id")], **per_workspace),
            low_count=Window(Count("id"), **per_workspace),
            out_count=Window(Count("id", filter=Q(quantity__lte=0)), **per_workspace),
        )
        .filter(rank__lte=limit)
        .select_related("product", "workspace")
        .order_by("workspace_id", "rank")
    )
    summary: dict[int, WorkspaceLowStock] = {}
    for level in ranked:
        if level.workspace_id not in summary:
            summary[level.workspace_id] = WorkspaceLowStock(
                level.workspace, level.low_count, level.out_count, []
            )
        summary[level.workspace_id].levels.append(level)
    return list(summary.values())
