"""SPEC §9: in the tenant admin the catalog is edited through the API's services (the same
rules, the same messages, nothing written when refused) and the stock ledger is read-only."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inventory.models import Product, StockMovement, Tax
from inventory.selectors import low_stock_by_workspace
from inventory.services import AdjustmentItem, stock_adjustment_create
from tests.admin_session import csrf_token, form_values, page_text
from tests.conftest import OWNER_PASSWORD
from tests.contacts.factories import ContactFactory
from tests.factories import errors
from tests.inventory.factories import (
    CategoryFactory,
    ProductFactory,
    TaxFactory,
    give_stock,
    ledger_mismatches,
    ledger_state,
)

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


# --- the admin writes through the catalog services ------------------------------------------


def test_unticking_track_stock_on_a_product_with_stock_is_refused_with_the_api_message(
    staff, api, owner, main
):
    product = ProductFactory()
    give_stock(product, main, "47", actor=owner)
    before = ledger_state()

    page = staff.submit(f"/inventory/product/{product.pk}/change/", {"track_stock": None})

    message = "The product has stock records, so it must keep tracking stock."
    assert page.status_code == 200
    assert page.context["adminform"].form.errors == {"track_stock": [message]}
    assert message in page_text(page)
    product.refresh_from_db()
    assert product.track_stock
    assert ledger_state() == before and ledger_mismatches() == []
    refused = api.patch(f"/products/{product.pk}", {"track_stock": False})
    assert errors(refused) == {"track_stock": [message]}


def test_a_product_edited_in_the_admin_changes_only_what_was_changed(staff, owner, main):
    product = ProductFactory(name="Old name")
    give_stock(product, main, "3", actor=owner)

    page = staff.submit(f"/inventory/product/{product.pk}/change/", {"name": "New name"})

    assert page.status_code == 302
    product.refresh_from_db()
    assert product.name == "New name" and product.track_stock


def test_a_new_product_gets_the_default_tax_as_in_the_api(staff):
    vat = TaxFactory(name="VAT", is_default=True)
    page = staff.get("/inventory/product/add/")
    assert form_values(page.content.decode())["default_tax"] == [str(vat.pk)]

    created = staff.submit(
        "/inventory/product/add/", {"name": "Bolt", "sku": "BOLT-1", "price": "2.50"}
    )

    assert created.status_code == 302, page_text(created)
    assert Product.objects.get(sku="BOLT-1").default_tax == vat


def test_marking_a_second_tax_default_clears_the_previous_one(staff):
    first = TaxFactory(name="VAT", is_default=True)

    created = staff.submit(
        "/inventory/tax/add/", {"name": "Reduced", "rate": "5.00", "is_default": "on"}
    )
    assert created.status_code == 302, page_text(created)
    second = Tax.objects.get(name="Reduced")
    assert list(Tax.objects.filter(is_default=True)) == [second]

    switched = staff.submit(f"/inventory/tax/{first.pk}/change/", {"is_default": "on"})
    assert switched.status_code == 302, page_text(switched)
    assert list(Tax.objects.filter(is_default=True)) == [first]


def test_a_tax_rate_out_of_range_is_a_form_error(staff):
    page = staff.submit("/inventory/tax/add/", {"name": "Odd", "rate": "150"})
    assert page.status_code == 200
    assert "rate" in page.context["adminform"].form.errors
    assert not Tax.objects.filter(name="Odd").exists()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("tax", "The tax is the default tax of a product; deactivate it instead."),
        ("product", "The product has stock movements; deactivate it instead."),
        ("category", "Products belong to this category; move them first."),
    ],
)
def test_a_refused_delete_shows_the_business_reason_and_deletes_nothing(
    staff, owner, main, kind, reason
):
    tax, category = TaxFactory(), CategoryFactory()
    product = ProductFactory(default_tax=tax, category=category)
    give_stock(product, main, "5", actor=owner)
    stock_adjustment_create(
        workspace=main,
        actor=owner,
        items=[AdjustmentItem(product=product, quantity=Decimal("-1"), reason="lost")],
    )
    target = {"tax": tax, "product": product, "category": category}[kind]
    path = f"/inventory/{kind}/{target.pk}/delete/"

    confirmation = staff.get(path)
    refused = staff.client.post(
        staff.url(path), {"post": "yes", "csrfmiddlewaretoken": csrf_token(confirmation)}
    )

    for page in (confirmation, refused):
        assert page.status_code == 200
        assert reason in page_text(page)
        assert "permission" not in page_text(page)
        assert 'name="post"' not in page.content.decode()  # no confirmation offered
    assert type(target).objects.filter(pk=target.pk).exists()


def test_a_bulk_delete_with_one_refusal_deletes_nothing(staff):
    free, used = TaxFactory(name="Free"), TaxFactory(name="Used")
    ProductFactory(default_tax=used)
    selection = {"action": "delete_selected", "_selected_action": [free.pk, used.pk]}

    page = staff.submit("/inventory/tax/", selection)
    confirmed = staff.client.post(
        staff.url("/inventory/tax/"),
        {**selection, "post": "yes", "csrfmiddlewaretoken": csrf_token(page)},
    )

    assert "Used (18.00%): The tax is the default tax of a product" in page_text(page)
    assert confirmed.status_code == 200
    assert set(Tax.objects.values_list("name", flat=True)) >= {"Free", "Used"}


def test_a_product_with_only_its_opening_stock_is_deleted_with_it(staff, owner, main):
    product = ProductFactory()
    give_stock(product, main, "2", actor=owner)
    path = f"/inventory/product/{product.pk}/delete/"

    page = staff.submit(path, {"post": "yes"})

    assert page.status_code == 302
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not StockMovement.objects.filter(product_id=product.pk).exists()


# --- what staff see -------------------------------------------------------------------------


def test_the_product_page_shows_its_stock_per_workspace(staff, owner, main, branch):
    product = ProductFactory(price=Decimal("1500"))
    give_stock(product, main, "3", actor=owner, minimum="5")
    give_stock(product, branch, "40", actor=owner)

    page = page_text(staff.get(f"/inventory/product/{product.pk}/change/"))
    listing = page_text(staff.get("/inventory/product/"))

    assert "Low Stock" in page and "In Stock" in page
    assert main.name in page and branch.name in page
    assert "1,500.00 USD" in listing and "43.00" in listing


def test_movements_filter_by_an_inclusive_day_range(staff, owner, main):
    give_stock(ProductFactory(name="Today's"), main, "1", actor=owner)
    today = timezone.localdate().isoformat()
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()

    included = staff.get("/inventory/stockmovement/", created_at_from=today, created_at_to=today)
    excluded = staff.get(
        "/inventory/stockmovement/", created_at_from=yesterday, created_at_to=yesterday
    )

    assert included.context["cl"].result_count == 1
    assert excluded.context["cl"].result_count == 0
    assert "Initial Stock" in page_text(included)


def test_low_stock_is_summed_per_workspace_in_one_query(
    owner, main, branch, django_assert_num_queries
):
    for n in range(7):
        give_stock(ProductFactory(name=f"Low {n}"), main, str(n), actor=owner, minimum="10")
    give_stock(ProductFactory(name="Plenty"), main, "50", actor=owner, minimum="10")
    give_stock(ProductFactory(name="Branch low"), branch, "1", actor=owner, minimum="2")
    give_stock(ProductFactory(name="Retired", is_active=False), branch, "0", actor=owner)

    with django_assert_num_queries(1):
        summary = {entry.workspace: entry for entry in low_stock_by_workspace(limit=5)}

    assert (summary[main].low, summary[main].out) == (7, 1)
    assert [level.product.name for level in summary[main].levels] == [
        "Low 0",
        "Low 1",
        "Low 2",
        "Low 3",
        "Low 4",
    ]
    assert (summary[branch].low, summary[branch].out) == (1, 0)
