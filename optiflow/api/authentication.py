"""Bearer token authentication (SPEC §3): ``Authorization: Bearer {id}|{secret}``."""

from __future__ import annotations

import datetime as dt
import hmac

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tenants.models import ApiToken, User

# Writing last_used_at on every request would turn every read into a write; a minute's
# precision is what a "last used" column is for.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise exceptions.AuthenticationFailed()
        token_id, sep, secret = credentials.strip().partition("|")
        if not sep or not token_id.isdigit() or not secret:
            raise exceptions.AuthenticationFailed()
        token = ApiToken.objects.select_related("user").filter(pk=int(token_id)).first()
        # Compare a digest even when the row is missing, so timing does not reveal ids.
        expected = token.token_hash if token else "0" * 64
        if not hmac.compare_digest(expected, ApiToken.digest(secret)) or token is None:
            raise exceptions.AuthenticationFailed()
        if not token.is_usable or not token.user.is_active:
            raise exceptions.AuthenticationFailed()
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
