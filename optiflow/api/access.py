"""The access context of a request, resolved once by the base view before any permission
check and kept on ``request.access`` (a ``tenants.access.Access``).

Only the request machinery lives here: reading the ``X-Workspace-ID`` header and answering its
errors. Which workspace a request acts in and what the caller may do there is decided by
``tenants.access``.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request

from optiflow.api.exceptions import BadRequest
from optiflow.api.query import parse_integer
from tenants.access import Access, access_for
from tenants.models import Workspace

WORKSPACE_HEADER = "X-Workspace-ID"


def resolve_access(request: Request) -> Access:
    header = request.headers.get(WORKSPACE_HEADER)
    workspace_id = None
    if header is not None:  # present but empty is as wrong as any other non-integer
        workspace_id = parse_integer(header)
        if workspace_id is None or workspace_id < 1:  # ids are positive (the schema says so)
            raise BadRequest(f"{WORKSPACE_HEADER} must be a positive integer workspace id.")
    try:
        return access_for(
            user=request.user,
            token=request.auth,
            memberships=request.memberships,  # read with the token (authentication)
            workspace_id=workspace_id,
        )
    except Workspace.DoesNotExist:
        raise exceptions.NotFound("Workspace not found.") from None
