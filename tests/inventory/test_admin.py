"""SPEC §9: in the tenant admin the catalog is editable and the stock ledger read-only."""

import pytest

from inventory.models import StockMovement
from tests.conftest import OWNER_PASSWORD
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import ProductFactory, give_stock

ADMIN = "/t/acme/admin"


@pytest.fixture
def admin_client(client, tenant):
    assert client.login(email=tenant.owner.email, password=OWNER_PASSWORD)
    return client


@pytest.mark.parametrize(
    "model", ["contacts/contact", "inventory/product", "inventory/category", "inventory/tax"]
)
def test_the_catalog_and_contacts_are_editable(admin_client, model):
    assert admin_client.get(f"{ADMIN}/{model}/").status_code == 200
    assert admin_client.get(f"{ADMIN}/{model}/add/").status_code == 200


def test_a_product_and_a_contact_open_for_editing(admin_client):
    product, contact = ProductFactory(), ContactFactory()
    assert admin_client.get(f"{ADMIN}/inventory/product/{product.pk}/change/").status_code == 200
    assert admin_client.get(f"{ADMIN}/contacts/contact/{contact.pk}/change/").status_code == 200


@pytest.mark.parametrize(
    "model", ["stocklevel", "stockmovement", "stockadjustment", "stocktransfer"]
)
def test_the_stock_ledger_is_read_only(admin_client, owner, main, model):
    give_stock(ProductFactory(), main, "3", actor=owner)
    assert admin_client.get(f"{ADMIN}/inventory/{model}/").status_code == 200
    assert admin_client.get(f"{ADMIN}/inventory/{model}/add/").status_code == 403


def test_a_movement_can_be_viewed_but_not_changed_or_deleted(admin_client, owner, main):
    give_stock(ProductFactory(), main, "3", actor=owner)
    movement = StockMovement.objects.get()
    page = admin_client.get(f"{ADMIN}/inventory/stockmovement/{movement.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    delete = admin_client.post(
        f"{ADMIN}/inventory/stockmovement/{movement.pk}/delete/", {"post": "yes"}
    )
    assert delete.status_code == 403
    assert StockMovement.objects.filter(pk=movement.pk).exists()
