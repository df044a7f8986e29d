"""Demo data for `make run`'s demo tenant."""

from __future__ import annotations

from tenants.models import User, Workspace


def seed(*, owner: User, workspaces: list[Workspace]) -> None:
    """Runs inside the demo tenant's schema, in one transaction, once (on provisioning)."""
