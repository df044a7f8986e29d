"""How the documents write amounts, quantities, rates, dates and free text.

The locale rule: documents are in English, so numbers follow English conventions (``1,234.56``)
whatever the currency, with the currency's symbol as CLDR gives it for English (``$``, ``€``,
``£``, ``¥``, ``CA$``; an alphabetic one such as ``CHF`` is set apart by a no-break space).
Amounts always show the two places the API stores (SPEC §5), also for currencies usually
written without cents (JPY): the document states exactly what the JSON does.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from xml.sax.saxutils import escape

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, get_currency_symbol

LOCALE = "en"
#: Characters reportlab's paragraph parser cannot take (C0 controls other than tab and newline).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def money(amount: Decimal, currency: str) -> str:
    symbol = get_currency_symbol(currency, LOCALE)
    pattern = "¤\u00a0#,##0.00" if symbol[-1:].isalpha() else "¤#,##0.00"
    return format_currency(amount, currency, format=pattern, locale=LOCALE, currency_digits=False)


def quantity(value: Decimal) -> str:
    return format_decimal(value, format="#,##0.00", locale=LOCALE)


def rate(value: Decimal) -> str:
    """``Decimal("18.00")`` → ``18%``, ``Decimal("12.50")`` → ``12.5%``."""
    return f"{value.normalize():f}%"


def date(value: dt.date) -> str:
    """Day, abbreviated month, year (``5 Jan 2026``): unambiguous wherever the reader is."""
    return format_date(value, format="d MMM y", locale=LOCALE)


def markup(text: str) -> str:
    """Free text (names, descriptions, notes) as reportlab paragraph markup: escaped, so that
    ``<`` or ``&`` print as written instead of being read as tags, with its line breaks."""
    return escape(CONTROL.sub("", text)).replace("\n", "<br/>")
