"""SPEC §8.2-§8.4 through real URLs: taxes, categories and products."""

from decimal import Decimal

import pytest

from inventory.models import Product, StockLevel, StockMovement, Tax
from inventory.services import AdjustmentItem, product_create, stock_adjustment_create
from tests.factories import FORBIDDEN, errors, ids, make_user
from tests.inventory.factories import (
    CategoryFactory,
    ProductFactory,
    TaxFactory,
    give_stock,
)

# --- taxes ----------------------------------------------------------------------------------


class TestTaxes:
    def test_create_read_update_delete(self, api):
        created = api.post("/taxes", {"name": "VAT", "rate": "18", "is_default": True})
        assert created.status_code == 201, created.content
        tax = created.json()["data"]
        assert {k: tax[k] for k in ("name", "rate", "is_default", "is_active")} == {
            "name": "VAT",
            "rate": "18.00",
            "is_default": True,
            "is_active": True,
        }
        assert api.get(f"/taxes/{tax['id']}").json()["data"] == tax

        updated = api.patch(f"/taxes/{tax['id']}", {"rate": "16.5"})
        assert updated.status_code == 200 and updated.json()["data"]["rate"] == "16.50"

        assert api.delete(f"/taxes/{tax['id']}").status_code == 204
        assert api.get(f"/taxes/{tax['id']}").status_code == 404

    def test_marking_a_tax_default_clears_the_previous_default(self, api):
        old = TaxFactory(is_default=True)
        new = TaxFactory()

        response = api.patch(f"/taxes/{new.pk}", {"is_default": True})

        assert response.status_code == 200 and response.json()["data"]["is_default"] is True
        old.refresh_from_db()
        assert old.is_default is False
        assert list(Tax.objects.filter(is_default=True)) == [new]

    def test_the_default_tax_must_be_active(self, api):
        response = api.post(
            "/taxes", {"name": "VAT", "rate": "5", "is_default": True, "is_active": False}
        )
        assert errors(response) == {"is_default": ["The default tax must be active."]}

    def test_the_default_tax_cannot_be_deactivated(self, api):
        tax = TaxFactory(is_default=True)
        assert errors(api.patch(f"/taxes/{tax.pk}", {"is_active": False})) == {
            "is_active": ["The default tax must be active."]
        }

    def test_names_are_unique_ignoring_case(self, api):
        TaxFactory(name="VAT")
        assert errors(api.post("/taxes", {"name": "vat", "rate": "5"})) == {
            "name": ["The name has already been taken."]
        }

    @pytest.mark.parametrize("rate", ["-1", "100.01", "abc"])
    def test_rate_is_a_percent(self, api, rate):
        assert list(errors(api.post("/taxes", {"name": "Odd", "rate": rate}))) == ["rate"]

    def test_any_member_reads_taxes_but_writes_need_taxes_manage(self, member_api):
        tax = TaxFactory()
        reader = member_api(permissions=[])
        assert ids(reader.get("/taxes")) == [tax.pk]
        assert reader.post("/taxes", {"name": "X", "rate": "1"}).json() == FORBIDDEN
        assert reader.delete(f"/taxes/{tax.pk}").status_code == 403

        manager = member_api(permissions=["taxes:manage"])
        assert manager.post("/taxes", {"name": "X", "rate": "1"}).status_code == 201

    def test_delete_is_refused_while_a_product_uses_the_tax(self, api):
        tax = TaxFactory()
        ProductFactory(default_tax=tax)

        response = api.delete(f"/taxes/{tax.pk}")

        assert errors(response) == {
            "non_field_errors": ["The tax is the default tax of a product; deactivate it instead."]
        }
        assert Tax.objects.filter(pk=tax.pk).exists()

    def test_filters_search_and_sort(self, api):
        low = TaxFactory(name="Reduced", rate=Decimal("5"))
        high = TaxFactory(name="Standard", rate=Decimal("20"), is_default=True)
        off = TaxFactory(name="Old", rate=Decimal("12"), is_active=False)

        assert ids(api.get("/taxes")) == [off.pk, low.pk, high.pk]  # by name
        assert ids(api.get("/taxes", {"sort": "-rate"})) == [high.pk, off.pk, low.pk]
        assert ids(api.get("/taxes", {"filter[is_active]": "false"})) == [off.pk]
        assert ids(api.get("/taxes", {"filter[is_default]": "1"})) == [high.pk]
        assert ids(api.get("/taxes", {"filter[smart]": "STAND"})) == [high.pk]


