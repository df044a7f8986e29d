"""``/document-series`` and numbering (SPEC §8.6): provisioned defaults, the series rules,
and how invoices, quotations and payments take their numbers."""

from __future__ import annotations

import pytest
from django.utils import timezone

from billing.models import DocumentSeries
from tests.billing.factories import billing_state, item


def test_provisioning_creates_the_default_series(api):
    response = api.get("/document-series", {"sort": "id"})

    assert response.status_code == 200
    rows = response.json()["data"]
    assert [
        (r["document_type"], r["prefix"], r["padding"], r["next_number"], r["is_default"])
        for r in rows
    ] == [
        ("invoice", "INV-", 4, 1, True),
        ("quotation", "QT-", 4, 1, True),
        ("payment", "PAY-", 4, 1, True),
    ]


def test_a_series_is_created_and_edited_but_never_deleted(api):
    created = api.post(
        "/document-series",
        {
            "name": "Export",
            "document_type": "invoice",
            "prefix": "EXP-",
            "padding": 6,
            "next_number": 10,
            "end_number": 500,
            "valid_until": "2099-12-31",
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()["data"]
    assert (body["is_default"], body["is_active"], body["next_number"]) == (False, True, 10)

    edited = api.patch(f"/document-series/{body['id']}", {"name": "Exports", "padding": 5})
    assert edited.status_code == 200
    assert (edited.json()["data"]["name"], edited.json()["data"]["padding"]) == ("Exports", 5)
    assert api.delete(f"/document-series/{body['id']}").status_code == 405


def test_marking_a_series_default_clears_the_previous_default(api, customer, widget):
    export = api.post(
        "/document-series",
        {
            "name": "Export",
            "document_type": "invoice",
            "prefix": "EXP-",
            "is_default": True,
        },
    ).json()["data"]

    defaults = api.get("/document-series", {"filter[document_type]": "invoice"}).json()["data"]
    assert {r["prefix"]: r["is_default"] for r in defaults} == {"INV-": False, "EXP-": True}
    invoice = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    assert invoice.json()["data"]["document_number"] == "EXP-0001"
    unset = api.patch(f"/document-series/{export['id']}", {"is_default": False})
    assert unset.status_code == 422
    assert unset.json()["errors"] == {"is_default": ["Mark another series as the default instead."]}


@pytest.mark.parametrize("prefix", ["INV-", "INV-EU-", "IN"])
def test_prefixes_of_one_type_may_not_overlap(api, prefix):
    response = api.post(
        "/document-series",
        {
            "name": "Clash",
            "document_type": "invoice",
            "prefix": prefix,
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "prefix": ["The prefix overlaps the prefix INV- of the series Invoices."]
    }


def test_the_same_prefix_may_number_another_document_type(api):
    response = api.post(
        "/document-series",
        {
            "name": "Quotes",
            "document_type": "quotation",
            "prefix": "INV-",
        },
    )
    assert response.status_code == 201


def test_a_series_that_numbered_documents_keeps_its_prefix_and_never_steps_back(
    api, customer, widget
):
    series = DocumentSeries.objects.get(prefix="INV-")
    api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})

    prefix = api.patch(f"/document-series/{series.pk}", {"prefix": "BILL-"})
    back = api.patch(f"/document-series/{series.pk}", {"next_number": 1})
    forward = api.patch(f"/document-series/{series.pk}", {"next_number": 50})

    assert prefix.status_code == back.status_code == 422
    assert list(prefix.json()["errors"]) == ["prefix"]
    assert list(back.json()["errors"]) == ["next_number"]
    assert forward.status_code == 200
    invoice = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    assert invoice.json()["data"]["document_number"] == "INV-0050"


def test_an_unused_series_can_be_renumbered(api):
    series = api.post(
        "/document-series",
        {
            "name": "Export",
            "document_type": "invoice",
            "prefix": "EXP-",
            "next_number": 100,
        },
    ).json()["data"]

    response = api.patch(f"/document-series/{series['id']}", {"next_number": 1, "prefix": "X-"})

    assert response.status_code == 200


def test_series_input_is_validated(api):
    response = api.post(
        "/document-series",
        {
            "name": "Bad",
            "document_type": "receipt",
            "prefix": "",
            "next_number": 0,
            "padding": 13,
        },
    )

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"document_type", "prefix", "next_number", "padding"}


