"""Signing webhook bodies (SPEC §8.10).

``X-OptiFlow-Signature: t={unix},v1={hex}[,v1={hex}]``: each ``v1`` is the hex HMAC-SHA256 of
``"{t}.{raw body}"`` keyed with a whole secret string (``whsec_…``) as UTF-8. Right after a
rotation the previous secret signs too, for 24 hours, so a receiver can switch over.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"


def secret_new() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, keys: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header value, one ``v1`` per secret in ``keys`` (current first)."""
    signatures = (f"v1={signature(secret=key, timestamp=timestamp, body=body)}" for key in keys)
    return ",".join([f"t={timestamp}", *signatures])
