"""SPEC §8.1 through real URLs: contacts and their nested addresses."""

import json

import pytest

from contacts.models import Address, Contact
from tests.contacts.factories import AddressFactory, ContactFactory
from tests.factories import FORBIDDEN, errors, ids

FULL_CONTACT = {
    "name": "Acme Supplies",
    "contact_type": "both",
    "status": "active",
    "email": "buy@acme.test",
    "phone": "+1 555 0100",
    "mobile": "+1 555 0101",
    "identification_type": "tax_id",
    "identification_number": "99-1234567",
    "credit_limit": "2500",
    "notes": "Net 30",
    "metadata": {"crm_id": "A-17", "tags": ["vip"]},
    "addresses": [
        {
            "type": "billing",
            "line1": "1 Main St",
            "city": "Springfield",
            "country": "US",
            "is_primary": True,
        },
        {
            "type": "shipping",
            "line1": "9 Dock Rd",
            "line2": "Gate 4",
            "state": "IL",
            "postal_code": "62701",
        },
    ],
}


class TestContactWrites:
    def test_create_with_every_field_and_addresses(self, api):
        response = api.post("/contacts", FULL_CONTACT)

        assert response.status_code == 201, response.content
        data = response.json()["data"]
        expected = {**FULL_CONTACT, "credit_limit": "2500.00"}
        assert {k: data[k] for k in expected if k != "addresses"} == {
            k: v for k, v in expected.items() if k != "addresses"
        }
        assert [(a["type"], a["line1"], a["is_primary"]) for a in data["addresses"]] == [
            ("billing", "1 Main St", True),
            ("shipping", "9 Dock Rd", False),
        ]
        assert set(data["addresses"][1]) == {
            "id",
            "type",
            "line1",
            "line2",
            "city",
            "state",
            "postal_code",
            "country",
            "is_primary",
        }
        assert data["created_at"].endswith("Z") and data["updated_at"].endswith("Z")

    def test_defaults(self, api):
        data = api.post("/contacts", {"name": "Bob", "contact_type": "customer"}).json()["data"]
        assert {
            k: data[k] for k in ("status", "credit_limit", "metadata", "addresses", "email")
        } == {
            "status": "active",
            "credit_limit": "0.00",
            "metadata": {},
            "addresses": [],
            "email": "",
        }

    def test_addresses_sent_replace_the_stored_list(self, api):
        contact = ContactFactory()
        kept_out = AddressFactory(contact=contact, line1="Old road")

        response = api.patch(f"/contacts/{contact.pk}", {"addresses": [{"line1": "New road"}]})

        assert response.status_code == 200, response.content
        assert [a["line1"] for a in response.json()["data"]["addresses"]] == ["New road"]
        assert not Address.objects.filter(pk=kept_out.pk).exists()

    def test_addresses_not_sent_are_kept(self, api):
        contact = ContactFactory()
        AddressFactory(contact=contact, line1="Old road")

        response = api.patch(f"/contacts/{contact.pk}", {"name": "Renamed"})

        assert response.json()["data"]["name"] == "Renamed"
        assert [a["line1"] for a in response.json()["data"]["addresses"]] == ["Old road"]

    def test_an_empty_list_removes_every_address(self, api):
        contact = ContactFactory()
        AddressFactory(contact=contact)
        response = api.put(f"/contacts/{contact.pk}", {"addresses": []})
        assert response.json()["data"]["addresses"] == []

    def test_one_primary_address_per_type(self, api):
        body = {
            "name": "X",
            "contact_type": "customer",
            "addresses": [
                {"type": "shipping", "is_primary": True},
                {"type": "billing", "is_primary": True},
                {"type": "shipping", "is_primary": True},
            ],
        }
        assert errors(api.post("/contacts", body)) == {
            "addresses.2.is_primary": ["Only one shipping address can be primary."]
        }
        assert not Contact.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"contact_type": "customer"}, "name"),
            ({"name": "X"}, "contact_type"),
            ({"name": "X", "contact_type": "partner"}, "contact_type"),
            ({"name": "X", "contact_type": "customer", "status": "gone"}, "status"),
            ({"name": "X", "contact_type": "customer", "email": "nope"}, "email"),
            ({"name": "X", "contact_type": "customer", "credit_limit": "-1"}, "credit_limit"),
            ({"name": "X", "contact_type": "customer", "metadata": ["a"]}, "metadata"),
            (
                {"name": "X", "contact_type": "customer", "identification_type": "ssn"},
                "identification_type",
            ),
            (
                {"name": "X", "contact_type": "customer", "addresses": [{"type": "home"}]},
                "addresses.0.type",
            ),
        ],
    )
    def test_invalid_input_is_422_on_the_field(self, api, body, field):
        assert list(errors(api.post("/contacts", body))) == [field]

    def test_delete(self, api):
        contact = ContactFactory()
        AddressFactory(contact=contact)
        assert api.delete(f"/contacts/{contact.pk}").status_code == 204
        assert not Contact.objects.filter(pk=contact.pk).exists()

    @pytest.mark.parametrize(
        ("permissions", "method", "expected"),
        [
            (["contacts:view"], "get", 200),
            ([], "get", 403),
            (["contacts:view"], "post", 403),
            (["contacts:create"], "post", 201),
            (["contacts:view"], "patch", 403),
            (["contacts:edit"], "patch", 200),
            (["contacts:edit"], "delete", 403),
            (["contacts:delete"], "delete", 204),
        ],
    )
    def test_permissions(self, member_api, permissions, method, expected):
        contact = ContactFactory()
        api = member_api(permissions=permissions)
        response = {
            "get": lambda: api.get("/contacts"),
            "post": lambda: api.post("/contacts", {"name": "X", "contact_type": "customer"}),
            "patch": lambda: api.patch(f"/contacts/{contact.pk}", {"name": "Y"}),
            "delete": lambda: api.delete(f"/contacts/{contact.pk}"),
        }[method]()
        assert response.status_code == expected
        if expected == 403:
            assert response.json() == FORBIDDEN


