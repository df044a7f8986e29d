"""The contacts list's query count with every include on is pinned, the same for 3 rows as
for 30: 2 for the request (the token with its user and memberships, its last use), 2 for
the page (the
balance is annotated onto it), 1 for the addresses."""

import pytest

from tests.contacts.factories import AddressFactory, ContactFactory


@pytest.mark.parametrize("rows", [3, 30])
def test_contacts(api, rows, django_assert_num_queries):
    for contact in ContactFactory.create_batch(rows):
        AddressFactory.create_batch(2, contact=contact)

    with django_assert_num_queries(5):
        response = api.get("/contacts", {"include": "addresses,balance", "per_page": 100})

    assert response.status_code == 200
    assert [len(row["addresses"]) for row in response.json()["data"]] == [2] * rows