# --- categories -----------------------------------------------------------------------------


class TestCategories:
    def test_create_nested_update_and_delete(self, api):
        parent = api.post("/categories", {"name": "Hardware"}).json()["data"]
        child = api.post("/categories", {"name": "Tools", "parent_id": parent["id"]})
        assert child.status_code == 201, child.content
        assert child.json()["data"]["parent_id"] == parent["id"]

        moved = api.patch(f"/categories/{child.json()['data']['id']}", {"parent_id": None})
        assert moved.status_code == 200 and moved.json()["data"]["parent_id"] is None
        assert api.delete(f"/categories/{parent['id']}").status_code == 204

    def test_a_category_cannot_become_its_own_ancestor(self, api):
        top = CategoryFactory()
        middle = CategoryFactory(parent=top)
        bottom = CategoryFactory(parent=middle)

        for parent in (top, bottom):
            response = api.patch(f"/categories/{top.pk}", {"parent_id": parent.pk})
            assert errors(response) == {"parent_id": ["A category cannot be its own ancestor."]}

    def test_unknown_parent_is_422(self, api):
        assert list(errors(api.post("/categories", {"name": "X", "parent_id": 999999}))) == [
            "parent_id"
        ]

    def test_delete_is_refused_while_products_or_children_reference_it(self, api):
        with_product, with_child = CategoryFactory(), CategoryFactory()
        ProductFactory(category=with_product)
        CategoryFactory(parent=with_child)

        assert errors(api.delete(f"/categories/{with_product.pk}")) == {
            "non_field_errors": ["Products belong to this category; move them first."]
        }
        assert errors(api.delete(f"/categories/{with_child.pk}")) == {
            "non_field_errors": ["The category has subcategories; move or delete them first."]
        }

    def test_filters_search_and_sort(self, api):
        tools = CategoryFactory(name="Tools")
        saws = CategoryFactory(name="Saws", parent=tools)
        paint = CategoryFactory(name="Paint")

        assert ids(api.get("/categories")) == [paint.pk, saws.pk, tools.pk]
        assert ids(api.get("/categories", {"sort": "-name"})) == [tools.pk, saws.pk, paint.pk]
        assert ids(api.get("/categories", {"filter[parent_id]": tools.pk})) == [saws.pk]
        assert ids(api.get("/categories", {"filter[smart]": "pain"})) == [paint.pk]

    def test_permissions_follow_products(self, member_api):
        viewer = member_api(permissions=["products:view"])
        assert viewer.get("/categories").status_code == 200
        assert viewer.post("/categories", {"name": "X"}).json() == FORBIDDEN
        assert member_api(permissions=[]).get("/categories").status_code == 403


# --- products -------------------------------------------------------------------------------


