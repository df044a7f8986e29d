"""The documents' look in one place: page geometry, palette and paragraph styles."""

from __future__ import annotations

from reportlab.lib.colors import HexColor
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm

from billing.pdf.fonts import BOLD, REGULAR

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

INK = HexColor("#0F172A")
MUTED_HEX = "#64748B"
MUTED = HexColor(MUTED_HEX)
RULE = HexColor("#E2E8F0")
SHADE = HexColor("#F1F5F9")
RED = HexColor("#B91C1C")
GREEN = HexColor("#15803D")

#: Table cells holding plain strings use these.
FONT_SIZE = 8.5
SMALL_SIZE = 7.5
#: The document's total and amount due stand out in their column.
TOTAL_SIZE = 11


def _style(name: str, **overrides) -> ParagraphStyle:
    values = {"fontName": REGULAR, "fontSize": 9, "leading": 12.5, "textColor": INK}
    return ParagraphStyle(name, **(values | overrides))


BODY = _style("body")
CELL = _style("cell", fontSize=FONT_SIZE, leading=11)
CELL_RIGHT = _style("cell-right", fontSize=FONT_SIZE, leading=11, alignment=TA_RIGHT)
DETAILS = _style("details", fontSize=8, leading=11, textColor=MUTED)
DETAILS_RIGHT = _style("details-right", fontSize=8, leading=11, textColor=MUTED, alignment=TA_RIGHT)
LABEL = _style("label", fontName=BOLD, fontSize=7, leading=10, textColor=MUTED)
FOOTER = _style("footer", fontSize=SMALL_SIZE, leading=10, textColor=MUTED)
COMPANY_NAME = _style("company", fontName=BOLD, fontSize=12, leading=15)
PARTY_NAME = _style("party", fontName=BOLD, fontSize=10, leading=13)
TITLE = _style("title", fontName=BOLD, fontSize=22, leading=26, alignment=TA_RIGHT)
NUMBER = _style("number", fontName=BOLD, fontSize=11, leading=14, alignment=TA_RIGHT)
BIG_AMOUNT = _style("amount", fontName=BOLD, fontSize=17, leading=21, alignment=TA_LEFT)
