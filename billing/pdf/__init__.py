"""Invoices and quotations as PDF, and several of them as a ZIP (SPEC §8.11), drawn with
reportlab: ``layout`` is the content, ``pages`` what every page carries, ``style`` the look,
``formatting`` how amounts and dates are written, ``fonts`` the embedded typeface."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from io import BytesIO

from reportlab import rl_config

from billing.models import Invoice, Quotation
from billing.pdf.layout import document_pdf
from company.models import Company

__all__ = ["document_filename", "document_pdf", "documents_zip"]

# Binary streams rather than ASCII85 text: a fifth smaller, and a sixth less CPU (reportlab
# encodes ASCII85 in Python without its optional C accelerator). Any PDF reader takes them.
rl_config.useA85 = 0

#: What a file name must not contain on any system (a series prefix is free text: `A/2026-`).
UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def document_filename(document: Invoice | Quotation) -> str:
    """``INV-0001.pdf``; a draft invoice, which has no number yet: ``draft-12.pdf``."""
    if not document.document_number:
        return f"draft-{document.pk}.pdf"
    return UNSAFE.sub("_", document.document_number).lstrip(". ") + ".pdf"


def documents_zip(documents: Iterable[Invoice | Quotation], *, company: Company) -> bytes:
    """One PDF per document, each named by its number, in the order given."""
    buffer = BytesIO()
    # Stored, not deflated: a PDF's streams are compressed already.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for document in documents:
            archive.writestr(document_filename(document), document_pdf(document, company=company))
    return buffer.getvalue()
