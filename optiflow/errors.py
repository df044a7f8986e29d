"""Domain errors: raised by services, named for the condition, free of any HTTP or DRF import.

``optiflow.api.exceptions.exception_handler`` is the one place that turns them into the SPEC §5
error shape (``422`` with ``message`` and ``errors``).
"""

from __future__ import annotations

NON_FIELD = "non_field_errors"


class DomainError(Exception):
    """A business rule refused the change.

    ``errors`` maps a dotted input path (``items.1.quantity``) or ``non_field_errors`` to a list
    of messages; ``message`` states the rule in words.
    """

    default_message = "The given data was invalid."

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str = NON_FIELD,
        errors: dict[str, list[str]] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.errors = errors if errors is not None else {field: [self.message]}
        super().__init__(self.message)


class RecordInUse(DomainError):
    """A delete refused because other records still reference the one being deleted
    (``optiflow.deletion.delete_or_refuse``)."""


class Conflict(Exception):
    """A request collided with a concurrent one on the same record (SPEC §5: ``409``), e.g. it
    waited past the lock timeout for another writer of the same invoice: the client retries."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)
