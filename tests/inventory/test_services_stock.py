"""The stock service (SPEC §8.5): every rule of the ledger, at the service level."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from inventory.models import Product, StockAdjustmentLine, StockLevel, StockMovement
from inventory.services import (
    AdjustmentItem,
    InitialStockExists,
    InsufficientStock,
    StockChange,
    TransferItem,
    UntrackedProduct,
    initial_stock_create,
    stock_adjustment_create,
    stock_apply,
    stock_transfer_create,
)
from optiflow.models import Event
from tests.inventory.factories import (
    ProductFactory,
    give_stock,
    ledger_mismatches,
    ledger_state,
    level_quantity,
)

D = Decimal


def sale(product, workspace, quantity, line=None):
    return StockChange(product, workspace, -D(quantity), StockMovement.Type.SALE, line=line)


def test_stock_apply_writes_movements_with_balances_and_updates_the_level(owner, main):
    product = ProductFactory()
    give_stock(product, main, "10", actor=owner)

    movements = stock_apply(
        changes=[sale(product, main, "3", line=0), sale(product, main, "2", line=1)],
        actor=owner,
        reference="INV-0001",
        invoice_id=42,
    )

    assert [(m.quantity, m.quantity_before, m.quantity_after) for m in movements] == [
        (D("-3"), D("10.00"), D("7.00")),
        (D("-2"), D("7.00"), D("5.00")),
    ]
    assert all(m.invoice_id == 42 and m.reference == "INV-0001" for m in movements)
    assert all(m.created_by == owner and m.type == "sale" for m in movements)
    assert level_quantity(product, main) == D("5.00")
    assert ledger_mismatches() == []


def test_the_level_equals_the_sum_of_movements_after_every_operation(owner, main, branch):
    product = ProductFactory()
    operations = [
        lambda: give_stock(product, main, "20", actor=owner),
        lambda: stock_adjustment_create(
            workspace=main,
            actor=owner,
            items=[
                AdjustmentItem(product, D("-4"), "damaged"),
                AdjustmentItem(product, D("1"), "found"),
            ],
        ),
        lambda: stock_transfer_create(
            from_workspace=main,
            to_workspace=branch,
            actor=owner,
            items=[TransferItem(product, D("6"))],
        ),
        lambda: stock_apply(changes=[sale(product, branch, "2")], actor=owner),
        lambda: stock_apply(
            changes=[StockChange(product, branch, D("1"), StockMovement.Type.RETURN)], actor=owner
        ),
        lambda: stock_apply(
            changes=[StockChange(product, main, D("5"), StockMovement.Type.PURCHASE)], actor=owner
        ),
    ]
    for operation in operations:
        operation()
        assert ledger_mismatches() == []

    assert level_quantity(product, main) == D("16.00")  # 20 - 4 + 1 - 6 + 5
    assert level_quantity(product, branch) == D("5.00")  # 6 - 2 + 1


def test_a_shortage_refuses_the_whole_change_and_writes_nothing(owner, main, branch):
    plenty, scarce, fresh = ProductFactory(), ProductFactory(), ProductFactory()
    give_stock(plenty, main, "50", actor=owner)
    give_stock(scarce, main, "3", actor=owner)
    before = ledger_state()

    with pytest.raises(InsufficientStock) as refused:
        stock_apply(
            changes=[
                sale(plenty, main, "5", line=0),
                sale(scarce, main, "5", line=1),
                StockChange(fresh, branch, D("4"), StockMovement.Type.PURCHASE, line=2),
            ],
            actor=owner,
        )

    assert refused.value.errors == {
        "items.1.quantity": ["Insufficient stock: 3.00 available, 5.00 requested."]
    }
    assert ledger_state() == before  # no movement, no level change, no new level
    assert not StockLevel.objects.filter(product=fresh).exists()


def test_changes_on_one_level_are_checked_together(owner, main):
    product = ProductFactory()
    give_stock(product, main, "5", actor=owner)

    with pytest.raises(InsufficientStock) as refused:
        stock_apply(
            changes=[sale(product, main, "3", line=0), sale(product, main, "3", line=1)],
            actor=owner,
        )

    message = ["Insufficient stock: 5.00 available, 6.00 requested."]
    assert refused.value.errors == {"items.0.quantity": message, "items.1.quantity": message}
    assert level_quantity(product, main) == D("5.00")


def test_stock_arriving_in_the_same_change_counts_as_available(owner, main):
    product = ProductFactory()
    give_stock(product, main, "2", actor=owner)

    stock_apply(
        changes=[
            StockChange(product, main, D("4"), StockMovement.Type.RETURN, line=0),
            sale(product, main, "6", line=1),
        ],
        actor=owner,
    )

    assert level_quantity(product, main) == D("0.00")


def test_a_shortage_without_a_line_reports_under_quantity(owner, main):
    product = ProductFactory()

    with pytest.raises(InsufficientStock) as refused:
        stock_apply(changes=[sale(product, main, "1")], actor=owner)

    assert refused.value.errors == {
        "quantity": ["Insufficient stock: 0.00 available, 1.00 requested."]
    }


def test_products_allowing_negative_stock_may_go_below_zero(owner, main):
    product = ProductFactory(allow_negative_stock=True)

    stock_apply(changes=[sale(product, main, "4")], actor=owner)

    assert level_quantity(product, main) == D("-4.00")
    assert ledger_mismatches() == []


def test_untracked_products_never_get_levels_or_movements(owner, main):
    service = ProductFactory(product_type=Product.Type.SERVICE, track_stock=False)
    untracked = ProductFactory(track_stock=False)

    assert (
        stock_apply(changes=[sale(service, main, "3"), sale(untracked, main, "1")], actor=owner)
        == []
    )
    with pytest.raises(UntrackedProduct) as refused:
        stock_adjustment_create(
            workspace=main, actor=owner, items=[AdjustmentItem(service, D("5"), "found")]
        )
    assert refused.value.errors == {"items.0.product_id": [f"{service.name} does not track stock."]}
    with pytest.raises(UntrackedProduct):
        initial_stock_create(product=untracked, workspace=main, quantity=D("1"), actor=owner)

    assert not StockLevel.objects.filter(product__in=[service, untracked]).exists()
    assert not StockMovement.objects.filter(product__in=[service, untracked]).exists()


def test_initial_stock_is_recorded_once_per_product_and_workspace(owner, main, branch):
    product = ProductFactory()
    level = initial_stock_create(
        product=product,
        workspace=main,
        quantity=D("8"),
        actor=owner,
        minimum_quantity=D("2"),
        unit_cost=D("4.50"),
        notes="Opening count",
    )
    assert (level.quantity, level.minimum_quantity) == (D("8.00"), D("2.00"))
    movement = StockMovement.objects.get(product=product)
    assert (movement.type, movement.unit_cost, movement.notes) == (
        "initial_stock",
        D("4.50"),
        "Opening count",
    )

    with pytest.raises(InitialStockExists) as refused:
        initial_stock_create(product=product, workspace=main, quantity=D("3"), actor=owner)
    assert list(refused.value.errors) == ["product_id"]
    assert level_quantity(product, main) == D("8.00")

    initial_stock_create(product=product, workspace=branch, quantity=D("0"), actor=owner)
    assert level_quantity(product, branch) == D("0.00")


def test_initial_stock_is_refused_after_other_movements(owner, main):
    product = ProductFactory(allow_negative_stock=True)
    stock_apply(changes=[sale(product, main, "1")], actor=owner)

    with pytest.raises(InitialStockExists):
        initial_stock_create(product=product, workspace=main, quantity=D("3"), actor=owner)


def test_adjustment_lines_keep_the_level_before_and_after(owner, main):
    product = ProductFactory()
    give_stock(product, main, "10", actor=owner)

    adjustment = stock_adjustment_create(
        workspace=main,
        actor=owner,
        reference="COUNT-1",
        items=[
            AdjustmentItem(product, D("-3"), "damaged", "Crushed box"),
            AdjustmentItem(product, D("1"), "found"),
        ],
    )

    lines = list(StockAdjustmentLine.objects.filter(adjustment=adjustment).order_by("id"))
    assert [(ln.quantity_before, ln.quantity_after, ln.reason) for ln in lines] == [
        (D("10.00"), D("7.00"), "damaged"),
        (D("7.00"), D("8.00"), "found"),
    ]
    movements = StockMovement.objects.filter(adjustment=adjustment).order_by("id")
    assert [(m.type, m.reason, m.reference) for m in movements] == [
        ("adjustment", "damaged", "COUNT-1"),
        ("adjustment", "found", "COUNT-1"),
    ]
    event = Event.objects.get(type="stock.adjusted")
    assert (event.payload["id"], event.workspace_ids) == (adjustment.pk, [main.pk])
    assert [line["quantity_after"] for line in event.payload["items"]] == ["7.00", "8.00"]


def test_a_refused_adjustment_writes_nothing(owner, main):
    product = ProductFactory()
    give_stock(product, main, "2", actor=owner)
    before = ledger_state()

    with pytest.raises(InsufficientStock) as refused:
        stock_adjustment_create(
            workspace=main,
            actor=owner,
            items=[
                AdjustmentItem(product, D("1"), "found"),
                AdjustmentItem(product, D("-9"), "lost"),
            ],
        )

    assert list(refused.value.errors) == ["items.1.quantity"]
    assert ledger_state() == before
    assert not Event.objects.filter(type="stock.adjusted").exists()


def test_a_transfer_conserves_the_total_and_links_both_movements(owner, main, branch):
    first, second = ProductFactory(), ProductFactory()
    give_stock(first, main, "10", actor=owner)
    give_stock(second, main, "4", actor=owner)
    give_stock(second, branch, "1", actor=owner)

    transfer = stock_transfer_create(
        from_workspace=main,
        to_workspace=branch,
        actor=owner,
        items=[TransferItem(first, D("7")), TransferItem(second, D("4"))],
    )

    assert (level_quantity(first, main), level_quantity(first, branch)) == (D("3.00"), D("7.00"))
    assert (level_quantity(second, main), level_quantity(second, branch)) == (D("0.00"), D("5.00"))
    movements = StockMovement.objects.filter(transfer=transfer)
    assert sorted(m.type for m in movements) == ["transfer_in"] * 2 + ["transfer_out"] * 2
    assert sum(m.quantity for m in movements) == 0
    event = Event.objects.get(type="stock.transferred")
    assert (event.payload["id"], event.payload["to_workspace_id"]) == (transfer.pk, branch.pk)
    assert event.workspace_ids == [main.pk, branch.pk]  # seen from either end


def test_a_transfer_short_on_a_line_writes_nothing(owner, main, branch):
    product = ProductFactory()
    give_stock(product, main, "2", actor=owner)
    before = ledger_state()

    with pytest.raises(InsufficientStock) as refused:
        stock_transfer_create(
            from_workspace=main,
            to_workspace=branch,
            actor=owner,
            items=[TransferItem(product, D("1")), TransferItem(product, D("2"))],
        )

    assert set(refused.value.errors) == {"items.0.quantity", "items.1.quantity"}
    assert ledger_state() == before


def test_stock_low_is_raised_when_a_level_crosses_its_minimum(owner, main):
    product = ProductFactory()
    give_stock(product, main, "10", actor=owner, minimum="5")

    stock_apply(changes=[sale(product, main, "4")], actor=owner)  # 6: still above
    assert not Event.objects.filter(type="product.stock_low").exists()
    stock_apply(changes=[sale(product, main, "1")], actor=owner)  # 5: at the minimum
    stock_apply(changes=[sale(product, main, "2")], actor=owner)  # 3: already below

    events = list(Event.objects.filter(type="product.stock_low"))
    assert len(events) == 1
    level = StockLevel.objects.get(product=product, workspace=main)
    assert events[0].payload == {  # the level as its detail endpoint shows it, when it fell
        "id": level.pk,
        "product_id": product.pk,
        "workspace_id": main.pk,
        "quantity": "5.00",
        "minimum_quantity": "5.00",
        "status": "low_stock",
        "created_at": events[0].payload["created_at"],
        "updated_at": events[0].payload["updated_at"],
    }


def test_a_refused_change_raises_no_stock_low_event(owner, main):
    cheap, scarce = ProductFactory(), ProductFactory()
    give_stock(cheap, main, "10", actor=owner, minimum="5")

    with pytest.raises(InsufficientStock):
        stock_apply(changes=[sale(cheap, main, "8", 0), sale(scarce, main, "1", 1)], actor=owner)

    assert not Event.objects.filter(type="product.stock_low").exists()


def test_inside_a_caller_transaction_a_refused_change_undoes_only_itself(owner, main):
    product = ProductFactory()
    give_stock(product, main, "5", actor=owner)

    with transaction.atomic():
        stock_apply(changes=[sale(product, main, "2")], actor=owner)
        with pytest.raises(InsufficientStock):
            stock_apply(changes=[sale(product, main, "9")], actor=owner)

    assert level_quantity(product, main) == D("3.00")
    assert StockMovement.objects.filter(product=product).count() == 2


def test_the_database_refuses_an_inconsistent_movement(owner, main):
    product = ProductFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        StockMovement.objects.create(
            product=product,
            workspace=main,
            type="adjustment",
            quantity=D("1"),
            quantity_before=D("0"),
            quantity_after=D("5"),
            created_by=owner,
        )


def test_the_database_keeps_one_level_per_product_and_workspace(owner, main):
    product = ProductFactory()
    give_stock(product, main, "1", actor=owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.create(product=product, workspace=main)
