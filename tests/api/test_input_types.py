"""Request bodies are held to the types the OpenAPI document states (SPEC §5).

Decimal fields take a JSON number or a decimal string, read exactly; everything else keeps its
JSON type (DRF alone would coerce ``0`` into ``"0"``, ``"12"`` into an id, ``1`` into
``true``). A field the resource does not have is refused, one it shows is ignored; a choice
error lists the allowed values. Every refusal is a ``422`` under the field's dotted path, with
nothing written.
"""

from decimal import Decimal

import pytest

from billing.models import Invoice
from contacts.models import Contact
from inventory.models import StockLevel, Tax
from tests.billing.factories import item, product_with_stock
from tests.contacts.factories import ContactFactory
from tests.factories import errors

DECIMAL_TYPE = 'Must be a number or a decimal string such as "12.50".'
DECIMAL_FLOAT = "Must be a plain decimal number: no exponent, NaN or Infinity."


@pytest.mark.parametrize(
    ("rate", "stored"),
    [(18, "18.00"), ("18", "18.00"), (2.5, "2.50"), ("2.50", "2.50"), (0.1, "0.10"), (0, "0.00")],
)
def test_a_decimal_is_a_json_number_or_a_decimal_string(api, rate, stored):
    response = api.post("/taxes", {"name": f"VAT {rate!r}", "rate": rate})
    assert response.status_code == 201, response.content
    assert response.json()["data"]["rate"] == stored
    assert Tax.objects.get(pk=response.json()["data"]["id"]).rate == Decimal(stored)


def test_json_numbers_are_read_exactly_not_through_binary_floats(api, owner, main):
    """``1.0000000000000001`` is ``1.0`` to a binary float, which would make it a quantity of
    one; read as written it has seventeen digits, more than a quantity holds, and is refused."""
    contact = ContactFactory()
    product = product_with_stock(main, "5", actor=owner, price="0.10")
    line = f'{{"product_id": {product.pk}, "quantity": %s}}'
    body = f'{{"contact_id": {contact.pk}, "items": [%s]}}'
    refused = api.post_raw("/invoices", body % (line % "1.0000000000000001"))
    assert errors(refused) == {
        "items.0.quantity": ["Ensure that there are no more than 14 digits in total."]
    }
    assert not Invoice.objects.exists()
    created = api.post_raw("/invoices", body % ", ".join([line % "0.1"] * 3))
    assert created.status_code == 201, created.content
    data = created.json()["data"]
    assert [line["quantity"] for line in data["items"]] == ["0.10"] * 3
    assert data["subtotal_amount"] == "0.03"


@pytest.mark.parametrize(
    ("raw_rate", "message"),
    [
        ("1e1", DECIMAL_FLOAT),  # an exponent, as a JSON number
        ("1.5E+1", DECIMAL_FLOAT),
        ("NaN", DECIMAL_FLOAT),
        ("Infinity", DECIMAL_FLOAT),
        ("-Infinity", DECIMAL_FLOAT),
        ('"1e1"', DECIMAL_TYPE),  # and as a string
        ('"NaN"', DECIMAL_TYPE),
        ('" 18"', DECIMAL_TYPE),
        ('""', DECIMAL_TYPE),
        ('"018"', DECIMAL_TYPE),  # JSON's number syntax: no leading zeros
        ('"18."', DECIMAL_TYPE),
        ("true", DECIMAL_TYPE),
        ("[18]", DECIMAL_TYPE),
        ("18.555", "Ensure that there are no more than 2 decimal places."),
        ('"18.555"', DECIMAL_TYPE),
        ("18.500", "Ensure that there are no more than 2 decimal places."),  # as written
        ("100.01", "Ensure this value is less than or equal to 100."),
        ("-1", "Ensure this value is greater than or equal to 0.00."),
        ('"-0"', "Ensure this value is greater than or equal to 0.00."),
    ],
)
def test_a_decimal_that_is_not_a_plain_number_is_422_under_its_name(api, raw_rate, message):
    response = api.post_raw("/taxes", f'{{"name": "VAT", "rate": {raw_rate}}}')
    assert errors(response) == {"rate": [message]}
    assert not Tax.objects.exists()


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Ensure this value is greater than or equal to 0.01."),
        ('"0.00"', "Ensure this value is greater than or equal to 0.01."),
        ('"-2"', "Ensure this value is greater than or equal to 0.01."),
        ("-2", "Ensure this value is greater than or equal to 0.01."),
    ],
)
def test_quantities_must_be_positive(api, owner, main, quantity, message):
    contact = ContactFactory()
    product = product_with_stock(main, "5", actor=owner)
    line = f'{{"product_id": {product.pk}, "quantity": {quantity}}}'
    body = f'{{"contact_id": {contact.pk}, "items": [{line}]}}'
    assert errors(api.post_raw("/invoices", body)) == {"items.0.quantity": [message]}
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": 0, "rate": "18"}, "name", "Must be a string."),
        ({"name": "VAT", "rate": "18", "is_active": 1}, "is_active", "Must be a boolean."),
        (  # measured as sent, like the schema's maxLength, not after trimming
            {"name": " " + "x" * 100, "rate": "18"},
            "name",
            "Ensure this field has no more than 100 characters.",
        ),
    ],
)
def test_a_value_of_the_wrong_json_type_is_422(api, body, field, message):
    assert errors(api.post("/taxes", body))[field] == [message]
    assert not Tax.objects.exists()


