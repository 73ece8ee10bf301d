"""REST API for the existing-loan import (API.md `loan-imports/`). The work is in
services/imports.py; this view takes the upload and answers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from ..services import imports as loan_imports


class LoanImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=gettext_lazy("The bank's list of existing loans, CSV or XLSX."))


class LoanImportApi(GenericAPIView):
    """Existing loans (存量贷款) from the bank's CSV or XLSX: every row is checked; all or nothing."""

    parser_classes = [MultiPartParser]
    serializer_class = LoanImportInputSerializer

    @extend_schema(
        parameters=[OpenApiParameter("dry_run", bool, description="Check only; answer the counts.")],
        request={"multipart/form-data": LoanImportInputSerializer},
        responses={
            201: inline_serializer("LoanImportCreated", {"created": serializers.IntegerField()}),
            200: inline_serializer(
                "LoanImportDryRun",
                {
                    "dry_run": serializers.BooleanField(),
                    "rows": serializers.IntegerField(),
                    "loans": serializers.IntegerField(),
                    "settled": serializers.IntegerField(),
                    "amount": serializers.CharField(),
                    "outstanding": serializers.CharField(),
                    "warnings": serializers.ListField(child=serializers.DictField()),
                },
            ),
        },
    )
    def post(self, request):
        loan_imports.check_import_allowed(request.user)
        data = LoanImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if request.query_params.get("dry_run") in ("1", "true", "yes"):
            preview = loan_imports.parse_loans(upload, upload.name, user=request.user)
            if preview.errors:
                raise loan_imports.LoanImportRejected(preview)
            return Response(
                {"dry_run": True, **preview.counts(), "warnings": loan_imports.error_rows(preview.warnings)}
            )
        created = loan_imports.import_loans(acting_user=request.user, file=upload, filename=upload.name)
        return Response({"created": created}, status=status.HTTP_201_CREATED)
