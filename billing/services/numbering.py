"""Document series and gapless numbering (SPEC §8.6).

A number is taken inside the transaction of the document it numbers, under a row lock on its
series: concurrent documents queue on that lock, and a document whose transaction rolls back
gives its number back, so the sequence has neither duplicates nor gaps.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from billing.models import DocumentSeries, DocumentType, Invoice, Payment, Quotation
from optiflow.db.records import raw_records
from optiflow.db.saves import save_fields
from optiflow.db.timeouts import lock_for_change
from optiflow.errors import DomainError
from tenants.models import Tenant, User, Workspace


class SeriesUnavailable(DomainError):
    """No usable series: missing, inactive, expired or exhausted."""


class DocumentNumberRefused(DomainError):
    """A client-supplied number does not fit its series or is taken."""


class SeriesChangeRefused(DomainError):
    pass


#: Where each document type keeps its numbers, for the "unused" check.
NUMBERED: dict[str, tuple[type[models.Model], str]] = {
    DocumentType.INVOICE: (Invoice, "document_number"),
    DocumentType.QUOTATION: (Quotation, "document_number"),
    DocumentType.PAYMENT: (Payment, "payment_number"),
}

DEFAULT_SERIES = (
    (DocumentType.INVOICE, "Invoices", "INV-"),
    (DocumentType.QUOTATION, "Quotations", "QT-"),
    (DocumentType.PAYMENT, "Payments", "PAY-"),
)


def document_number_take(
    *,
    document_type: str,
    series: DocumentSeries | None = None,
    requested: str | None = None,
    series_field: str = "document_series_id",
    number_field: str = "document_number",
) -> tuple[DocumentSeries, str]:
    """Lock the series (the type's default when ``series`` is ``None``), check it can number,
    and return it with the next number, or with ``requested`` once validated; the series then
    continues after it. Must run inside the document's transaction (the lock lasts until it
    ends)."""
    series = series_lock(document_type, series, field=series_field)
    if not series.is_active:
        raise SeriesUnavailable(f"The series {series.name} is inactive.", field=series_field)
    if series.valid_until is not None and series.valid_until < timezone.localdate():
        raise SeriesUnavailable(f"The series {series.name} has expired.", field=series_field)

    if requested is None:
        sequence = series.next_number
        number = series.format_number(sequence)
    else:
        sequence = requested_sequence(series, requested, number_field)
        number = requested
    # The column must still hold the next number after this one.
    last = min(series.end_number or DocumentSeries.SEQUENCE_MAX, DocumentSeries.SEQUENCE_MAX - 1)
    if sequence > last:
        raise SeriesUnavailable(
            f"The series {series.name} is exhausted (it ends at {last}).",
            field=number_field if requested is not None else series_field,
        )
    series.next_number = sequence + 1
    save_fields(series, ["next_number", "updated_at"])
    return series, number


def series_default(document_type: str, *, field: str = "document_series_id") -> DocumentSeries:
    series = _default(document_type, lock=False)
    if series is None:
        raise SeriesUnavailable(f"There is no default {document_type} series.", field=field)
    return series


def series_lock(
    document_type: str, series: DocumentSeries | None, *, field: str = "document_series_id"
) -> DocumentSeries:
    """``series``, or the type's default, read afresh under a row lock in one statement."""
    if series is not None:
        return DocumentSeries.objects.select_for_update().get(pk=series.pk)
    default = _default(document_type, lock=True)
    if default is None:
        raise SeriesUnavailable(f"There is no default {document_type} series.", field=field)
    return default


def _default(document_type: str, *, lock: bool) -> DocumentSeries | None:
    """The type's default series, if any; with ``lock``, under a row lock. The default is
    chosen by a subquery PostgreSQL evaluates before it waits for the lock, as a separate read
    would: a default changed meanwhile still numbers this document, from the row as it is
    once locked.

    Written in SQL: it numbers nearly every document, and the ORM spent three times the CPU
    of the statement building it (the subquery, ``first()``)."""
    table = connection.ops.quote_name(DocumentSeries._meta.db_table)
    sql = (
        f"SELECT {{columns}} FROM {table} WHERE id = (SELECT id FROM {table}"
        " WHERE document_type = %s AND is_default ORDER BY id LIMIT 1)"
    )
    if lock:
        sql += " FOR UPDATE"
    return next(iter(raw_records(DocumentSeries, sql, [document_type])), None)


