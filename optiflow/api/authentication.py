"""Bearer token authentication (SPEC §3): ``Authorization: Bearer {id}|{secret}``.

One statement reads the token, its user and the user's memberships (kept on the request as
``request.memberships`` for ``optiflow.api.access``), and carries the check of a cached tenant
(``tenants.middleware.TenantCheck``). Nothing is cached across requests: a revoked token, a
deactivated user or a changed membership is seen by the next request, in any process.
"""

from __future__ import annotations

import datetime as dt
import hmac

from django.db import ProgrammingError, connection
from django.utils import timezone
from psycopg.errors import UndefinedTable
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from tenants.models import ApiToken, User
from tenants.selectors import Caller, caller_for_token

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
        caller = self.caller(request, int(token_id))
        token = caller.token if caller else None
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
        request.memberships = caller.memberships
        return token.user, token

    @staticmethod
    def caller(request: Request, token_id: int) -> Caller | None:
        check = getattr(request._request, "tenant_check", None)
        if check is None or not check.pending:
            return caller_for_token(token_id=token_id)[0]
        try:
            caller, holds = caller_for_token(token_id=token_id, condition=check.carry())
        except ProgrammingError as error:
            # The cached schema may have been dropped with its tenant: then the address is
            # looked up again, unless the failed statement took a transaction down with it.
            if not isinstance(error.__cause__, UndefinedTable) or connection.in_atomic_block:
                check.abandon()
                raise
            holds = False
        if holds:
            return caller
        # Read in a schema that is no longer the address's tenant: discarded, and read again
        # in the tenant the address names now.
        check.settle(False)
        return caller_for_token(token_id=token_id)[0]

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
