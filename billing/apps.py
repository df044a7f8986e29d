from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing.models import Invoice, Payment, Quotation
        from billing.selectors import contact_balances_annotate
        from billing.services.numbering import document_series_provision
        from billing.views import InvoiceViewSet, PaymentViewSet, QuotationViewSet
        from contacts.selectors import CONTACT_INCLUDE_FIGURES, ContactFigures
        from optiflow.api.views import detail_renderer
        from optiflow.events import EVENT_SOURCES, EventSource
        from tenants.services import PROVISIONING_HOOKS

        PROVISIONING_HOOKS.append(document_series_provision)
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
