"""SPEC §10: the OpenAPI document renders, validates, and documents the real conventions."""

import json

import yaml
from django.core.management import call_command


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
