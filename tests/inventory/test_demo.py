"""The demo seeds (``make run``) build a believable catalog through the services."""

from contacts import demo as contacts_demo
from contacts.models import Contact
from inventory import demo as inventory_demo
from inventory.models import Product, StockLevel, Tax
from tests.inventory.factories import ledger_mismatches


def test_the_demo_seeds_build_contacts_a_catalog_and_consistent_stock(owner, main, branch):
    contacts_demo.seed(owner=owner, workspaces=[main, branch])
    inventory_demo.seed(owner=owner, workspaces=[main, branch])

    assert Contact.objects.filter(contact_type="customer").count() >= 4
    assert Contact.objects.filter(contact_type="supplier").count() >= 4
    assert Tax.objects.get(is_default=True).name == "VAT 18%"
    assert Product.objects.count() >= 30
    assert Product.objects.filter(track_stock=False).count() >= 4
    for workspace in (main, branch):
        assert (
            StockLevel.objects.filter(workspace=workspace).count()
            == Product.objects.filter(track_stock=True).count()
        )
    assert StockLevel.objects.low().exists()
    assert ledger_mismatches() == []
