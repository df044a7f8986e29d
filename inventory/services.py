"""Writes for the catalog (taxes, categories, products) and the stock ledger.

``stock_apply`` is the only code that writes ``StockLevel.quantity`` and ``StockMovement``:
initial stock, adjustments and transfers below, and billing's invoices, all go through it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

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
from optiflow.db.inserts import bulk_insert
from optiflow.db.records import raw_records
from optiflow.deletion import delete_or_refuse
from optiflow.errors import DomainError
from optiflow.events import event_record
from tenants.models import User, Workspace

LevelKey = tuple[int, int]  # (product_id, workspace_id)


class InsufficientStock(DomainError):
    default_message = "Insufficient stock."


class UntrackedProduct(DomainError):
    pass


class InitialStockExists(DomainError):
    pass


class SameWorkspaceTransfer(DomainError):
    pass


# --- taxes ----------------------------------------------------------------------------------


def _tax_save(tax: Tax, *, sent: Mapping[str, Any]) -> Tax:
    """``sent``: the fields the client set, to report a refusal under the right one."""
    if Tax.objects.filter(name__iexact=tax.name).exclude(pk=tax.pk).exists():
        raise DomainError("The name has already been taken.", field="name")
    if tax.is_default and not tax.is_active:
        field = "is_default" if "is_default" in sent else "is_active"
        raise DomainError("The default tax must be active.", field=field)
    if tax.is_default:
        Tax.objects.filter(is_default=True).exclude(pk=tax.pk).update(is_default=False)
    tax.save()
    return tax


@transaction.atomic
def tax_create(
    *, name: str, rate: Decimal, is_default: bool = False, is_active: bool = True
) -> Tax:
    """Marking a tax the default clears the flag on the previous default."""
    fields = {"name": name, "rate": rate, "is_default": is_default, "is_active": is_active}
    return _tax_save(Tax(**fields), sent=fields)


@transaction.atomic
def tax_update(*, tax: Tax, data: Mapping[str, Any]) -> Tax:
    for field, value in data.items():
        setattr(tax, field, value)
    return _tax_save(tax, sent=data)


def tax_delete(*, tax: Tax) -> None:
    """Refused while products or document lines use the tax (their models say why)."""
    delete_or_refuse(tax)


# --- categories -----------------------------------------------------------------------------


def _category_check_parent(category: Category) -> None:
    ancestor = category.parent
    while ancestor is not None:
        if ancestor.pk == category.pk:
            raise DomainError("A category cannot be its own ancestor.", field="parent_id")
        ancestor = ancestor.parent


@transaction.atomic
def category_create(*, name: str, parent: Category | None = None) -> Category:
    return Category.objects.create(name=name, parent=parent)


@transaction.atomic
def category_update(*, category: Category, data: Mapping[str, Any]) -> Category:
    for field, value in data.items():
        setattr(category, field, value)
    _category_check_parent(category)
    category.save()
    return category


def category_delete(*, category: Category) -> None:
    """Refused while subcategories or products belong to it (their models say why)."""
    delete_or_refuse(category)


# --- products -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InitialStock:
    """Opening stock of a product in one workspace (``POST /initial-stock``, or the
    ``initial_stock`` list of a new product)."""

    workspace: Workspace
    quantity: Decimal
    minimum_quantity: Decimal | None = None
    unit_cost: Decimal | None = None
    notes: str = ""


def _product_check(product: Product, *, sent: Mapping[str, Any], was_tracked: bool) -> None:
    """``sent``: the fields the client set (a tax deactivated after it was assigned does not
    block unrelated edits)."""
    track_stock = sent.get("track_stock")
    if Product.objects.filter(sku__iexact=product.sku).exclude(pk=product.pk).exists():
        raise DomainError("The sku has already been taken.", field="sku")
    if product.barcode and (
        Product.objects.filter(barcode=product.barcode).exclude(pk=product.pk).exists()
    ):
        raise DomainError("The barcode has already been taken.", field="barcode")
    if "default_tax" in sent and product.default_tax and not product.default_tax.is_active:
        raise DomainError("The tax is inactive.", field="default_tax_id")
    if product.product_type != Product.Type.PHYSICAL:
        if track_stock:
            raise DomainError(
                f"A {product.product_type} product does not track stock.", field="track_stock"
            )
        product.track_stock = False
    if was_tracked and not product.track_stock and product.stock_levels.exists():
        raise DomainError(
            "The product has stock records, so it must keep tracking stock.",
            field="track_stock" if track_stock is not None else "product_type",
        )


@transaction.atomic
def product_create(
    *, actor: User, initial_stock: Sequence[InitialStock] = (), **fields: Any
) -> Product:
    """Service and digital products never track stock; physical ones do unless told not to.
    Without a ``default_tax`` the product gets the tenant's default tax (SPEC §8.4); an
    explicit ``None`` keeps it without one."""
    if "default_tax" not in fields:
        fields["default_tax"] = Tax.objects.filter(is_default=True, is_active=True).first()
    product = Product(**fields)
    _product_check(product, sent=fields, was_tracked=False)
    if initial_stock and not product.track_stock:
        raise UntrackedProduct("The product does not track stock.", field="initial_stock")
    product.save()
    for entry in initial_stock:
        initial_stock_create(product=product, actor=actor, **vars(entry))
    return product


@transaction.atomic
def product_update(*, product: Product, data: Mapping[str, Any]) -> Product:
    was_tracked = product.track_stock
    for field, value in data.items():
        setattr(product, field, value)
    _product_check(product, sent=data, was_tracked=was_tracked)
    product.save()
    return product


def product_set_active(*, product: Product, is_active: bool) -> Product:
    """Inactive products stay in the catalog and on existing documents but cannot be put on
    new ones."""
    product.is_active = is_active
    product.save(update_fields=["is_active", "updated_at"])
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    """Refused once the product is on a document line or has movements other than its
    initial stock; a product created by mistake goes with its levels and initial movements,
    the one case in which ledger rows disappear (rolled back if the delete is refused)."""
    StockMovement.objects.filter(product=product, type=StockMovement.Type.INITIAL_STOCK).delete()
    product.stock_levels.all().delete()
    delete_or_refuse(product)


# --- the stock service ----------------------------------------------------------------------


@dataclass(frozen=True)
class StockChange:
    product: Product
    workspace: Workspace
    quantity: Decimal  # signed: negative takes stock out
    movement_type: str  # a StockMovement.Type value
    line: int | None = None  # index of the request line, for the error key items.{line}.quantity
    unit_cost: Decimal | None = None
    reason: str = ""
    notes: str = ""

    @functools.cached_property
    def level_key(self) -> LevelKey:
        """Computed once: a sale reads each line's key about a dozen times (locking, the
        availability check, the balances), and a change's product and workspace are fixed."""
        return (self.product.pk, self.workspace.pk)