def requested_sequence(series: DocumentSeries, requested: str, field: str) -> int:
    digits = requested.removeprefix(series.prefix)
    if not requested.startswith(series.prefix) or not digits.isdigit() or not digits.isascii():
        raise DocumentNumberRefused(
            f"The number must be the prefix {series.prefix} followed by digits.", field=field
        )
    sequence = int(digits)
    if sequence < series.next_number:
        raise DocumentNumberRefused(
            f"The number may not be below the series' next number "
            f"({series.format_number(series.next_number)}).",
            field=field,
        )
    model, number_field = NUMBERED[series.document_type]
    if model.objects.filter(**{number_field: requested}).exists():
        raise DocumentNumberRefused(f"The number {requested} is already used.", field=field)
    return sequence


# --- series ---------------------------------------------------------------------------------


def series_in_use(series: DocumentSeries) -> bool:
    return series.invoices.exists() or series.quotations.exists() or series.payments.exists()


def check_series(series: DocumentSeries, *, before: DocumentSeries | None) -> None:
    """Rules that keep numbers unique across series: one series' numbers can never look like
    another's (no prefix of the same type starts another), and a series that has numbered
    documents keeps its type and prefix and never steps back."""
    others = DocumentSeries.objects.filter(document_type=series.document_type).exclude(pk=series.pk)
    for other in others.only("prefix", "name"):
        if other.prefix.startswith(series.prefix) or series.prefix.startswith(other.prefix):
            raise SeriesChangeRefused(
                f"The prefix overlaps the prefix {other.prefix} of the series {other.name}.",
                field="prefix",
            )
    if before is None:
        return
    if before.is_default and not series.is_default:
        raise SeriesChangeRefused("Mark another series as the default instead.", field="is_default")
    changed = {
        name
        for name in ("document_type", "prefix")
        if getattr(series, name) != getattr(before, name)
    }
    stepped_back = series.next_number < before.next_number
    if (changed or stepped_back) and series_in_use(before):
        if changed:
            field = sorted(changed)[0]
            raise SeriesChangeRefused(
                f"The {field.replace('_', ' ')} of a series that has numbered documents "
                "cannot change.",
                field=field,
            )
        raise SeriesChangeRefused(
            "The next number of a series that has numbered documents cannot go back.",
            field="next_number",
        )


def save_series(series: DocumentSeries) -> DocumentSeries:
    if series.is_default:
        DocumentSeries.objects.filter(document_type=series.document_type, is_default=True).exclude(
            pk=series.pk
        ).update(is_default=False)
    series.save()
    return series


#: What a series' owner sets, through the API and the admin alike (``document_series_create``
#: and ``document_series_update`` take these).
SERIES_FIELDS = [
    "name",
    "document_type",
    "prefix",
    "next_number",
    "padding",
    "end_number",
    "valid_until",
    "is_default",
    "is_active",
]


@transaction.atomic
def document_series_create(**fields: Any) -> DocumentSeries:
    series = DocumentSeries(**fields)
    if not DocumentSeries.objects.filter(document_type=series.document_type).exists():
        series.is_default = True  # the first series of a type numbers its documents
    check_series(series, before=None)
    return save_series(series)


@transaction.atomic
def document_series_update(*, series: DocumentSeries, data: dict[str, Any]) -> DocumentSeries:
    # The lock makes the checks hold against documents numbered concurrently.
    before = lock_for_change(DocumentSeries, series.pk, label="document series")
    series = DocumentSeries.objects.get(pk=series.pk)
    for name, value in data.items():
        setattr(series, name, value)
    check_series(series, before=before)
    return save_series(series)


def document_series_provision(tenant: Tenant, owner: User, workspace: Workspace) -> None:
    """``PROVISIONING_HOOKS`` entry: the default ``INV-``, ``QT-`` and ``PAY-`` series."""
    for document_type, name, prefix in DEFAULT_SERIES:
        document_series_create(
            name=name, document_type=document_type, prefix=prefix, is_default=True
        )
