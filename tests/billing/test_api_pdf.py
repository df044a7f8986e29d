"""Invoices and quotations as PDF (SPEC §8.11): what the document shows, read back from the
PDF's own text (pypdf) and compared with the JSON detail; long documents; names in Greek and
Cyrillic; status marks; the ZIP of several; bad input; errors that stay JSON; scoping and
permissions as the detail endpoint's; queries that do not grow with lines or documents."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from decimal import Decimal
from io import BytesIO

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from billing.services.invoices import invoice_void
from billing.services.payments import payment_create
from company.selectors import company_get
from company.services import company_update
from tests.billing.factories import item, make_invoice, make_quotation
from tests.company.images import image_bytes
from tests.contacts.factories import AddressFactory, ContactFactory
from tests.factories import FORBIDDEN, errors
from tests.inventory.factories import ProductFactory, TaxFactory

D = Decimal
PDF = "application/pdf"


def pages(content: bytes) -> list[str]:
    """The text of each page, as a PDF reader extracts it."""
    return [page.extract_text() for page in PdfReader(BytesIO(content)).pages]


def dollars(amount: str | Decimal) -> str:
    """An amount as the documents write US dollars, computed apart from the code under test."""
    value = D(amount)
    return ("-" if value < 0 else "") + "$" + format(abs(value), ",.2f")


def shows(text: str, label: str, amount: str | Decimal) -> bool:
    """Whether ``label`` is followed by ``amount`` (same row of a table) in ``text``."""
    return re.search(rf"{re.escape(label)}\s+{re.escape(dollars(amount))}", text) is not None


@pytest.fixture
def service(tenant):
    """A product without stock tracking: any quantity can be invoiced."""
    return ProductFactory(
        name="Consulting hour", product_type="service", track_stock=False, price=D("120.00")
    )


# --- what the document shows ----------------------------------------------------------------


def test_the_pdf_shows_what_the_json_detail_shows(api, customer, widget, gadget, vat):
    levy = TaxFactory(name="Eco levy", rate="2.50")
    AddressFactory(
        contact=customer,
        type="billing",
        line1="7 Quay Street",
        city="Cork",
        country="Ireland",
        is_primary=True,
    )
    created = api.post(
        "/invoices",
        {
            "contact_id": customer.pk,
            "items": [
                item(widget, 3, discount_rate="10"),
                item(gadget, 2, tax_ids=[vat.pk, levy.pk], discount_amount="5.00"),
                item(widget, 1, unit_price="1234.56", description='Widget "deluxe" <b>&</b> co'),
            ],
            "payment_term": "Net 30",
            "notes": "Deliver to the back door.\nCall first.",
            "payment": {"amount": "20.00", "method": "bank_transfer"},
        },
    )
    assert created.status_code == 201, created.content
    invoice = api.get(f"/invoices/{created.json()['data']['id']}").json()["data"]

    response = api.get(f"/invoices/{invoice['id']}/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == PDF
    assert response["Content-Disposition"] == f'inline; filename="{invoice["document_number"]}.pdf"'
    [text] = pages(response.content)
    assert "INVOICE" in text and invoice["document_number"] in text
    assert customer.name in text and "7 Quay Street" in text and "Cork" in text
    for line in invoice["items"]:
        assert line["description"] in text
        assert dollars(line["total"]) in text
    assert shows(text, "Subtotal", invoice["subtotal_amount"])
    assert shows(text, "Discount", -D(invoice["discount_amount"]))
    taxes: dict[str, Decimal] = {}
    for line in invoice["items"]:
        for tax in line["taxes"]:
            taxes[tax["name"]] = taxes.get(tax["name"], D(0)) + D(tax["amount"])
    assert set(taxes) == {"VAT", "Eco levy"}
    assert shows(text, "VAT 18%", taxes["VAT"]) and shows(text, "Eco levy 2.5%", taxes["Eco levy"])
    assert shows(text, "Total", invoice["total_amount"])
    assert shows(text, "PAY-0001", "-20.00")
    assert shows(text, "Amount due", invoice["amount_due"])
    assert "Net 30" in text and "Deliver to the back door." in text and "Call first." in text
    assert "Page 1/1" in text


def test_the_detail_url_answers_the_same_pdf_to_accept_application_pdf(api, customer, widget):
    invoice = api.post("/invoices", {"contact_id": customer.pk, "items": [item(widget)]})
    path = f"/invoices/{invoice.json()['data']['id']}"

    as_pdf = api.get(path, headers={"Accept": PDF})
    as_json = api.get(path)

    assert as_pdf.status_code == 200 and as_pdf["Content-Type"] == PDF
    # Rendering is deterministic: the same document gives the same bytes by either URL.
    assert as_pdf.content == api.get(f"{path}/pdf").content
    assert as_json["Content-Type"] == "application/json"
    assert as_json.json()["data"]["id"] == invoice.json()["data"]["id"]
    for response in (as_pdf, as_json):  # caches must keep the two apart
        assert "Accept" in re.split(r",\s*", response["Vary"])
    # The file URL names its representation: an Accept header asking for JSON changes nothing.
    assert api.get(f"{path}/pdf", headers={"Accept": "application/json"})["Content-Type"] == PDF


def test_a_long_invoice_breaks_across_pages_with_the_header_and_numbers_on_each(
    owner, main, customer, service, api
):
    long_name = "Very Long Company Name " * 8  # the one-line running header cuts it short
    company_update(company=company_get(), data={"legal_name": long_name.strip()})
    invoice = make_invoice(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[
            item(service, 1, description=f"Line {n:03d}: consulting, week {n}")
            for n in range(1, 151)
        ],
    )

    texts = pages(api.get(f"/invoices/{invoice.pk}/pdf").content)

    assert len(texts) >= 3
    for number, text in enumerate(texts, start=1):
        assert re.search(r"Description\s+Qty\s+Unit price\s+Discount\s+Tax\s+Amount", text)
        assert f"Page {number}/{len(texts)}" in text
    everything = "\n".join(texts)
    for n in range(1, 151):
        assert everything.count(f"Line {n:03d}: consulting, week {n}") == 1
    assert shows(texts[-1], "Total", invoice.total_amount)
    assert f"Invoice {invoice.document_number} (continued)" in texts[1]
    assert "Very Long Company Name Very Long Company Name Very…" in texts[1]


def test_names_in_accented_latin_greek_and_cyrillic_come_back_intact(api, owner, main, service):
    name = "Ærøskøbing Ελληνικά Кириллица"
    contact = ContactFactory(name=name)
    invoice = make_invoice(
        workspace=main,
        actor=owner,
        contact=contact,
        items=[item(service, description="Čaj, café, Ψωμί, Хлеб")],
    )

    response = api.get(f"/invoices/{invoice.pk}/pdf")

    [text] = pages(response.content)
    assert name in text and "Čaj, café, Ψωμί, Хлеб" in text
    fonts = PdfReader(BytesIO(response.content)).pages[0]["/Resources"]["/Font"].values()
    for font in (reference.get_object() for reference in fonts):
        # Every font is embedded TrueType: the reader's machine needs no fonts of its own.
        assert font["/Subtype"] == "/TrueType" and "/FontFile2" in font["/FontDescriptor"]


def test_free_text_prints_as_written_whatever_it_holds(api, owner, main, service):
    contact = ContactFactory(name="<font size=40>Big</font> & Sons")
    notes = "A" * 3000 + "\nTab\there, bell\x07, emoji 🙂, 汉字, <br/> & done"
    invoice = make_invoice(
        workspace=main,
        actor=owner,
        contact=contact,
        notes=notes,
        items=[item(service, description="<i>not italic</i>")],
    )

    response = api.get(f"/invoices/{invoice.pk}/pdf")

    assert response.status_code == 200
    text = "\n".join(pages(response.content))
    assert "<font size=40>Big</font> & Sons" in text
    assert "<i>not italic</i>" in text and "<br/> & done" in text


def test_status_marks_drafts_cancelled_and_paid_invoices(api, owner, main, customer, service):
    def text(invoice) -> str:
        return "\n".join(pages(api.get(f"/invoices/{invoice.pk}/pdf").content))

    draft = make_invoice(
        workspace=main, actor=owner, contact=customer, items=[item(service)], draft=True
    )
    open_ = make_invoice(workspace=main, actor=owner, contact=customer, items=[item(service)])
    paid = make_invoice(workspace=main, actor=owner, contact=customer, items=[item(service)])
    payment_create(invoice=paid, actor=owner, amount=paid.total_amount, method="cash")
    cancelled = make_invoice(workspace=main, actor=owner, contact=customer, items=[item(service)])
    invoice_void(invoice=cancelled, actor=owner)

    draft_response = api.get(f"/invoices/{draft.pk}/pdf")
    assert draft_response["Content-Disposition"] == f'inline; filename="draft-{draft.pk}.pdf"'
    assert "DRAFT" in text(draft) and f"Draft #{draft.pk}" in text(draft)
    assert "PAID" in text(paid) and "Paid in full" in text(paid)
    assert "CANCELLED" in text(cancelled) and shows(text(cancelled), "Amount due", "0.00")
    assert not {"DRAFT", "PAID", "CANCELLED"} & set(text(open_).split())


def test_a_quotation_prints_its_validity_and_total_without_payments(
    api, owner, main, customer, service
):
    quotation = make_quotation(
        workspace=main,
        actor=owner,
        contact=customer,
        items=[item(service, 2)],
        due_date=dt.date(2099, 1, 31),
    )
    response = api.get(f"/quotations/{quotation.pk}/pdf")
    detail = api.get(f"/quotations/{quotation.pk}").json()["data"]

    assert response["Content-Disposition"] == f'inline; filename="{detail["document_number"]}.pdf"'
    [text] = pages(response.content)
    assert "QUOTATION" in text and detail["document_number"] in text and "DRAFT" in text
    assert "Valid until 31 Jan 2099" in text
    assert shows(text, "Total", detail["total_amount"]) and "Amount due" not in text


LOGOS = {
    "RGBA PNG": image_bytes("PNG", mode="RGBA"),
    "palette PNG": image_bytes("PNG", mode="P"),
    "16-bit PNG, large": image_bytes("PNG", (3000, 1000), mode="I;16"),
    "CMYK JPEG, large": image_bytes("JPEG", (3000, 1000), mode="CMYK"),
    "grey JPEG": image_bytes("JPEG", mode="L"),
}


@pytest.mark.parametrize("logo", LOGOS.values(), ids=LOGOS.keys())
def test_every_logo_the_profile_accepts_prints(api, owner, main, customer, service, logo):
    company_update(company=company_get(), data={"logo": logo})
    invoice = make_invoice(workspace=main, actor=owner, contact=customer, items=[item(service)])

    response = api.get(f"/invoices/{invoice.pk}/pdf")

    assert response.status_code == 200
    [page] = PdfReader(BytesIO(response.content)).pages
    assert len(page.images) == 1


# --- several as a ZIP -----------------------------------------------------------------------


def test_a_zip_holds_each_documents_pdf_named_by_its_number_in_the_order_asked(
    api, owner, main, customer, service
):
    first, second = (
        make_invoice(workspace=main, actor=owner, contact=customer, items=[item(service)])
        for _ in range(2)
    )
    draft = make_invoice(
        workspace=main, actor=owner, contact=customer, items=[item(service)], draft=True
    )

    response = api.post("/invoices/pdf", {"ids": [second.pk, draft.pk, first.pk]})

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="invoices.zip"'
    archive = zipfile.ZipFile(BytesIO(response.content))
    names = [
        f"{second.document_number}.pdf",
        f"draft-{draft.pk}.pdf",
        f"{first.document_number}.pdf",
    ]
    assert archive.namelist() == names
    for name, invoice in zip(names, (second, draft, first), strict=True):
        assert archive.read(name) == api.get(f"/invoices/{invoice.pk}/pdf").content


def test_the_quotation_zip_holds_quotations(api, owner, main, customer, service):
    quotation = make_quotation(workspace=main, actor=owner, contact=customer, items=[item(service)])

    response = api.post("/quotations/pdf", {"ids": [quotation.pk]})

    assert response["Content-Disposition"] == 'attachment; filename="quotations.zip"'
    assert zipfile.ZipFile(BytesIO(response.content)).namelist() == [
        f"{quotation.document_number}.pdf"
    ]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], "This list may not be empty."),
        (list(range(1, 102)), "At most 100 documents at a time."),
        ([1, 1], "An id appears more than once: 1."),
    ],
    ids=["none", "101", "repeated"],
)
def test_a_zip_refuses_a_bad_list_of_ids(api, ids, message):
    response = api.post("/invoices/pdf", {"ids": ids})

    assert response["Content-Type"] == "application/json"
    assert errors(response) == {"ids": [message]}


def test_a_zip_names_the_ids_it_cannot_see_alike_unknown_or_of_another_workspace(
    api, owner, main, branch, customer, service
):
    mine = make_invoice(workspace=main, actor=owner, contact=customer, items=[item(service)])
    elsewhere = make_invoice(workspace=branch, actor=owner, contact=customer, items=[item(service)])

    response = api.post("/invoices/pdf", {"ids": [mine.pk, elsewhere.pk, 999999]})
    typed = api.post("/invoices/pdf", {"ids": [str(mine.pk)]})

    assert errors(response) == {
        "ids": [f"The selected invoices do not exist: {elsewhere.pk}, 999999."]
    }
    assert list(errors(typed)) == ["ids.0"]


# --- errors, permissions, scope -------------------------------------------------------------


def test_errors_stay_json_when_the_client_asked_for_a_pdf(api, member_api):
    for path, headers in [
        ("/invoices/999999/pdf", {}),
        ("/invoices/999999", {"Accept": PDF}),
        ("/quotations/999999/pdf", {"Accept": PDF}),
    ]:
        response = api.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json", path
        assert response.json() == {"message": "Not found."}, path

    anonymous = api.as_token(None).get("/invoices/1/pdf", headers={"Accept": PDF})
    assert anonymous.status_code == 401 and anonymous.json() == {"message": "Unauthenticated."}
    refused = api.post("/invoices/pdf", {"ids": "1"}, headers={"Accept": "application/zip"})
    assert refused["Content-Type"] == "application/json" and list(errors(refused)) == ["ids"]


def test_a_pdf_needs_the_view_permission_of_its_kind(member_api, owner, main, customer, service):
    invoice = make_invoice(workspace=main, actor=owner, contact=customer, items=[item(service)])
    quotations_only = member_api(permissions=["quotations:view"])
    invoices = member_api(permissions=["invoices:view"])

    for request in (
        lambda api: api.get(f"/invoices/{invoice.pk}/pdf"),
        lambda api: api.get(f"/invoices/{invoice.pk}", headers={"Accept": PDF}),
        lambda api: api.post("/invoices/pdf", {"ids": [invoice.pk]}),
    ):
        refused = request(quotations_only)
        assert (refused.status_code, refused.json()) == (403, FORBIDDEN)
        assert request(invoices).status_code == 200


def test_another_workspaces_document_is_not_found(api, owner, branch, customer, service):
    elsewhere = make_invoice(workspace=branch, actor=owner, contact=customer, items=[item(service)])

    assert api.get(f"/invoices/{elsewhere.pk}/pdf").status_code == 404
    in_branch = api.get(f"/invoices/{elsewhere.pk}/pdf", headers={"X-Workspace-ID": str(branch.pk)})
    assert in_branch.status_code == 200


# --- cost -----------------------------------------------------------------------------------


def queries(request) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = request()
    assert response.status_code == 200, response.content
    return len(captured)


def test_queries_do_not_grow_with_lines_or_documents(api, owner, main, service, vat):
    def invoice(lines: int):
        contact = ContactFactory()
        AddressFactory.create_batch(2, contact=contact)
        made = make_invoice(
            workspace=main,
            actor=owner,
            contact=contact,
            items=[item(service, tax_ids=[vat.pk])] * lines,
        )
        payment_create(invoice=made, actor=owner, amount=D("1.00"), method="cash")
        return made

    one, ten = invoice(1), invoice(10)
    few = [invoice(1).pk for _ in range(2)]
    many = [invoice(3).pk for _ in range(6)]
    api.get("/me")  # the token's first use of the test writes its `last_used_at`

    assert queries(lambda: api.get(f"/invoices/{one.pk}/pdf")) == queries(
        lambda: api.get(f"/invoices/{ten.pk}/pdf")
    )
    # The detail URL's JSON read is compiled once (views.detail_query); its PDF loads what it
    # prints with the record (file_queryset), as the file URL does.
    accept_pdf = {"Accept": PDF}
    assert queries(lambda: api.get(f"/invoices/{one.pk}", headers=accept_pdf)) == queries(
        lambda: api.get(f"/invoices/{ten.pk}", headers=accept_pdf)
    )
    assert queries(lambda: api.get(f"/invoices/{ten.pk}", headers=accept_pdf)) == queries(
        lambda: api.get(f"/invoices/{ten.pk}/pdf")
    )
    assert queries(lambda: api.post("/invoices/pdf", {"ids": few})) == queries(
        lambda: api.post("/invoices/pdf", {"ids": many})
    )