def test_nested_values_report_under_their_dotted_path(api, owner, main):
    contact = ContactFactory()
    product = product_with_stock(main, "5", actor=owner)
    body = {
        "contact_id": str(contact.pk),
        "items": [item(product), {**item(product), "quantity": "2.5.1"}, "not an object"],
        "payment": {"amount": True, "method": "cash"},
    }
    assert errors(api.post("/invoices", body)) == {
        "contact_id": ["Must be an integer."],
        "items.1.quantity": [DECIMAL_TYPE],
        "items.2": ["Must be an object."],
        "payment.amount": [DECIMAL_TYPE],
    }
    assert not Invoice.objects.exists()


def test_type_errors_come_with_the_other_fields_errors(api):
    assert errors(api.post("/taxes", {"name": "", "rate": "1e2"})) == {
        "name": ["This field may not be blank."],
        "rate": [DECIMAL_TYPE],
    }


def test_null_and_documented_types_pass_through_to_field_validation(api):
    response = api.post(
        "/contacts",
        {"name": "Ada", "contact_type": "customer", "email": "", "credit_limit": "10.5"},
    )
    assert response.status_code == 201, response.content
    assert Contact.objects.get(pk=response.json()["data"]["id"]).credit_limit == Decimal("10.50")
    null_name = {"name": None, "contact_type": "customer"}
    assert errors(api.post("/contacts", null_name)) == {"name": ["This field may not be null."]}


def test_free_form_metadata_keeps_json_numbers_and_refuses_non_finite_ones(api):
    raw = '{"name": "Ada", "contact_type": "customer", "metadata": {"a": 1.5, "b": [2, 1e3]}}'
    response = api.post_raw("/contacts", raw)
    assert response.status_code == 201, response.content
    assert response.json()["data"]["metadata"] == {"a": 1.5, "b": [2, 1000.0]}
    assert Contact.objects.get().metadata == {"a": 1.5, "b": [2, 1000.0]}
    refused = api.post_raw(
        "/contacts", '{"name": "Bo", "contact_type": "customer", "metadata": {"a": NaN}}'
    )
    assert errors(refused) == {"metadata": ["NaN and Infinity are not JSON numbers."]}
    assert Contact.objects.count() == 1


# --- strict bodies --------------------------------------------------------------------------


def test_an_unknown_field_is_422_and_nothing_is_written(api):
    response = api.post("/contacts", {"name": "Ada", "contact_type": "customer", "emial": "a@x"})
    assert errors(response) == {"emial": ["Unknown field."]}
    assert not Contact.objects.exists()


def test_unknown_nested_fields_are_named_by_their_dotted_path(api, owner, main):
    contact = ContactFactory()
    product = product_with_stock(main, "5", actor=owner)
    body = {
        "contact_id": contact.pk,
        "items": [item(product), {**item(product), "qty": "1"}],
        "payment": {"amount": "1.00", "method": "cash", "paid_on": "2024-01-01"},
    }
    assert errors(api.post("/invoices", body)) == {
        "items.1.qty": ["Unknown field."],
        "payment.paid_on": ["Unknown field."],
    }
    address = {"type": "billing", "line1": "1 Main St", "zip": "123"}
    refused = api.post(
        "/contacts", {"name": "A", "contact_type": "customer", "addresses": [address]}
    )
    assert errors(refused) == {"addresses.0.zip": ["Unknown field."]}
    assert not Invoice.objects.exists()
    assert list(Contact.objects.all()) == [contact]


def test_a_record_sent_back_as_read_is_accepted_its_read_only_fields_ignored(api, owner, main):
    contact = ContactFactory()
    product = product_with_stock(main, "5", actor=owner, price="10.00")
    created = api.post("/invoices", {"contact_id": contact.pk, "items": [item(product, 2)]})
    read = api.get(f"/invoices/{created.json()['data']['id']}", {"include": "contact"})
    body = read.json()["data"]
    body["notes"] = "Deliver to the back door"
    body["total_amount"] = "1.00"  # computed by the server: ignored
    body["items"][0]["subtotal"] = "1.00"
    response = api.put(f"/invoices/{body['id']}", body)
    assert response.status_code == 200, response.content
    updated = response.json()["data"]
    assert updated["notes"] == "Deliver to the back door"
    assert (updated["total_amount"], updated["items"][0]["subtotal"]) == ("20.00", "20.00")


def test_a_choice_error_lists_the_allowed_values(api):
    response = api.post("/contacts", {"name": "Ada", "contact_type": "client"})
    assert errors(response) == {
        "contact_type": ['"client" is not a valid choice. Allowed: customer, supplier, both.']
    }
    tokens = errors(api.post("/tokens", {"name": "ci", "abilities": ["invoices:read"]}))
    assert tokens["abilities.0"][0].startswith('"invoices:read" is not a valid choice. Allowed: *,')


def test_patch_with_an_empty_body_changes_nothing_on_every_resource(api, owner, main):
    product = product_with_stock(main, "5", actor=owner)
    level = StockLevel.objects.get(product=product, workspace=main)
    response = api.patch(f"/stock-levels/{level.pk}", {})
    assert response.status_code == 200, response.content
    assert response.json()["data"]["minimum_quantity"] == "0.00"
    changed = api.patch(f"/stock-levels/{level.pk}", {"minimum_quantity": 3})
    assert changed.json()["data"]["minimum_quantity"] == "3.00"