class TestProductWrites:
    def test_create_applies_defaults_and_computes_profit(self, api):
        response = api.post(
            "/products", {"name": "Hammer", "sku": "HAM-1", "price": "25", "cost": "10"}
        )

        assert response.status_code == 201, response.content
        data = response.json()["data"]
        assert {
            k: data[k]
            for k in (
                "product_type",
                "unit",
                "track_stock",
                "allow_negative_stock",
                "is_active",
                "barcode",
                "category_id",
                "default_tax_id",
                "price",
                "cost",
                "profit",
                "profit_margin",
            )
        } == {
            "product_type": "physical",
            "unit": "unit",
            "track_stock": True,
            "allow_negative_stock": False,
            "is_active": True,
            "barcode": None,
            "category_id": None,
            "default_tax_id": None,
            "price": "25.00",
            "cost": "10.00",
            "profit": "15.00",
            "profit_margin": "150.00",
        }

    @pytest.mark.parametrize("cost", [None, "0"])
    def test_profit_is_null_without_a_positive_cost(self, api, cost):
        data = api.post(
            "/products", {"name": "Free", "sku": "F-1", "price": "5", "cost": cost}
        ).json()
        assert (data["data"]["profit"], data["data"]["profit_margin"]) == (None, None)

    def test_services_and_digital_products_never_track_stock(self, api):
        service = api.post(
            "/products",
            {"name": "Repair", "sku": "SRV-1", "price": "50", "product_type": "service"},
        )
        assert service.json()["data"]["track_stock"] is False

        response = api.post(
            "/products",
            {
                "name": "E-book",
                "sku": "DIG-1",
                "price": "9",
                "product_type": "digital",
                "track_stock": True,
            },
        )
        assert errors(response) == {"track_stock": ["A digital product does not track stock."]}

    def test_sku_is_unique_ignoring_case_and_barcode_when_set(self, api):
        ProductFactory(sku="ABC-1", barcode="789")
        assert errors(api.post("/products", {"name": "X", "sku": "abc-1", "price": "1"})) == {
            "sku": ["The sku has already been taken."]
        }
        assert errors(
            api.post("/products", {"name": "X", "sku": "X-1", "price": "1", "barcode": "789"})
        ) == {"barcode": ["The barcode has already been taken."]}
        for sku in ("N-1", "N-2"):  # no barcode twice is fine
            response = api.post("/products", {"name": "N", "sku": sku, "price": "1", "barcode": ""})
            assert response.status_code == 201 and response.json()["data"]["barcode"] is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"sku": "A-1", "price": "1"}, "name"),
            ({"name": "A", "price": "1"}, "sku"),
            ({"name": "A", "sku": "A-1"}, "price"),
            ({"name": "A", "sku": "A-1", "price": "-0.01"}, "price"),
            ({"name": "A", "sku": "A-1", "price": "1", "cost": "-1"}, "cost"),
            ({"name": "A", "sku": "A-1", "price": "1.001"}, "price"),
            ({"name": "A", "sku": "A-1", "price": "1", "category_id": 999999}, "category_id"),
            ({"name": "A", "sku": "A-1", "price": "1", "product_type": "food"}, "product_type"),
        ],
    )
    def test_invalid_input_is_422_on_the_field(self, api, body, field):
        assert list(errors(api.post("/products", body))) == [field]

    def test_a_new_product_gets_the_default_tax_unless_told_otherwise(self, api, owner):
        """SPEC §8.4, in the service: the API, the admin and seeding agree."""
        default = TaxFactory(is_default=True)
        other = TaxFactory()
        body = {"name": "Lamp", "price": "9.00"}
        defaulted = api.post("/products", {**body, "sku": "L-1"}).json()["data"]
        chosen = api.post("/products", {**body, "sku": "L-2", "default_tax_id": other.pk})
        untaxed = api.post("/products", {**body, "sku": "L-3", "default_tax_id": None})
        assert defaulted["default_tax_id"] == default.pk
        assert chosen.json()["data"]["default_tax_id"] == other.pk
        assert untaxed.json()["data"]["default_tax_id"] is None
        seeded = product_create(actor=owner, name="Seeded", sku="L-4", price=Decimal(1))
        assert seeded.default_tax == default

    def test_without_a_default_tax_a_new_product_has_none(self, api):
        TaxFactory()
        response = api.post("/products", {"name": "Lamp", "sku": "L-1", "price": "9.00"})
        assert response.json()["data"]["default_tax_id"] is None

    def test_an_inactive_tax_cannot_be_the_default(self, api):
        tax = TaxFactory(is_active=False)
        body = {"name": "A", "sku": "A-1", "price": "1", "default_tax_id": tax.pk}
        assert errors(api.post("/products", body)) == {"default_tax_id": ["The tax is inactive."]}

    def test_a_tax_deactivated_later_does_not_block_other_edits(self, api):
        tax = TaxFactory()
        product = ProductFactory(default_tax=tax)
        Tax.objects.filter(pk=tax.pk).update(is_active=False)

        response = api.patch(f"/products/{product.pk}", {"price": "12"})

        assert response.status_code == 200, response.content
        assert response.json()["data"]["default_tax_id"] == tax.pk

    def test_create_with_initial_stock_in_several_workspaces(self, api, main, branch):
        response = api.post(
            "/products",
            {
                "name": "Drill",
                "sku": "DR-1",
                "price": "80",
                "initial_stock": [
                    {
                        "workspace_id": main.pk,
                        "quantity": "12",
                        "minimum_quantity": "3",
                        "unit_cost": "40",
                    },
                    {"workspace_id": branch.pk, "quantity": "0"},
                ],
            },
        )

        assert response.status_code == 201, response.content
        product = Product.objects.get(pk=response.json()["data"]["id"])
        levels = {
            lv.workspace_id: (lv.quantity, lv.minimum_quantity) for lv in product.stock_levels.all()
        }
        assert levels == {
            main.pk: (Decimal("12"), Decimal("3")),
            branch.pk: (Decimal("0"), Decimal("0")),
        }
        movements = StockMovement.objects.filter(product=product)
        assert {(m.workspace_id, m.type, m.quantity) for m in movements} == {
            (main.pk, "initial_stock", Decimal("12")),
            (branch.pk, "initial_stock", Decimal("0")),
        }

    def test_initial_stock_is_given_once_per_workspace(self, api, main):
        entry = {"workspace_id": main.pk, "quantity": "1"}
        body = {"name": "A", "sku": "A-1", "price": "1", "initial_stock": [entry, entry]}
        assert errors(api.post("/products", body)) == {
            "initial_stock.1.workspace_id": ["Initial stock is given once per workspace."]
        }
        assert not Product.objects.filter(sku="A-1").exists()

    def test_initial_stock_of_an_untracked_product_is_refused(self, api, main):
        body = {
            "name": "A",
            "sku": "A-1",
            "price": "1",
            "product_type": "service",
            "initial_stock": [{"workspace_id": main.pk, "quantity": "1"}],
        }
        assert errors(api.post("/products", body)) == {
            "initial_stock": ["The product does not track stock."]
        }
        assert not Product.objects.filter(sku="A-1").exists()

    def test_initial_stock_needs_inventory_adjust_in_that_workspace(self, member_api, main):
        body = {
            "name": "A",
            "sku": "A-1",
            "price": "1",
            "initial_stock": [{"workspace_id": main.pk, "quantity": "1"}],
        }
        api = member_api(permissions=["products:create"])
        assert api.post("/products", body).json() == FORBIDDEN
        assert not Product.objects.filter(sku="A-1").exists()

        api = member_api(permissions=["products:create", "inventory:adjust"])
        assert api.post("/products", body).status_code == 201

    def test_update_keeps_stock_tracking_once_stock_is_recorded(self, api, owner, main):
        product = ProductFactory()
        give_stock(product, main, "3", actor=owner)

        assert errors(api.patch(f"/products/{product.pk}", {"product_type": "service"})) == {
            "product_type": ["The product has stock records, so it must keep tracking stock."]
        }
        assert list(errors(api.put(f"/products/{product.pk}", {"track_stock": False}))) == [
            "track_stock"
        ]

        fresh = ProductFactory()
        response = api.patch(f"/products/{fresh.pk}", {"product_type": "service", "price": "99"})
        assert response.status_code == 200
        assert (response.json()["data"]["track_stock"], response.json()["data"]["price"]) == (
            False,
            "99.00",
        )

    def test_activate_and_deactivate(self, api):
        product = ProductFactory()

        response = api.post(f"/products/{product.pk}/deactivate")
        assert response.status_code == 200 and response.json()["data"]["is_active"] is False
        response = api.post(f"/products/{product.pk}/activate")
        assert response.status_code == 200 and response.json()["data"]["is_active"] is True

    def test_activation_needs_products_edit(self, member_api):
        product = ProductFactory()
        api = member_api(permissions=["products:view"])
        assert api.post(f"/products/{product.pk}/deactivate").json() == FORBIDDEN

    def test_a_product_with_only_initial_stock_is_deleted_with_its_ledger(
        self, api, owner, main, branch
    ):
        product = ProductFactory()
        give_stock(product, main, "5", actor=owner)
        give_stock(product, branch, "2", actor=owner)

        assert api.delete(f"/products/{product.pk}").status_code == 204

        assert not Product.objects.filter(pk=product.pk).exists()
        assert not StockLevel.objects.filter(product_id=product.pk).exists()
        assert not StockMovement.objects.filter(product_id=product.pk).exists()

    def test_delete_is_refused_once_stock_moved(self, api, owner, main):
        product = ProductFactory()
        give_stock(product, main, "5", actor=owner)
        stock_adjustment_create(
            workspace=main, actor=owner, items=[AdjustmentItem(product, Decimal("-1"), "lost")]
        )

        assert errors(api.delete(f"/products/{product.pk}")) == {
            "non_field_errors": ["The product has stock movements; deactivate it instead."]
        }
        assert StockMovement.objects.filter(product=product).count() == 2

    def test_permissions(self, member_api):
        product = ProductFactory()
        viewer = member_api(permissions=["products:view"])
        assert viewer.get(f"/products/{product.pk}").status_code == 200
        assert viewer.patch(f"/products/{product.pk}", {"price": "1"}).json() == FORBIDDEN
        assert viewer.delete(f"/products/{product.pk}").json() == FORBIDDEN
        assert member_api(permissions=[]).get("/products").json() == FORBIDDEN


