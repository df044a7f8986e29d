"""Real concurrent transactions against committed data (SPEC §8.5: concurrent changes never
lose an update; levels never go below zero; row locks in a fixed order, so no deadlock)."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from inventory.models import StockLevel, StockMovement
from inventory.services import (
    AdjustmentItem,
    InitialStockExists,
    InsufficientStock,
    StockChange,
    TransferItem,
    initial_stock_create,
    stock_adjustment_create,
    stock_apply,
    stock_transfer_create,
)
from tests.conftest import run_concurrently
from tests.factories import WorkspaceFactory
from tests.inventory.factories import ProductFactory, give_stock, ledger_mismatches

pytestmark = pytest.mark.concurrency


def total_stock(products) -> Decimal:
    return StockLevel.objects.filter(product__in=products).aggregate(total=Sum("quantity"))["total"]


def test_adjustments_and_transfers_racing_keep_the_ledger_exact(committed_tenant):
    owner = committed_tenant.owner
    west, east = WorkspaceFactory(owner=owner), WorkspaceFactory(owner=owner)
    products = ProductFactory.create_batch(3)
    for product in products:
        give_stock(product, west, "20", actor=owner)
        give_stock(product, east, "20", actor=owner)

    def work(index: int) -> str:
        # Half the threads list the products in the opposite order: without locks taken in
        # primary-key order, these would deadlock.
        lines = products if index % 2 else products[::-1]
        kind = index % 4
        if kind in (0, 1):
            workspace = west if kind == 0 else east
            stock_adjustment_create(
                workspace=workspace,
                actor=owner,
                items=[AdjustmentItem(product, Decimal("-5"), "lost") for product in lines],
            )
            return "adjusted"
        source, target = (west, east) if kind == 2 else (east, west)
        stock_transfer_create(
            from_workspace=source,
            to_workspace=target,
            actor=owner,
            items=[TransferItem(product, Decimal("4")) for product in lines],
        )
        return "transferred"

    results = run_concurrently(committed_tenant.tenant, work, 24)

    failures = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(f, InsufficientStock) for f in failures), failures
    adjusted = results.count("adjusted")
    transferred = results.count("transferred")
    assert adjusted + transferred + len(failures) == 24
    assert 0 < adjusted < 12  # demand (12 × 5 per product) exceeds the 40 in stock
    assert ledger_mismatches() == []
    assert not StockLevel.objects.filter(product__in=products, quantity__lt=0).exists()
    # Transfers conserve the total; only the adjustments that went through removed stock.
    assert total_stock(products) == 3 * 40 - 3 * 5 * adjusted
    movements = StockMovement.objects.filter(product__in=products).exclude(type="initial_stock")
    assert movements.count() == 3 * adjusted + 6 * transferred


def test_first_changes_on_a_new_level_create_it_once_and_lose_nothing(committed_tenant):
    owner = committed_tenant.owner
    workspace = WorkspaceFactory(owner=owner)
    product = ProductFactory()

    def work(index: int) -> None:
        change = StockChange(product, workspace, Decimal("1.5"), StockMovement.Type.PURCHASE)
        stock_apply(changes=[change], actor=owner)

    results = run_concurrently(committed_tenant.tenant, work, 16)

    assert results == [None] * 16
    level = StockLevel.objects.get(product=product, workspace=workspace)
    assert level.quantity == Decimal("24.00")
    assert ledger_mismatches() == []


def test_transfers_racing_into_new_levels_lose_nothing_and_never_deadlock(committed_tenant):
    """Every transfer locks levels that exist (the sources) and creates others (the targets'):
    the first lock takes none while one is missing, so no transfer holds a source while it
    waits on another's new target row."""
    owner = committed_tenant.owner
    source = WorkspaceFactory(owner=owner)
    targets = [WorkspaceFactory(owner=owner) for _ in range(2)]
    products = ProductFactory.create_batch(3)
    for product in products:
        give_stock(product, source, "100", actor=owner)

    def work(index: int) -> None:
        lines = products if index % 2 else products[::-1]
        stock_transfer_create(
            from_workspace=source,
            to_workspace=targets[index % 2],
            actor=owner,
            items=[TransferItem(product, Decimal("1")) for product in lines],
        )

    results = run_concurrently(committed_tenant.tenant, work, 16)

    assert results == [None] * 16
    assert ledger_mismatches() == []
    assert total_stock(products) == 3 * 100
    for target in targets:
        received = StockLevel.objects.filter(product__in=products, workspace=target)
        assert sorted(level.quantity for level in received) == [Decimal("8.00")] * 3


def test_initial_stock_racing_is_recorded_once(committed_tenant):
    owner = committed_tenant.owner
    workspace = WorkspaceFactory(owner=owner)
    product = ProductFactory()

    def work(index: int) -> None:
        initial_stock_create(product=product, workspace=workspace, quantity=Decimal(5), actor=owner)

    results = run_concurrently(committed_tenant.tenant, work, 8)

    assert results.count(None) == 1
    assert all(isinstance(r, InitialStockExists) for r in results if r is not None)
    assert StockMovement.objects.filter(product=product).count() == 1
    assert StockLevel.objects.get(product=product).quantity == Decimal("5.00")
