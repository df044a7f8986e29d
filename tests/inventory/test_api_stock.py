"""SPEC §8.5 through real URLs: levels, movements, initial stock, adjustments, transfers."""

import json
from decimal import Decimal

import pytest

from inventory.models import StockMovement, StockTransfer
from inventory.services import StockChange, stock_apply
from tenants.models import Membership
from tests.factories import FORBIDDEN, WorkspaceFactory, errors, ids, make_user
from tests.inventory.factories import (
    CategoryFactory,
    ProductFactory,
    give_stock,
    ledger_mismatches,
    ledger_state,
    level_quantity,
)

NOT_FOUND = {"message": "Not found."}


def in_workspace(workspace) -> dict[str, str]:
    return {"X-Workspace-ID": str(workspace.pk)}


# --- levels ---------------------------------------------------------------------------------


class TestStockLevels:
    def test_list_and_detail_show_the_current_workspace_only(self, api, owner, main, branch):
        product = ProductFactory()
        here = give_stock(product, main, "5", actor=owner, minimum="2")
        there = give_stock(product, branch, "1", actor=owner)

        assert ids(api.get("/stock-levels")) == [here.pk]
        detail = api.get(f"/stock-levels/{here.pk}").json()["data"]
        assert {
            k: detail[k]
            for k in ("product_id", "workspace_id", "quantity", "minimum_quantity", "status")
        } == {
            "product_id": product.pk,
            "workspace_id": main.pk,
            "quantity": "5.00",
            "minimum_quantity": "2.00",
            "status": "in_stock",
        }
        assert api.get(f"/stock-levels/{there.pk}").json() == NOT_FOUND
        assert ids(api.get("/stock-levels", headers=in_workspace(branch))) == [there.pk]

    def test_patch_sets_only_the_minimum(self, api, owner, main):
        level = give_stock(ProductFactory(), main, "5", actor=owner)

        response = api.patch(
            f"/stock-levels/{level.pk}", {"minimum_quantity": "5", "quantity": "99"}
        )

        assert response.status_code == 200, response.content
        data = response.json()["data"]
        assert (data["quantity"], data["minimum_quantity"], data["status"]) == (
            "5.00",
            "5.00",
            "low_stock",
        )
        assert list(errors(api.patch(f"/stock-levels/{level.pk}", {"minimum_quantity": "-1"}))) == [
            "minimum_quantity"
        ]
        assert api.put(f"/stock-levels/{level.pk}", {"minimum_quantity": "1"}).status_code == 405
        assert api.delete(f"/stock-levels/{level.pk}").status_code == 405

    def test_status_and_low_stock_filters(self, api, owner, main):
        fine = give_stock(ProductFactory(), main, "9", actor=owner, minimum="2")
        low = give_stock(ProductFactory(), main, "2", actor=owner, minimum="2")
        out = give_stock(ProductFactory(), main, "0", actor=owner)

        assert ids(api.get("/stock-levels", {"filter[status]": "in_stock"})) == [fine.pk]
        assert ids(api.get("/stock-levels", {"filter[status]": "low_stock"})) == [low.pk]
        assert ids(api.get("/stock-levels", {"filter[status]": "out_of_stock,low_stock"})) == [
            low.pk,
            out.pk,
        ]
        assert ids(api.get("/stock-levels", {"filter[low_stock]": "true"})) == [low.pk, out.pk]
        assert ids(api.get("/stock-levels", {"filter[low_stock]": "false"})) == [fine.pk]
        assert api.get("/stock-levels", {"filter[status]": "plenty"}).status_code == 400

    def test_product_filter_search_sort_and_includes(self, api, owner, main):
        category = CategoryFactory(name="Tools")
        hammer = give_stock(
            ProductFactory(name="Hammer", sku="HM-1", category=category), main, "3", actor=owner
        )
        saw = give_stock(ProductFactory(name="Saw", sku="SW-1"), main, "7", actor=owner)

        assert ids(api.get("/stock-levels", {"filter[product_id]": saw.product_id})) == [saw.pk]
        assert ids(api.get("/stock-levels", {"filter[smart]": "hamm"})) == [hammer.pk]
        assert ids(api.get("/stock-levels", {"filter[smart]": "sw-"})) == [saw.pk]
        assert ids(api.get("/stock-levels", {"sort": "-quantity"})) == [saw.pk, hammer.pk]

        data = api.get("/stock-levels", {"include": "product.category,workspace"}).json()["data"][0]
        assert data["product"]["name"] == "Hammer"
        assert data["product"]["category"]["name"] == "Tools"
        assert data["workspace"] == {"id": main.pk, "name": main.name}
        assert "product" not in api.get("/stock-levels").json()["data"][0]

    def test_permissions(self, member_api, owner, main):
        level = give_stock(ProductFactory(), main, "5", actor=owner)
        viewer = member_api(permissions=["inventory:view"])
        assert viewer.get(f"/stock-levels/{level.pk}").status_code == 200
        assert (
            viewer.patch(f"/stock-levels/{level.pk}", {"minimum_quantity": "1"}).json() == FORBIDDEN
        )
        assert member_api(permissions=["products:view"]).get("/stock-levels").json() == FORBIDDEN


