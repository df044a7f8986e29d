"""Tenant admin of the catalog (edited through ``inventory.services``, the API's rules) and
of the stock ledger (levels, movements, adjustments, transfers: read-only, because only
``inventory.services.stock_apply`` may write it; stock changes go through the API). Also the
dashboard's low-stock panel."""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from unfold.widgets import UnfoldAdminDecimalFieldWidget

from inventory import selectors, services
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
from optiflow.admin_base import (
    DayRangeFilter,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceAdmin,
    ServiceModelForm,
    money,
    quantity,
    tenant_currency,
)
from optiflow.admin_sites import tenant_admin
from optiflow.dashboard import DASHBOARD_PANELS, Metric, Panel, Row
from optiflow.deletion import refusal_preview, refuse_if_in_use


def amount_input(**kwargs) -> forms.DecimalField:
    """A decimal input with two places and the bounds the API's serializers apply."""
    return forms.DecimalField(
        max_digits=14, decimal_places=2, widget=UnfoldAdminDecimalFieldWidget, **kwargs
    )


# --- catalog --------------------------------------------------------------------------------


class TaxForm(ServiceModelForm):
    rate = amount_input(min_value=0, max_value=100, help_text="Percent, 0 to 100.")

    class Meta:
        model = Tax
        fields = ["name", "rate", "is_default", "is_active"]
        help_texts = {
            "is_default": "New products get this tax; marking it clears the previous default."
        }


@admin.register(Tax, site=tenant_admin)
class TaxAdmin(ServiceAdmin):
    form = TaxForm
    list_display = ["name", "rate_percent", "is_default", "is_active"]
    list_filter = ["is_active", "is_default"]
    search_fields = ["name"]

    @admin.display(description="Rate", ordering="rate")
    def rate_percent(self, tax: Tax) -> str:
        return f"{tax.rate:.2f} %"

    def service_create(self, request: HttpRequest, data: dict, form) -> Tax:
        return services.tax_create(**data)

    def service_update(self, request: HttpRequest, obj: Tax, data: dict, form) -> Tax:
        return services.tax_update(tax=obj, data=data)

    def service_delete(self, request: HttpRequest, obj: Tax) -> None:
        services.tax_delete(tax=obj)

    def service_delete_check(self, request: HttpRequest, obj: Tax) -> None:
        refuse_if_in_use(obj)


@admin.register(Category, site=tenant_admin)
class CategoryAdmin(ServiceAdmin):
    list_display = ["name", "parent"]
    list_select_related = ["parent"]
    search_fields = ["name"]
    autocomplete_fields = ["parent"]

    def service_create(self, request: HttpRequest, data: dict, form) -> Category:
        return services.category_create(**data)

    def service_update(self, request: HttpRequest, obj: Category, data: dict, form) -> Category:
        return services.category_update(category=obj, data=data)

    def service_delete(self, request: HttpRequest, obj: Category) -> None:
        services.category_delete(category=obj)

    def service_delete_check(self, request: HttpRequest, obj: Category) -> None:
        refuse_if_in_use(obj)


def status_label(level: StockLevel) -> str:
    return StockLevel.Status(level.status).label


class StockLevelInline(ReadOnlyInline):
    """The product's stock in every workspace; it changes through the API's stock
    endpoints (initial stock, adjustments, transfers) and documents."""

    model = StockLevel
    fields = ["workspace", "quantity", "minimum_quantity", "level_status"]
    readonly_fields = ["level_status"]
    verbose_name_plural = "stock by workspace"

    @admin.display(description="Status")
    def level_status(self, level: StockLevel) -> str:
        return status_label(level)


class ProductForm(ServiceModelForm):
    price = amount_input(min_value=0)
    cost = amount_input(min_value=0, required=False)

    class Meta:
        model = Product
        fields = "__all__"
        help_texts = {
            "track_stock": "Only physical products track stock. A product with stock records "
            "keeps tracking it.",
            "default_tax": "Applied to new document lines unless they name their taxes.",
        }


