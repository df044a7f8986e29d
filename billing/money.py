"""Document arithmetic (SPEC §8.7), shared by invoices and quotations.

Pure functions on ``Decimal``: no ORM, no settings. Every amount is rounded half-up to cents
(``optiflow.money.money_round``) *per line*, and document totals are sums of those rounded line
amounts, so the figures a client adds up from the lines always equal the document's totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from optiflow.money import ZERO, money_round, percent_of


class DiscountExceedsSubtotal(ValueError):
    """A line's discount amount is larger than its subtotal."""


@dataclass(frozen=True)
class LineAmounts:
    subtotal: Decimal
    discount: Decimal
    #: One amount per tax rate, in the order the rates were given.
    taxes: tuple[Decimal, ...]
    tax: Decimal
    total: Decimal


@dataclass(frozen=True)
class DocumentAmounts:
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


def line_amounts(
    *,
    quantity: Decimal,
    unit_price: Decimal,
    discount_rate: Decimal | None = None,
    discount_amount: Decimal | None = None,
    tax_rates: Sequence[Decimal] = (),
) -> LineAmounts:
    """Subtotal = quantity x unit price; discount by rate (percent of the subtotal) or as an
    amount (at most the subtotal); each tax is a percent of the discounted subtotal."""
    subtotal = money_round(quantity * unit_price)
    if discount_rate is not None:
        discount = percent_of(subtotal, discount_rate)
    elif discount_amount is not None:
        discount = money_round(discount_amount)
        if discount > subtotal:
            raise DiscountExceedsSubtotal(f"The discount may not exceed the subtotal ({subtotal}).")
    else:
        discount = ZERO
    taxable = subtotal - discount
    taxes = tuple(percent_of(taxable, rate) for rate in tax_rates)
    tax = sum(taxes, ZERO)
    return LineAmounts(subtotal, discount, taxes, tax, taxable + tax)


def document_amounts(lines: Iterable[LineAmounts]) -> DocumentAmounts:
    """Sums of the rounded line amounts; total = subtotal - discount + tax."""
    subtotal = discount = tax = ZERO
    for line in lines:
        subtotal += line.subtotal
        discount += line.discount
        tax += line.tax
    return DocumentAmounts(subtotal, discount, tax, subtotal - discount + tax)
