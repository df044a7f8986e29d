"""``/company`` (SPEC §8.11): the tenant's profile, one record per tenant."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from company import selectors, services
from company.serializers import CompanySerializer, CompanyUpdateSerializer
from optiflow.api.permissions import AUTHENTICATED, permission_table
from optiflow.api.serializers import validated_data
from optiflow.api.views import ApiView


class CompanyView(ApiView):
    """The company as the tenant's invoices and quotations print it: names, tax id, contact
    details, address, logo and the footers of each kind of document. Any user may read it;
    changing it needs `settings:manage`. Provisioning fills `legal_name` with the tenant's
    name."""

    required_permissions = permission_table(get=AUTHENTICATED, patch="settings:manage")

    @extend_schema(responses=CompanySerializer)
    def get(self, request: Request) -> Response:
        return self.envelope(CompanySerializer(selectors.company_get()).data)

    @extend_schema(request=CompanyUpdateSerializer, responses=CompanySerializer)
    def patch(self, request: Request) -> Response:
        """Change the fields sent. `address`, when sent, replaces the whole address (fields
        left out become empty); `logo: null` removes the logo."""
        company = selectors.company_get()
        data = validated_data(CompanyUpdateSerializer(company, data=request.data, partial=True))
        company = services.company_update(company=company, data=data)
        return self.envelope(CompanySerializer(company).data)