@admin.register(Product, site=tenant_admin)
class ProductAdmin(ServiceAdmin):
    form = ProductForm
    list_display = [
        "name",
        "sku",
        "product_type",
        "category",
        "price_display",
        "on_hand",
        "is_active",
    ]
    list_filter = ["product_type", "is_active", "track_stock", "category"]
    search_fields = ["name", "sku", "barcode"]
    list_select_related = ["category"]
    autocomplete_fields = ["category"]
    inlines = [StockLevelInline]
    actions = ["activate", "deactivate"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "sku",
                    "barcode",
                    "product_type",
                    "category",
                    "unit",
                    "description",
                    "is_active",
                ]
            },
        ),
        ("Price", {"fields": ["price", "cost", "default_tax"]}),
        ("Stock", {"fields": ["track_stock", "allow_negative_stock"]}),
    ]

    def get_queryset(self, request: HttpRequest):
        return selectors.product_list_with_stock(queryset=super().get_queryset(request))

    @admin.display(description="Price", ordering="price")
    def price_display(self, product: Product) -> str:
        return money(product.price, tenant_currency())

    @admin.display(description="On hand", ordering="on_hand")
    def on_hand(self, product: Product) -> str:
        return quantity(product.on_hand) if product.track_stock else "–"

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        # As the API: a new product gets the tenant's default tax unless staff clear it.
        initial = super().get_changeform_initial_data(request)
        default = Tax.objects.filter(is_default=True).values_list("pk", flat=True).first()
        if default is not None:
            initial.setdefault("default_tax", default)
        return initial

    def service_create(self, request: HttpRequest, data: dict, form) -> Product:
        return services.product_create(actor=request.user, **data)

    def service_update(self, request: HttpRequest, obj: Product, data: dict, form) -> Product:
        return services.product_update(product=obj, data=data)

    def service_delete(self, request: HttpRequest, obj: Product) -> None:
        services.product_delete(product=obj)

    def service_delete_check(self, request: HttpRequest, obj: Product) -> None:
        # On a copy: deleting, even in a rolled-back preview, clears the instance's key.
        refusal_preview(lambda: services.product_delete(product=copy.copy(obj)))

    @admin.action(description="Activate selected products", permissions=["change"])
    def activate(self, request: HttpRequest, queryset) -> None:
        self.run_action(
            request,
            queryset,
            lambda product: services.product_set_active(product=product, is_active=True),
            "Activated {count} product(s).",
        )

    @admin.action(description="Deactivate selected products", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset) -> None:
        self.run_action(
            request,
            queryset,
            lambda product: services.product_set_active(product=product, is_active=False),
            "Deactivated {count} product(s); they stay on existing documents.",
        )


# --- stock ledger ---------------------------------------------------------------------------


class StockStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin):
        return StockLevel.Status.choices

    def queryset(self, request: HttpRequest, queryset):
        if self.value() in StockLevel.Status.values:
            return queryset.with_status([self.value()])
        return queryset


@admin.register(StockLevel, site=tenant_admin)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["product", "workspace", "quantity", "minimum_quantity", "level_status"]
    list_filter = [StockStatusFilter, "workspace"]
    search_fields = ["product__name", "product__sku"]
    list_select_related = ["product", "workspace"]

    @admin.display(description="Status")
    def level_status(self, level: StockLevel) -> str:
        return status_label(level)


@admin.register(StockMovement, site=tenant_admin)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "type", "product", "workspace", "quantity", "quantity_after"]
    list_filter = [("created_at", DayRangeFilter), "type", "workspace"]
    list_filter_submit = True
    search_fields = ["product__name", "product__sku", "reference"]
    list_select_related = ["product", "workspace"]


class StockAdjustmentLineInline(ReadOnlyInline):
    model = StockAdjustmentLine
    show_change_link = False


@admin.register(StockAdjustment, site=tenant_admin)
class StockAdjustmentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "workspace", "reference", "created_by", "created_at"]
    list_filter = [("created_at", DayRangeFilter), "workspace"]
    list_filter_submit = True
    list_select_related = ["workspace", "created_by"]
    search_fields = ["reference", "notes"]
    inlines = [StockAdjustmentLineInline]


class StockTransferLineInline(ReadOnlyInline):
    model = StockTransferLine
    show_change_link = False


@admin.register(StockTransfer, site=tenant_admin)
class StockTransferAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "from_workspace", "to_workspace", "reference", "created_at"]
    list_filter = [("created_at", DayRangeFilter)]
    list_filter_submit = True
    list_select_related = ["from_workspace", "to_workspace"]
    search_fields = ["reference", "notes"]
    inlines = [StockTransferLineInline]


# --- dashboard ------------------------------------------------------------------------------


def low_stock_panel(request: HttpRequest) -> Panel | None:
    """Levels at or below their minimum, per workspace, the lowest first."""
    if not request.user.has_perm("inventory.view_stocklevel"):
        return None
    summary = selectors.low_stock_by_workspace(limit=5)
    changelist = reverse("admin:inventory_stocklevel_changelist")
    metrics = [
        Metric(
            label=entry.workspace.name,
            value=f"{entry.low} low" + (f", {entry.out} out" if entry.out else ""),
            tone="danger" if entry.out else "warning",
            link=f"{changelist}?workspace__id__exact={entry.workspace.pk}",
        )
        for entry in summary
    ]
    rows = [
        Row(
            cells=[
                level.product.name,
                entry.workspace.name,
                quantity(level.quantity),
                quantity(level.minimum_quantity),
            ],
            link=reverse("admin:inventory_product_change", args=[level.product_id]),
        )
        for entry in summary
        for level in entry.levels
    ]
    return Panel(
        title="Low stock",
        order=20,
        metrics=metrics,
        headers=["Product", "Workspace", "On hand", "Minimum"],
        rows=rows,
        empty="Every stock level is above its minimum.",
        more=("All stock levels", changelist),
    )


DASHBOARD_PANELS.append(low_stock_panel)
