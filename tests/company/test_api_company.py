"""``/company`` (SPEC §8.11): the tenant's profile; provisioning names it; the address is
replaced whole; the logo is a PNG or JPEG data URI judged by its content."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.db import connection

from company.models import Company
from company.services import company_provision
from tests.company.images import data_uri, image_bytes
from tests.factories import FORBIDDEN, errors

ADDRESS = {
    "line1": "1 Fjord Road",
    "line2": "Floor 2",
    "city": "Bergen",
    "state": "Vestland",
    "postal_code": "5003",
    "country": "Norway",
}
KB = 1024


def test_provisioning_names_the_profile_after_the_tenant_and_any_user_reads_it(member_api):
    nobody = member_api(permissions=[])  # a member holding no permission at all

    response = nobody.get("/company")

    assert response.status_code == 200
    assert response.json()["data"] == {
        "legal_name": "Acme",
        "trade_name": "",
        "tax_id": "",
        "email": "",
        "phone": "",
        "website": "",
        "address": dict.fromkeys(ADDRESS, ""),
        "logo": None,
        "invoice_footer": "",
        "quotation_footer": "",
        "updated_at": response.json()["data"]["updated_at"],
    }


def test_the_migration_gives_tenants_provisioned_before_it_their_profile(tenant):
    migration = importlib.import_module("company.migrations.0001_company_profile")
    Company.objects.all().delete()

    with connection.schema_editor() as editor:
        migration.profile_for_existing_tenant(apps, editor)

    assert Company.objects.get().legal_name == "Acme"
    company_provision(tenant.tenant, tenant.owner, tenant.workspace)  # a template's copy, renamed
    assert Company.objects.get().legal_name == "Acme"


def test_changing_the_profile_needs_settings_manage(api, member_api):
    reader = member_api(permissions=["invoices:view", "invoices:edit"])
    manager = member_api(permissions=["settings:manage"])

    refused = reader.patch("/company", {"legal_name": "Hijacked"})
    changed = manager.patch("/company", {"legal_name": "Acme Corporation", "tax_id": "NO 123"})

    assert (refused.status_code, refused.json()) == (403, FORBIDDEN)
    assert changed.status_code == 200, changed.content
    assert changed.json()["data"]["legal_name"] == "Acme Corporation"
    assert api.get("/company").json()["data"]["tax_id"] == "NO 123"


def test_a_patch_changes_only_what_it_sends_and_replaces_the_address_whole(api):
    api.patch("/company", {"trade_name": "Acme", "address": ADDRESS, "invoice_footer": "IBAN"})
    before = api.get("/company").json()["data"]

    response = api.patch("/company", {"address": {"city": "Oslo"}, "email": "hi@acme.test"})

    body = response.json()["data"]
    assert body["address"] == {**dict.fromkeys(ADDRESS, ""), "city": "Oslo"}
    assert (body["email"], body["trade_name"], body["invoice_footer"]) == (
        "hi@acme.test",
        "Acme",
        "IBAN",
    )
    assert body["updated_at"] > before["updated_at"]
    untouched = api.patch("/company", {"phone": "+47 5555"}).json()["data"]
    assert untouched["address"] == body["address"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("legal_name", ""),
        ("email", "not-an-email"),
        ("website", "ftp//nowhere"),
        ("invoice_footer", "x" * 1001),
        ("address", {"postal_code": "1" * 21}),
    ],
)
def test_invalid_fields_are_refused_and_nothing_changes(api, field, value):
    before = api.get("/company").json()["data"]

    response = api.patch("/company", {field: value, "phone": "+1 555"})

    assert field in next(iter(errors(response))), errors(response)
    assert api.get("/company").json()["data"] == before


def test_a_png_or_jpeg_logo_is_stored_as_sent_and_null_removes_it(api):
    png = data_uri(image_bytes("PNG"))
    jpeg = data_uri(image_bytes("JPEG"), "image/jpeg")

    assert api.patch("/company", {"logo": png}).json()["data"]["logo"] == png
    assert api.get("/company").json()["data"]["logo"] == png
    assert Company.objects.get().logo_type == "image/png"
    assert api.patch("/company", {"logo": jpeg}).json()["data"]["logo"] == jpeg
    assert api.patch("/company", {"logo": None}).json()["data"]["logo"] is None
    assert (Company.objects.get().logo, Company.objects.get().logo_type) == (None, "")


def test_a_logo_wrapped_in_lines_or_with_parameters_is_accepted(api):
    content = image_bytes("PNG")
    encoded = data_uri(content).split(",", 1)[1]
    wrapped = "data:image/png;base64," + "\n".join(
        encoded[i : i + 76] for i in range(0, len(encoded), 76)
    )

    named = data_uri(content).replace(";base64", ";name=logo.png;base64")

    assert api.patch("/company", {"logo": wrapped}).json()["data"]["logo"] == data_uri(content)
    assert api.patch("/company", {"logo": named}).json()["data"]["logo"] == data_uri(content)


BAD_LOGOS = {
    "not a data URI": ("https://example.test/logo.png", "Send the image as a data URI"),
    "a GIF": (data_uri(image_bytes("GIF"), "image/gif"), "must be a PNG or JPEG image, not"),
    "GIF bytes called PNG": (data_uri(image_bytes("GIF")), "declares image/png, but the bytes"),
    "JPEG bytes called PNG": (data_uri(image_bytes("JPEG")), "declares image/png, but the bytes"),
    "broken base64": ("data:image/png;base64,iVBORw0KGgo=x", "not valid base64"),
    "a truncated PNG": (
        data_uri(image_bytes("PNG", (400, 400), noise=True)[:2000]),
        "must be a PNG or JPEG image.",
    ),
    "a PNG header and garbage": (
        data_uri(b"\x89PNG\r\n\x1a\n" + b"\0" * 64),
        "must be a PNG or JPEG image.",
    ),
    "over 512 KB": (data_uri(image_bytes("PNG", (460, 400), noise=True)), "at most 512 KB"),
    "too many pixels": (data_uri(image_bytes("PNG", (5000, 10))), "at most 4096 pixels"),
    "a number": (42, "Must be a string."),
}


@pytest.mark.parametrize(("value", "message"), BAD_LOGOS.values(), ids=BAD_LOGOS.keys())
def test_a_bad_logo_is_refused_on_logo_and_changes_nothing(api, value, message):
    api.patch("/company", {"logo": data_uri(image_bytes("PNG"))})
    before = api.get("/company").json()["data"]

    response = api.patch("/company", {"logo": value, "tax_id": "changed"})

    assert list(errors(response)) == ["logo"]
    [text] = errors(response)["logo"]
    assert message in text
    assert api.get("/company").json()["data"] == before


def test_the_size_limit_is_on_the_decoded_bytes(api):
    exactly = image_bytes("PNG", (460, 400), noise=True)
    assert len(exactly) > 512 * KB  # precondition of the "over 512 KB" case above
    fits = image_bytes("PNG", (400, 400), noise=True)
    assert len(fits) <= 512 * KB < len(data_uri(fits))

    assert api.patch("/company", {"logo": data_uri(fits)}).status_code == 200
