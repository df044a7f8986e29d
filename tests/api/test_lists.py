"""SPEC §6: pagination, filters, sort, include — via /users, the foundation's list resource."""

import pytest

from tests.factories import UserFactory


@pytest.fixture
def users(tenant):
    # The owner exists already; 20 more users make three pages of 8.
    return [UserFactory(name=f"Person {i:02d}") for i in range(20)]


def test_meta_and_links_describe_the_page(api, users):
    body = api.get("/users", {"per_page": 8, "page": 2, "sort": "name"}).json()
    assert body["meta"] == {
        "current_page": 2,
        "from": 9,
        "last_page": 3,
        "per_page": 8,
        "to": 16,
        "total": 21,
        "path": "http://testserver/t/acme/api/v1/users",
    }
    users_url = "http://testserver/t/acme/api/v1/users"
    assert body["links"] == {
        "first": f"{users_url}?per_page=8&sort=name",
        "prev": f"{users_url}?per_page=8&sort=name",
        "next": f"{users_url}?page=3&per_page=8&sort=name",
        "last": f"{users_url}?page=3&per_page=8&sort=name",
    }
    assert len(body["data"]) == 8


def test_default_page_size_is_15(api, users):
    body = api.get("/users").json()
    assert body["meta"]["per_page"] == 15 and len(body["data"]) == 15


def test_per_page_is_capped_at_100(api, users):
    assert api.get("/users", {"per_page": 1000}).json()["meta"]["per_page"] == 100


def test_page_past_the_end_is_empty_with_correct_meta(api, users):
    body = api.get("/users", {"page": 9, "per_page": 10}).json()
    assert body["data"] == []
    assert body["meta"]["total"] == 21 and body["meta"]["last_page"] == 3
    assert body["meta"]["from"] is None and body["meta"]["to"] is None
    assert body["links"]["next"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "x"},
        {"page": ""},
        {"page": "1_0"},
        {"per_page": "-5"},
        {"per_page": "1.5"},
        {"per_page": "+5"},
    ],
)
def test_bad_paging_is_400(api, params):
    response = api.get("/users", params)
    assert response.status_code == 400
    assert "must be an integer of at least 1" in response.json()["message"]


def test_unknown_filter_is_400_naming_the_allowed_ones(api):
    response = api.get("/users", {"filter[colour]": "red"})
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Unknown filter 'colour'. Allowed filters: created_at, smart, updated_at."
    )


def test_unknown_sort_is_400(api):
    response = api.get("/users", {"sort": "-shoe_size"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Unknown sort field 'shoe_size'. Allowed")


def test_unknown_include_is_400(api):
    response = api.get("/users", {"include": "friends"})
    assert response.status_code == 400
    assert response.json()["message"] == "Unknown include 'friends'. Allowed includes: none."


def test_sort_descending_with_id_tie_breaker(api, users):
    params = {"sort": "-name", "per_page": 3, "filter[smart]": "person"}
    names = [u["name"] for u in api.get("/users", params).json()["data"]]
    assert names == ["Person 19", "Person 18", "Person 17"]


def test_smart_filter_is_case_insensitive(api, users):
    body = api.get("/users", {"filter[smart]": "person 1"}).json()
    assert body["meta"]["total"] == 10


def test_created_at_range_filter(api, users):
    today = users[0].created_at.date().isoformat()
    inside = api.get("/users", {"filter[created_at]": f'{{"fromDate":"{today}"}}'})
    assert inside.json()["meta"]["total"] == 21
    before = api.get("/users", {"filter[created_at]": '{"toDate":"2000-01-01"}'})
    assert before.json()["meta"]["total"] == 0
    instant = users[-1].created_at.isoformat()
    since = api.get("/users", {"filter[updated_at]": f'{{"fromDate":"{instant}"}}'})
    assert 1 <= since.json()["meta"]["total"] < 21


@pytest.mark.parametrize(
    "value",
    [
        '{"fromDate":"yesterday"}',
        '{"from":"2020-01-01"}',
        "[1]",
        "1730-66-40",  # well-formed, impossible: Django's parsers raise rather than answer None
        '{"toDate":"2024-02-30T10:00"}',
    ],
)
def test_bad_date_range_is_400(api, value):
    response = api.get("/users", {"filter[created_at]": value})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid filter value.")


@pytest.mark.parametrize(
    ("path", "params", "accepted"),
    [
        ("/taxes", {"filter[is_active]": "true"}, True),
        ("/taxes", {"filter[is_active]": ""}, True),  # blank: not given
        ("/taxes", {"filter[is_active]": "TRUE"}, False),  # SPEC §6: true|false|1|0
        ("/categories", {"filter[parent_id]": "1, 2"}, True),
        ("/categories", {"filter[parent_id]": "+1"}, False),
        ("/categories", {"filter[parent_id]": "1.0"}, False),
    ],
)
def test_filter_values_follow_the_documented_patterns(api, path, params, accepted):
    """What the schema's pattern admits parses; what it refuses is a 400, not coerced."""
    response = api.get(path, params)
    assert response.status_code == (200 if accepted else 400), response.content
