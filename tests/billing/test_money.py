"""The document arithmetic of SPEC §8.7, table-driven, rounding edges included."""

from decimal import Decimal as D

import pytest

from billing.money import DiscountExceedsSubtotal, document_amounts, line_amounts

LINE_CASES = [
    # id, quantity, unit_price, discount_rate, discount_amount, tax_rates,
    #     (subtotal, discount, taxes, tax, total)
    ("plain", "2", "10.00", None, None, [], ("20.00", "0.00", [], "0.00", "20.00")),
    ("tax half-up at x.xx5", "1", "10.50", None, None, ["5"],
     ("10.50", "0.00", ["0.53"], "0.53", "11.03")),
    ("subtotal half-up at x.xx5", "1", "2.675", None, None, [],
     ("2.68", "0.00", [], "0.00", "2.68")),
    ("3 x 0.333 rounds the product, not the price", "3", "0.333", None, None, [],
     ("1.00", "0.00", [], "0.00", "1.00")),
    ("100% discount leaves nothing to tax", "5", "19.99", "100", None, ["18"],
     ("99.95", "99.95", ["0.00"], "0.00", "0.00")),
    ("two taxes on one line", "1", "100.00", None, None, ["18", "2.5"],
     ("100.00", "0.00", ["18.00", "2.50"], "20.50", "120.50")),
    ("two taxes each rounded", "1", "33.33", None, None, ["18", "7"],
     ("33.33", "0.00", ["6.00", "2.33"], "8.33", "41.66")),
    ("discount as an amount", "4", "25.00", None, "15.00", ["18"],
     ("100.00", "15.00", ["15.30"], "15.30", "100.30")),
    ("discount rate rounded before tax", "3", "3.33", "15", None, ["10"],
     ("9.99", "1.50", ["0.85"], "0.85", "9.34")),
    ("discount amount equal to subtotal", "2", "7.50", None, "15.00", ["10"],
     ("15.00", "15.00", ["0.00"], "0.00", "0.00")),
    ("fractional quantity", "1.5", "9.99", None, None, [],
     ("14.99", "0.00", [], "0.00", "14.99")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("quantity", "unit_price", "rate", "amount", "tax_rates", "expected"),
    [case[1:] for case in LINE_CASES],
    ids=[case[0] for case in LINE_CASES],
)
def test_line_amounts_round_half_up_to_cents(
    quantity, unit_price, rate, amount, tax_rates, expected
):
    line = line_amounts(
        quantity=D(quantity),
        unit_price=D(unit_price),
        discount_rate=D(rate) if rate is not None else None,
        discount_amount=D(amount) if amount is not None else None,
        tax_rates=[D(r) for r in tax_rates],
    )
    subtotal, discount, taxes, tax, total = expected
    assert (line.subtotal, line.discount, line.taxes, line.tax, line.total) == (
        D(subtotal),
        D(discount),
        tuple(D(t) for t in taxes),
        D(tax),
        D(total),
    )
    assert str(line.total) == total  # two places, never more


def test_discount_amount_above_the_subtotal_is_refused():
    with pytest.raises(DiscountExceedsSubtotal):
        line_amounts(quantity=D("1"), unit_price=D("10.00"), discount_amount=D("10.01"))


def test_document_sums_rounded_lines_so_per_line_rounding_shows_in_the_total():
    # Each line's tax is 0.005 → 0.01; rounding the sum instead would give 0.02.
    lines = [line_amounts(quantity=D("1"), unit_price=D("0.10"), tax_rates=[D("5")])] * 3
    document = document_amounts(lines)
    assert (document.subtotal, document.discount, document.tax, document.total) == (
        D("0.30"),
        D("0.00"),
        D("0.03"),
        D("0.33"),
    )


def test_document_total_is_subtotal_minus_discount_plus_tax():
    lines = [
        line_amounts(
            quantity=D("2"), unit_price=D("50.00"), discount_rate=D("10"), tax_rates=[D("18")]
        ),
        line_amounts(
            quantity=D("1"),
            unit_price=D("19.99"),
            discount_amount=D("4.99"),
            tax_rates=[D("18"), D("2")],
        ),
    ]
    document = document_amounts(lines)
    # Line 1: 100.00 - 10.00, tax 16.20. Line 2: 19.99 - 4.99 = 15.00, taxes 2.70 + 0.30.
    assert (document.subtotal, document.discount, document.tax, document.total) == (
        D("119.99"),
        D("14.99"),
        D("19.20"),
        D("124.20"),
    )


def test_an_empty_document_is_zero():
    document = document_amounts([])
    assert (document.subtotal, document.discount, document.tax, document.total) == (
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )
