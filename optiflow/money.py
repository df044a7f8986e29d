"""Money, quantities and rates for every app: their precision and the one rounding rule.

Amounts and quantities are stored and answered with two places (``"1500.00"``) and at most 12
whole digits; rates are percents with two places (``"18.00"``, at most ``"100.00"``). Model
columns, serializer fields and arithmetic all take them from here, so a change of precision is
one edit (and a migration). Document arithmetic built on them is ``billing.money``; this module
sits below every app because catalog, stock and contacts hold amounts too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: Money and quantities: ``DecimalField(**AMOUNT)`` (model or serializer).
AMOUNT = {"max_digits": 14, "decimal_places": 2}
#: Percent rates (taxes, discounts).
RATE = {"max_digits": 5, "decimal_places": 2}
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
#: The largest amount an ``AMOUNT`` column stores.
MAX_AMOUNT = Decimal("999999999999.99")


def money_round(value: Decimal) -> Decimal:
    """The one rounding rule: half-up to two places."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, rate: Decimal) -> Decimal:
    return money_round(amount * rate / HUNDRED)