# --- movements ------------------------------------------------------------------------------


class TestStockMovements:
    def test_list_filters_sort_and_includes(self, api, owner, main):
        hammer, saw = ProductFactory(name="Hammer"), ProductFactory(name="Saw")
        give_stock(hammer, main, "10", actor=owner)
        give_stock(saw, main, "10", actor=owner)
        [sale] = stock_apply(
            changes=[StockChange(hammer, main, Decimal("-2"), "sale", line=0)],
            actor=owner,
            reference="INV-0007",
            invoice_id=7,
        )
        initial = list(StockMovement.objects.filter(type="initial_stock").order_by("id"))

        assert ids(api.get("/stock-movements")) == [sale.pk, initial[1].pk, initial[0].pk]
        assert ids(api.get("/stock-movements", {"sort": "created_at"})) == [
            initial[0].pk,
            initial[1].pk,
            sale.pk,
        ]
        assert ids(api.get("/stock-movements", {"filter[type]": "sale"})) == [sale.pk]
        assert ids(api.get("/stock-movements", {"filter[invoice_id]": "7"})) == [sale.pk]
        assert ids(api.get("/stock-movements", {"filter[product_id]": saw.pk})) == [initial[1].pk]
        today = sale.created_at.date().isoformat()
        in_range = api.get(
            "/stock-movements", {"filter[created_at]": json.dumps({"fromDate": today})}
        )
        assert len(ids(in_range)) == 3
        assert (
            ids(
                api.get(
                    "/stock-movements", {"filter[created_at]": json.dumps({"toDate": "2000-01-01"})}
                )
            )
            == []
        )

        data = api.get(f"/stock-movements/{sale.pk}", {"include": "product,created_by"}).json()[
            "data"
        ]
        assert {
            k: data[k]
            for k in (
                "type",
                "quantity",
                "quantity_before",
                "quantity_after",
                "reference",
                "invoice_id",
                "transfer_id",
                "adjustment_id",
                "created_by_id",
            )
        } == {
            "type": "sale",
            "quantity": "-2.00",
            "quantity_before": "10.00",
            "quantity_after": "8.00",
            "reference": "INV-0007",
            "invoice_id": 7,
            "transfer_id": None,
            "adjustment_id": None,
            "created_by_id": owner.pk,
        }
        assert data["product"]["name"] == "Hammer"
        assert data["created_by"]["email"] == owner.email

    def test_movements_are_never_changed_or_deleted(self, api, owner, main):
        give_stock(ProductFactory(), main, "1", actor=owner)
        movement = StockMovement.objects.get()

        assert api.patch(f"/stock-movements/{movement.pk}", {"quantity": "5"}).status_code == 405
        assert api.put(f"/stock-movements/{movement.pk}", {"quantity": "5"}).status_code == 405
        assert api.delete(f"/stock-movements/{movement.pk}").status_code == 405
        assert api.post("/stock-movements", {"quantity": "5"}).status_code == 405
        assert StockMovement.objects.get().quantity == Decimal("1.00")

    def test_another_workspaces_movement_is_404(self, api, owner, branch):
        give_stock(ProductFactory(), branch, "1", actor=owner)
        movement = StockMovement.objects.get()

        assert api.get(f"/stock-movements/{movement.pk}").json() == NOT_FOUND
        assert ids(api.get("/stock-movements")) == []
        assert ids(api.get("/stock-movements", headers=in_workspace(branch))) == [movement.pk]

    def test_reading_needs_inventory_view(self, member_api):
        assert member_api(permissions=["products:view"]).get("/stock-movements").json() == FORBIDDEN


