"""Factories for the catalog, and helpers that put stock in place and read the ledger back.

Stock is only ever created through the stock service, as in production."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.db.models import DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from inventory.models import Category, Product, StockLevel, StockMovement, Tax
from inventory.services import initial_stock_create
from tenants.models import User, Workspace


class TaxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tax

    name = factory.Sequence(lambda n: f"Tax {n}")
    rate = Decimal("18.00")


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n:03d}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n:03d}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    price = Decimal("10.00")
    cost = Decimal("6.00")


def give_stock(
    product: Product,
    workspace: Workspace,
    quantity: str | Decimal,
    *,
    actor: User,
    minimum: str | Decimal | None = None,
) -> StockLevel:
    """Opening stock through the service (the only writer of levels)."""
    return initial_stock_create(
        product=product,
        workspace=workspace,
        quantity=Decimal(quantity),
        actor=actor,
        minimum_quantity=None if minimum is None else Decimal(minimum),
    )


def level_quantity(product: Product, workspace: Workspace) -> Decimal | None:
    level = StockLevel.objects.filter(product=product, workspace=workspace).first()
    return None if level is None else level.quantity


def ledger_state() -> tuple[dict[tuple[int, int], Decimal], int]:
    """Every level's quantity and the number of movements: equal before and after a refused
    change means nothing was written."""
    levels = {(lv.product_id, lv.workspace_id): lv.quantity for lv in StockLevel.objects.all()}
    return levels, StockMovement.objects.count()


def ledger_mismatches() -> list[tuple[int, int, Decimal, Decimal]]:
    """Levels whose quantity is not the sum of their movements (should always be empty)."""
    total = (
        StockMovement.objects.filter(product=OuterRef("product"), workspace=OuterRef("workspace"))
        .values("product", "workspace")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    zero = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=2))
    rows = (
        StockLevel.objects.annotate(total=Coalesce(Subquery(total), zero))
        .exclude(quantity=F("total"))
        .values_list("product_id", "workspace_id", "quantity", "total")
    )
    return list(rows)
