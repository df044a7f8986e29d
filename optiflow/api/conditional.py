"""Conditional requests (SPEC §5): strong ``ETag``s of single records, ``If-None-Match`` on
reads and ``If-Match`` on writes.

An ETag digests the record's canonical representation: its detail body without optional
includes (``include=`` embeds other records, which do not take part), nested lines included,
so it changes whenever the record or one of its lines does. The base views
(``optiflow.api.views``) set it, answer ``304`` and check ``If-Match`` under the row lock.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

IF_MATCH, IF_NONE_MATCH = "If-Match", "If-None-Match"
#: Methods whose ``If-Match`` is checked; ``POST`` only on a record's actions (``/issue``).
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record was changed since you read it."


def etag(representation: Any) -> str:
    """A strong ETag of a rendered representation (the ``data`` of a single-record answer)."""
    return etag_of(JSONRenderer().render(representation))


def etag_of(rendered: bytes) -> str:
    """The ETag of a representation already rendered as the API's JSON."""
    return f'"{hashlib.sha256(rendered).hexdigest()[:32]}"'


def _listed(header: str) -> list[str]:
    return [item.strip() for item in header.split(",") if item.strip()]


def if_match_holds(request: Request, current: str) -> bool:
    """RFC 9110 §13.1.1: ``*`` or one of the listed tags, compared strongly (a weak ``W/``
    tag never matches). Without a tag (no header, or an empty one, as Django's own
    conditional views read it) every write proceeds."""
    tags = _listed(request.headers.get(IF_MATCH, ""))
    return not tags or "*" in tags or current in tags


def if_none_match_hits(request: Request, current: str) -> bool:
    """RFC 9110 §13.1.2: ``*`` or one of the listed tags, compared weakly."""
    header = request.headers.get(IF_NONE_MATCH)
    if header is None:
        return False
    tags = [tag.removeprefix("W/") for tag in _listed(header)]
    return "*" in tags or current in tags


def wants_precondition(request: Request) -> bool:
    return request.method in WRITE_METHODS and bool(_listed(request.headers.get(IF_MATCH, "")))
