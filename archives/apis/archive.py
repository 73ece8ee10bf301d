"""REST API: a household's archive checklist (API.md `households/{id}/archive/`), scoped like the
page: a household outside the user's area answers 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..checklist import checklist


class ArchiveDocumentSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    original_name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    pages = serializers.IntegerField()
    note = serializers.CharField()
    uploaded_at = serializers.DateTimeField()
    uploaded_by = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, doc) -> str:
        from django.urls import reverse

        return reverse("archives:document_file", args=[doc.pk])


class ArchivePhotoSerializer(serializers.Serializer):
    url = serializers.CharField()
    uploaded_at = serializers.DateTimeField(source="when")
    uploaded_by = serializers.CharField(source="by")


class ArchiveRowSerializer(serializers.Serializer):
    item = serializers.CharField()
    label = serializers.CharField()
    loan = serializers.IntegerField(source="loan.pk", allow_null=True, default=None)
    application = serializers.IntegerField(source="application.pk", allow_null=True, default=None)
    status = serializers.ChoiceField(choices=["present", "generated", "missing"])
    when = serializers.SerializerMethodField()
    by = serializers.CharField(allow_null=True)
    documents = ArchiveDocumentSerializer(many=True)
    photos = ArchivePhotoSerializer(many=True)

    def get_when(self, row) -> str | None:
        return row.when.isoformat() if row.when else None


class ArchiveSerializer(serializers.Serializer):
    household = serializers.IntegerField()
    complete = serializers.BooleanField()
    missing = serializers.IntegerField()
    items = ArchiveRowSerializer(many=True)


class HouseholdArchiveApi(APIView):
    @extend_schema(responses=ArchiveSerializer, summary="The household's archive checklist")
    def get(self, request, pk):
        household = selectors.archive_household(user=request.user, pk=pk)
        rows = checklist(household)
        missing = sum(1 for row in rows if row.status == "missing")
        data = {"household": household.pk, "complete": missing == 0, "missing": missing, "items": rows}
        return Response(ArchiveSerializer(data).data)
