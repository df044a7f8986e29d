"""The content of an invoice or quotation, top to bottom: the company and the document's
identity, the customer and the amount that matters to them, the lines, the totals (and, for an
invoice, its payments and amount due), the notes.

Input: a document loaded by ``billing.selectors.documents_printable`` (lines with their taxes,
the contact with its addresses, an invoice's payments) and the company profile. Nothing here
queries the database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO

from django.utils import timezone
from PIL import Image as PILImage
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from billing.models import Invoice, Payment, Quotation
from billing.pdf import formatting as fmt
from billing.pdf.fonts import BOLD, REGULAR, register_fonts
from billing.pdf.pages import RUNNING_HEADER, Mark, PageDecor, numbered_canvas
from billing.pdf.style import (
    BIG_AMOUNT,
    BODY,
    CELL,
    CELL_RIGHT,
    COMPANY_NAME,
    CONTENT_WIDTH,
    DETAILS,
    DETAILS_RIGHT,
    FONT_SIZE,
    GREEN,
    INK,
    LABEL,
    MARGIN,
    MUTED,
    MUTED_HEX,
    NUMBER,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    PARTY_NAME,
    RED,
    RULE,
    SHADE,
    TITLE,
    TOTAL_SIZE,
)
from company.models import ADDRESS_FIELDS, Company
from contacts.models import Address

Document = Invoice | Quotation

#: The box the logo is fitted into, and the pixels that fill it at print resolution (300 dpi).
LOGO_BOX = (60 * mm, 18 * mm)
LOGO_PIXELS = tuple(round(side / 72 * 300) for side in LOGO_BOX)
PRINTABLE_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "CMYK"}
#: Widths on the first page: the title block, and the document's facts.
SIDE = 75 * mm
FACTS = 52 * mm
IDENTIFICATION_LABELS = {
    "tax_id": "Tax ID",
    "national_id": "National ID",
    "passport": "Passport",
    "other": "ID",
}
COLUMNS = ["#", "Description", "Qty", "Unit price", "Discount", "Tax", "Amount"]
#: Amount columns are as wide as their longest value, and never narrower than this.
MIN_WIDTHS = [0, 0, 14 * mm, 19 * mm, 17 * mm, 17 * mm, 20 * mm]
#: Padding of a table cell on each side.
PAD = 4


@dataclass(frozen=True)
class Kind:
    """What differs between an invoice and a quotation on paper."""

    title: str
    party_label: str
    due_label: str
    marks: dict[str, Mark]
    footer_field: str


DRAFT, CANCELLED, PAID = Mark("DRAFT", MUTED), Mark("CANCELLED", RED), Mark("PAID", GREEN)
INVOICE = Kind(
    "Invoice",
    "BILL TO",
    "Due date",
    {"draft": DRAFT, "cancelled": CANCELLED, "paid": PAID},
    "invoice_footer",
)
QUOTATION = Kind(
    "Quotation",
    "PREPARED FOR",
    "Valid until",
    {"draft": DRAFT, "cancelled": CANCELLED},
    "quotation_footer",
)


def document_pdf(document: Document, *, company: Company) -> bytes:
    register_fonts()
    kind = INVOICE if isinstance(document, Invoice) else QUOTATION
    number = document.document_number or f"Draft #{document.pk}"  # a draft invoice
    title = f"{kind.title} {number}"
    mark = kind.marks.get(document.status)
    decor = PageDecor(
        company=str(company), title=title, footer=getattr(company, kind.footer_field), mark=mark
    )
    buffer = BytesIO()
    template = BaseDocTemplate(
        buffer,
        pagesize=(PAGE_WIDTH, PAGE_HEIGHT),
        pageTemplates=[
            PageTemplate("first", [_frame(decor, top=MARGIN)], onPage=decor.first_page),
            PageTemplate(
                "later", [_frame(decor, top=MARGIN + RUNNING_HEADER)], onPage=decor.later_page
            ),
        ],
        title=title,
        author=company.legal_name,
        subject=f"{title} for {document.contact.name}",
        creator="OptiFlow",
        lang="en",
        # Else the canvas starts in Helvetica, a font the reader's machine must supply.
        initialFontName=REGULAR,
        # The same document renders to the same bytes (no creation time or random file id).
        invariant=True,
    )
    story: list[Flowable] = [NextPageTemplate("later")]
    story += header(document, kind, number, mark, company)
    story += [Spacer(1, 7 * mm), lines_table(document)]
    story += [Spacer(1, 4 * mm), totals_table(document)]
    if document.notes:
        notes = Paragraph(fmt.markup(document.notes), BODY)
        # The label never ends a page without the notes under it.
        label = Paragraph("NOTES", LABEL.clone("notes-label", keepWithNext=True))
        story += [Spacer(1, 7 * mm), label, notes]
    template.build(story, canvasmaker=numbered_canvas(decor.page_number))
    return buffer.getvalue()


# --- the first page's head ------------------------------------------------------------------


def header(
    document: Document, kind: Kind, number: str, mark: Mark | None, company: Company
) -> list[Flowable]:
    """The brand (logo, else name) on the left; the document's kind, number and status mark
    on the right. Then who sends it, to whom, and its facts, side by side."""
    if company.logo is not None:
        brand = Image(BytesIO(print_logo(bytes(company.logo))), *LOGO_BOX, kind="proportional")
        brand.hAlign = "LEFT"
    else:
        brand = Paragraph(fmt.markup(str(company)), COMPANY_NAME)
    title: list[Flowable] = [
        Paragraph(kind.title.upper(), TITLE),
        Paragraph(fmt.markup(number), NUMBER),
    ]
    if mark is not None:
        title += [Spacer(1, 2 * mm), Badge(mark)]
    top = Table([[brand, title]], colWidths=[CONTENT_WIDTH - SIDE, SIDE])
    top.setStyle(
        TableStyle(
            [
                *_cell_style(0, 0),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (1, 0), (1, 0), "RIGHT"),
            ]
        )
    )

    contact = document.contact
    sender = [company.trade_name if company.trade_name != company.legal_name else ""]
    sender += address_lines(company.address)
    if company.tax_id:
        sender.append(f"Tax ID {company.tax_id}")
    sender += [company.email, company.phone, company.website]
    customer = address_lines(_address(billing_address(contact.addresses.all())))
    if contact.identification_number:
        label = IDENTIFICATION_LABELS.get(contact.identification_type, "ID")
        customer.append(f"{label} {contact.identification_number}")
    customer += [contact.email, contact.phone]
    facts = [("Issue date", fmt.date(document.issue_date))]
    if document.due_date is not None:
        facts.append((kind.due_label, fmt.date(document.due_date)))
    if document.payment_term:
        facts.append(("Payment terms", document.payment_term))
    facts.append(("Currency", document.currency))
    facts_table = Table(
        [
            [Paragraph(label, DETAILS), Paragraph(fmt.markup(value), CELL_RIGHT)]
            for label, value in facts
        ],
        colWidths=[24 * mm, FACTS - 24 * mm],
    )
    facts_table.setStyle(TableStyle(_cell_style(0, 0.5)))
    party = (CONTENT_WIDTH - FACTS) / 2
    parties = Table(
        [
            [
                _party("FROM", company.legal_name, sender),
                _party(kind.party_label, contact.name, customer),
                facts_table,
            ]
        ],
        colWidths=[party, party, FACTS],
    )
    parties.setStyle(
        TableStyle(
            [
                *_cell_style(0, 0),
                ("RIGHTPADDING", (0, 0), (1, 0), 5 * mm),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return [top, Spacer(1, 8 * mm), parties, Spacer(1, 7 * mm), summary(document)]


def summary(document: Document) -> Table:
    """One shaded band with what the customer looks for first: the amount due and where the
    invoice stands, or the quotation's total and how long it holds."""
    if isinstance(document, Invoice):
        label, amount, note = "AMOUNT DUE", document.amount_due, standing(document)
    else:
        label, amount = "TOTAL", document.total_amount
        note = f"Valid until {fmt.date(document.due_date)}" if document.due_date else ""
    band = Table(
        [
            [
                Paragraph(label, LABEL),
                Paragraph(fmt.markup(fmt.money(amount, document.currency)), BIG_AMOUNT),
                Paragraph(fmt.markup(note), DETAILS_RIGHT),
            ]
        ],
        colWidths=[30 * mm, 80 * mm, CONTENT_WIDTH - 110 * mm],
    )
    band.setStyle(
        TableStyle(
            [
                *_cell_style(8, 7),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, -1), SHADE),
            ]
        )
    )
    return band


