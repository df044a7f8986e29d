"""Two people saving different fields of the profile at the same moment both keep their
change: ``company_update`` writes only the fields it was given."""

from __future__ import annotations

import threading

import pytest

from company.selectors import company_get
from company.services import company_update
from tests.conftest import run_concurrently

pytestmark = pytest.mark.concurrency


def test_concurrent_changes_of_different_fields_are_both_kept(committed_tenant):
    original = company_get()
    both_read = threading.Barrier(2)
    changes = [{"phone": "+1 555 0199"}, {"tax_id": "EIN 98-7654321"}]

    def work(index: int) -> None:
        company = company_get()
        both_read.wait(timeout=30)  # each holds the row as it was before either write
        company_update(company=company, data=changes[index])

    try:
        assert run_concurrently(committed_tenant.tenant, work, 2) == [None, None]
        company = company_get()
        assert (company.phone, company.tax_id) == ("+1 555 0199", "EIN 98-7654321")
    finally:
        company_update(
            company=company_get(), data={"phone": original.phone, "tax_id": original.tax_id}
        )
