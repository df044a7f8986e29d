"""Records referenced by documents are deactivated, not deleted: the documents' protecting
foreign keys refuse the delete endpoints of contacts, products, taxes and workspaces, with the
reasons billing's models declare (SPEC §4, §8.1-§8.4; ``optiflow.deletion``)."""

from __future__ import annotations

import pytest

from billing.models import DocumentSeries
from optiflow.deletion import delete_or_refuse
from optiflow.errors import RecordInUse
from tests.billing.factories import item, make_invoice, make_quotation
from tests.contacts.factories import ContactFactory
from tests.inventory.factories import ProductFactory, TaxFactory


def test_a_contact_with_documents_cannot_be_deleted(api, owner, main, customer, widget):
    make_quotation(workspace=main, actor=owner, contact=customer, items=[item(widget)])
    unused = ContactFactory()

    response = api.delete(f"/contacts/{customer.pk}")

    assert response.status_code == 422
    assert response.json()["message"] == (
        "The contact has quotations, invoices or payments; set it inactive instead."
    )
    assert api.delete(f"/contacts/{unused.pk}").status_code == 204


def test_a_product_on_a_document_line_cannot_be_deleted(api, owner, main, customer):
    quoted = ProductFactory()
    make_quotation(workspace=main, actor=owner, contact=customer, items=[item(quoted)])

    response = api.delete(f"/products/{quoted.pk}")

    assert response.status_code == 422
    assert response.json()["message"] == "The product is on document lines; deactivate it instead."
    assert api.delete(f"/products/{ProductFactory().pk}").status_code == 204


def test_a_tax_on_a_document_line_cannot_be_deleted(api, owner, main, customer, gadget):
    levy = TaxFactory(name="Levy")
    make_invoice(
        workspace=main, actor=owner, contact=customer, items=[item(gadget, tax_ids=[levy.pk])]
    )

    response = api.delete(f"/taxes/{levy.pk}")

    assert response.status_code == 422
    assert response.json()["message"] == "The tax is used on document lines; deactivate it instead."


def test_a_workspace_holding_documents_cannot_be_deleted(api, owner, branch, customer):
    make_quotation(workspace=branch, actor=owner, contact=customer, items=[item(ProductFactory())])

    response = api.delete(f"/workspaces/{branch.pk}")

    assert response.status_code == 422
    assert response.json()["message"] == "The workspace holds quotations or invoices."


def test_a_reference_without_a_declared_reason_is_still_refused_in_words(owner, main, customer):
    """Series are never deleted through the API; a script deleting a used one is told why."""
    invoice = make_invoice(
        workspace=main, actor=owner, contact=customer, items=[item(ProductFactory())], draft=True
    )

    with pytest.raises(RecordInUse) as refused:
        delete_or_refuse(invoice.document_series)

    assert refused.value.message == "The document series is used by invoices."
    assert DocumentSeries.objects.filter(pk=invoice.document_series_id).exists()
