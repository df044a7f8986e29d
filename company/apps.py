from django.apps import AppConfig


class CompanyConfig(AppConfig):
    name = "company"
    verbose_name = "Company profile"

    def ready(self) -> None:
        from company.services import company_provision
        from tenants.services import PROVISIONING_HOOKS

        PROVISIONING_HOOKS.append(company_provision)