def standing(invoice: Invoice) -> str:
    """Where the invoice stands, in words, under its amount due."""
    if invoice.status == Invoice.Status.DRAFT:
        return "Draft: not issued yet"
    if invoice.status == Invoice.Status.CANCELLED and invoice.cancelled_at is not None:
        return f"Cancelled on {fmt.date(timezone.localdate(invoice.cancelled_at))}"
    if invoice.status == Invoice.Status.PAID:
        return "Paid in full"
    return f"Due {fmt.date(invoice.due_date)}" if invoice.due_date else ""


# --- lines and totals -----------------------------------------------------------------------


def lines_table(document: Document) -> Table:
    """Every line, the header repeated on each page; amounts right-aligned in columns as wide
    as their longest value, the description taking the rest. A line's taxes and discount rate
    are noted under its description."""
    currency = document.currency
    rows: list[list] = [COLUMNS]
    for index, line in enumerate(document.items.all(), start=1):
        notes = [_tax_label(tax.name, tax.rate) for tax in line.taxes.all()]
        if line.discount_rate:
            notes.append(f"{fmt.rate(line.discount_rate)} discount")
        description = fmt.markup(line.description)
        if notes:
            note = fmt.markup(" · ".join(notes))
            description += f'<br/><font size="7" color="{MUTED_HEX}">{note}</font>'
        rows.append(
            [
                str(index),
                Paragraph(description, CELL),
                fmt.quantity(line.quantity),
                fmt.money(line.unit_price, currency),
                fmt.money(line.discount_amount, currency) if line.discount_amount else "–",
                fmt.money(line.tax_amount, currency) if line.tax_amount else "–",
                fmt.money(line.total, currency),
            ]
        )
    widths = [max(_width(rows, column), least) for column, least in enumerate(MIN_WIDTHS)]
    widths[1] += CONTENT_WIDTH - sum(widths)
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                *_cell_style(PAD, 4),
                ("FONT", (0, 0), (-1, 0), BOLD, 7),
                ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                ("TEXTCOLOR", (0, 1), (0, -1), MUTED),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
                ("LINEBELOW", (0, 1), (-1, -1), 0.4, RULE),
            ]
        )
    )
    return table


