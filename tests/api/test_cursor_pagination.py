"""Cursor pagination (SPEC §6): ``after``/``before`` walk a list in its own order (sort and
filters kept) by keyset, so a walk over a list that changes meanwhile neither misses nor
repeats a row that existed throughout, and a deep page costs what the first one does."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import User
from tests.billing.factories import item, make_invoice, product_with_stock
from tests.contacts.factories import ContactFactory
from tests.factories import ids


def walk(api, path: str, params: dict, direction: str = "after") -> list[list[int]]:
    """Every page from one end to the other by following ``links``; the ids per page."""
    link = "next" if direction == "after" else "prev"
    response = api.get(path, {**params, direction: ""})
    pages = []
    while True:
        body = response.json()
        assert response.status_code == 200, body
        pages.append([row["id"] for row in body["data"]])
        if body["links"][link] is None:
            assert body["meta"]["has_more"] is False
            return pages
        assert body["meta"]["has_more"] is True
        response = api.get(path, query_of(body["links"][link]))


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlparse(url).query).items()}


def everything(api, path: str, params: dict | None = None) -> list[int]:
    return ids(api.get(path, {**(params or {}), "per_page": 100}))


@pytest.fixture(autouse=True)
def many_requests(settings) -> None:
    """A walk is many requests in a row; the rate limit is another test's subject."""
    settings.OPTIFLOW_RATE_LIMIT_USER = "100000/min"


def person(name: str) -> User:
    # No password: hashing one costs far more than the rest of these tests.
    return User.objects.create(name=name, email=f"{uuid.uuid4().hex}@example.test")


@pytest.fixture
def people(tenant) -> list[User]:
    """Names with ties, so that `id` has to break them."""
    return [person(f"Person {i % 7:02d}") for i in range(23)]


def test_a_walk_forward_or_backward_yields_the_list_once_in_order(api, people):
    order = everything(api, "/users")
    forward = walk(api, "/users", {"per_page": 4})
    assert [row for page in forward for row in page] == order
    assert [len(page) for page in forward] == [4, 4, 4, 4, 4, 4]  # 24 users: the owner too
    backward = walk(api, "/users", {"per_page": 5}, direction="before")
    assert [row for page in reversed(backward) for row in page] == order
    assert [len(page) for page in backward] == [5, 5, 5, 5, 4]


def test_a_cursor_page_has_its_own_meta_and_links(api, people):
    first = api.get("/users", {"per_page": 2, "after": ""}).json()
    assert first["meta"] == {
        "path": "http://testserver/t/acme/api/v1/users",
        "per_page": 2,
        "has_more": True,
    }
    assert first["links"]["first"] == "http://testserver/t/acme/api/v1/users?after=&per_page=2"
    assert first["links"]["prev"] is None
    second = api.get("/users", query_of(first["links"]["next"])).json()
    back = api.get("/users", query_of(second["links"]["prev"])).json()
    assert back["data"] == first["data"]
    assert back["links"]["prev"] is None and back["meta"]["has_more"] is False


def test_mixed_directions_and_nulls_follow_postgresql_order(api, owner, main):
    """``due_date`` ascending puts the invoices without one last; ``-due_date`` first."""
    product = product_with_stock(main, "100", actor=owner, price="1.00")
    contact = ContactFactory()
    rng = random.Random(7)
    today = dt.date(2024, 5, 1)
    for _ in range(17):
        due = rng.choice([None, today, today + dt.timedelta(days=rng.randint(1, 3))])
        make_invoice(
            workspace=main,
            actor=owner,
            contact=contact,
            issue_date=today,
            due_date=due,
            items=[item(product, rng.randint(1, 3))],
        )
    for sort in ("due_date,-total_amount", "-due_date,total_amount", "-due_date,-issue_date"):
        order = everything(api, "/invoices", {"sort": sort})
        for per_page in (1, 3, 5):
            for direction in ("after", "before"):
                pages = walk(api, "/invoices", {"sort": sort, "per_page": per_page}, direction)
                rows = [
                    row for page in (pages if direction == "after" else pages[::-1]) for row in page
                ]
                assert rows == order, (sort, per_page, direction)


def test_filters_hold_on_every_page(api, people):
    order = everything(api, "/users", {"filter[smart]": "person 03", "sort": "-name"})
    pages = walk(api, "/users", {"filter[smart]": "person 03", "sort": "-name", "per_page": 2})
    assert [row for page in pages for row in page] == order and len(order) == 3