#: The levels of some keys, given as two arrays (product ids, workspace ids): one statement
#: whatever the number of keys, and no term per key or workspace for Django to build.
LEVELS_OF_KEYS = "(product_id, workspace_id) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))"


def _levels_of(
    keys: Sequence[LevelKey], *, lock: bool = False, all_or_none: bool = False
) -> list[StockLevel]:
    """The levels of ``keys``; with ``lock``, locked in primary-key order; with
    ``all_or_none``, only if every key has its level (``_levels_locked``). Written in SQL:
    every sale and void reads its levels this way, and building the same statement through
    the ORM (a term per workspace, the subquery, the alias) cost more CPU than the rest of
    the levels' work together."""
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    columns = [list(column) for column in zip(*keys, strict=True)]
    sql, params = f"SELECT {{columns}} FROM {table} WHERE {LEVELS_OF_KEYS}", [*columns]
    if all_or_none:
        sql += f" AND (SELECT COUNT(*) FROM {table} WHERE {LEVELS_OF_KEYS}) = %s"
        params += [*columns, len(keys)]
    if lock:
        sql += " ORDER BY id FOR UPDATE"
    return raw_records(StockLevel, sql, params)


def _levels_locked(keys: Sequence[LevelKey]) -> list[StockLevel]:
    """Lock the levels of ``keys`` in one statement, in primary-key order, but only if every
    one exists: otherwise lock none (but those found when a level is deleted meanwhile, with
    its product) and return fewer rows than keys.

    Every writer locks the levels it touches in primary-key order, so two changes over the
    same levels (a sale and a transfer, two transfers in opposite directions) queue behind
    each other instead of deadlocking. The count is a scalar subquery PostgreSQL evaluates
    once, before the first lock: when a level is missing no row is locked, so the caller can
    go on to create levels (``_levels_lock``) without holding a lock while it may wait.
    """
    return _levels_of(keys, lock=True, all_or_none=True)


def _levels_lock(keys: Sequence[LevelKey]) -> list[StockLevel]:
    """Make sure a level exists for every key, then lock them all (in primary-key order)."""
    existing = {(level.product_id, level.workspace_id) for level in _levels_of(keys)}
    missing = [key for key in keys if key not in existing]
    if missing:
        # ON CONFLICT DO NOTHING: a transaction creating the same level concurrently makes
        # this insert wait for it and then skip the row, rather than fail on the unique
        # constraint. Only missing rows are inserted, and no lock is held yet, so no wait here
        # is on a row that another transaction merely locked or updated, nor by one that waits
        # for us.
        StockLevel.objects.bulk_create(
            [StockLevel(product_id=p, workspace_id=w) for p, w in missing], ignore_conflicts=True
        )
    return _levels_of(keys, lock=True)


