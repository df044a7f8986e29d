import pytest

from tests.billing.factories import product_with_stock
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import TaxFactory


@pytest.fixture
def customer(tenant):
    return ContactFactory(name="Ada Customer")


@pytest.fixture
def vat(tenant):
    return TaxFactory(name="VAT", rate="18.00")


@pytest.fixture
def widget(owner, main, vat):
    """A 10.00 product with 18% VAT by default and 10 in stock in the main workspace."""
    return product_with_stock(
        main, "10", actor=owner, name="Widget", price="10.00", default_tax=vat
    )


@pytest.fixture
def gadget(owner, main):
    """A 25.00 product without a default tax and 5 in stock in the main workspace."""
    return product_with_stock(main, "5", actor=owner, name="Gadget", price="25.00")
