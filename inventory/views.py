"""Endpoints of the catalog (``/taxes``, ``/categories``, ``/products``; tenant-wide) and the
stock ledger (``/stock-levels``, ``/stock-movements``, ``/initial-stock``,
``/stock-adjustments``, ``/stock-transfers``; workspace-scoped), SPEC §8.2-§8.5."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from inventory import selectors, services
from inventory.filters import (
    CategoryFilterSet,
    ProductFilterSet,
    StockLevelFilterSet,
    StockMovementFilterSet,
    StockTransferFilterSet,
    TaxFilterSet,
)
from inventory.models import (
    Category,
    Product,
    StockAdjustment,
    StockLevel,
    StockMovement,
    StockTransfer,
    Tax,
)
from inventory.serializers import (
    CategorySerializer,
    CategoryWriteSerializer,
    InitialStockSerializer,
    ProductCreateSerializer,
    ProductSerializer,
    ProductWriteSerializer,
    StockAdjustmentCreateSerializer,
    StockAdjustmentSerializer,
    StockLevelSerializer,
    StockLevelUpdateSerializer,
    StockMovementSerializer,
    StockTransferCreateSerializer,
    StockTransferSerializer,
    TaxSerializer,
    TaxWriteSerializer,
)
from optiflow.api.access import WORKSPACE_HEADER
from optiflow.api.permissions import AUTHENTICATED, permission_table
from optiflow.api.schema import WORKSPACE_ID_SCHEMA
from optiflow.api.views import (
    ApiViewSet,
    CreateMixin,
    DestroyMixin,
    ListMixin,
    RetrieveMixin,
    UpdateMixin,
)

WRITE_ACTIONS = ("create", "update", "partial_update")
TIMESTAMP_SORTS = ("created_at", "updated_at", "id")
#: The permissions of a catalog resource under ``products:*`` (categories and products).
CATALOG_PERMISSIONS = permission_table(
    read="products:view",
    create="products:create",
    update="products:edit",
    destroy="products:delete",
)


# --- catalog --------------------------------------------------------------------------------


class TaxViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ApiViewSet):
    """Tax rates in percent. Any user may read them; writes need `taxes:manage`. Marking a
    tax default clears the previous default; the default must be active. Delete is refused
    (`422`) while a product or a document line uses the tax: deactivate it instead."""

    queryset = Tax.objects.all()
    serializer_class = TaxSerializer
    input_serializers = dict.fromkeys(WRITE_ACTIONS, TaxWriteSerializer)
    required_permissions = permission_table(
        read=AUTHENTICATED, create="taxes:manage", update="taxes:manage", destroy="taxes:manage"
    )
    filterset_class = TaxFilterSet
    smart_fields = ("name",)
    sort_fields = ("name", "rate", *TIMESTAMP_SORTS)
    default_sort = "name"

    def perform_create(self, data: dict[str, Any]) -> Tax:
        return services.tax_create(**data)

    def perform_update(self, instance: Tax, data: dict[str, Any]) -> Tax:
        return services.tax_update(tax=instance, data=data)

    def perform_destroy(self, instance: Tax) -> None:
        services.tax_delete(tax=instance)


class CategoryViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ApiViewSet):
    """Product categories, optionally nested under a parent. Delete is refused (`422`) while
    products or subcategories reference the category."""

    queryset = Category.objects.all()
    serializer_class = CategorySerializer
    input_serializers = dict.fromkeys(WRITE_ACTIONS, CategoryWriteSerializer)
    required_permissions = CATALOG_PERMISSIONS
    filterset_class = CategoryFilterSet
    smart_fields = ("name",)
    sort_fields = ("name", *TIMESTAMP_SORTS)
    default_sort = "name"

    def perform_create(self, data: dict[str, Any]) -> Category:
        return services.category_create(**data)

    def perform_update(self, instance: Category, data: dict[str, Any]) -> Category:
        return services.category_update(category=instance, data=data)

    def perform_destroy(self, instance: Category) -> None:
        services.category_delete(category=instance)


class ProductViewSet(ListMixin, RetrieveMixin, CreateMixin, UpdateMixin, DestroyMixin, ApiViewSet):
    """The tenant's catalog. `sku` is unique ignoring case, `barcode` unique when set.
    Service and digital products never track stock. `profit` = price - cost and
    `profit_margin` = profit in percent of cost; both null without a positive cost.

    `filter[low_stock]` and `include=stock` refer to the request's workspace, and
    `include=stock_levels` lists every workspace, where the caller may see stock
    (`inventory:view`): without it no product is low there and `stock` is null.

    Delete is refused (`422`) once the product is on a document line or has stock movements
    other than its initial stock (deactivate it instead); otherwise the product goes together
    with its levels and initial-stock movements."""

    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    input_serializers = {
        "create": ProductCreateSerializer,
        "update": ProductWriteSerializer,
        "partial_update": ProductWriteSerializer,
    }
    required_permissions = {
        **CATALOG_PERMISSIONS,
        **permission_table(activate="products:edit", deactivate="products:edit"),
    }
    filterset_class = ProductFilterSet
    smart_fields = ("name", "sku", "barcode", "description")
    sort_fields = ("name", "sku", "price", *TIMESTAMP_SORTS)
    default_sort = "name"

    include_prefetches = {
        "category": ("category",),
        "default_tax": ("default_tax",),
        # Stock shows where the caller may see it: built per request, by include_lookups.
        "stock": (),
        "stock_levels": (),
    }

    def include_lookups(self, path: str) -> tuple:
        """Stock levels in the workspaces where the caller has `inventory:view`: the request's
        for `stock`, every visible one for `stock_levels`. Built only when asked for (a
        queryset per include costs as much as a small detail's own)."""
        if path not in ("stock", "stock_levels"):
            return super().include_lookups(path)
        access = getattr(self.request, "access", None)  # None: schema generation
        if path == "stock":
            here = access.current_workspace_ids("inventory:view") if access else []
            levels = selectors.stock_level_list(workspace_ids=here)
            return (Prefetch("stock_levels", levels, to_attr="current_stock_levels"),)
        visible = access.visible_workspace_ids("inventory:view") if access else []
        levels = selectors.stock_level_list(workspace_ids=visible)
        return (Prefetch("stock_levels", levels, to_attr="visible_stock_levels"),)

    def filterset_kwargs(self) -> dict[str, Any]:
        return {"stock_workspace_ids": self.request.access.current_workspace_ids("inventory:view")}

    def perform_create(self, data: dict[str, Any]) -> Product:
        entries = [services.InitialStock(**entry) for entry in data.pop("initial_stock", [])]
        return services.product_create(actor=self.request.user, initial_stock=entries, **data)

    def perform_update(self, instance: Product, data: dict[str, Any]) -> Product:
        return services.product_update(product=instance, data=data)

    def perform_destroy(self, instance: Product) -> None:
        services.product_delete(product=instance)

    @extend_schema(request=None, responses=ProductSerializer)
    @action(detail=True, methods=["post"])
    def activate(self, request: Request, pk: str) -> Response:
        """Make the product available for new documents again."""
        product = services.product_set_active(product=self.get_object(), is_active=True)
        return self.respond(product)

    @extend_schema(request=None, responses=ProductSerializer)
    @action(detail=True, methods=["post"])
    def deactivate(self, request: Request, pk: str) -> Response:
        """Keep the product (and its history) but refuse it on new documents."""
        product = services.product_set_active(product=self.get_object(), is_active=False)
        return self.respond(product)


# --- stock ----------------------------------------------------------------------------------


class StockLevelViewSet(ListMixin, RetrieveMixin, ApiViewSet):
    """Stock of each product in the request's workspace. `status`: `out_of_stock` when the
    quantity is ≤ 0, else `low_stock` when it is ≤ `minimum_quantity`, else `in_stock`;
    `filter[low_stock]` means quantity ≤ minimum (out of stock included). Only
    `minimum_quantity` is written here: quantities change through movements."""

    workspace_scoped = True
    serializer_class = StockLevelSerializer
    input_serializers = {"partial_update": StockLevelUpdateSerializer}
    required_permissions = permission_table(
        read="inventory:view", partial_update="inventory:adjust"
    )
    filterset_class = StockLevelFilterSet
    smart_fields = ("product__name", "product__sku")
    sort_fields = ("quantity", "minimum_quantity", *TIMESTAMP_SORTS)
    default_sort = "id"
    include_prefetches = {
        "product": ("product",),
        "product.category": ("product__category",),
        "workspace": ("workspace",),
    }

    def base_queryset(self) -> QuerySet[StockLevel]:
        return selectors.stock_level_list()

    def partial_update(self, request: Request, pk: str) -> Response:
        """Set the minimum quantity (the only field written here); `{}` changes nothing, as
        with every `PATCH`."""
        level = self.get_object()
        level = services.stock_level_update(level=level, **self.validated_input(partial=True))
        return self.respond(level)


class StockMovementViewSet(ListMixin, RetrieveMixin, ApiViewSet):
    """The stock ledger of the request's workspace: one row per change, signed, with the
    level before and after. Rows are never updated or deleted. `created_by_id` is the id of
    the user who made the change; `include=created_by` embeds the user."""

    workspace_scoped = True
    queryset = StockMovement.objects.all()
    serializer_class = StockMovementSerializer
    required_permissions = permission_table(read="inventory:view")
    filterset_class = StockMovementFilterSet
    sort_fields = TIMESTAMP_SORTS
    default_sort = "-created_at"
    include_prefetches = {"product": ("product",), "created_by": ("created_by",)}


@extend_schema_view(
    create=extend_schema(
        parameters=[
            OpenApiParameter(
                WORKSPACE_HEADER,
                WORKSPACE_ID_SCHEMA,
                location=OpenApiParameter.HEADER,
                description="Workspace used when the body has no `workspace_id`.",
            )
        ]
    )
)
class InitialStockViewSet(CreateMixin, ApiViewSet):
    """Record the opening stock of a product in a workspace (default: the request's; needs
    `inventory:adjust` there), once per product and workspace: later changes are adjustments
    (`422`). Answers the level."""

    serializer_class = StockLevelSerializer
    input_serializers = {"create": InitialStockSerializer}
    required_permissions = permission_table(create="inventory:adjust")

    def base_queryset(self) -> QuerySet[StockLevel]:
        # Not workspace-scoped: `workspace_id` may name another workspace the caller manages.
        return selectors.stock_level_list()

    def perform_create(self, data: dict[str, Any]) -> StockLevel:
        return services.initial_stock_create(actor=self.request.user, **data)


class StockAdjustmentViewSet(ListMixin, RetrieveMixin, CreateMixin, ApiViewSet):
    """Manual stock corrections in the request's workspace. Each line's quantity is signed
    (negative takes stock out) and stored with the level before and after. All lines apply
    or none: a line that would take stock below zero answers `422` on `items.N.quantity`."""

    workspace_scoped = True
    queryset = StockAdjustment.objects.all()
    serializer_class = StockAdjustmentSerializer
    input_serializers = {"create": StockAdjustmentCreateSerializer}
    required_permissions = permission_table(read="inventory:view", create="inventory:adjust")
    smart_fields = ("reference", "notes")
    sort_fields = TIMESTAMP_SORTS
    default_sort = "-created_at"
    include_prefetches = {
        "items": ("items",),
        "items.product": ("items__product",),
        "created_by": ("created_by",),
    }
    detail_includes = frozenset({"items"})

    def perform_create(self, data: dict[str, Any]) -> StockAdjustment:
        items = [services.AdjustmentItem(**item) for item in data.pop("items")]
        return services.stock_adjustment_create(
            workspace=self.request.access.require_workspace(),
            actor=self.request.user,
            items=items,
            **data,
        )


class StockTransferViewSet(ListMixin, RetrieveMixin, CreateMixin, ApiViewSet):
    """Stock moved between workspaces; listed in both. Needs `inventory:transfer` in both
    workspaces. `from_workspace_id` defaults to the request's workspace; the same workspace
    on both ends answers `422` on `to_workspace_id`. Writes a `transfer_out` and a
    `transfer_in` movement per line, all or nothing."""

    workspace_scoped = True
    workspace_lookup = ("from_workspace", "to_workspace")
    queryset = StockTransfer.objects.all()
    serializer_class = StockTransferSerializer
    input_serializers = {"create": StockTransferCreateSerializer}
    required_permissions = permission_table(read="inventory:view", create="inventory:transfer")
    filterset_class = StockTransferFilterSet
    smart_fields = ("reference", "notes")
    sort_fields = TIMESTAMP_SORTS
    default_sort = "-created_at"
    include_prefetches = {
        "items": ("items",),
        "items.product": ("items__product",),
        "from_workspace": ("from_workspace",),
        "to_workspace": ("to_workspace",),
        "created_by": ("created_by",),
    }
    detail_includes = frozenset({"items"})

    def create(self, request: Request, *args, **kwargs) -> Response:
        transfer = self.perform_create(self.validated_input())
        # Answered unscoped: neither end need be the request's workspace.
        return self.respond(transfer, status.HTTP_201_CREATED, self.queryset)

    def perform_create(self, data: dict[str, Any]) -> StockTransfer:
        items = [services.TransferItem(**item) for item in data.pop("items")]
        return services.stock_transfer_create(
            from_workspace=data.pop("from_workspace"),
            to_workspace=data.pop("to_workspace"),
            actor=self.request.user,
            items=items,
            **data,
        )
