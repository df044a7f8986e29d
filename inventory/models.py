"""The catalog (taxes, categories, products; SPEC §8.2-§8.4) and the stock ledger (§8.5).

The ledger: one ``StockLevel`` per (product, workspace) holds the balance, and every change to
it is a ``StockMovement`` row carrying the quantity before and after. Only
``inventory.services.stock_apply`` writes either, under row locks, so a level always equals the
sum of its movements. Adjustments and transfers are the documents that explain movements made
from inside the inventory app; invoices (billing) are referenced by a plain id, because
inventory must not depend on billing.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Lower

from optiflow.money import AMOUNT, HUNDRED, RATE, money_round
from tenants.models import Workspace

#: Why a reference keeps its target from being deleted (``optiflow.deletion``): each model
#: declares ``in_use_reasons`` for its protecting foreign keys, field name → the 422's message.
HAS_MOVEMENTS = "The product has stock movements; deactivate it instead."
HOLDS_STOCK = "The workspace holds stock records; it cannot be deleted."


def amount_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(**AMOUNT, **kwargs)


# --- catalog --------------------------------------------------------------------------------


class Tax(models.Model):
    """A tax rate in percent. Documents copy the rate onto their lines, so editing a tax never
    changes an existing document."""

    name = models.CharField(max_length=100)
    rate = models.DecimalField(**RATE)
    is_default = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "taxes"
        constraints = [
            models.UniqueConstraint(Lower("name"), name="tax_name_ci_unique"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="tax_single_default"
            ),
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lte=100), name="tax_rate_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.rate}%)"


class Category(models.Model):
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    in_use_reasons = {"parent": "The category has subcategories; move or delete them first."}

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class ProductQuerySet(models.QuerySet):
    def low_stock_in(self, workspace_ids: Iterable[int], *, low: bool = True) -> ProductQuerySet:
        """Products whose level in one of ``workspace_ids`` is at or below its minimum; with
        ``low=False``, every other product (those without a level there included)."""
        levels = StockLevel.objects.low().filter(
            product=OuterRef("pk"), workspace_id__in=workspace_ids
        )
        return self.filter(Exists(levels) if low else ~Exists(levels))


class Product(models.Model):
    class Type(models.TextChoices):
        PHYSICAL = "physical"
        SERVICE = "service"
        DIGITAL = "digital"

    name = models.CharField(max_length=200)
    sku = models.CharField(max_length=64)
    barcode = models.CharField(max_length=64, null=True, blank=True, unique=True)
    description = models.TextField(blank=True, default="")
    product_type = models.CharField(max_length=10, choices=Type.choices, default=Type.PHYSICAL)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    unit = models.CharField(max_length=20, default="unit")
    price = amount_field()
    cost = amount_field(null=True, blank=True)
    track_stock = models.BooleanField(default=True)
    allow_negative_stock = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    default_tax = models.ForeignKey(
        Tax, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    in_use_reasons = {
        "category": "Products belong to this category; move them first.",
        "default_tax": "The tax is the default tax of a product; deactivate it instead.",
    }

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("sku"), name="product_sku_ci_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_non_negative"),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="product_cost_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(product_type="physical") | Q(track_stock=False),
                name="product_only_physical_tracks_stock",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    @property
    def profit(self) -> Decimal | None:
        """``price - cost``; unknown without a positive cost."""
        if self.cost is None or self.cost <= 0:
            return None
        return self.price - self.cost

    @property
    def profit_margin(self) -> Decimal | None:
        """Profit in percent of cost (a markup), half-up to two places."""
        profit = self.profit
        if profit is None:
            return None
        return money_round(profit * HUNDRED / self.cost)


# --- stock ledger ---------------------------------------------------------------------------


#: A level at or below its minimum, out-of-stock levels included (SPEC §8.4).
LOW_STOCK = Q(quantity__lte=F("minimum_quantity"))


class StockLevelQuerySet(models.QuerySet):
    def low(self) -> StockLevelQuerySet:
        return self.filter(LOW_STOCK)

    def with_status(self, statuses: list[str]) -> StockLevelQuerySet:
        conditions = {
            StockLevel.Status.OUT_OF_STOCK: Q(quantity__lte=0),
            StockLevel.Status.LOW_STOCK: Q(quantity__gt=0, quantity__lte=F("minimum_quantity")),
            StockLevel.Status.IN_STOCK: Q(quantity__gt=0) & Q(quantity__gt=F("minimum_quantity")),
        }
        condition = Q()
        for status in statuses:
            condition |= conditions[status]
        return self.filter(condition)


class StockLevel(models.Model):
    """The balance of one product in one workspace: always the sum of its movements.

    A negative quantity is possible only for products that allow negative stock, which a plain
    CHECK cannot express (it would need the product's flag); ``stock_apply`` enforces it under
    the row lock instead.
    """

    class Status(models.TextChoices):
        IN_STOCK = "in_stock"
        LOW_STOCK = "low_stock"
        OUT_OF_STOCK = "out_of_stock"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_levels")
    # A level without movements carries nothing worth keeping; the workspace delete guard
    # refuses while movements exist, and those protect the workspace themselves.
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="stock_levels")
    quantity = amount_field(default=0)
    minimum_quantity = amount_field(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StockLevelQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "workspace"], name="stock_level_unique"),
            models.CheckConstraint(
                condition=Q(minimum_quantity__gte=0), name="stock_level_minimum_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} @ {self.workspace}: {self.quantity}"

    @property
    def status(self) -> str:
        if self.quantity <= 0:
            return self.Status.OUT_OF_STOCK
        if self.quantity <= self.minimum_quantity:
            return self.Status.LOW_STOCK
        return self.Status.IN_STOCK


class StockAdjustment(models.Model):
    """A manual correction of stock in one workspace (damage, loss, recount, ...)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    in_use_reasons = {"workspace": HOLDS_STOCK}

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Adjustment #{self.pk}"


class StockAdjustmentLine(models.Model):
    class Reason(models.TextChoices):
        DAMAGED = "damaged"
        LOST = "lost"
        FOUND = "found"
        RECOUNT = "recount"
        OTHER = "other"

    adjustment = models.ForeignKey(StockAdjustment, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = amount_field()
    reason = models.CharField(max_length=10, choices=Reason.choices)
    notes = models.TextField(blank=True, default="")
    quantity_before = amount_field()
    quantity_after = amount_field()

    in_use_reasons = {"product": HAS_MOVEMENTS}

    class Meta:
        ordering = ["adjustment_id", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity=0), name="adjustment_line_non_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.quantity}"


class StockTransfer(models.Model):
    """Stock moved from one workspace to another: a ``transfer_out`` and a ``transfer_in``
    movement per line."""

    from_workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    to_workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=100, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    in_use_reasons = {"from_workspace": HOLDS_STOCK, "to_workspace": HOLDS_STOCK}

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_workspace=F("to_workspace")), name="transfer_distinct_workspaces"
            ),
        ]

    def __str__(self) -> str:
        return f"Transfer #{self.pk}"


