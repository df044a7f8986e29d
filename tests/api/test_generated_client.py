"""SPEC §10: a client generated from the live OpenAPI document works unmodified.

The schema is fetched from a tenant address and ``openapi-python-client`` (pinned in
``requirements.txt``) turns it into a package in a temporary directory. The generator reports
every endpoint or model it cannot express as a warning; any warning fails the test, so the
schema stays within what generated clients understand. A whole business flow then runs through
the package's typed functions, with no hand-written HTTP: a contact, a tax, a product with
initial stock, an issued invoice, a partial payment, the invoice read back with
``include=items.product`` (totals, amount paid and due, status, embedded product) and the stock
level after the sale. Refusals parse as the ``Error`` / ``ValidationError`` models, and list
parameters (``page``, ``per_page``, ``after``, ``filter[...]``, ``sort``, ``include``, the
``X-Workspace-ID`` header) are plain function arguments; a quantity may be a number.

Every parsed body is also searched for fields the schema does not declare, and an undocumented
status code raises (``raise_on_unexpected_status``): the document must describe what the server
really sends. Requests go through the project's WSGI application over ``httpx.WSGITransport``
(the full middleware stack, path-prefix tenant addressing, bearer tokens), inside the test's
transaction, so the writes roll back like any other test's.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import httpx
import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from pypdf import PdfReader

from tests.billing.factories import item, make_invoice
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import ProductFactory

PACKAGE = "optiflow_client"
FILE_TYPES = dict.fromkeys(["application/pdf", "application/zip"], "application/octet-stream")
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
BASE_URL = "http://testserver/t/acme"


class Generated:
    """The generated package: ``api("invoices.invoices_list")`` is an endpoint's module."""

    def __init__(self) -> None:
        self.package = importlib.import_module(PACKAGE)
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.unset = importlib.import_module(f"{PACKAGE}.types").UNSET
        self.file = importlib.import_module(f"{PACKAGE}.types").File

    def api(self, dotted: str) -> ModuleType:
        return importlib.import_module(f"{PACKAGE}.api.{dotted}")


