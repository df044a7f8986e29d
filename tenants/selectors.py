"""Reads of tenancy and access data."""

from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import ApiToken, Membership, User, Workspace


def membership_list_for_user(*, user: User) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user).select_related("workspace").order_by("workspace_id")
    )


def workspace_members(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.filter(workspace=workspace).select_related("user").order_by("user_id")


def token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    """The caller's live tokens (revoked ones are kept for audit but not listed)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).order_by("id")
