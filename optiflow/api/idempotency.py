"""``Idempotency-Key`` as the API reads and answers it (SPEC §5); the lock, the stored results
and their purge are ``idempotency.services``.

Any authenticated ``POST`` may carry the header: 1-255 printable ASCII characters, else a
``400`` (a malformed header, like a malformed ``X-Workspace-ID``). Other methods are
idempotent already and ignore it, as does ``POST /auth/token``, which has no caller yet to
keep results for, and a ``POST`` answered with a file instead of JSON (nothing is stored: it
changes nothing, and a retry makes the file again).
"""

from __future__ import annotations

import hashlib
import json
import re

from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from idempotency.models import IdempotencyKey
from idempotency.services import HEADER, KeyedRequest
from optiflow.api.exceptions import BadRequest

KEY = re.compile(r"[\x20-\x7e]{1,255}")
REPLAYED = "Idempotent-Replayed"


def keyed_request(request: Request) -> KeyedRequest | None:
    """The key and fingerprint of a ``POST`` that carries one; ``None`` for any other request.
    Reads the body (a malformed one is the ``400`` it would be anyway)."""
    key = request.headers.get(HEADER)
    if key is None or request.method != "POST" or not request.user.is_authenticated:
        return None
    if not KEY.fullmatch(key):
        raise BadRequest(f"{HEADER} must be 1 to 255 printable ASCII characters.")
    if not isinstance(getattr(request, "accepted_renderer", None), JSONRenderer):
        return None
    # The path as routed (the same for /t/{slug}/... and the tenant's host) and its query,
    # which selects what the answer embeds; the body as parsed, so spacing and key order do
    # not make a retry a different request.
    query = request.META.get("QUERY_STRING", "")
    path = request.path_info + (f"?{query}" if query else "")
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(body.encode()).hexdigest()
    return KeyedRequest(key=key, method=request.method, path=path, body_digest=digest)


def rendered_body(response: Response) -> str:
    return "" if response.data is None else JSONRenderer().render(response.data).decode()


def replay(stored: IdempotencyKey) -> Response:
    data = json.loads(stored.response_body) if stored.response_body else None
    return Response(data, status=stored.status_code, headers={REPLAYED: "true"})