# --- initial stock --------------------------------------------------------------------------


class TestInitialStock:
    def test_records_the_opening_level_once(self, api, main):
        product = ProductFactory()
        body = {
            "product_id": product.pk,
            "quantity": "12",
            "minimum_quantity": "4",
            "unit_cost": "3.5",
        }

        response = api.post("/initial-stock", body)

        assert response.status_code == 201, response.content
        data = response.json()["data"]
        assert (
            data["product_id"],
            data["workspace_id"],
            data["quantity"],
            data["minimum_quantity"],
        ) == (
            product.pk,
            main.pk,
            "12.00",
            "4.00",
        )
        movement = StockMovement.objects.get(product=product)
        assert (movement.type, movement.unit_cost) == ("initial_stock", Decimal("3.50"))

        before = ledger_state()
        assert errors(api.post("/initial-stock", body)) == {
            "product_id": [
                "Stock of this product is already recorded in this workspace; use an adjustment."
            ]
        }
        assert ledger_state() == before

    def test_into_another_workspace(self, api, branch):
        product = ProductFactory()
        response = api.post(
            "/initial-stock", {"product_id": product.pk, "quantity": "2", "workspace_id": branch.pk}
        )
        assert response.status_code == 201 and response.json()["data"]["workspace_id"] == branch.pk
        assert level_quantity(product, branch) == Decimal("2.00")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"product_id": None, "quantity": "1"}, "product_id"),
            ({"product_id": 999999, "quantity": "1"}, "product_id"),
            ({"quantity": "-1"}, "quantity"),
            ({"quantity": "1", "workspace_id": 999999}, "workspace_id"),
        ],
    )
    def test_invalid_input_is_422(self, api, body, field):
        body = {"product_id": ProductFactory().pk, **body}
        assert list(errors(api.post("/initial-stock", body))) == [field]

    def test_untracked_products_are_refused(self, api):
        service = ProductFactory(product_type="service", track_stock=False)
        assert errors(api.post("/initial-stock", {"product_id": service.pk, "quantity": "1"})) == {
            "product_id": [f"{service.name} does not track stock."]
        }

    def test_needs_inventory_adjust_in_the_target_workspace(self, member_api, main):
        product = ProductFactory()
        other = WorkspaceFactory()
        viewer = member_api(permissions=["inventory:view"])
        assert (
            viewer.post("/initial-stock", {"product_id": product.pk, "quantity": "1"}).json()
            == FORBIDDEN
        )

        adjuster = member_api(permissions=["inventory:adjust"])
        body = {"product_id": product.pk, "quantity": "1", "workspace_id": other.pk}
        assert adjuster.post("/initial-stock", body).json() == FORBIDDEN
        assert (
            adjuster.post("/initial-stock", {"product_id": product.pk, "quantity": "1"}).status_code
            == 201
        )


# --- adjustments ----------------------------------------------------------------------------