def totals_table(document: Document) -> Flowable:
    """Subtotal, discount, each tax, the total; for an invoice, each payment that counts and
    the amount due. Kept on one page."""
    rows: list[tuple[str, Decimal]] = [("Subtotal", document.subtotal_amount)]
    if document.discount_amount:
        rows.append(("Discount", -document.discount_amount))
    rows += [(fmt.markup(_tax_label(*tax)), amount) for tax, amount in tax_sums(document).items()]
    rows.append(("<b>Total</b>", document.total_amount))
    emphasized = [len(rows) - 1]
    if isinstance(document, Invoice):
        for payment in completed_payments(document):
            method = Payment.Method(payment.method).label
            label = f"Paid {fmt.date(payment.paid_at)} · {method} · {payment.payment_number}"
            rows.append((fmt.markup(label), -payment.amount))
        rows.append(("<b>Amount due</b>", document.amount_due))
        emphasized.append(len(rows) - 1)
    cells = [
        [Paragraph(label, CELL_RIGHT), fmt.money(amount, document.currency)]
        for label, amount in rows
    ]
    amount_width = max(30 * mm, _width(cells, 1, BOLD, TOTAL_SIZE))
    table = Table(cells, colWidths=[95 * mm - amount_width, amount_width], hAlign="RIGHT")
    style = [
        *_cell_style(PAD, 3),
        ("ALIGN", (1, 0), (1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEABOVE", (0, emphasized[0]), (-1, emphasized[0]), 0.8, INK),
    ]
    style += [("FONT", (1, row), (1, row), BOLD, TOTAL_SIZE) for row in emphasized]
    if isinstance(document, Invoice):
        style.append(("BACKGROUND", (0, -1), (-1, -1), SHADE))
    table.setStyle(TableStyle(style))
    return KeepTogether([table])


def tax_sums(document: Document) -> dict[tuple[str, Decimal], Decimal]:
    """Each tax (name and rate as copied onto the lines) with its amount over all lines, in
    the order they first appear."""
    sums: dict[tuple[str, Decimal], Decimal] = {}
    for line in document.items.all():
        for tax in line.taxes.all():
            key = (tax.name, tax.rate)
            sums[key] = sums.get(key, Decimal("0.00")) + tax.amount
    return sums


def completed_payments(invoice: Invoice) -> list[Payment]:
    """The payments that count (voided ones do not), oldest first."""
    payments = [p for p in invoice.payments.all() if p.status == Payment.Status.COMPLETED]
    return sorted(payments, key=lambda payment: (payment.paid_at, payment.pk))


# --- parts ----------------------------------------------------------------------------------


def billing_address(addresses: Iterable[Address]) -> Address | None:
    """The contact's primary billing address, else its first billing address."""
    billing = [address for address in addresses if address.type == Address.Type.BILLING]
    return next((a for a in billing if a.is_primary), billing[0] if billing else None)


def address_lines(address: dict[str, str]) -> list[str]:
    """``line1``, ``line2``, ``city, state postal_code``, ``country``: the parts given."""
    region = " ".join(part for part in (address.get("state"), address.get("postal_code")) if part)
    locality = ", ".join(part for part in (address.get("city"), region) if part)
    parts = (address.get("line1"), address.get("line2"), locality, address.get("country"))
    return [part for part in parts if part]


def _address(address: Address | None) -> dict[str, str]:
    return {key: getattr(address, key) for key in ADDRESS_FIELDS} if address else {}


def _party(label: str, name: str, lines: list[str]) -> list[Flowable]:
    """A label, a name, and its details one per line (empty ones left out)."""
    details = "<br/>".join(fmt.markup(line) for line in lines if line)
    return [
        Paragraph(label, LABEL),
        Paragraph(fmt.markup(name), PARTY_NAME),
        Paragraph(details, DETAILS),
    ]


def _tax_label(name: str, rate: Decimal) -> str:
    """``VAT 18%``; a name that already states its rate (``VAT 18%``) is not repeated."""
    percent = fmt.rate(rate)
    return name if percent in name else f"{name} {percent}"


@functools.lru_cache(maxsize=16)
def print_logo(content: bytes) -> bytes:
    """The logo at no more pixels than it prints with: a large upload is shrunk once per
    process instead of being decoded in full and embedded for every PDF. Pixel formats that
    neither Pillow's resizing nor reportlab take (16-bit PNG) become plain RGB(A)."""
    with PILImage.open(BytesIO(content)) as image:
        fits = image.width <= LOGO_PIXELS[0] and image.height <= LOGO_PIXELS[1]
        if fits and image.mode in PRINTABLE_MODES:
            return content
        kind = image.format
        image = image.convert("RGBA" if kind == "PNG" else "RGB")
        image.thumbnail(LOGO_PIXELS)
        shrunk = BytesIO()
        image.save(shrunk, format=kind, **({"quality": 90} if kind == "JPEG" else {}))
        return shrunk.getvalue()


class Badge(Flowable):
    """The status mark beside the document's number: its word in a coloured frame."""

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = stringWidth(self.mark.text, BOLD, 8) + 12
        self.height = 14
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setStrokeColor(self.mark.color)
        canvas.setFillColor(self.mark.color)
        canvas.roundRect(0, 0, self.width, self.height, 3, stroke=1, fill=0)
        canvas.setFont(BOLD, 8)
        canvas.drawCentredString(self.width / 2, 4.2, self.mark.text)


def _frame(decor: PageDecor, *, top: float) -> Frame:
    height = PAGE_HEIGHT - top - decor.bottom_margin
    return Frame(
        MARGIN,
        decor.bottom_margin,
        CONTENT_WIDTH,
        height,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )


def _width(rows: list[list], column: int, font: str = REGULAR, size: float = FONT_SIZE) -> float:
    """Of a column of strings, as ``font`` sets its longest cell."""
    texts = [row[column] for row in rows if isinstance(row[column], str)]
    return max(stringWidth(text, font, size) for text in texts) + 2 * PAD + 1


def _cell_style(horizontal: float, vertical: float) -> list[tuple]:
    """Padding, and the font of string cells: a table left to its default draws them (and
    references the font even where it has none) in Helvetica, which is not embedded."""
    return [
        ("FONT", (0, 0), (-1, -1), REGULAR, FONT_SIZE),
        ("LEFTPADDING", (0, 0), (-1, -1), horizontal),
        ("RIGHTPADDING", (0, 0), (-1, -1), horizontal),
        ("TOPPADDING", (0, 0), (-1, -1), vertical),
        ("BOTTOMPADDING", (0, 0), (-1, -1), vertical),
    ]
