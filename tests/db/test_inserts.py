"""optiflow.db.inserts: ``bulk_insert`` stores what ``bulk_create`` would, and refuses what a
column cannot hold just as an INSERT does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DataError, transaction
from django.forms.models import model_to_dict

from inventory.models import StockMovement
from optiflow.db.inserts import bulk_insert
from tests.inventory.factories import ProductFactory

D = Decimal
#: What JSON must escape (quotes, a backslash), SQL would (an apostrophe), and non-ASCII.
AWKWARD_TEXT = 'Ünïcode, "quoted", a \\ and an apostrophe\'s'


def movements(owner, main, **fields):
    """Two ledger rows of different products with every kind of column (ids, decimals, a null,
    text, choices, timestamps)."""
    return [
        StockMovement(
            product=ProductFactory(),
            workspace=main,
            type=StockMovement.Type.SALE,
            quantity=D("-1.50"),
            quantity_before=D(before),
            quantity_after=D(before) - D("1.50"),
            created_by=owner,
            reference="INV-0001",
            invoice_id=7,
            **fields,
        )
        for before in ("10.00", "3")
    ]


def test_bulk_insert_stores_the_rows_bulk_create_would_in_order(owner, main):
    inserted = movements(owner, main, unit_cost=D("2.345"), notes=AWKWARD_TEXT)
    created = movements(owner, main, unit_cost=D("2.345"), notes=AWKWARD_TEXT)

    bulk_insert(inserted)
    StockMovement.objects.bulk_create(created)

    assert [row.pk for row in inserted] == sorted(row.pk for row in inserted)
    assert not any(row._state.adding for row in inserted)
    assert all(row.created_at is not None for row in inserted)
    read = {row.pk: row for row in StockMovement.objects.filter(pk__in=[r.pk for r in inserted])}
    compared = [name for name in model_to_dict(inserted[0]) if name not in ("id", "product")]
    for mine, theirs in zip(inserted, created, strict=True):
        stored = read[mine.pk]
        assert stored.created_at == mine.created_at and stored.updated_at == mine.updated_at
        assert stored.product_id == mine.product_id
        expected = StockMovement.objects.get(pk=theirs.pk)
        assert model_to_dict(stored, compared) == model_to_dict(expected, compared)
    # The column's two places, rounded as PostgreSQL rounds any INSERT.
    assert read[inserted[0].pk].unit_cost == D("2.35")


def test_bulk_insert_refuses_what_a_column_cannot_hold_and_writes_nothing(owner, main):
    before = StockMovement.objects.count()

    with pytest.raises(DataError), transaction.atomic():
        bulk_insert(movements(owner, main, reason="x" * 51))

    assert StockMovement.objects.count() == before


def test_bulk_insert_takes_only_plain_values(owner, main):
    rows = movements(owner, main, notes=object())

    with pytest.raises(TypeError):
        bulk_insert(rows)


def test_bulk_insert_of_nothing_runs_no_statement(tenant, django_assert_num_queries):
    with django_assert_num_queries(0):
        bulk_insert([])