class StockTransferLine(models.Model):
    transfer = models.ForeignKey(StockTransfer, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = amount_field()

    in_use_reasons = {"product": HAS_MOVEMENTS}

    class Meta:
        ordering = ["transfer_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_line_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product}: {self.quantity}"


class StockMovement(models.Model):
    """One immutable ledger row: a signed change of one level, with the balance around it."""

    class Type(models.TextChoices):
        INITIAL_STOCK = "initial_stock"
        SALE = "sale"
        RETURN = "return"
        PURCHASE = "purchase"
        ADJUSTMENT = "adjustment"
        TRANSFER_OUT = "transfer_out"
        TRANSFER_IN = "transfer_in"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock_movements")
    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(max_length=20, choices=Type.choices)
    quantity = amount_field()
    quantity_before = amount_field()
    quantity_after = amount_field()
    unit_cost = amount_field(null=True, blank=True)
    reason = models.CharField(max_length=50, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    # Not a foreign key: invoices live in billing, which depends on inventory, never the reverse.
    invoice_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    transfer = models.ForeignKey(
        StockTransfer, null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    adjustment = models.ForeignKey(
        StockAdjustment, null=True, blank=True, on_delete=models.PROTECT, related_name="movements"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    in_use_reasons = {"product": HAS_MOVEMENTS, "workspace": HOLDS_STOCK}

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "product"], name="movement_level_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity_after=F("quantity_before") + F("quantity")),
                name="movement_balance_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.quantity} of {self.product_id} @ {self.workspace_id}"