class TestProductLists:
    def test_filters(self, api):
        tools = CategoryFactory()
        hammer = ProductFactory(name="Hammer", category=tools)
        repair = ProductFactory(name="Repair", product_type="service", track_stock=False)
        old = ProductFactory(name="Old saw", is_active=False, category=tools)

        assert ids(api.get("/products", {"filter[product_type]": "service"})) == [repair.pk]
        assert ids(api.get("/products", {"filter[product_type]": "physical,service"})) == [
            hammer.pk,
            old.pk,
            repair.pk,
        ]
        assert ids(api.get("/products", {"filter[category_id]": tools.pk})) == [hammer.pk, old.pk]
        assert ids(api.get("/products", {"filter[is_active]": "false"})) == [old.pk]
        assert ids(api.get("/products", {"filter[track_stock]": "0"})) == [repair.pk]
        assert api.get("/products", {"filter[product_type]": "food"}).status_code == 400

    def test_low_stock_refers_to_the_current_workspace(self, api, owner, main, branch):
        low_here = ProductFactory(name="A")
        out_here = ProductFactory(name="B")
        low_elsewhere = ProductFactory(name="C")
        no_level = ProductFactory(name="D")
        give_stock(low_here, main, "2", actor=owner, minimum="2")
        give_stock(out_here, main, "0", actor=owner)
        give_stock(low_elsewhere, main, "9", actor=owner, minimum="2")
        give_stock(low_elsewhere, branch, "1", actor=owner, minimum="2")

        assert ids(api.get("/products", {"filter[low_stock]": "true"})) == [
            low_here.pk,
            out_here.pk,
        ]
        assert ids(api.get("/products", {"filter[low_stock]": "false"})) == [
            low_elsewhere.pk,
            no_level.pk,
        ]
        in_branch = api.get(
            "/products", {"filter[low_stock]": "true"}, headers={"X-Workspace-ID": str(branch.pk)}
        )
        assert ids(in_branch) == [low_elsewhere.pk]

    def test_low_stock_sees_only_stock_the_caller_may_see(self, member_api, owner, main):
        low = ProductFactory(name="Low")
        give_stock(low, main, "1", actor=owner, minimum="2")

        viewer = member_api(permissions=["products:view", "inventory:view"])
        assert ids(viewer.get("/products", {"filter[low_stock]": "true"})) == [low.pk]
        # Without `inventory:view` the filter knows no stock, as `include=stock` shows none.
        blind = member_api(permissions=["products:view"])
        assert ids(blind.get("/products", {"filter[low_stock]": "true"})) == []
        assert low.pk in ids(blind.get("/products", {"filter[low_stock]": "false"}))

    def test_smart_search_covers_name_sku_barcode_and_description(self, api):
        by_name = ProductFactory(name="Claw hammer")
        by_sku = ProductFactory(sku="HAMMER-2")
        by_barcode = ProductFactory(barcode="4006381333931")
        by_description = ProductFactory(description="A hammer for drywall")
        ProductFactory(name="Screwdriver")

        assert ids(api.get("/products", {"filter[smart]": "hammer", "sort": "id"})) == [
            by_name.pk,
            by_sku.pk,
            by_description.pk,
        ]
        assert ids(api.get("/products", {"filter[smart]": "63813"})) == [by_barcode.pk]

    def test_sort(self, api):
        a = ProductFactory(name="A", sku="S-3", price=Decimal("5"))
        b = ProductFactory(name="B", sku="S-1", price=Decimal("7"))
        c = ProductFactory(name="C", sku="S-2", price=Decimal("5"))

        assert ids(api.get("/products")) == [a.pk, b.pk, c.pk]
        assert ids(api.get("/products", {"sort": "sku"})) == [b.pk, c.pk, a.pk]
        assert ids(api.get("/products", {"sort": "-price,-name"})) == [b.pk, c.pk, a.pk]
        assert api.get("/products", {"sort": "cost"}).status_code == 400

    def test_includes(self, api, owner, main, branch):
        tax = TaxFactory(name="VAT")
        category = CategoryFactory(name="Tools")
        product = ProductFactory(category=category, default_tax=tax)
        give_stock(product, main, "4", actor=owner, minimum="5")
        give_stock(product, branch, "9", actor=owner)

        plain = api.get("/products").json()["data"][0]
        assert not {"category", "default_tax", "stock", "stock_levels"} & set(plain)

        data = api.get("/products", {"include": "category,default_tax,stock,stock_levels"}).json()[
            "data"
        ][0]
        assert data["category"]["name"] == "Tools" and data["default_tax"]["rate"] == "18.00"
        assert {
            k: data["stock"][k] for k in ("workspace_id", "quantity", "minimum_quantity", "status")
        } == {
            "workspace_id": main.pk,
            "quantity": "4.00",
            "minimum_quantity": "5.00",
            "status": "low_stock",
        }
        assert [(lv["workspace_id"], lv["quantity"]) for lv in data["stock_levels"]] == [
            (main.pk, "4.00"),
            (branch.pk, "9.00"),
        ]

    def test_stock_levels_include_only_workspaces_the_caller_may_see(
        self, member_api, owner, main, branch
    ):
        product = ProductFactory()
        give_stock(product, main, "4", actor=owner)
        give_stock(product, branch, "9", actor=owner)

        api = member_api(permissions=["products:view", "inventory:view"])
        data = api.get(f"/products/{product.pk}", {"include": "stock_levels"}).json()["data"]
        assert [lv["workspace_id"] for lv in data["stock_levels"]] == [main.pk]

        api = member_api(permissions=["products:view"])
        data = api.get(f"/products/{product.pk}", {"include": "stock,stock_levels"}).json()["data"]
        assert (data["stock"], data["stock_levels"]) == (None, [])

        api = member_api(permissions=["products:view", "inventory:view", "view_all_locations"])
        data = api.get(f"/products/{product.pk}", {"include": "stock_levels"}).json()["data"]
        assert [lv["workspace_id"] for lv in data["stock_levels"]] == [main.pk, branch.pk]

    def test_stock_is_null_without_a_level_here(self, api):
        product = ProductFactory()
        assert (
            api.get(f"/products/{product.pk}", {"include": "stock"}).json()["data"]["stock"] is None
        )

    def test_stock_is_null_for_a_caller_without_a_workspace(self, api):
        product = ProductFactory()
        _, token = make_user(is_tenant_admin=True)

        response = api.as_token(token).get("/products", {"include": "stock,stock_levels"})

        assert response.status_code == 200, response.content
        assert response.json()["data"][0]["id"] == product.pk
        assert response.json()["data"][0]["stock"] is None