@pytest.fixture(scope="module")
def generated(provisioned, django_db_blocker, tmp_path_factory) -> Iterator[Generated]:
    with django_db_blocker.unblock():
        response = Client().get("/t/acme/api/v1/schema", {"format": "json"})
    assert response.status_code == 200, response.content
    root = tmp_path_factory.mktemp("generated_client")
    (root / "schema.json").write_bytes(response.content)
    # The generator reads only JSON, text and `application/octet-stream` bodies; its own
    # setting maps the API's files (`format: binary`) to bytes (README, "Documents as PDF").
    (root / "config.json").write_text(json.dumps({"content_type_overrides": FILE_TYPES}))
    # The generator formats its output with `ruff` (post-hooks) and warns when ruff is not on
    # PATH; the project's pinned ruff sits next to the interpreter.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [
        GENERATOR,
        "generate",
        "--path",
        "schema.json",
        "--output-path",
        PACKAGE,
        "--config",
        "config.json",
    ]
    result = subprocess.run(
        [*command, "--meta", "none", "--fail-on-warning"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warning" not in output.lower(), output

    sys.path.insert(0, str(root))
    try:
        yield Generated()
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


@pytest.fixture
def transport(tenant) -> Iterator[httpx.WSGITransport]:
    """HTTP into the project's WSGI application. As Django's test client does, keep the request
    signals from closing the connection in the middle of the test's transaction."""
    from optiflow.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield httpx.WSGITransport(app=application)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def optiflow(generated, tenant, transport):
    """The generated ``AuthenticatedClient`` of the tenant owner."""
    return generated.package.AuthenticatedClient(
        base_url=BASE_URL,
        token=tenant.token,
        raise_on_unexpected_status=True,
        httpx_args={"transport": transport},
    )


def undeclared_fields(value: Any, path: str = "") -> list[str]:
    """Paths of fields in a parsed body that the schema does not declare (the generated models
    keep those in ``additional_properties``). Models that are maps by design, with no declared
    field (``ValidationError.errors``, ``metadata``), hold arbitrary keys."""
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in undeclared_fields(item, f"{path}{i}.")]
    if not attrs.has(type(value)):
        return []
    declared = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
    found = [path + key for key in value.additional_properties] if declared else []
    for name in declared:
        found += undeclared_fields(getattr(value, name), f"{path}{name}.")
    return found


def parsed(response, model: type, status: int) -> Any:
    """The typed body of a generated ``Response``, checked for its status, its model and
    fields the schema leaves out."""
    assert response.status_code == status, response.content
    assert isinstance(response.parsed, model), (type(response.parsed), response.content)
    assert undeclared_fields(response.parsed) == [], response.content
    return response.parsed


def stock_level(generated: Generated, optiflow, product_id: int):
    models = generated.models
    levels = parsed(
        generated.api("stock_levels.stock_levels_list").sync_detailed(
            client=optiflow, filterproduct_id=str(product_id), include="product"
        ),
        models.PaginatedStockLevelList,
        200,
    )
    [level] = levels.data
    assert level.product.id == product_id
    return level


def test_business_flow_through_the_generated_client(generated, optiflow):
    models = generated.models
    me = parsed(
        generated.api("me.me_retrieve").sync_detailed(client=optiflow),
        models.MeEnvelope,
        200,
    ).data
    workspace_id = me.current_workspace.id

    contact = parsed(
        generated.api("contacts.contacts_create").sync_detailed(
            client=optiflow,
            body=models.ContactWriteRequest(
                name="Northwind Traders",
                contact_type=models.ContactTypeEnum.CUSTOMER,
                email="buyer@northwind.test",
            ),
        ),
        models.ContactEnvelope,
        201,
    ).data
    assert (contact.status, contact.credit_limit) == (models.ContactStatusEnum.ACTIVE, "0.00")

    tax = parsed(
        generated.api("taxes.taxes_create").sync_detailed(
            client=optiflow, body=models.TaxWriteRequest(name="VAT 18", rate="18.00")
        ),
        models.TaxEnvelope,
        201,
    ).data

    product = parsed(
        generated.api("products.products_create").sync_detailed(
            client=optiflow,
            include="stock",
            body=models.ProductCreateRequest(
                name="Espresso machine",
                sku="ESP-100",
                price="25.00",
                cost="15.00",
                default_tax_id=tax.id,
                initial_stock=[
                    models.ProductInitialStockRequest(workspace_id=workspace_id, quantity="10")
                ],
            ),
        ),
        models.ProductEnvelope,
        201,
    ).data
    assert (product.product_type, product.track_stock) == (models.ProductTypeEnum.PHYSICAL, True)
    assert (product.profit, product.stock.quantity) == ("10.00", "10.00")
    before = stock_level(generated, optiflow, product.id)
    assert before.quantity == "10.00"

    invoice = parsed(
        generated.api("invoices.invoices_create").sync_detailed(
            client=optiflow,
            x_workspace_id=workspace_id,
            body=models.InvoiceCreateRequest(
                contact_id=contact.id,
                items=[
                    models.DocumentItemInputRequest(
                        product_id=product.id, quantity=3, discount_rate="10"
                    )
                ],
            ),
        ),
        models.InvoiceEnvelope,
        201,
    ).data
    assert invoice.status == models.InvoiceStatusEnum.PENDING_PAYMENT
    assert (invoice.document_number, invoice.amount_due) == ("INV-0001", "79.65")

    payment = parsed(
        generated.api("invoices.invoices_payments_create").sync_detailed(
            id=invoice.id,
            client=optiflow,
            body=models.PaymentInputRequest(
                amount="50.00", method=models.MethodEnum.BANK_TRANSFER, reference="TRX-1"
            ),
        ),
        models.PaymentEnvelope,
        201,
    ).data
    assert (payment.payment_number, payment.status) == (
        "PAY-0001",
        models.PaymentStatusEnum.COMPLETED,
    )
    assert (payment.invoice_id, payment.contact_id) == (invoice.id, contact.id)

    retrieve = generated.api("invoices.invoices_retrieve").sync_detailed
    assert inspect.signature(retrieve).parameters["id"].annotation is int  # ids are integers
    read = parsed(
        retrieve(id=invoice.id, client=optiflow, include="items.product"),
        models.InvoiceEnvelope,
        200,
    ).data
    # 3 × 25.00 = 75.00; 10 % off: 7.50; 18 % of 67.50: 12.15; total 75.00 − 7.50 + 12.15.
    assert (read.subtotal_amount, read.discount_amount) == ("75.00", "7.50")
    assert (read.tax_amount, read.total_amount) == ("12.15", "79.65")
    assert (read.amount_paid, read.amount_due) == ("50.00", "29.65")
    assert read.status == models.InvoiceStatusEnum.PARTIALLY_PAID
    assert (read.contact_id, read.workspace_id) == (contact.id, workspace_id)
    assert read.is_overdue is False
    [item] = read.items
    assert (item.quantity, item.unit_price, item.discount_rate) == ("3.00", "25.00", "10.00")
    assert (item.subtotal, item.discount_amount, item.total) == ("75.00", "7.50", "79.65")
    assert isinstance(item.product, models.Product)
    assert (item.product_id, item.product.id, item.product.name) == (
        product.id,
        product.id,
        "Espresso machine",
    )
    assert item.product.category is generated.unset  # `items.product.category` not requested
    [line_tax] = item.taxes  # a detail always embeds its lines' taxes
    assert (line_tax.tax_id, line_tax.rate, line_tax.amount) == (tax.id, "18.00", "12.15")

    payments = parsed(
        generated.api("invoices.invoices_payments_list").sync_detailed(
            id=invoice.id, client=optiflow
        ),
        models.PaginatedPaymentList,
        200,
    )
    assert [(p.id, p.amount) for p in payments.data] == [(payment.id, "50.00")]

    after = stock_level(generated, optiflow, product.id)
    assert after.id == before.id
    assert Decimal(after.quantity) == Decimal(before.quantity) - Decimal(item.quantity)
    assert after.quantity == "7.00"


def test_refusals_parse_as_the_error_models(generated, optiflow, tenant, transport):
    models = generated.models
    contact = (
        generated.api("contacts.contacts_create")
        .sync(
            client=optiflow,
            body=models.ContactWriteRequest(name="Buyer", contact_type=models.ContactTypeEnum.BOTH),
        )
        .data
    )
    product = (
        generated.api("products.products_create")
        .sync(
            client=optiflow,
            body=models.ProductCreateRequest(
                name="Grinder",
                sku="GR-1",
                price="40.00",
                initial_stock=[
                    models.ProductInitialStockRequest(
                        workspace_id=tenant.workspace.id, quantity="2"
                    )
                ],
            ),
        )
        .data
    )

    shortage = parsed(
        generated.api("invoices.invoices_create").sync_detailed(
            client=optiflow,
            body=models.InvoiceCreateRequest(
                contact_id=contact.id,
                items=[models.DocumentItemInputRequest(product_id=product.id, quantity="5")],
            ),
        ),
        models.ValidationError,
        422,
    )
    assert shortage.message == "Insufficient stock."
    assert isinstance(shortage.errors, models.ValidationErrorErrors)
    assert list(shortage.errors.additional_properties) == ["items.0.quantity"]
    [reason] = shortage.errors["items.0.quantity"]
    assert "2.00" in reason  # the available quantity
    assert stock_level(generated, optiflow, product.id).quantity == "2.00"

    invalid = parsed(
        generated.api("contacts.contacts_create").sync_detailed(
            client=optiflow,
            body=models.ContactWriteRequest(
                name="", contact_type=models.ContactTypeEnum.CUSTOMER, email="not-an-email"
            ),
        ),
        models.ValidationError,
        422,
    )
    assert set(invalid.errors.additional_properties) == {"name", "email"}
    assert all(isinstance(message, str) for message in invalid.errors["email"])

    missing = parsed(
        generated.api("invoices.invoices_retrieve").sync_detailed(id=999999, client=optiflow),
        models.Error,
        404,
    )
    assert missing.message

    anonymous = generated.package.Client(base_url=BASE_URL, httpx_args={"transport": transport})
    health = generated.api("health.health_retrieve").sync_detailed(client=anonymous)
    parsed(health, models.HealthEnvelope, 200)
    wrong_token = generated.package.AuthenticatedClient(
        base_url=BASE_URL, token="1|wrong", httpx_args={"transport": transport}
    )
    refused = parsed(
        generated.api("me.me_retrieve").sync_detailed(client=wrong_token), models.Error, 401
    )
    assert refused.message == "Unauthenticated."


def test_list_parameters_page_filter_sort_and_include(generated, optiflow, tenant):
    models = generated.models
    contact = (
        generated.api("contacts.contacts_create")
        .sync(
            client=optiflow,
            body=models.ContactWriteRequest(
                name="Buyer", contact_type=models.ContactTypeEnum.CUSTOMER
            ),
        )
        .data
    )
    service = (
        generated.api("products.products_create")
        .sync(
            client=optiflow,
            body=models.ProductCreateRequest(
                name="Consulting hour",
                sku="SVC-1",
                price="100.00",
                product_type=models.ProductTypeEnum.SERVICE,
            ),
        )
        .data
    )
    for quantity, status in [("1", None), ("2", None), ("3", None), ("4", "draft")]:
        body = models.InvoiceCreateRequest(
            contact_id=contact.id,
            items=[models.DocumentItemInputRequest(product_id=service.id, quantity=quantity)],
        )
        if status:
            body.status = models.InvoiceCreateStatusEnum(status)
        generated.api("invoices.invoices_create").sync(client=optiflow, body=body)

    page = parsed(
        generated.api("invoices.invoices_list").sync_detailed(
            client=optiflow,
            x_workspace_id=tenant.workspace.id,
            page=2,
            per_page=2,
            filterstatus="pending_payment,partially_paid",
            filtercontact_id=str(contact.id),
            sort="-total_amount",
            include="contact,items",
        ),
        models.PaginatedInvoiceList,
        200,
    )
    assert (page.meta.total, page.meta.current_page, page.meta.last_page) == (3, 2, 2)
    assert (page.meta.per_page, page.meta.from_, page.meta.to) == (2, 3, 3)
    [cheapest] = page.data
    assert (cheapest.total_amount, cheapest.contact.name) == ("100.00", "Buyer")
    assert [item.quantity for item in cheapest.items] == ["1.00"]
    assert page.links.next_ is None
    assert page.links.prev.startswith(f"{BASE_URL}/api/v1/invoices?")

    drafts = generated.api("invoices.invoices_list").sync(client=optiflow, filterstatus="draft")
    assert [row.status for row in drafts.data] == [models.InvoiceStatusEnum.DRAFT]
    assert drafts.data[0].items is generated.unset  # `items` not requested on a list

    # Cursor pages (`after=` from the start) through the same function.
    walked = parsed(
        generated.api("invoices.invoices_list").sync_detailed(
            client=optiflow,
            after="",
            per_page=2,
            sort="-total_amount",
            filterstatus="pending_payment,partially_paid",
        ),
        models.PaginatedInvoiceList,
        200,
    )
    assert isinstance(walked.meta, models.CursorMeta) and walked.meta.has_more is True
    assert [row.total_amount for row in walked.data] == ["300.00", "200.00"]
    assert walked.links.next_.startswith(f"{BASE_URL}/api/v1/invoices?")

    unknown = parsed(
        generated.api("invoices.invoices_list").sync_detailed(client=optiflow, sort="colour"),
        models.Error,
        400,
    )
    assert "colour" in unknown.message

    workspaces = parsed(
        generated.api("workspaces.workspaces_list").sync_detailed(client=optiflow),
        models.WorkspaceListEnvelope,
        200,
    )
    assert [w.id for w in workspaces.data] == [tenant.workspace.id]  # not paginated


def test_documents_come_back_as_bytes(generated, optiflow, tenant):
    contact = ContactFactory(name="Ærøskøbing Ελληνικά Кириллица")
    service = ProductFactory(product_type="service", track_stock=False)
    invoice = make_invoice(
        workspace=tenant.workspace, actor=tenant.owner, contact=contact, items=[item(service)]
    )

    pdf = generated.api("invoices.invoices_pdf_retrieve").sync_detailed(
        id=invoice.pk, client=optiflow
    )
    archive = generated.api("invoices.invoices_pdf_create").sync_detailed(
        client=optiflow, body=generated.models.DocumentIdsRequest(ids=[invoice.pk])
    )

    assert pdf.status_code == 200 and isinstance(pdf.parsed, generated.file)
    content = pdf.parsed.payload.read()
    [page] = PdfReader(BytesIO(content)).pages
    assert invoice.document_number in page.extract_text()
    assert contact.name in page.extract_text()
    assert archive.status_code == 200 and isinstance(archive.parsed, generated.file)
    with zipfile.ZipFile(archive.parsed.payload) as files:
        assert files.read(f"{invoice.document_number}.pdf") == content
