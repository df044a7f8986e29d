from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing.models import Invoice, Payment, Quotation
        from billing.selectors import contact_balances_annotate
        from billing.services import guards
        from billing.services.numbering import document_series_provision
        from billing.views import InvoiceViewSet, PaymentViewSet, QuotationViewSet
        from contacts.selectors import CONTACT_INCLUDE_FIGURES, ContactFigures
        from contacts.services import CONTACT_DELETE_GUARDS
        from inventory.services import PRODUCT_DELETE_GUARDS, TAX_DELETE_GUARDS
        from optiflow.api.views import detail_renderer
        from optiflow.events import EVENT_SOURCES, EventSource
        from tenants.services import PROVISIONING_HOOKS, WORKSPACE_DELETE_GUARDS

        PROVISIONING_HOOKS.append(document_series_provision)
        CONTACT_DELETE_GUARDS.append(guards.contact_has_documents)
        PRODUCT_DELETE_GUARDS.append(guards.product_on_documents)
        TAX_DELETE_GUARDS.append(guards.tax_on_documents)
        WORKSPACE_DELETE_GUARDS.append(guards.workspace_has_documents)
        CONTACT_INCLUDE_FIGURES["balance"] = ContactFigures(
            permission="invoices:view", annotate=contact_balances_annotate
        )
        EVENT_SOURCES[Invoice] = EventSource(
            detail_renderer(InvoiceViewSet), lambda invoice: [invoice.workspace_id]
        )
        EVENT_SOURCES[Quotation] = EventSource(
            detail_renderer(QuotationViewSet), lambda quotation: [quotation.workspace_id]
        )
        EVENT_SOURCES[Payment] = EventSource(
            detail_renderer(PaymentViewSet), lambda payment: [payment.invoice.workspace_id]
        )
