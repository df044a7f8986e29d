"""The demo seed (``make run``) runs on top of the contacts and inventory seeds."""

from __future__ import annotations

from billing import demo as billing_demo
from billing.models import Invoice, Payment, Quotation
from contacts import demo as contacts_demo
from inventory import demo as inventory_demo
from tests.factories import WorkspaceFactory
from tests.inventory.factories import ledger_mismatches


def test_the_demo_seed_writes_documents_in_every_status(tenant):
    workspaces = [tenant.workspace, WorkspaceFactory(owner=tenant.owner, name="Downtown")]
    for seed in (contacts_demo.seed, inventory_demo.seed, billing_demo.seed):
        seed(owner=tenant.owner, workspaces=workspaces)

    assert set(Invoice.objects.values_list("status", flat=True)) == set(Invoice.Status.values)
    assert set(Quotation.objects.values_list("status", flat=True)) == {
        "draft",
        "sent",
        "rejected",
        "converted",
    }
    assert set(Payment.objects.values_list("status", flat=True)) == {"completed", "voided"}
    assert any(invoice.is_overdue for invoice in Invoice.objects.all())
    assert ledger_mismatches() == []