def test_a_row_id_is_a_position_in_the_list(api, people):
    order = everything(api, "/users")
    anchor = order[7]
    assert ids(api.get("/users", {"after": anchor, "per_page": 3})) == order[8:11]
    assert ids(api.get("/users", {"before": anchor, "per_page": 3})) == order[4:7]
    outside = person("Zed")
    response = api.get("/users", {"after": outside.pk, "filter[smart]": "person"})
    assert response.status_code == 400
    assert response.json() == {"message": f"No row {outside.pk} in this list (with these filters)."}


def test_a_cursor_outlives_its_row(api, people):
    first = api.get("/users", {"per_page": 5, "after": ""}).json()
    boundary = first["data"][-1]["id"]
    expected = ids(api.get("/users", {"after": boundary, "per_page": 5}))
    User.objects.filter(pk=boundary).delete()
    assert ids(api.get("/users", query_of(first["links"]["next"]))) == expected
    gone = api.get("/users", {"after": boundary})
    assert gone.status_code == 400  # a deleted row's id is no position any more


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": "2", "after": ""}, "Use one of page, after and before, not page and after."),
        ({"after": "", "before": ""}, "Use one of page, after and before, not after and before."),
        ({"after": "not a cursor"}, "Malformed cursor; use a row id or a cursor from `links`."),
        ({"after": "bm90LWpzb24"}, "Malformed cursor; use a row id or a cursor from `links`."),
        (
            {"before": "eyJvIjoibmFtZSxpZCIsInYiOlsiQSIsIngiXX0"},  # {"o":"name,id","v":["A","x"]}
            "Malformed cursor; use a row id or a cursor from `links`.",
        ),
    ],
)
def test_bad_cursor_requests_are_400(api, people, params, message):
    response = api.get("/users", params)
    assert (response.status_code, response.json()) == (400, {"message": message})


def test_a_cursor_of_another_sort_is_400(api, people):
    cursor = query_of(api.get("/users", {"per_page": 2, "after": ""}).json()["links"]["next"])
    response = api.get("/users", {**cursor, "sort": "-created_at"})
    assert response.json() == {
        "message": "The cursor belongs to another sort order; start from `links.first`."
    }


def test_a_walk_over_a_changing_list_misses_and_repeats_nothing_that_stayed(api, people):
    rng = random.Random(11)
    throughout = set(everything(api, "/users"))
    seen: list[int] = []
    response = api.get("/users", {"per_page": 3, "after": ""})
    while True:
        body = response.json()
        seen += [row["id"] for row in body["data"]]
        # Between pages: rows appear before and after the position, others disappear.
        for _ in range(2):
            person(f"Person {rng.randint(0, 7):02d}")
        doomed = rng.choice(sorted(throughout))
        User.objects.filter(pk=doomed).delete()
        throughout.discard(doomed)
        if body["links"]["next"] is None:
            break
        response = api.get("/users", query_of(body["links"]["next"]))
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert throughout <= set(seen), "a row that existed throughout was missed"


def test_a_cursor_page_counts_nothing(api, people, django_assert_max_num_queries):
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/users", {"after": people[5].pk, "per_page": 3}).status_code == 200
    statements = [query["sql"].upper() for query in queries]
    assert not any("COUNT(" in sql for sql in statements), statements
    assert any(" LIMIT 4" in sql for sql in statements)  # per_page + 1 rows tell `has_more`


def test_every_list_takes_cursors_including_nested_ones(api, owner, main):
    product = product_with_stock(main, "50", actor=owner, price="3.00")
    invoice = make_invoice(
        workspace=main, actor=owner, contact=ContactFactory(), items=[item(product, 10)]
    )
    for amount in ("1.00", "2.00", "3.00", "4.00"):
        api.post(f"/invoices/{invoice.pk}/payments", {"amount": amount, "method": "cash"})
    path = f"/invoices/{invoice.pk}/payments"
    pages = walk(api, path, {"per_page": 3})
    assert [row for page in pages for row in page] == everything(api, path)
    movements = walk(api, "/stock-movements", {"per_page": 1})
    assert [row for page in movements for row in page] == everything(api, "/stock-movements")
    amounts = walk(api, "/payments", {"per_page": 2, "sort": "-amount"})
    paid = [Decimal(p["amount"]) for p in api.get("/payments", {"sort": "-amount"}).json()["data"]]
    assert sum(len(page) for page in amounts) == len(paid) == 4