def _levels_save(levels: Iterable[StockLevel], now: dt.datetime) -> None:
    """Write the new balances of locked levels in one statement, from two arrays.
    ``bulk_update`` would build a ``CASE`` branch per level and column, which cost more CPU
    than everything else a sale does with its levels."""
    ids, quantities = zip(*((level.pk, level.quantity) for level in levels), strict=True)
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET quantity = new.quantity, updated_at = %s"
            " FROM unnest(%s::bigint[], %s::numeric[]) AS new (id, quantity)"
            f" WHERE {table}.id = new.id",
            [now, list(ids), list(quantities)],
        )


def _check_availability(
    changes: Sequence[StockChange], levels: Mapping[LevelKey, StockLevel]
) -> None:
    """All lines are checked before anything is written; several changes on one level count
    together. The database cannot enforce a non-negative level (products may allow negative
    stock), so this check under the row locks is what does."""
    inflow: dict[LevelKey, Decimal] = defaultdict(Decimal)
    outflow: dict[LevelKey, Decimal] = defaultdict(Decimal)
    for change in changes:
        if change.quantity >= 0:
            inflow[change.level_key] += change.quantity
        else:
            outflow[change.level_key] -= change.quantity
    errors: dict[str, list[str]] = {}
    for change in changes:
        key = change.level_key
        available = levels[key].quantity + inflow[key]
        if change.quantity >= 0 or change.product.allow_negative_stock or available >= outflow[key]:
            continue
        field = "quantity" if change.line is None else f"items.{change.line}.quantity"
        errors.setdefault(field, []).append(
            f"Insufficient stock: {available:.2f} available, {outflow[key]:.2f} requested."
        )
    if errors:
        raise InsufficientStock(errors=errors)


def stock_apply(
    *,
    changes: Sequence[StockChange],
    actor: User,
    reference: str = "",
    invoice_id: int | None = None,
    transfer_id: int | None = None,
    adjustment_id: int | None = None,
) -> list[StockMovement]:
    """Apply stock changes all-or-nothing and return the movements written (in the order of
    ``changes``; products that do not track stock are skipped).

    Raises ``InsufficientStock`` (errors on each short line's ``items.N.quantity``) when a
    level of a product without ``allow_negative_stock`` would drop below zero; then nothing
    is written.
    """
    changes = [change for change in changes if change.product.track_stock]
    if not changes:
        return []
    keys = sorted({change.level_key for change in changes})
    links = {
        "created_by": actor,
        "reference": reference,
        "invoice_id": invoice_id,
        "transfer_id": transfer_id,
        "adjustment_id": adjustment_id,
    }
    if transaction.get_connection().in_atomic_block:
        levels = _levels_locked(keys)
        if len(levels) == len(keys):
            # The usual case, every level exists: one statement locked them, and the check
            # raises before anything is written, so the caller's transaction needs no
            # savepoint to stay usable after a refusal.
            return _stock_write(changes, levels, links)
    # A level to create (the first change of a product in a workspace), or no transaction
    # yet: a savepoint (or the transaction), so that a refusal also undoes the new levels.
    with transaction.atomic():
        return _stock_write(changes, _levels_lock(keys), links)


def _stock_write(
    changes: Sequence[StockChange], locked: Sequence[StockLevel], links: Mapping[str, Any]
) -> list[StockMovement]:
    """``stock_apply`` once every level it changes is locked: check, then write the movements
    (each with ``links``: actor, reference, the document) and the new balances."""
    levels = {(level.product_id, level.workspace_id): level for level in locked}
    _check_availability(changes, levels)
    balances = {key: level.quantity for key, level in levels.items()}
    movements: list[StockMovement] = []
    for change in changes:
        before = balances[change.level_key]
        balances[change.level_key] = before + change.quantity
        movements.append(
            StockMovement(
                product=change.product,
                workspace=change.workspace,
                type=change.movement_type,
                quantity=change.quantity,
                quantity_before=before,
                quantity_after=balances[change.level_key],
                unit_cost=change.unit_cost,
                reason=change.reason,
                notes=change.notes,
                **links,
            )
        )
    bulk_insert(movements)
    now = timezone.now()
    fell_low = [
        level
        for key, level in levels.items()
        if level.quantity > level.minimum_quantity >= balances[key]
    ]
    for key, level in levels.items():
        level.quantity, level.updated_at = balances[key], now
    _levels_save(levels.values(), now)
    # After the update: the event shows the level as it now stands.
    for level in fell_low:
        event_record(type="product.stock_low", record=level)
    return movements


def _require_tracked(products: Sequence[Product]) -> None:
    errors = {
        f"items.{index}.product_id": [f"{product.name} does not track stock."]
        for index, product in enumerate(products)
        if not product.track_stock
    }
    if errors:
        raise UntrackedProduct(errors=errors)