class TestContactLists:
    def test_filters(self, api):
        customer = ContactFactory(name="A", contact_type="customer")
        supplier = ContactFactory(name="B", contact_type="supplier")
        both = ContactFactory(name="C", contact_type="both", status="inactive")

        assert ids(api.get("/contacts", {"filter[contact_type]": "supplier"})) == [supplier.pk]
        assert ids(api.get("/contacts", {"filter[contact_type]": "customer,both"})) == [
            customer.pk,
            both.pk,
        ]
        assert ids(api.get("/contacts", {"filter[status]": "inactive"})) == [both.pk]
        assert api.get("/contacts", {"filter[status]": "asleep"}).status_code == 400
        assert api.get("/contacts", {"filter[city]": "x"}).status_code == 400

    def test_created_and_updated_ranges(self, api):
        contact = ContactFactory()
        today = contact.created_at.date().isoformat()
        for name in ("created_at", "updated_at"):
            assert ids(
                api.get("/contacts", {f"filter[{name}]": json.dumps({"fromDate": today})})
            ) == [contact.pk]
            assert (
                ids(api.get("/contacts", {f"filter[{name}]": json.dumps({"toDate": "2001-01-01"})}))
                == []
            )

    @pytest.mark.parametrize(
        ("field", "value", "query"),
        [
            ("name", "Globex Corporation", "globex"),
            ("email", "sales@initech.test", "INITECH"),
            ("identification_number", "77-000111", "000111"),
            ("phone", "+44 20 7946 0958", "7946"),
            ("mobile", "+44 7700 900123", "900123"),
        ],
    )
    def test_smart_search(self, api, field, value, query):
        match = ContactFactory(**{field: value})
        ContactFactory(name="Unrelated", email="x@y.test")
        assert ids(api.get("/contacts", {"filter[smart]": query})) == [match.pk]

    def test_sort(self, api):
        b = ContactFactory(name="Beta")
        a = ContactFactory(name="Alpha")
        c = ContactFactory(name="Gamma")

        assert ids(api.get("/contacts")) == [a.pk, b.pk, c.pk]
        assert ids(api.get("/contacts", {"sort": "-name"})) == [c.pk, b.pk, a.pk]
        assert ids(api.get("/contacts", {"sort": "created_at"})) == [b.pk, a.pk, c.pk]
        assert ids(api.get("/contacts", {"sort": "-id"})) == [c.pk, a.pk, b.pk]
        assert api.get("/contacts", {"sort": "email"}).status_code == 400

    def test_addresses_are_included_on_request_and_always_on_detail(self, api):
        contact = ContactFactory()
        AddressFactory(contact=contact, line1="1 Main St")

        assert "addresses" not in api.get("/contacts").json()["data"][0]
        listed = api.get("/contacts", {"include": "addresses"}).json()["data"][0]
        assert [a["line1"] for a in listed["addresses"]] == ["1 Main St"]
        assert [
            a["line1"] for a in api.get(f"/contacts/{contact.pk}").json()["data"]["addresses"]
        ] == ["1 Main St"]
        assert api.get("/contacts", {"include": "invoices"}).status_code == 400
