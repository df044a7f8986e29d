from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from billing.selectors import contact_balances_annotate
        from billing.services.numbering import document_series_provision
        from contacts.selectors import CONTACT_INCLUDE_FIGURES, ContactFigures
        from tenants.services import PROVISIONING_HOOKS

        PROVISIONING_HOOKS.append(document_series_provision)
        CONTACT_INCLUDE_FIGURES["balance"] = ContactFigures(
            permission="invoices:view", annotate=contact_balances_annotate
        )