class TestStockAdjustments:
    def test_create_applies_every_line_and_answers_with_items(self, api, owner, main):
        hammer, saw = ProductFactory(), ProductFactory()
        give_stock(hammer, main, "10", actor=owner)

        response = api.post(
            "/stock-adjustments",
            {
                "reference": "COUNT-7",
                "notes": "Year-end count",
                "items": [
                    {
                        "product_id": hammer.pk,
                        "quantity": "-3",
                        "reason": "damaged",
                        "notes": "Wet",
                    },
                    {"product_id": saw.pk, "quantity": "4", "reason": "found"},
                ],
            },
        )

        assert response.status_code == 201, response.content
        data = response.json()["data"]
        assert (data["workspace_id"], data["reference"], data["created_by_id"]) == (
            main.pk,
            "COUNT-7",
            owner.pk,
        )
        assert [
            (i["product_id"], i["quantity"], i["reason"], i["quantity_before"], i["quantity_after"])
            for i in data["items"]
        ] == [
            (hammer.pk, "-3.00", "damaged", "10.00", "7.00"),
            (saw.pk, "4.00", "found", "0.00", "4.00"),
        ]
        assert (level_quantity(hammer, main), level_quantity(saw, main)) == (
            Decimal("7.00"),
            Decimal("4.00"),
        )
        assert ledger_mismatches() == []

    def test_a_shortage_is_422_on_the_line_and_writes_nothing(self, api, owner, main):
        hammer, saw = ProductFactory(), ProductFactory()
        give_stock(hammer, main, "10", actor=owner)
        give_stock(saw, main, "1", actor=owner)
        before = ledger_state()

        response = api.post(
            "/stock-adjustments",
            {
                "items": [
                    {"product_id": hammer.pk, "quantity": "-3", "reason": "lost"},
                    {"product_id": saw.pk, "quantity": "-2", "reason": "lost"},
                ]
            },
        )

        assert response.json() == {
            "message": "Insufficient stock.",
            "errors": {"items.1.quantity": ["Insufficient stock: 1.00 available, 2.00 requested."]},
        }
        assert ledger_state() == before
        assert ids(api.get("/stock-adjustments")) == []

    def test_a_level_past_what_the_column_stores_is_422_and_writes_nothing(self, api, owner, main):
        hammer = ProductFactory()
        give_stock(hammer, main, "999999999999", actor=owner)
        before = ledger_state()
        line = {"product_id": hammer.pk, "quantity": "999999999999.99", "reason": "found"}
        response = api.post("/stock-adjustments", {"items": [line]})
        assert response.status_code == 422
        assert response.json()["message"] == "A value is out of the range this API stores."
        assert ledger_state() == before

    @pytest.mark.parametrize(
        ("item", "field"),
        [
            ({"quantity": "0", "reason": "lost"}, "items.0.quantity"),
            ({"quantity": "1", "reason": "stolen"}, "items.0.reason"),
            ({"quantity": "1"}, "items.0.reason"),
            ({"quantity": "1", "reason": "found", "product_id": 999999}, "items.0.product_id"),
        ],
    )
    def test_invalid_lines_are_422(self, api, item, field):
        body = {"items": [{"product_id": ProductFactory().pk, **item}]}
        assert list(errors(api.post("/stock-adjustments", body))) == [field]

    def test_items_are_required(self, api):
        assert list(errors(api.post("/stock-adjustments", {"items": []}))) == ["items"]

    def test_untracked_products_are_refused(self, api):
        service = ProductFactory(product_type="service", track_stock=False)
        body = {"items": [{"product_id": service.pk, "quantity": "1", "reason": "found"}]}
        assert list(errors(api.post("/stock-adjustments", body))) == ["items.0.product_id"]

    def test_list_detail_scoping_and_includes(self, api, owner, main, branch):
        product = ProductFactory(name="Hammer")
        body = {
            "reference": "A",
            "items": [{"product_id": product.pk, "quantity": "2", "reason": "found"}],
        }
        here = api.post("/stock-adjustments", body).json()["data"]
        there = api.post(
            "/stock-adjustments", {**body, "reference": "B"}, headers=in_workspace(branch)
        ).json()["data"]

        assert ids(api.get("/stock-adjustments")) == [here["id"]]
        assert api.get(f"/stock-adjustments/{there['id']}").json() == NOT_FOUND
        assert ids(
            api.get("/stock-adjustments", {"filter[smart]": "b"}, headers=in_workspace(branch))
        ) == [there["id"]]
        assert "items" not in api.get("/stock-adjustments").json()["data"][0]
        data = api.get("/stock-adjustments", {"include": "items.product,created_by"}).json()[
            "data"
        ][0]
        assert data["items"][0]["product"]["name"] == "Hammer"
        assert data["created_by"]["id"] == owner.pk

    def test_creating_needs_inventory_adjust(self, member_api):
        body = {"items": [{"product_id": ProductFactory().pk, "quantity": "1", "reason": "found"}]}
        viewer = member_api(permissions=["inventory:view"])
        assert viewer.get("/stock-adjustments").status_code == 200
        assert viewer.post("/stock-adjustments", body).json() == FORBIDDEN
        assert (
            member_api(permissions=["inventory:adjust"])
            .post("/stock-adjustments", body)
            .status_code
            == 201
        )


