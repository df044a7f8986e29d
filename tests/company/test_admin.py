"""The tenant admin edits the one company profile through ``company_update``: the address is
stored as the API stores it, the logo is uploaded as a file and judged by the same rule."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from company.models import Company
from tests.company.images import image_bytes
from tests.conftest import OWNER_PASSWORD

PAGE = "/t/acme/admin/company/company"


@pytest.fixture
def admin_client(client, tenant):
    assert client.login(email=tenant.owner.email, password=OWNER_PASSWORD)
    return client


def form(**changes) -> dict:
    data = {
        "legal_name": "Acme AS",
        "trade_name": "",
        "tax_id": "",
        "email": "",
        "phone": "",
        "website": "",
        "address_line1": "1 Fjord Road",
        "address_line2": "",
        "address_city": "Bergen",
        "address_state": "",
        "address_postal_code": "5003",
        "address_country": "Norway",
        "invoice_footer": "",
        "quotation_footer": "",
    }
    return data | changes


def test_the_list_is_the_profile_and_it_cannot_be_added_or_deleted(admin_client):
    assert admin_client.get(f"{PAGE}/").url == f"{PAGE}/1/change/"
    assert admin_client.get(f"{PAGE}/1/change/").status_code == 200
    assert admin_client.get(f"{PAGE}/add/").status_code == 403
    assert admin_client.post(f"{PAGE}/1/delete/").status_code == 403


def test_the_profile_and_its_logo_are_saved_through_the_service(admin_client):
    logo = image_bytes("JPEG")

    saved = admin_client.post(
        f"{PAGE}/1/change/",
        form(
            website="demo.test",
            logo_file=SimpleUploadedFile("logo.jpg", logo, "image/png"),
        ),
    )

    assert saved.status_code == 302
    company = Company.objects.get()
    assert company.address == {
        "line1": "1 Fjord Road",
        "line2": "",
        "city": "Bergen",
        "state": "",
        "postal_code": "5003",
        "country": "Norway",
    }
    assert company.website == "https://demo.test"
    assert (bytes(company.logo), company.logo_type) == (logo, "image/jpeg")  # by content
    assert b"data:image/jpeg;base64," in admin_client.get(f"{PAGE}/1/change/").content

    admin_client.post(f"{PAGE}/1/change/", form(remove_logo="on"))
    assert Company.objects.get().logo is None


def test_a_bad_logo_file_is_refused_and_nothing_is_saved(admin_client):
    upload = SimpleUploadedFile("logo.png", image_bytes("GIF"), "image/png")

    page = admin_client.post(f"{PAGE}/1/change/", form(logo_file=upload))

    assert page.status_code == 200
    assert b"The logo must be a PNG or JPEG image." in page.content
    assert Company.objects.get().legal_name == "Acme"
