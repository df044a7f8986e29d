"""What a customer sees: page 1 of the demo tenant's partly paid invoice, rasterised with
pypdfium2 (PDFium, from PyPI). ``make pdf-preview`` keeps the picture in
``.local/demo-invoice.png`` (``OPTIFLOW_PDF_PREVIEW``) to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pypdfium2

from billing import demo as billing_demo
from billing.models import Invoice
from company import demo as company_demo
from contacts import demo as contacts_demo
from inventory import demo as inventory_demo
from tests.factories import WorkspaceFactory


def test_demo_invoice_page_one_renders_with_logo_and_content(tenant, api, tmp_path):
    workspaces = [tenant.workspace, WorkspaceFactory(owner=tenant.owner, name="Downtown")]
    for seed in (company_demo.seed, contacts_demo.seed, inventory_demo.seed, billing_demo.seed):
        seed(owner=tenant.owner, workspaces=workspaces)
    invoice = Invoice.objects.get(contact__name="Tailspin Renovations", status="partially_paid")

    response = api.get(f"/invoices/{invoice.pk}/pdf")

    assert response.status_code == 200
    page = pypdfium2.PdfDocument(response.content)[0]
    image = page.render(scale=2).to_pil().convert("RGB")
    target = Path(os.environ.get("OPTIFLOW_PDF_PREVIEW") or tmp_path / "demo-invoice.png")
    image.save(target)
    width, height = image.size
    assert abs(height / width - 297 / 210) < 0.01  # A4 portrait
    logo_area = image.crop((0, 0, width // 2, height // 6))
    assert (15, 118, 110) in {color for _, color in logo_area.getcolors(1 << 16)}  # logo teal