# --- transfers ------------------------------------------------------------------------------


class TestStockTransfers:
    def test_create_moves_stock_and_is_listed_in_both_workspaces(self, api, owner, main, branch):
        product = ProductFactory(name="Hammer")
        give_stock(product, main, "10", actor=owner)

        response = api.post(
            "/stock-transfers",
            {
                "to_workspace_id": branch.pk,
                "reference": "TR-1",
                "items": [{"product_id": product.pk, "quantity": "4"}],
            },
        )

        assert response.status_code == 201, response.content
        data = response.json()["data"]
        assert (data["from_workspace_id"], data["to_workspace_id"], data["reference"]) == (
            main.pk,
            branch.pk,
            "TR-1",
        )
        assert [(i["product_id"], i["quantity"]) for i in data["items"]] == [(product.pk, "4.00")]
        assert (level_quantity(product, main), level_quantity(product, branch)) == (
            Decimal("6.00"),
            Decimal("4.00"),
        )
        assert ids(api.get("/stock-transfers")) == [data["id"]]
        assert ids(api.get("/stock-transfers", headers=in_workspace(branch))) == [data["id"]]
        movements = api.get(
            "/stock-movements", {"filter[type]": "transfer_in"}, headers=in_workspace(branch)
        )
        assert [m["transfer_id"] for m in movements.json()["data"]] == [data["id"]]

    def test_from_another_workspace_between_two_others(self, api, owner, branch):
        third = WorkspaceFactory(owner=owner)
        product = ProductFactory()
        give_stock(product, branch, "3", actor=owner)

        response = api.post(
            "/stock-transfers",
            {
                "from_workspace_id": branch.pk,
                "to_workspace_id": third.pk,
                "items": [{"product_id": product.pk, "quantity": "3"}],
            },
        )

        assert response.status_code == 201, response.content
        assert (level_quantity(product, branch), level_quantity(product, third)) == (
            Decimal("0.00"),
            Decimal("3.00"),
        )
        assert ids(api.get("/stock-transfers")) == []  # neither end is the current workspace

    def test_the_same_workspace_on_both_ends_is_422(self, api, main):
        product = ProductFactory()
        body = {"to_workspace_id": main.pk, "items": [{"product_id": product.pk, "quantity": "1"}]}
        assert errors(api.post("/stock-transfers", body)) == {
            "to_workspace_id": ["Stock cannot be transferred to the workspace it comes from."]
        }

    def test_a_shortage_is_422_on_the_line_and_writes_nothing(self, api, owner, main, branch):
        product = ProductFactory()
        give_stock(product, main, "2", actor=owner)
        before = ledger_state()

        response = api.post(
            "/stock-transfers",
            {
                "to_workspace_id": branch.pk,
                "items": [{"product_id": product.pk, "quantity": "5"}],
            },
        )

        assert errors(response) == {
            "items.0.quantity": ["Insufficient stock: 2.00 available, 5.00 requested."]
        }
        assert ledger_state() == before
        assert not StockTransfer.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"to_workspace_id": None, "items": [{"quantity": "1"}]}, "to_workspace_id"),
            ({"to_workspace_id": 999999, "items": [{"quantity": "1"}]}, "to_workspace_id"),
            ({"items": []}, "items"),
            ({"items": [{"quantity": "0"}]}, "items.0.quantity"),
            ({"items": [{"quantity": "-1"}]}, "items.0.quantity"),
        ],
    )
    def test_invalid_input_is_422(self, api, branch, body, field):
        body = {"to_workspace_id": branch.pk, **body}
        for item in body["items"]:
            item.setdefault("product_id", ProductFactory().pk)
        assert field in errors(api.post("/stock-transfers", body))

    def test_needs_inventory_transfer_in_both_workspaces(self, api, owner, main):
        product = ProductFactory()
        give_stock(product, main, "5", actor=owner)
        target = WorkspaceFactory(owner=owner)
        body = {
            "to_workspace_id": target.pk,
            "items": [{"product_id": product.pk, "quantity": "1"}],
        }
        user, token = make_user(workspace=main, permissions=["inventory:transfer"])
        transferrer = api.as_token(token)

        assert transferrer.post("/stock-transfers", body).json() == FORBIDDEN  # not in target
        membership = Membership.objects.create(
            user=user, workspace=target, permissions=["inventory:view"]
        )
        assert transferrer.post("/stock-transfers", body).json() == FORBIDDEN
        membership.permissions = ["inventory:transfer"]
        membership.save()
        assert transferrer.post("/stock-transfers", body).status_code == 201

    def test_filters_and_includes(self, api, owner, main, branch):
        third = WorkspaceFactory(owner=owner, name="Third")
        product = ProductFactory(name="Saw")
        give_stock(product, main, "10", actor=owner)
        out = api.post(
            "/stock-transfers",
            {"to_workspace_id": branch.pk, "items": [{"product_id": product.pk, "quantity": "1"}]},
        )
        other = api.post(
            "/stock-transfers",
            {
                "to_workspace_id": third.pk,
                "reference": "RESTOCK-9",
                "items": [{"product_id": product.pk, "quantity": "1"}],
            },
        )
        out_id, other_id = out.json()["data"]["id"], other.json()["data"]["id"]

        assert ids(api.get("/stock-transfers")) == [other_id, out_id]  # newest first
        assert ids(api.get("/stock-transfers", {"filter[to_workspace_id]": branch.pk})) == [out_id]
        assert ids(api.get("/stock-transfers", {"filter[smart]": "restock"})) == [other_id]
        assert ids(
            api.get("/stock-transfers", {"filter[from_workspace_id]": main.pk, "sort": "id"})
        ) == [out_id, other_id]
        data = api.get(
            f"/stock-transfers/{other_id}",
            {"include": "items.product,from_workspace,to_workspace,created_by"},
        ).json()["data"]
        assert data["items"][0]["product"]["name"] == "Saw"
        assert (data["from_workspace"]["name"], data["to_workspace"]["name"]) == (
            main.name,
            "Third",
        )
        assert data["created_by"]["id"] == owner.pk


def test_a_workspace_holding_stock_cannot_be_deleted(api, owner, branch):
    empty = WorkspaceFactory(owner=owner)
    give_stock(ProductFactory(), branch, "1", actor=owner)

    assert errors(api.delete(f"/workspaces/{branch.pk}")) == {
        "non_field_errors": ["The workspace holds stock records; it cannot be deleted."]
    }
    assert api.delete(f"/workspaces/{empty.pk}").status_code == 204
