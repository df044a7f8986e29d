"""Lock and statement timeouts of API requests (SPEC §5: ``503`` with ``Retry-After``).

Without them one tenant's long write (a huge invoice holding the numbering lock) made other
requests wait for seconds, and once every server thread waited, every tenant did.
``DatabaseTimeoutMiddleware`` sets the limits in a context variable for the duration of a
request; the database backend (``optiflow.db.backend``) sends them with the request's
statements as transaction-local settings (``SET LOCAL``), so they never outlive the request and
need no session state a pooler could lose. Migrations, management commands and task workers run
outside any request and are not limited.

A request that hits one answers ``503`` with ``Retry-After`` (the exception handler asks
``database_timeout``), except where the lock belongs to the very record the request changes:
there another writer is changing it right now, the race the SPEC answers with ``409``
(``lock_wait_conflict``, used by the services around such row locks).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import OperationalError, models
from django.http import HttpRequest, HttpResponse
from psycopg import errors

from optiflow.db.records import CompiledQuery
from optiflow.errors import Conflict

logger = logging.getLogger("optiflow.db")

ModelT = TypeVar("ModelT", bound=models.Model)


@dataclass(frozen=True)
class Timeouts:
    """Milliseconds; ``None`` leaves the server's setting alone."""

    lock_ms: int | None = None
    statement_ms: int | None = None


UNLIMITED = Timeouts()
_current: ContextVar[Timeouts] = ContextVar("optiflow_db_timeouts", default=UNLIMITED)


def current_timeouts() -> Timeouts:
    return _current.get()


@contextmanager
def database_timeouts(timeouts: Timeouts) -> Iterator[None]:
    """Limit the statements run inside the block (on this thread or task)."""
    token = _current.set(timeouts)
    try:
        yield
    finally:
        _current.reset(token)


def request_timeouts() -> Timeouts:
    # Read per request, not at import, so that a test can change the settings.
    return Timeouts(
        lock_ms=settings.OPTIFLOW_DB_LOCK_TIMEOUT_MS or None,
        statement_ms=settings.OPTIFLOW_DB_STATEMENT_TIMEOUT_MS or None,
    )


class DatabaseTimeoutMiddleware:
    """Every statement of a request, the tenant lookup included, runs under the limits."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with database_timeouts(request_timeouts()):
            return self.get_response(request)


@dataclass(frozen=True)
class TimedOut:
    """How a request that hit a timeout is answered."""

    message: str
    retry_after: int


LOCK_TIMED_OUT = TimedOut(
    "Service unavailable: the data this request needs is held by another request. Retry shortly.",
    retry_after=1,
)
STATEMENT_TIMED_OUT = TimedOut(
    "Service unavailable: the request took longer than the server allows. Retry shortly.",
    retry_after=5,
)


def database_timeout(error: BaseException) -> TimedOut | None:
    """What to answer for ``error`` if it is a lock or statement timeout, else ``None``."""
    if not isinstance(error, OperationalError):
        return None
    if isinstance(error.__cause__, errors.LockNotAvailable):
        logger.warning("Lock timeout: %s", error)
        return LOCK_TIMED_OUT
    if isinstance(error.__cause__, errors.QueryCanceled):
        logger.warning("Statement timeout: %s", error)
        return STATEMENT_TIMED_OUT
    return None


@contextmanager
def lock_wait_conflict(message: str) -> Iterator[None]:
    """Around a row lock on the record a request changes: waiting past the lock timeout means
    another request is changing that same record, so the client gets a ``409`` (re-read it and
    retry) rather than a ``503`` (the server is busy)."""
    try:
        yield
    except OperationalError as error:
        if isinstance(error.__cause__, errors.LockNotAvailable):
            raise Conflict(message) from error
        raise


def lock_for_change(
    model: type[ModelT], pk: Any, *, label: str, related: tuple[str, ...] = ()
) -> ModelT:
    """``select_for_update()`` of the record a request changes (``label`` names it), with its
    ``related`` records (``select_related``) read in the same statement but not locked."""
    with lock_wait_conflict(f"Another request is changing this {label}; retry it."):
        return _locking(model, related).get(pk)


@functools.cache
def _locking(model: type[models.Model], related: tuple[str, ...]) -> CompiledQuery:
    """The statement ``lock_for_change`` runs for ``model`` and ``related``, compiled once:
    every change of an invoice, payment or quotation starts with it."""
    return CompiledQuery(
        lambda pk: (
            model._default_manager.select_for_update(of=("self",))
            .select_related(*related)
            .filter(pk=pk)
            .order_by()
        )
    )