def test_series_need_settings_manage(member_api):
    viewer = member_api(permissions=["invoices:view", "invoices:create"])
    assert viewer.get("/document-series").status_code == 403
    manager = member_api(permissions=["settings:manage"])
    assert manager.get("/document-series").status_code == 200


# --- numbers --------------------------------------------------------------------------------


def unusable(api, **fields):
    series = DocumentSeries.objects.get(prefix="INV-")
    return api.patch(f"/document-series/{series.pk}", fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"is_active": False}, "The series Invoices is inactive."),
        ({"valid_until": "2001-01-01"}, "The series Invoices has expired."),
        ({"end_number": 1, "next_number": 2}, "The series Invoices is exhausted (it ends at 1)."),
    ],
    ids=["inactive", "expired", "exhausted"],
)
def test_an_unusable_series_refuses_to_number_and_nothing_is_written(
    api, customer, widget, fields, message
):
    assert unusable(api, **fields).status_code == 200
    before = billing_state()

    response = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})

    assert response.status_code == 422
    assert response.json()["errors"] == {"document_series_id": [message]}
    assert billing_state() == before


def test_the_last_number_of_a_series_is_used_then_it_is_exhausted(api, customer, widget):
    unusable(api, end_number=1)

    first = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    second = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})

    assert first.json()["data"]["document_number"] == "INV-0001"
    assert second.status_code == 422


def test_a_series_valid_until_today_still_numbers(api, customer, widget):
    unusable(api, valid_until=timezone.localdate().isoformat())
    response = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    assert response.status_code == 201


def test_a_supplied_number_is_used_and_the_series_continues_after_it(api, customer, widget):
    supplied = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "document_number": "INV-0042",
        },
    )
    following = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})

    assert supplied.json()["data"]["document_number"] == "INV-0042"
    assert following.json()["data"]["document_number"] == "INV-0043"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("EXP-0100", "The number must be the prefix INV- followed by digits."),
        ("INV-12A", "The number must be the prefix INV- followed by digits."),
        ("INV-", "The number must be the prefix INV- followed by digits."),
        ("INV-0002", "The number may not be below the series' next number (INV-0003)."),
    ],
)
def test_a_supplied_number_must_fit_the_series(api, customer, widget, number, message):
    for _ in range(2):
        api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    before = billing_state()

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "document_number": number,
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {"document_number": [message]}
    assert billing_state() == before


def test_a_supplied_number_already_used_is_refused(api, customer, widget):
    api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "document_number": "INV-0007",
        },
    )
    series = DocumentSeries.objects.get(prefix="INV-")
    DocumentSeries.objects.filter(pk=series.pk).update(next_number=7)  # as an import might leave it

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "document_number": "INV-0007",
        },
    )

    assert response.json()["errors"] == {
        "document_number": ["The number INV-0007 is already used."]
    }


def test_a_series_of_another_type_is_not_accepted(api, customer, widget):
    quotation_series = DocumentSeries.objects.get(prefix="QT-")

    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "document_series_id": quotation_series.pk,
        },
    )

    assert response.json()["errors"] == {
        "document_series_id": ["The selected invoice series does not exist."]
    }


def test_a_supplied_number_beyond_what_a_series_can_hold_is_refused(api, customer, widget):
    response = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [item(widget)],
            "document_number": "INV-99999999999999999999",
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "document_number": ["The series Invoices is exhausted (it ends at 2147483646)."]
    }
