"""A list's links are built from the request's URL parsed once; they are what DRF's
``remove_query_param`` and ``replace_query_param`` give, link by link."""

from __future__ import annotations

import pytest
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from optiflow.api.pagination import AFTER, BEFORE, PAGE, ListPagination


@pytest.mark.parametrize(
    "query",
    [
        "",
        "page=3&per_page=2",
        "filter%5Bsmart%5D=a+b%26c&sort=-name&page=2&after=x",
        "x=&x=1&before=&z=%E2%9C%93",
        "include=items.product,contact&per_page=100",
    ],
)
def test_links_are_what_drfs_query_parameter_helpers_give(rf, query):
    request = Request(rf.get(f"/api/v1/products?{query}"))
    paginator = ListPagination()
    paginator.request, paginator.link_parts = request, None
    for params in [{}, {PAGE: 4}, {AFTER: ""}, {BEFORE: "eyJvIjoi"}]:
        expected = request.build_absolute_uri()
        for name in (PAGE, AFTER, BEFORE):
            expected = remove_query_param(expected, name)
        for name, value in params.items():
            expected = replace_query_param(expected, name, value)
        assert paginator.url_with(**params) == expected
