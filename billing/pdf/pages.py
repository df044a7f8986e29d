"""What every page of a document carries besides its content: the footer (the company's
footer text, the document's name, ``Page 1/3``), a running header on continuation pages, and
the status mark (``DRAFT``, ``CANCELLED``, ``PAID``) across the page.

``Page x/y`` needs the page count before the first page is finished, so ``numbered_canvas``
keeps each finished page and draws the numbers when the document is saved (one pass, not two
builds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reportlab.lib.colors import Color
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from billing.pdf.fonts import BOLD, REGULAR
from billing.pdf.formatting import markup
from billing.pdf.style import (
    CONTENT_WIDTH,
    FOOTER,
    INK,
    MARGIN,
    MUTED,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    RULE,
    SMALL_SIZE,
)

#: Room the running header of continuation pages takes above the content.
RUNNING_HEADER = 12 * mm
#: Baseline of the footer's last line (document name and page number).
FOOTER_BASELINE = 10 * mm


@dataclass(frozen=True)
class Mark:
    text: str
    color: Color


class PageDecor:
    """Draws the furniture of each page; its methods are reportlab ``onPage`` callbacks."""

    def __init__(self, *, company: str, title: str, footer: str, mark: Mark | None) -> None:
        self.company = company
        self.title = title
        self.mark = mark
        self.footer = Paragraph(markup(footer), FOOTER) if footer else None
        self.footer_height = self.footer.wrap(CONTENT_WIDTH, PAGE_HEIGHT)[1] if footer else 0

    @property
    def bottom_margin(self) -> float:
        """From the page's bottom edge to the content: the footer and some air."""
        return FOOTER_BASELINE + 8 * mm + self.footer_height

    def first_page(self, canvas: Canvas, doc) -> None:
        self._watermark(canvas)
        self._footer(canvas)

    def later_page(self, canvas: Canvas, doc) -> None:
        self._watermark(canvas)
        top = PAGE_HEIGHT - MARGIN
        canvas.saveState()
        canvas.setFillColor(INK)
        half = CONTENT_WIDTH / 2 - 3 * mm
        canvas.setFont(BOLD, 8.5)
        canvas.drawString(MARGIN, top - 8, fit(self.company, BOLD, 8.5, half))
        canvas.setFont(REGULAR, 8.5)
        title = fit(f"{self.title} (continued)", REGULAR, 8.5, half)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, top - 8, title)
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, top - 14, PAGE_WIDTH - MARGIN, top - 14)
        canvas.restoreState()
        self._footer(canvas)

    def page_number(self, canvas: Canvas, page: int, total: int) -> None:
        canvas.saveState()
        canvas.setFont(REGULAR, SMALL_SIZE)
        canvas.setFillColor(MUTED)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, FOOTER_BASELINE, f"Page {page}/{total}")
        canvas.restoreState()

    def _footer(self, canvas: Canvas) -> None:
        canvas.saveState()
        rule = FOOTER_BASELINE + 5 * mm + self.footer_height
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, rule, PAGE_WIDTH - MARGIN, rule)
        if self.footer is not None:
            self.footer.drawOn(canvas, MARGIN, FOOTER_BASELINE + 4 * mm)
        canvas.setFont(REGULAR, SMALL_SIZE)
        canvas.setFillColor(MUTED)
        name = fit(f"{self.company} · {self.title}", REGULAR, SMALL_SIZE, CONTENT_WIDTH - 25 * mm)
        canvas.drawString(MARGIN, FOOTER_BASELINE, name)
        canvas.restoreState()

    def _watermark(self, canvas: Canvas) -> None:
        if self.mark is None:
            return
        canvas.saveState()
        canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
        canvas.rotate(35)
        canvas.setFillColor(self.mark.color, alpha=0.08)
        canvas.setFont(BOLD, 110 if len(self.mark.text) < 6 else 84)
        canvas.drawCentredString(0, -35, self.mark.text)
        canvas.restoreState()


def fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut short with an ellipsis where it would run past ``width`` (a name of 200
    characters in a one-line header)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def numbered_canvas(draw_number: Callable[[Canvas, int, int], None]) -> type[Canvas]:
    """A canvas class that holds back each finished page until the document is saved, then
    calls ``draw_number(canvas, page, total)`` on it."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._finished: list[dict] = []

        def showPage(self) -> None:
            self._finished.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._finished)
            for state in self._finished:
                self.__dict__.update(state)
                draw_number(self, self._pageNumber, total)
                super().showPage()
            super().save()

    return NumberedCanvas