@transaction.atomic
def initial_stock_create(
    *,
    product: Product,
    workspace: Workspace,
    quantity: Decimal,
    actor: User,
    minimum_quantity: Decimal | None = None,
    unit_cost: Decimal | None = None,
    notes: str = "",
) -> StockLevel:
    """Opening stock, once per (product, workspace): later changes are adjustments."""
    if not product.track_stock:
        raise UntrackedProduct(f"{product.name} does not track stock.", field="product_id")
    # Locked before the check, so two concurrent requests cannot both pass it.
    [level] = _levels_lock([(product.pk, workspace.pk)])
    if StockMovement.objects.filter(product=product, workspace=workspace).exists():
        raise InitialStockExists(
            "Stock of this product is already recorded in this workspace; use an adjustment.",
            field="product_id",
        )
    if minimum_quantity is not None:
        level.minimum_quantity = minimum_quantity
        level.save(update_fields=["minimum_quantity", "updated_at"])
    change = StockChange(
        product=product,
        workspace=workspace,
        quantity=quantity,
        movement_type=StockMovement.Type.INITIAL_STOCK,
        unit_cost=unit_cost,
        notes=notes,
    )
    stock_apply(changes=[change], actor=actor)
    level.refresh_from_db()
    return level


def stock_level_update(*, level: StockLevel, minimum_quantity: Decimal | None = None) -> StockLevel:
    """Only the minimum is set by hand; the quantity moves through ``stock_apply``. Without
    a new minimum nothing changes."""
    if minimum_quantity is not None:
        level.minimum_quantity = minimum_quantity
        level.save(update_fields=["minimum_quantity", "updated_at"])
    return level


@dataclass(frozen=True)
class AdjustmentItem:
    product: Product
    quantity: Decimal  # signed, non-zero
    reason: str  # a StockAdjustmentLine.Reason value
    notes: str = ""


@transaction.atomic
def stock_adjustment_create(
    *,
    workspace: Workspace,
    actor: User,
    items: Sequence[AdjustmentItem],
    reference: str = "",
    notes: str = "",
) -> StockAdjustment:
    _require_tracked([item.product for item in items])
    adjustment = StockAdjustment.objects.create(
        workspace=workspace, reference=reference, notes=notes, created_by=actor
    )
    changes = [
        StockChange(
            item.product,
            workspace,
            item.quantity,
            StockMovement.Type.ADJUSTMENT,
            line=index,
            reason=item.reason,
            notes=item.notes,
        )
        for index, item in enumerate(items)
    ]
    movements = stock_apply(
        changes=changes, actor=actor, reference=reference, adjustment_id=adjustment.pk
    )
    lines = []
    for item, movement in zip(items, movements, strict=True):
        lines.append(
            StockAdjustmentLine(
                adjustment=adjustment,
                product=item.product,
                quantity=item.quantity,
                reason=item.reason,
                notes=item.notes,
                quantity_before=movement.quantity_before,
                quantity_after=movement.quantity_after,
            )
        )
    StockAdjustmentLine.objects.bulk_create(lines)
    event_record(type="stock.adjusted", record=adjustment)
    return adjustment


@dataclass(frozen=True)
class TransferItem:
    product: Product
    quantity: Decimal  # positive


@transaction.atomic
def stock_transfer_create(
    *,
    from_workspace: Workspace,
    to_workspace: Workspace,
    actor: User,
    items: Sequence[TransferItem],
    reference: str = "",
    notes: str = "",
) -> StockTransfer:
    """A ``transfer_out`` in the source and a ``transfer_in`` in the target per line."""
    if from_workspace.pk == to_workspace.pk:
        raise SameWorkspaceTransfer(
            "Stock cannot be transferred to the workspace it comes from.", field="to_workspace_id"
        )
    _require_tracked([item.product for item in items])
    transfer = StockTransfer.objects.create(
        from_workspace=from_workspace,
        to_workspace=to_workspace,
        reference=reference,
        notes=notes,
        created_by=actor,
    )
    StockTransferLine.objects.bulk_create(
        StockTransferLine(transfer=transfer, product=item.product, quantity=item.quantity)
        for item in items
    )
    changes: list[StockChange] = []
    for index, item in enumerate(items):
        changes += [
            StockChange(
                product=item.product,
                workspace=from_workspace,
                quantity=-item.quantity,
                movement_type=StockMovement.Type.TRANSFER_OUT,
                line=index,
            ),
            StockChange(
                product=item.product,
                workspace=to_workspace,
                quantity=item.quantity,
                movement_type=StockMovement.Type.TRANSFER_IN,
                line=index,
            ),
        ]
    stock_apply(changes=changes, actor=actor, reference=reference, transfer_id=transfer.pk)
    event_record(type="stock.transferred", record=transfer)
    return transfer
