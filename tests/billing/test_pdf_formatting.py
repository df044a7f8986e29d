"""How the documents write amounts, rates and names (``billing.pdf.formatting``), and that the
embedded font can draw every currency symbol they may write."""

from __future__ import annotations

import re
from decimal import Decimal
from io import BytesIO

import pytest
from babel.numbers import get_currency_symbol, list_currencies
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics

from billing.models import Invoice
from billing.pdf import document_filename
from billing.pdf.fonts import BOLD, REGULAR, register_fonts
from billing.pdf.formatting import markup, money, rate
from tests.billing.factories import item, make_invoice
from tests.inventory.factories import ProductFactory

D = Decimal


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        ("1234.5", "USD", "$1,234.50"),
        ("1234.5", "EUR", "€1,234.50"),
        ("-10", "GBP", "-£10.00"),
        ("1500", "JPY", "¥1,500.00"),  # the two places the API stores, cents or not
        ("1234.5", "CAD", "CA$1,234.50"),
        ("1234.5", "CHF", "CHF\u00a01,234.50"),  # a word-like symbol is set apart
        ("0.5", "XYZ", "XYZ\u00a00.50"),  # a code CLDR does not know: the code itself
    ],
)
def test_amounts_are_written_the_english_way_with_the_currencys_symbol(amount, currency, written):
    assert money(D(amount), currency) == written


def test_the_font_draws_every_currency_symbol_and_the_scripts_names_use():
    register_fonts()
    for font in (REGULAR, BOLD):
        glyphs = pdfmetrics.getFont(font).face.charToGlyph
        symbols = {get_currency_symbol(code, "en") for code in list_currencies()}
        text = "".join(symbols) + "ÆØÅæøåÇçĞğŠšŽžαβγΩάέ АБВЖЩЯабвжщяЁё–·"
        assert [c for c in text if ord(c) not in glyphs] == [], font


def test_rates_names_and_file_names():
    assert [rate(D(r)) for r in ("18.00", "12.50", "100.00", "0.00")] == [
        "18%",
        "12.5%",
        "100%",
        "0%",
    ]
    assert markup('<b>"A & B"</b>\nnext\x07') == '&lt;b&gt;"A &amp; B"&lt;/b&gt;<br/>next'
    assert document_filename(Invoice(pk=7, document_number='A/2026:"1"')) == "A_2026__1_.pdf"
    assert document_filename(Invoice(pk=7, document_number=None)) == "draft-7.pdf"


def test_a_document_in_euros_says_so(api, owner, main, customer):
    service = ProductFactory(product_type="service", track_stock=False, price=D("1999.99"))
    invoice = make_invoice(
        workspace=main, actor=owner, contact=customer, currency="EUR", items=[item(service, 2)]
    )

    [page] = PdfReader(BytesIO(api.get(f"/invoices/{invoice.pk}/pdf").content)).pages

    text = page.extract_text()
    assert "€3,999.98" in text and re.search(r"Currency\s+EUR", text)
    assert "$" not in text
