"""The floor of ``bench.floor``: the least a correct server does for five of our requests, as
one WSGI function with psycopg 3 and ``json.dumps``, without Django. It is served by uWSGI with
``uwsgi.ini``'s settings (``module`` swapped) and reads ``FLOOR_DATABASE_URL``.

It still does what makes an answer correct: the bearer token checked by its digest and the
caller's permission in the workspace (one query), the tenant's schema, the page, sort and
includes of the request, the JSON bodies of SPEC §5-§6 as the API renders them (the same bytes:
``bench.floor`` and ``tests/test_bench_floor.py`` compare them), and for the invoice write the
numbering, the lines and their taxes, the stock locked and moved through the ledger, and the
outbox event. What it leaves out is what only a framework needs, and the token's last-used time
(ours writes it at most once a minute); it serves no other request, and keeps each tenant's
schema and currency for the life of the process (no tenant changes during a benchmark).

Every statement goes through ``Counted``: the answer's ``X-Statements`` header says how many a
request ran (transaction BEGIN/COMMIT aside, as our access log's ``queries=`` counts them).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import psycopg

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # REST_FRAMEWORK["DATETIME_FORMAT"]
CENT, HUNDRED = Decimal("0.01"), Decimal(100)
MAX_PER_PAGE, DEFAULT_PER_PAGE = 100, 15
ROUTE = re.compile(r"^/t/(?P<slug>[a-z0-9-]+)/api/v1(?P<rest>/.*)$")
PRODUCT_DETAIL = re.compile(r"^/products/(?P<id>[0-9]+)$")
INVOICE_DETAIL = re.compile(r"^/invoices/(?P<id>[0-9]+)$")
FULL_ROLES = ("owner", "admin")
CROSS_WORKSPACE = {"view_all_locations", "users:manage"}


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class Counted:
    """A connection's ``execute`` that counts the statements of one request."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection
        self.count = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        self.count += 1
        return self.connection.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self.execute(sql, params).fetchall()


# --- values as the API renders them ---------------------------------------------------------


