"""Request bodies are held to the JSON types the OpenAPI document states (SPEC §5).

DRF alone would coerce ``0`` into ``"0"``, ``"12"`` into an id, ``1`` into ``true`` and accept
``"1e2"`` as a decimal; the API answers those ``422`` under the field's path instead, and
writes nothing.
"""

import pytest

from billing.models import Invoice
from contacts.models import Contact
from inventory.models import Tax
from tests.billing.factories import item, product_with_stock
from tests.contacts.factories import ContactFactory
from tests.factories import errors


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": 0}, "name", "Must be a string."),
        ({"name": "VAT", "rate": 18}, "rate", 'Must be a decimal string such as "12.50".'),
        ({"name": "VAT", "rate": "1e1"}, "rate", 'Must be a decimal string such as "12.50".'),
        ({"name": "VAT", "rate": " 18"}, "rate", 'Must be a decimal string such as "12.50".'),
        ({"name": "VAT", "rate": "18", "is_active": 1}, "is_active", "Must be a boolean."),
        (  # measured as sent, like the schema's maxLength, not after trimming
            {"name": " " + "x" * 100, "rate": "18"},
            "name",
            "Ensure this field has no more than 100 characters.",
        ),
    ],
)
def test_a_value_of_the_wrong_json_type_is_422(api, body, field, message):
    before = Tax.objects.count()
    assert errors(api.post("/taxes", body))[field] == [message]
    assert Tax.objects.count() == before


def test_nested_values_report_under_their_dotted_path(api, owner, main):
    contact = ContactFactory()
    product = product_with_stock(main, "5", actor=owner)
    body = {
        "contact_id": str(contact.pk),
        "items": [item(product), {**item(product), "quantity": 2}, "not an object"],
        "payment": {"amount": 1, "method": "cash"},
    }
    assert errors(api.post("/invoices", body)) == {
        "contact_id": ["Must be an integer."],
        "items.1.quantity": ['Must be a decimal string such as "12.50".'],
        "items.2": ["Must be an object."],
        "payment.amount": ['Must be a decimal string such as "12.50".'],
    }
    assert not Invoice.objects.exists()


def test_type_errors_come_with_the_other_fields_errors(api):
    assert errors(api.post("/taxes", {"name": "", "rate": 18})) == {
        "name": ["This field may not be blank."],
        "rate": ['Must be a decimal string such as "12.50".'],
    }


def test_null_and_documented_types_pass_through_to_field_validation(api):
    response = api.post(
        "/contacts",
        {
            "name": "Ada",
            "contact_type": "customer",
            "email": "",
            "credit_limit": "10.5",
            "metadata": {"a": 1},
        },
    )
    assert response.status_code == 201, response.content
    assert Contact.objects.get(pk=response.json()["data"]["id"]).credit_limit == 10.5
    null_name = {"name": None, "contact_type": "customer"}
    assert errors(api.post("/contacts", null_name)) == {"name": ["This field may not be null."]}
