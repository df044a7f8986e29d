"""Reads of the stock ledger beyond a model's plain rows (those are the viewsets'
``queryset``). Workspace scoping is applied by the API base view, or comes in as the workspace
ids the caller may see (``tenants.access.Access.visible_workspace_ids``); related records are
fetched by the views' include prefetches."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from inventory.models import StockLevel


def stock_level_list(*, workspace_ids: Iterable[int] | None = None) -> QuerySet[StockLevel]:
    """``workspace_ids``: only levels in these workspaces (``None``: every workspace)."""
    levels = StockLevel.objects.order_by("workspace_id", "id")
    return levels if workspace_ids is None else levels.filter(workspace_id__in=workspace_ids)
