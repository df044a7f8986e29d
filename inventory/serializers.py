"""Input and output shapes of the catalog and the stock ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

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
from optiflow.api.serializers import (
    BulkRelatedListSerializer,
    CurrentWorkspace,
    IncludableModelSerializer,
    IncludableSerializer,
    MoneyField,
    ScopedRelatedField,
    document_items,
)
from optiflow.money import CENT, HUNDRED, RATE, ZERO
from tenants.models import Workspace
from tenants.serializers import UserSerializer, WorkspaceRefSerializer


def non_negative(**kwargs) -> MoneyField:
    return MoneyField(min_value=ZERO, **kwargs)


# --- taxes and categories -------------------------------------------------------------------


class TaxSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tax
        fields = ["id", "name", "rate", "is_default", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class TaxWriteSerializer(serializers.ModelSerializer):
    rate = serializers.DecimalField(
        **RATE, min_value=ZERO, max_value=HUNDRED, help_text="Percent, 0-100."
    )

    class Meta:
        model = Tax
        fields = ["name", "rate", "is_default", "is_active"]
        # The single-default constraint is kept by the service (it moves the flag), not refused.
        extra_kwargs = {"is_default": {"validators": []}}


class CategorySerializer(serializers.ModelSerializer):
    parent_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Category
        fields = ["id", "name", "parent_id", "created_at", "updated_at"]
        read_only_fields = fields


class CategoryWriteSerializer(serializers.ModelSerializer):
    parent_id = ScopedRelatedField(
        source="parent", queryset=Category.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Category
        fields = ["name", "parent_id"]


# --- products -------------------------------------------------------------------------------

#: A product's own fields, as written and (with its id and computed figures) as answered.
PRODUCT_FIELDS = [
    "name",
    "sku",
    "barcode",
    "description",
    "product_type",
    "category_id",
    "unit",
    "price",
    "cost",
    "track_stock",
    "allow_negative_stock",
    "is_active",
    "default_tax_id",
]
LEVEL_FIELDS = [
    "id",
    "product_id",
    "workspace_id",
    "quantity",
    "minimum_quantity",
    "status",
    "created_at",
    "updated_at",
]


class ProductStockSerializer(serializers.ModelSerializer):
    """A stock level as embedded in its product (``include=stock,stock_levels``)."""

    product_id = serializers.IntegerField(read_only=True)
    workspace_id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=StockLevel.Status.choices, read_only=True)

    class Meta:
        model = StockLevel
        fields = LEVEL_FIELDS
        read_only_fields = fields


class ProductSerializer(IncludableModelSerializer):
    category_id = serializers.IntegerField(read_only=True, allow_null=True)
    default_tax_id = serializers.IntegerField(read_only=True, allow_null=True)
    profit = MoneyField(
        read_only=True, allow_null=True, help_text="price - cost; null without a positive cost."
    )
    profit_margin = serializers.DecimalField(
        max_digits=None,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="Profit in percent of cost; null without a positive cost.",
    )
    category = CategorySerializer(read_only=True, allow_null=True)
    default_tax = TaxSerializer(read_only=True, allow_null=True)
    stock = serializers.SerializerMethodField(
        help_text="The level in the request's workspace; null if there is none."
    )
    stock_levels = ProductStockSerializer(
        source="visible_stock_levels",
        many=True,
        read_only=True,
        help_text="Levels in every workspace whose stock the caller may see.",
    )

    class Meta:
        model = Product
        fields = [
            "id",
            *PRODUCT_FIELDS,
            "profit",
            "profit_margin",
            "category",
            "default_tax",
            "stock",
            "stock_levels",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        include_fields = ("category", "default_tax", "stock", "stock_levels")

    @extend_schema_field(ProductStockSerializer(allow_null=True))
    def get_stock(self, product: Product) -> dict[str, Any] | None:
        levels = product.current_stock_levels
        return ProductStockSerializer(levels[0]).data if levels else None


class ProductWriteSerializer(serializers.ModelSerializer):
    """``track_stock`` defaults to true for physical products; service and digital products
    never track stock."""

    barcode = serializers.CharField(
        max_length=64,
        allow_null=True,
        allow_blank=True,
        required=False,
        help_text="Unique when set; empty means none.",
    )
    category_id = ScopedRelatedField(
        source="category", queryset=Category.objects.all(), allow_null=True, required=False
    )
    default_tax_id = ScopedRelatedField(
        source="default_tax",
        queryset=Tax.objects.all(),
        allow_null=True,
        required=False,
        help_text="On create, default: the tenant's default tax; `null` for none.",
    )
    price = non_negative()
    cost = non_negative(allow_null=True, required=False)
    track_stock = serializers.BooleanField(required=False)

    class Meta:
        model = Product
        fields = PRODUCT_FIELDS

    def validate_sku(self, sku: str) -> str:
        return sku.strip()

    def validate_barcode(self, barcode: str | None) -> str | None:
        return (barcode or "").strip() or None


class ProductInitialStockSerializer(serializers.Serializer):
    workspace_id = ScopedRelatedField(
        source="workspace", queryset=Workspace.objects.all(), permission="inventory:adjust"
    )
    quantity = non_negative()
    minimum_quantity = non_negative(required=False)
    unit_cost = non_negative(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)

    class Meta:
        list_serializer_class = BulkRelatedListSerializer


class ProductCreateSerializer(ProductWriteSerializer):
    initial_stock = ProductInitialStockSerializer(
        many=True,
        required=False,
        help_text="Opening stock per workspace (needs `inventory:adjust` there).",
    )

    class Meta(ProductWriteSerializer.Meta):
        fields = [*ProductWriteSerializer.Meta.fields, "initial_stock"]

    def validate_initial_stock(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        errors: list[dict[str, list[str]]] = [{} for _ in entries]
        seen: set[Workspace] = set()
        for index, entry in enumerate(entries):
            if entry["workspace"] in seen:
                errors[index] = {"workspace_id": ["Initial stock is given once per workspace."]}
            seen.add(entry["workspace"])
        if any(errors):
            raise serializers.ValidationError(errors)
        return entries


# --- stock ----------------------------------------------------------------------------------


class StockLevelSerializer(IncludableSerializer, ProductStockSerializer):
    product = ProductSerializer(read_only=True)
    workspace = WorkspaceRefSerializer(read_only=True)

    class Meta(ProductStockSerializer.Meta):
        fields = [*LEVEL_FIELDS, "product", "workspace"]
        read_only_fields = fields
        include_fields = ("product", "workspace")


class StockLevelUpdateSerializer(serializers.Serializer):
    minimum_quantity = non_negative()


class InitialStockSerializer(serializers.Serializer):
    product_id = ScopedRelatedField(source="product", queryset=Product.objects.all())
    quantity = non_negative()
    minimum_quantity = non_negative(required=False)
    unit_cost = non_negative(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    workspace_id = ScopedRelatedField(
        source="workspace",
        queryset=Workspace.objects.all(),
        permission="inventory:adjust",
        default=CurrentWorkspace(),
        help_text="Default: the request's workspace.",
    )


class StockMovementSerializer(IncludableModelSerializer):
    product_id = serializers.IntegerField(read_only=True)
    workspace_id = serializers.IntegerField(read_only=True)
    transfer_id = serializers.IntegerField(read_only=True, allow_null=True)
    adjustment_id = serializers.IntegerField(read_only=True, allow_null=True)
    created_by_id = serializers.IntegerField(read_only=True)
    product = ProductSerializer(read_only=True)
    created_by = UserSerializer(read_only=True)

    class Meta:
        model = StockMovement
        fields = [
            "id",
            "product_id",
            "workspace_id",
            "type",
            "quantity",
            "quantity_before",
            "quantity_after",
            "unit_cost",
            "reason",
            "reference",
            "notes",
            "invoice_id",
            "transfer_id",
            "adjustment_id",
            "created_by_id",
            "product",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        include_fields = ("product", "created_by")


class StockAdjustmentLineSerializer(IncludableModelSerializer):
    product_id = serializers.IntegerField(read_only=True)
    product = ProductSerializer(read_only=True)

    class Meta:
        model = StockAdjustmentLine
        fields = [
            "id",
            "product_id",
            "quantity",
            "reason",
            "notes",
            "quantity_before",
            "quantity_after",
            "product",
        ]
        read_only_fields = fields
        include_fields = ("product",)


class StockAdjustmentSerializer(IncludableModelSerializer):
    workspace_id = serializers.IntegerField(read_only=True)
    created_by_id = serializers.IntegerField(read_only=True)
    items = StockAdjustmentLineSerializer(many=True, read_only=True)
    created_by = UserSerializer(read_only=True)

    class Meta:
        model = StockAdjustment
        fields = [
            "id",
            "workspace_id",
            "reference",
            "notes",
            "created_by_id",
            "items",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        include_fields = ("items", "created_by")


class StockAdjustmentItemSerializer(serializers.Serializer):
    product_id = ScopedRelatedField(source="product", queryset=Product.objects.all())
    quantity = MoneyField(help_text="Signed: negative takes stock out. Not zero.")
    reason = serializers.ChoiceField(choices=StockAdjustmentLine.Reason.choices)
    notes = serializers.CharField(required=False, allow_blank=True)

    def validate_quantity(self, quantity: Decimal) -> Decimal:
        if quantity == 0:
            raise serializers.ValidationError("The quantity cannot be zero.")
        return quantity

    class Meta:
        list_serializer_class = BulkRelatedListSerializer


class StockAdjustmentCreateSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    items = document_items(StockAdjustmentItemSerializer)


class StockTransferLineSerializer(IncludableModelSerializer):
    product_id = serializers.IntegerField(read_only=True)
    product = ProductSerializer(read_only=True)

    class Meta:
        model = StockTransferLine
        fields = ["id", "product_id", "quantity", "product"]
        read_only_fields = fields
        include_fields = ("product",)


class StockTransferSerializer(IncludableModelSerializer):
    from_workspace_id = serializers.IntegerField(read_only=True)
    to_workspace_id = serializers.IntegerField(read_only=True)
    created_by_id = serializers.IntegerField(read_only=True)
    items = StockTransferLineSerializer(many=True, read_only=True)
    from_workspace = WorkspaceRefSerializer(read_only=True)
    to_workspace = WorkspaceRefSerializer(read_only=True)
    created_by = UserSerializer(read_only=True)

    class Meta:
        model = StockTransfer
        fields = [
            "id",
            "from_workspace_id",
            "to_workspace_id",
            "reference",
            "notes",
            "created_by_id",
            "items",
            "from_workspace",
            "to_workspace",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        include_fields = ("items", "from_workspace", "to_workspace", "created_by")


class StockTransferItemSerializer(serializers.Serializer):
    product_id = ScopedRelatedField(source="product", queryset=Product.objects.all())
    quantity = MoneyField(min_value=CENT)

    class Meta:
        list_serializer_class = BulkRelatedListSerializer


class StockTransferCreateSerializer(serializers.Serializer):
    to_workspace_id = ScopedRelatedField(
        source="to_workspace", queryset=Workspace.objects.all(), permission="inventory:transfer"
    )
    from_workspace_id = ScopedRelatedField(
        source="from_workspace",
        queryset=Workspace.objects.all(),
        permission="inventory:transfer",
        default=CurrentWorkspace(),
        help_text="Default: the request's workspace.",
    )
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    items = document_items(StockTransferItemSerializer)
