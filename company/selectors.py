"""Reads of the company profile, for its endpoint and for the documents that print it."""

from __future__ import annotations

from company.models import Company


def company_get() -> Company:
    """The tenant's profile (provisioning creates it, so it always exists)."""
    return Company.objects.get(pk=Company.SINGLETON_ID)
