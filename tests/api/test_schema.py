"""SPEC §10: the OpenAPI document renders, validates, and documents the real conventions."""

import json
import re

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from tenants.access import PERMISSIONS


def test_schema_validates_with_warnings_as_errors(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    users = schema["paths"]["/api/v1/users"]["get"]
    assert {p["name"] for p in users["parameters"]} >= {"page", "per_page", "sort", "filter[smart]"}
    assert users["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    me = schema["paths"]["/api/v1/me"]["get"]["responses"]["200"]["content"]["application/json"]
    assert me["schema"] == {"$ref": "#/components/schemas/MeEnvelope"}
    envelope = schema["components"]["schemas"]["MeEnvelope"]
    assert envelope["required"] == ["data"]
    assert envelope["properties"]["data"] == {"$ref": "#/components/schemas/Me"}
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_schema_and_docs_are_served_on_tenant_and_bare_hosts(client, tenant):
    for prefix in ("", "/t/acme"):
        schema = client.get(f"{prefix}/api/v1/schema")
        assert schema.status_code == 200 and b"openapi: 3" in schema.content
        as_json = client.get(f"{prefix}/api/v1/schema", {"format": "json"})
        assert json.loads(as_json.content)["openapi"].startswith("3.")
        docs = client.get(f"{prefix}/api/v1/docs")
        assert docs.status_code == 200 and b"swagger-ui" in docs.content
        assert b"//cdn" not in docs.content.lower()  # assets are served locally (sidecar)
        assert client.get(f"{prefix}/api/v1/redoc").status_code == 200


# --- the document is as exact as the server -------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def component(document: dict, name: str) -> dict:
    return document["components"]["schemas"][name]


def operation(document: dict, method: str, path: str) -> dict:
    return document["paths"][f"/api/v1{path}"][method]


def test_decimal_inputs_are_a_number_or_a_decimal_string(document):
    quantity = component(document, "DocumentItemInputRequest")["properties"]["quantity"]
    number, string = quantity["anyOf"]
    assert number == {
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 999999999999.99,
    }
    assert string["type"] == "string"
    assert not re.fullmatch(string["pattern"], "0.00") and re.fullmatch(string["pattern"], "0.5")
    rate = component(document, "TaxWriteRequest")["properties"]["rate"]
    assert rate["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 100}
    adjustment = component(document, "StockAdjustmentItemRequest")["properties"]["quantity"]
    assert re.fullmatch(adjustment["anyOf"][1]["pattern"], "-2.5")  # signed
    total = component(document, "Invoice")["properties"]["total_amount"]
    assert total["type"] == "string" and "anyOf" not in total  # answers stay strings


def test_line_lists_need_an_item(document):
    for name in (
        "InvoiceCreateRequest",
        "QuotationCreateRequest",
        "StockAdjustmentCreateRequest",
        "StockTransferCreateRequest",
    ):
        assert component(document, name)["properties"]["items"]["minItems"] == 1, name


def test_permission_lists_are_arrays_of_the_permission_enum(document):
    assert component(document, "PermissionEnum")["enum"] == list(PERMISSIONS)
    assert component(document, "AbilityEnum")["enum"] == ["*", *PERMISSIONS]
    for name, field, enum in [
        ("Token", "abilities", "AbilityEnum"),
        ("NewToken", "abilities", "AbilityEnum"),
        ("Me", "permissions", "PermissionEnum"),
        ("MembershipSummary", "permissions", "PermissionEnum"),
        ("Member", "permissions", "PermissionEnum"),
    ]:
        items = component(document, name)["properties"][field]["items"]
        assert items == {"$ref": f"#/components/schemas/{enum}"}, name


def test_request_conventions_are_documented(document):
    def header(op: dict, name: str) -> dict:
        [found] = [p for p in op["parameters"] if p["in"] == "header" and p["name"] == name]
        return found["schema"]

    create = operation(document, "post", "/invoices")
    assert header(create, "Idempotency-Key")["maxLength"] == 255
    assert {"409", "422"} <= set(create["responses"])
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    workspace_headers = [
        p["schema"]
        for path in document["paths"].values()
        for op in path.values()
        for p in op.get("parameters", [])
        if p["name"] == "X-Workspace-ID"
    ]
    assert workspace_headers and all(
        schema == {"type": "integer", "minimum": 1} for schema in workspace_headers
    )
    read = operation(document, "get", "/invoices/{id}")
    assert header(read, "If-None-Match") == {"type": "string"}
    assert "ETag" in read["responses"]["200"]["headers"] and "304" in read["responses"]
    for method, path in [
        ("patch", "/invoices/{id}"),
        ("delete", "/invoices/{id}"),
        ("post", "/invoices/{id}/issue"),
        ("patch", "/workspaces/{id}/members/{user_id}"),
    ]:
        write = operation(document, method, path)
        assert header(write, "If-Match") == {"type": "string"} and "412" in write["responses"]
    listing = operation(document, "get", "/invoices")
    names = {p["name"] for p in listing["parameters"]}
    assert {"after", "before", "page", "per_page"} <= names
    body = listing["responses"]["200"]["content"]["application/json"]["schema"]
    meta = component(document, body["$ref"].rsplit("/", 1)[1])["properties"]["meta"]
    assert meta == {
        "anyOf": [
            {"$ref": "#/components/schemas/PageMeta"},
            {"$ref": "#/components/schemas/CursorMeta"},
        ]
    }


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("sort", "issue_date"),
        ("sort", " -issue_date , , id ,"),
        ("sort", "issue_dateid"),  # names run together
        ("sort", "--issue_date"),
        ("sort", "issue_date id"),
        ("sort", "- issue_date"),
        ("include", "items.product.category,contact"),
        ("include", "itemscontact"),
        ("include", ",items,"),
        ("include", "items product"),
    ],
)
def test_sort_and_include_patterns_admit_what_the_server_accepts(api, document, parameter, value):
    [param] = [
        p for p in operation(document, "get", "/invoices")["parameters"] if p["name"] == parameter
    ]
    admitted = re.fullmatch(param["schema"]["pattern"], value) is not None
    assert api.get("/invoices", {parameter: value}).status_code == (200 if admitted else 400)