def decimal(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"


def timestamp(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).strftime(DATETIME_FORMAT)


def date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def money_round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def render(body: Any) -> bytes:
    """DRF's ``JSONRenderer``: compact, UTF-8, line separators escaped for JavaScript."""
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


# --- rows to resources (the serializers' field order) ---------------------------------------

PRODUCT_COLUMNS = (
    "p.id, p.name, p.sku, p.barcode, p.description, p.product_type, p.category_id, p.unit, "
    "p.price, p.cost, p.track_stock, p.allow_negative_stock, p.is_active, p.default_tax_id, "
    "p.created_at, p.updated_at"
)
CATEGORY_COLUMNS = "c.id, c.name, c.parent_id, c.created_at, c.updated_at"
LEVEL_COLUMNS = (
    "l.id, l.product_id, l.workspace_id, l.quantity, l.minimum_quantity, l.created_at, l.updated_at"
)
INVOICE_COLUMNS = (
    "i.id, i.workspace_id, i.contact_id, i.document_series_id, i.document_number, i.status, "
    "i.issue_date, i.due_date, i.payment_term, i.currency, i.subtotal_amount, "
    "i.discount_amount, i.tax_amount, i.total_amount, i.amount_paid, i.amount_due, i.notes, "
    "i.quotation_id, i.created_by_id, i.cancelled_at, i.created_at, i.updated_at"
)
ITEM_COLUMNS = (
    "it.id, it.product_id, it.description, it.quantity, it.unit_price, it.discount_rate, "
    "it.discount_amount, it.subtotal, it.tax_amount, it.total, it.invoice_id"
)
CONTACT_COLUMNS = (
    "k.id, k.name, k.contact_type, k.status, k.email, k.phone, k.mobile, "
    "k.identification_type, k.identification_number, k.credit_limit, k.notes, "
    "k.metadata::text, k.created_at, k.updated_at"
)


def product(row: Sequence[Any], category: dict | None = None, *, with_category=False) -> dict:
    (pk, name, sku, barcode, description, kind, category_id, unit, price, cost) = row[:10]
    (track, negative, active, tax_id, created, updated) = row[10:16]
    profit = None if cost is None or cost <= 0 else price - cost
    body = {
        "id": pk,
        "name": name,
        "sku": sku,
        "barcode": barcode,
        "description": description,
        "product_type": kind,
        "category_id": category_id,
        "unit": unit,
        "price": decimal(price),
        "cost": decimal(cost),
        "track_stock": track,
        "allow_negative_stock": negative,
        "is_active": active,
        "default_tax_id": tax_id,
        "profit": decimal(profit),
        "profit_margin": None if profit is None else decimal(money_round(profit * HUNDRED / cost)),
    }
    if with_category:
        body["category"] = category
    body["created_at"], body["updated_at"] = timestamp(created), timestamp(updated)
    return body


def category(row: Sequence[Any]) -> dict | None:
    if row[0] is None:
        return None
    pk, name, parent_id, created, updated = row
    return {
        "id": pk,
        "name": name,
        "parent_id": parent_id,
        "created_at": timestamp(created),
        "updated_at": timestamp(updated),
    }


def level_status(quantity: Decimal, minimum: Decimal) -> str:
    if quantity <= 0:
        return "out_of_stock"
    return "low_stock" if quantity <= minimum else "in_stock"


def stock_level(row: Sequence[Any]) -> dict:
    pk, product_id, workspace_id, quantity, minimum, created, updated = row
    return {
        "id": pk,
        "product_id": product_id,
        "workspace_id": workspace_id,
        "quantity": decimal(quantity),
        "minimum_quantity": decimal(minimum),
        "status": level_status(quantity, minimum),
        "created_at": timestamp(created),
        "updated_at": timestamp(updated),
    }


def contact(row: Sequence[Any]) -> dict:
    (pk, name, kind, status, email, phone, mobile, id_type, id_number, limit, notes) = row[:11]
    metadata, created, updated = row[11:]
    return {
        "id": pk,
        "name": name,
        "contact_type": kind,
        "status": status,
        "email": email,
        "phone": phone,
        "mobile": mobile,
        "identification_type": id_type,
        "identification_number": id_number,
        "credit_limit": decimal(limit),
        "notes": notes,
        "metadata": json.loads(metadata),
        "created_at": timestamp(created),
        "updated_at": timestamp(updated),
    }


def invoice(row: Sequence[Any], today: dt.date) -> dict:
    (pk, workspace_id, contact_id, series_id, number, status, issued, due) = row[:8]
    (term, currency, subtotal, discount, tax, total, paid, due_amount, notes) = row[8:17]
    (quotation_id, created_by_id, cancelled, created, updated) = row[17:]
    outstanding = Decimal("0.00") if status == "cancelled" else total - paid
    return {
        "id": pk,
        "workspace_id": workspace_id,
        "contact_id": contact_id,
        "document_series_id": series_id,
        "document_number": number,
        "status": status,
        "issue_date": date(issued),
        "due_date": date(due),
        "payment_term": term,
        "currency": currency,
        "subtotal_amount": decimal(subtotal),
        "discount_amount": decimal(discount),
        "tax_amount": decimal(tax),
        "total_amount": decimal(total),
        "amount_paid": decimal(paid),
        "amount_due": decimal(due_amount),
        "is_overdue": due is not None
        and due < today
        and status not in ("draft", "cancelled")
        and outstanding > 0,
        "notes": notes,
        "quotation_id": quotation_id,
        "created_by_id": created_by_id,
        "cancelled_at": timestamp(cancelled),
        "created_at": timestamp(created),
        "updated_at": timestamp(updated),
    }


def item(row: Sequence[Any], *, embedded: dict | None = None, taxes: list | None = None) -> dict:
    """A line; ``embedded`` is its product (``include=items.product``), ``taxes`` its taxes
    (``include=items.taxes``)."""
    pk, product_id, description, quantity, price, rate, discount, subtotal, tax, total = row[:10]
    body: dict[str, Any] = {"id": pk, "product_id": product_id}
    if embedded is not None:
        body["product"] = embedded
    body.update(
        description=description,
        quantity=decimal(quantity),
        unit_price=decimal(price),
        discount_rate=decimal(rate),
        discount_amount=decimal(discount),
        subtotal=decimal(subtotal),
        tax_amount=decimal(tax),
        total=decimal(total),
    )
    if taxes is not None:
        body["taxes"] = taxes
    return body


def line_tax(tax_id: int, name: str, rate: Decimal, amount: Decimal) -> dict:
    return {"tax_id": tax_id, "name": name, "rate": decimal(rate), "amount": decimal(amount)}


def shape(value: Any) -> Any:
    """A JSON value's keys and types without its values: what the floor's write answer shares
    with ours (generated ids, numbers and times differ)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


# --- pages (SPEC §6) ------------------------------------------------------------------------


class Page:
    """``page``/``per_page`` of a request and the envelope of its answer, as
    ``optiflow.api.pagination.ListPagination`` builds it (links re-encoded, parameters
    sorted)."""

    def __init__(self, url: str, query: dict[str, list[str]]) -> None:
        self.url, self.query = url, query
        self.per_page = min(self.positive("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
        self.number = self.positive("page", 1)
        self.offset = (self.number - 1) * self.per_page

    def positive(self, name: str, default: int) -> int:
        raw = self.query.get(name, [None])[-1]
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise HttpError(400, f"The {name} parameter must be an integer of at least 1.")
        return int(raw)

    def link(self, number: int) -> str:
        scheme, netloc, path, query, _ = urlsplit(self.url)
        params = parse_qs(query, keep_blank_values=True)
        params.pop("page", None)
        if number != 1:
            params["page"] = [str(number)]
        return urlunsplit((scheme, netloc, path, urlencode(sorted(params.items()), doseq=True), ""))

    def envelope(self, data: list, total: int) -> dict:
        last = max(1, -(-total // self.per_page))
        count = len(data)
        scheme, netloc, path, _, _ = urlsplit(self.url)
        return {
            "data": data,
            "meta": {
                "current_page": self.number,
                "from": self.offset + 1 if count else None,
                "last_page": last,
                "path": urlunsplit((scheme, netloc, path, "", "")),
                "per_page": self.per_page,
                "to": self.offset + count if count else None,
                "total": total,
            },
            "links": {
                "first": self.link(1),
                "last": self.link(last),
                "prev": self.link(self.number - 1) if self.number > 1 else None,
                "next": self.link(self.number + 1) if self.number < last else None,
            },
        }


# --- the reads ------------------------------------------------------------------------------


def product_list(db: Counted, schema: str, page: Page) -> dict:
    """``GET /products?include=category``: name order, id last."""
    rows = db.rows(
        f"SELECT {PRODUCT_COLUMNS}, {CATEGORY_COLUMNS}, count(*) OVER () "
        f'FROM "{schema}".inventory_product p '
        f'LEFT JOIN "{schema}".inventory_category c ON c.id = p.category_id '
        "ORDER BY p.name, p.id LIMIT %s OFFSET %s",
        (page.per_page, page.offset),
    )
    total = rows[0][-1] if rows else count(db, f'"{schema}".inventory_product')
    data = [product(row[:16], category(row[16:21]), with_category=True) for row in rows]
    return page.envelope(data, total)


def stock_level_list(db: Counted, schema: str, page: Page, workspace_id: int) -> dict:
    """``GET /stock-levels?include=product,workspace`` in the request's workspace, by id."""
    rows = db.rows(
        f"SELECT {LEVEL_COLUMNS}, {PRODUCT_COLUMNS}, w.id, w.name, count(*) OVER () "
        f'FROM "{schema}".inventory_stocklevel l '
        f'JOIN "{schema}".inventory_product p ON p.id = l.product_id '
        f'JOIN "{schema}".tenants_workspace w ON w.id = l.workspace_id '
        "WHERE l.workspace_id = %s ORDER BY l.id LIMIT %s OFFSET %s",
        (workspace_id, page.per_page, page.offset),
    )
    if rows:
        total = rows[0][-1]
    else:
        total = count(db, f'"{schema}".inventory_stocklevel WHERE workspace_id = %s', workspace_id)
    data = []
    for row in rows:
        body = stock_level(row[:7])
        body["product"] = product(row[7:23])
        body["workspace"] = {"id": row[23], "name": row[24]}
        data.append(body)
    return page.envelope(data, total)


def invoice_list(db: Counted, schema: str, page: Page, workspace_id: int, today: dt.date) -> dict:
    """``GET /invoices?include=items.product.category,contact`` in the request's workspace:
    newest issue date first, id last (ascending, as the API appends it)."""
    rows = db.rows(
        f"SELECT {INVOICE_COLUMNS}, {CONTACT_COLUMNS}, count(*) OVER () "
        f'FROM "{schema}".billing_invoice i JOIN "{schema}".contacts_contact k '
        "ON k.id = i.contact_id WHERE i.workspace_id = %s "
        "ORDER BY i.issue_date DESC, i.id LIMIT %s OFFSET %s",
        (workspace_id, page.per_page, page.offset),
    )
    if not rows:
        total = count(db, f'"{schema}".billing_invoice WHERE workspace_id = %s', workspace_id)
        return page.envelope([], total)
    lines: dict[int, list] = {row[0]: [] for row in rows}
    for line in db.rows(
        f"SELECT {ITEM_COLUMNS}, {PRODUCT_COLUMNS}, {CATEGORY_COLUMNS} "
        f'FROM "{schema}".billing_invoiceitem it '
        f'JOIN "{schema}".inventory_product p ON p.id = it.product_id '
        f'LEFT JOIN "{schema}".inventory_category c ON c.id = p.category_id '
        "WHERE it.invoice_id = ANY(%s) ORDER BY it.id",
        (list(lines),),
    ):
        embedded = product(line[11:27], category(line[27:32]), with_category=True)
        lines[line[10]].append(item(line, embedded=embedded))
    data = []
    for row in rows:
        body = invoice(row[:22], today)
        body["items"] = lines[row[0]]
        body["contact"] = contact(row[22:36])
        data.append(body)
    return page.envelope(data, rows[0][-1])


def product_detail(db: Counted, schema: str, pk: int) -> dict:
    rows = db.rows(
        f'SELECT {PRODUCT_COLUMNS} FROM "{schema}".inventory_product p WHERE p.id = %s', (pk,)
    )
    if not rows:
        raise HttpError(404, "Not found.")
    return {"data": product(rows[0])}


def count(db: Counted, table_and_filter: str, *params: Any) -> int:
    """A page past the end has no row to carry the window count."""
    return db.rows(f"SELECT count(*) FROM {table_and_filter}", params)[0][0]


# --- the invoice write and its void ---------------------------------------------------------


def invoice_create(db: Counted, tenant: Tenant, caller: Caller, body: Any) -> dict:
    """``POST /invoices`` issued at once: each line priced from its product with the product's
    default tax (half-up to cents per line, then summed), a number from the default series,
    a ``sale`` movement per line under the lock of its stock level, and the outbox event, in
    one transaction."""
    schema, workspace_id = tenant.schema, caller.workspace_id
    try:
        contact_id, issue_date = int(body["contact_id"]), dt.date.fromisoformat(body["issue_date"])
        wanted = [(int(line["product_id"]), Decimal(line["quantity"])) for line in body["items"]]
    except (KeyError, TypeError, ValueError, ArithmeticError):
        raise HttpError(422, "The given data was invalid.") from None
    if not wanted or any(quantity < CENT for _, quantity in wanted):
        raise HttpError(422, "The given data was invalid.")
    products = {
        row[0]: row
        for row in db.rows(
            "SELECT p.id, p.name, p.price, p.is_active, p.track_stock, p.allow_negative_stock, "
            "t.id, t.name, t.rate, "
            f"(SELECT status = 'active' AND contact_type IN ('customer', 'both') "
            f'FROM "{schema}".contacts_contact WHERE id = %s) '
            f'FROM "{schema}".inventory_product p '
            f'LEFT JOIN "{schema}".inventory_tax t ON t.id = p.default_tax_id '
            "WHERE p.id = ANY(%s)",
            (contact_id, [pk for pk, _ in wanted]),
        )
    }
    if len(products) != len({pk for pk, _ in wanted}) or not all(
        row[3] and row[9] for row in products.values()
    ):
        raise HttpError(422, "The given data was invalid.")
    lines = []
    for pk, quantity in wanted:
        _, name, price, _, _, _, tax_id, tax_name, rate = products[pk][:9]
        subtotal = money_round(quantity * price)
        tax = Decimal("0.00") if tax_id is None else money_round(subtotal * rate / HUNDRED)
        lines.append((pk, name, quantity, price, subtotal, tax, tax_id, tax_name, rate))
    subtotal = sum((line[4] for line in lines), Decimal("0.00"))
    tax = sum((line[5] for line in lines), Decimal("0.00"))
    with db.connection.transaction():
        series = db.rows(
            f'UPDATE "{schema}".billing_documentseries SET next_number = next_number + 1, '
            "updated_at = now() WHERE id = (SELECT id FROM "
            f'"{schema}".billing_documentseries WHERE document_type = %s AND is_default '
            "AND is_active AND (end_number IS NULL OR next_number <= end_number) "
            "AND (valid_until IS NULL OR valid_until >= current_date)) "
            "RETURNING id, prefix, next_number - 1, padding",
            ("invoice",),
        )
        if not series:
            raise HttpError(422, "No usable invoice series.")
        series_id, prefix, sequence, padding = series[0]
        number = f"{prefix}{sequence:0{padding}d}"
        row = db.rows(
            f'INSERT INTO "{schema}".billing_invoice (workspace_id, contact_id, '
            "document_series_id, issue_date, due_date, payment_term, currency, subtotal_amount, "
            "discount_amount, tax_amount, total_amount, notes, created_by_id, created_at, "
            "updated_at, document_number, status, amount_paid, quotation_id, cancelled_at) "
            "VALUES (%s, %s, %s, %s, NULL, '', %s, %s, 0, %s, %s, '', %s, now(), now(), %s, "
            f"'pending_payment', 0, NULL, NULL) RETURNING {INVOICE_COLUMNS.replace('i.', '')}",
            (
                workspace_id,
                contact_id,
                series_id,
                issue_date,
                tenant.currency,
                subtotal,
                tax,
                subtotal + tax,
                caller.user_id,
                number,
            ),
        )[0]
        item_rows = db.rows(
            f'INSERT INTO "{schema}".billing_invoiceitem (product_id, description, quantity, '
            "unit_price, discount_rate, discount_amount, subtotal, tax_amount, total, "
            "invoice_id) SELECT p, d, q, u, NULL, 0, s, t, s + t, %s FROM unnest("
            "%s::bigint[], %s::text[], %s::numeric[], %s::numeric[], %s::numeric[], "
            "%s::numeric[]) AS l(p, d, q, u, s, t) "
            f"RETURNING {ITEM_COLUMNS.replace('it.', '')}",
            (row[0], *columns(line[:6] for line in lines)),
        )
        taxed = [
            (r[0], line) for r, line in zip(item_rows, lines, strict=True) if line[6] is not None
        ]
        if taxed:
            db.execute(
                f'INSERT INTO "{schema}".billing_invoiceitemtax (tax_id, name, rate, amount, '
                "item_id) SELECT * FROM unnest(%s::bigint[], %s::text[], %s::numeric[], "
                "%s::numeric[], %s::bigint[])",
                [
                    [line[6] for _, line in taxed],
                    [line[7] for _, line in taxed],
                    [line[8] for _, line in taxed],
                    [line[5] for _, line in taxed],
                    [pk for pk, _ in taxed],
                ],
            )
        moved = [(pk, -quantity) for pk, _, quantity, *_ in lines if products[pk][4]]
        negative = {pk: products[pk][5] for pk, _ in moved}
        stock_move(db, schema, caller, moved, negative, "sale", number, row[0])
        today = dt.datetime.now(dt.UTC).date()
        answer = invoice(row, today)
        answer["items"] = [
            item(
                r,
                taxes=[] if line[6] is None else [line_tax(line[6], line[7], line[8], line[5])],
            )
            for r, line in zip(item_rows, lines, strict=True)
        ]
        event_record(db, schema, "invoice.created", answer)
    return {"data": answer}


def invoice_void(db: Counted, tenant: Tenant, caller: Caller, pk: int) -> None:
    """``DELETE /invoices/{id}`` of an issued invoice without payments: cancelled, its stock
    returned with ``return`` movements, and the outbox event."""
    schema = tenant.schema
    with db.connection.transaction():
        found = db.rows(
            f'SELECT i.status, (SELECT EXISTS (SELECT 1 FROM "{schema}".billing_payment '
            "WHERE invoice_id = i.id AND status = 'completed')) "
            f'FROM "{schema}".billing_invoice i WHERE i.id = %s AND i.workspace_id = %s '
            "FOR UPDATE",
            (pk, caller.workspace_id),
        )
        if not found:
            raise HttpError(404, "Not found.")
        if found[0][0] in ("draft", "cancelled") or found[0][1]:
            raise HttpError(422, "The invoice cannot be voided.")
        row = db.rows(
            f"UPDATE \"{schema}\".billing_invoice SET status = 'cancelled', "
            "cancelled_at = now(), updated_at = now() WHERE id = %s "
            f"RETURNING {INVOICE_COLUMNS.replace('i.', '')}",
            (pk,),
        )[0]
        lines = db.rows(
            f"SELECT {ITEM_COLUMNS}, p.track_stock, p.allow_negative_stock, "
            "(SELECT coalesce(json_agg(json_build_array(x.tax_id, x.name, x.rate::text, "
            f"x.amount::text) ORDER BY x.id), '[]')::text FROM \"{schema}\".billing_invoiceitemtax"
            " x WHERE x.item_id = it.id) "
            f'FROM "{schema}".billing_invoiceitem it '
            f'JOIN "{schema}".inventory_product p ON p.id = it.product_id '
            "WHERE it.invoice_id = %s ORDER BY it.id",
            (pk,),
        )
        moved = [(line[1], line[3]) for line in lines if line[11]]
        negative = {line[1]: line[12] for line in lines}
        stock_move(db, schema, caller, moved, negative, "return", row[4], pk)
        answer = invoice(row, dt.datetime.now(dt.UTC).date())
        answer["items"] = [
            item(
                line,
                taxes=[
                    line_tax(t, name, Decimal(rate), Decimal(amount))
                    for t, name, rate, amount in json.loads(line[13])
                ],
            )
            for line in lines
        ]
        event_record(db, schema, "invoice.cancelled", answer)


def stock_move(
    db: Counted,
    schema: str,
    caller: Caller,
    moves: list[tuple[int, Decimal]],
    negative_allowed: dict[int, bool],
    kind: str,
    reference: str,
    invoice_id: int,
) -> None:
    """The levels locked in id order (as ``stock_apply`` takes them, against deadlocks), a
    shortage refused, one movement per line and the levels written: three statements."""
    if not moves:
        return
    levels = {
        product_id: (pk, quantity)
        for pk, product_id, quantity in db.rows(
            f'SELECT id, product_id, quantity FROM "{schema}".inventory_stocklevel '
            "WHERE workspace_id = %s AND product_id = ANY(%s) ORDER BY id FOR UPDATE",
            (caller.workspace_id, [product_id for product_id, _ in moves]),
        )
    }
    rows, after = [], {}
    for product_id, change in moves:
        level, before = levels[product_id]
        before = after.get(level, before)
        after[level] = before + change
        if after[level] < 0 and not negative_allowed[product_id]:
            raise HttpError(422, "Not enough stock.")
        rows.append((product_id, change, before, after[level]))
    db.execute(
        f'INSERT INTO "{schema}".inventory_stockmovement (product_id, workspace_id, type, '
        "quantity, quantity_before, quantity_after, unit_cost, reason, reference, notes, "
        "invoice_id, transfer_id, adjustment_id, created_by_id, created_at, updated_at) "
        "SELECT p, %s, %s, q, b, a, NULL, '', %s, '', %s, NULL, NULL, %s, now(), now() "
        "FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::numeric[]) "
        "AS m(p, q, b, a)",
        (caller.workspace_id, kind, reference, invoice_id, caller.user_id, *columns(rows)),
    )
    db.execute(
        f'UPDATE "{schema}".inventory_stocklevel l SET quantity = n.q, updated_at = now() '
        "FROM unnest(%s::bigint[], %s::numeric[]) AS n(id, q) WHERE l.id = n.id",
        (list(after), list(after.values())),
    )


def columns(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows as one list per column: the arrays an ``INSERT ... SELECT FROM unnest`` takes."""
    return [list(column) for column in zip(*rows, strict=True)]


def event_record(db: Counted, schema: str, kind: str, payload: dict) -> None:
    """The outbox row of the change, in its transaction; the bench tenant has no webhook
    subscriptions, and the floor delivers none (it refuses to run where some would)."""
    db.execute(
        f'INSERT INTO "{schema}".optiflow_event (public_id, type, payload, workspace_ids, '
        "created_at) VALUES (%s, %s, %s::jsonb, %s, now())",
        (f"evt_{uuid.uuid4().hex}", kind, json.dumps(payload), [payload["workspace_id"]]),
    )
    subscribed = db.rows(
        f'SELECT id FROM "{schema}".webhooks_webhooksubscription WHERE is_active '
        "AND (events @> ARRAY[%s]::varchar[] OR events @> ARRAY['*']::varchar[])",
        (kind,),
    )
    if subscribed:
        raise HttpError(500, "The floor does not deliver webhooks.")


# --- tenants and callers --------------------------------------------------------------------


class Tenant:
    def __init__(self, schema: str, currency: str) -> None:
        self.schema, self.currency = schema, currency


class Caller:
    def __init__(self, user_id: int, workspace_id: int | None) -> None:
        self.user_id, self.workspace_id = user_id, workspace_id


tenants: dict[str, Tenant] = {}


def tenant_of(db: Counted, slug: str) -> Tenant:
    if slug not in tenants:
        rows = db.rows(
            "SELECT schema_name, currency FROM public.tenants_tenant WHERE slug = %s", (slug,)
        )
        if not rows:
            raise HttpError(404, "Tenant not found.")
        tenants[slug] = Tenant(*rows[0])
    return tenants[slug]


def authenticate(
    db: Counted, schema: str, header: str, workspace: str | None, permission: str
) -> Caller:
    """The token by id and digest, its user, and the membership in the request's workspace,
    in one query; then SPEC §4's rule: a tenant admin holds everything, an owner or admin
    everything but the cross-workspace permissions, a member their list; the token's
    abilities cut it down."""
    scheme, _, credentials = header.partition(" ")
    token_id, _, secret = credentials.strip().partition("|")
    if scheme.lower() != "bearer" or not token_id.isdigit() or not secret:
        raise HttpError(401, "Unauthenticated.")
    if workspace is not None and not workspace.isdigit():
        raise HttpError(400, "X-Workspace-ID must be a positive integer workspace id.")
    workspace_id = int(workspace) if workspace else None
    rows = db.rows(
        "SELECT t.token_hash, t.abilities::text, u.id, u.is_tenant_admin, w.id, m.role, "
        f'm.permissions::text FROM "{schema}".tenants_apitoken t '
        f'JOIN "{schema}".tenants_user u ON u.id = t.user_id AND u.is_active '
        # Without X-Workspace-ID, the user's current workspace (SPEC §4).
        f'LEFT JOIN "{schema}".tenants_workspace w ON w.id = coalesce(%s, u.current_workspace_id) '
        f'LEFT JOIN "{schema}".tenants_membership m ON m.user_id = u.id AND m.workspace_id = w.id '
        "WHERE t.id = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > "
        "now())",
        (workspace_id, int(token_id)),
    )
    expected = rows[0][0] if rows else "0" * 64
    digest = hashlib.sha256(secret.encode()).hexdigest()
    if not hmac.compare_digest(expected, digest) or not rows:
        raise HttpError(401, "Unauthenticated.")
    _, abilities, user_id, tenant_admin, found, role, granted = rows[0]
    if workspace_id is not None and found is None:
        raise HttpError(404, "Workspace not found.")
    abilities = set(json.loads(abilities))
    if tenant_admin:
        held = True
    elif role in FULL_ROLES:
        held = permission not in CROSS_WORKSPACE or permission in json.loads(granted)
    else:
        held = role is not None and permission in json.loads(granted)
    if not held or not ("*" in abilities or permission in abilities):
        raise HttpError(403, "This action is unauthorized.")
    return Caller(user_id, workspace_id)


# --- WSGI -----------------------------------------------------------------------------------

local = threading.local()


def connection() -> psycopg.Connection:
    """One connection per worker thread, kept for the process's life (autocommit: each read
    is its own statement, each write its own transaction)."""
    if getattr(local, "connection", None) is None or local.connection.closed:
        local.connection = psycopg.connect(os.environ["FLOOR_DATABASE_URL"], autocommit=True)
    return local.connection


def route(environ: dict, db: Counted, rest: str, tenant: Tenant) -> tuple[int, Any]:
    method = environ["REQUEST_METHOD"]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    header = environ.get("HTTP_AUTHORIZATION", "")
    workspace = environ.get("HTTP_X_WORKSPACE_ID")
    schema = tenant.schema
    url = (
        f"{environ.get('wsgi.url_scheme', 'http')}://{environ['HTTP_HOST']}"
        f"{environ['PATH_INFO']}"
        + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
    )

    def caller(permission: str, *, workspace_scoped: bool = False) -> Caller:
        found = authenticate(db, schema, header, workspace, permission)
        if workspace_scoped and found.workspace_id is None:
            raise HttpError(403, "No workspace selected.")
        return found

    detail = PRODUCT_DETAIL.match(rest)
    if method == "GET" and detail:
        caller("products:view")
        return 200, product_detail(db, schema, int(detail["id"]))
    if method == "GET" and rest == "/products":
        caller("products:view")
        return 200, product_list(db, schema, Page(url, query))
    if method == "GET" and rest == "/stock-levels":
        found = caller("inventory:view", workspace_scoped=True)
        return 200, stock_level_list(db, schema, Page(url, query), found.workspace_id)
    if method == "GET" and rest == "/invoices":
        found = caller("invoices:view", workspace_scoped=True)
        today = dt.datetime.now(dt.UTC).date()
        return 200, invoice_list(db, schema, Page(url, query), found.workspace_id, today)
    if method == "POST" and rest == "/invoices":
        found = caller("invoices:create", workspace_scoped=True)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length))
        except ValueError:
            raise HttpError(400, "Malformed JSON.") from None
        return 201, invoice_create(db, tenant, found, body)
    detail = INVOICE_DETAIL.match(rest)
    if method == "DELETE" and detail:
        found = caller("invoices:delete", workspace_scoped=True)
        invoice_void(db, tenant, found, int(detail["id"]))
        return 204, None
    raise HttpError(404, "Not found.")


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    db = Counted(connection())
    match = ROUTE.match(environ["PATH_INFO"])
    try:
        if match is None:
            raise HttpError(404, "Not found.")
        status, body = route(environ, db, match["rest"], tenant_of(db, match["slug"]))
    except HttpError as error:
        status, body = error.status, {"message": error.message}
    payload = b"" if body is None else render(body)
    headers = [("Content-Length", str(len(payload))), ("X-Statements", str(db.count))]
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    start_response(f"{status} {STATUS_TEXT.get(status, 'Status')}", headers)
    return [payload]


STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
}
