import pytest

from tests.factories import WorkspaceFactory


@pytest.fixture
def owner(tenant):
    return tenant.owner


@pytest.fixture
def main(tenant):
    """The owner's current workspace: the one API calls act in by default."""
    return tenant.workspace


@pytest.fixture
def branch(tenant):
    return WorkspaceFactory(owner=tenant.owner, name="Branch")
