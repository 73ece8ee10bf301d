"""REST API: a household's dossier PDF (API.md `households/{id}/archive/dossier.pdf`), scoped
like the page: a household outside the user's area answers 404; every print audited."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.views import APIView

from .. import dossier, selectors


class HouseholdDossierApi(APIView):
    @extend_schema(
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)},
        summary="The household's dossier as one PDF",
    )
    def get(self, request, pk):
        household = selectors.archive_household(user=request.user, pk=pk)
        printed = dossier.dossier_pdf(household, user=request.user, via="api")
        response = HttpResponse(printed.pdf, content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(
            False, dossier.dossier_filename(household)
        )
        response["Cache-Control"] = "private, no-store"
        response["X-Dossier-Pages"] = str(printed.pages)
        return response
