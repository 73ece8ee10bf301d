"""REST API: a household's archive checklist (API.md `households/{id}/archive/`)."""

from django.http import Http404
from rest_framework.views import APIView


class HouseholdArchiveApi(APIView):
    def get(self, request, pk):
        raise Http404
