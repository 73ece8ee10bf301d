"""REST API for post-loan checks: the checks due and overdue in the user's area, and recording a
check (multipart with photos, or JSON). The serializers check the shape of the input; the roles,
the classification floor, the lock and the audit are in checks.py. A check outside the user's
area answers 404."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from core.api import FilterSerializer, parse_filters
from core.exceptions import NotPermitted
from core.uploads import PHOTO_MAX_COUNT, PhotoField

from .. import selectors
from ..choices import Classification
from ..models import PostLoanCheck
from ..services import checks


class CheckSerializer(serializers.ModelSerializer):
    contract_no = serializers.CharField(source="loan.contract_no", read_only=True)
    borrower_name = serializers.CharField(source="loan.borrower.name", read_only=True)
    village = serializers.CharField(source="loan.household.village.name", read_only=True)
    days_past_due = serializers.IntegerField(source="loan.days_past_due", read_only=True)
    loan_classification = serializers.CharField(source="loan.classification", read_only=True)
    photos = serializers.SerializerMethodField()

    class Meta:
        model = PostLoanCheck
        fields = [
            "id",
            "loan",
            "contract_no",
            "borrower_name",
            "village",
            "days_past_due",
            "loan_classification",
            "due_on",
            "done_on",
            "officer",
            "funds_as_agreed",
            "findings",
            "classification",
            "classification_reason",
            "photos",
        ]
        read_only_fields = fields

    def get_photos(self, check) -> list[str]:
        return [reverse("loans:check_photo", args=[check.pk, p.pk]) for p in check.photos.all()]


class CheckFilter(FilterSerializer):
    status = serializers.ChoiceField(choices=list(selectors.Status.CHOICES), required=False, allow_blank=True)


class CheckListApi(GenericAPIView):
    """Open checks in the user's area: `status=due` (due within 30 days), `status=overdue` (past
    their due date), or both when no status is given; the earliest due first."""

    serializer_class = CheckSerializer

    @extend_schema(parameters=[CheckFilter], responses=CheckSerializer(many=True))
    def get(self, request):
        filters = parse_filters(CheckFilter, request)
        qs = selectors.checks_due(
            user=request.user, on_date=timezone.localdate(), status=filters.get("status", "")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(CheckSerializer(page, many=True).data)


class CheckRecordInput(serializers.Serializer):
    done_on = serializers.DateField()
    funds_as_agreed = serializers.BooleanField()
    findings = serializers.CharField(allow_blank=True)
    classification = serializers.ChoiceField(choices=Classification.choices)
    classification_reason = serializers.CharField(required=False, allow_blank=True, default="")
    photos = serializers.ListField(
        child=PhotoField(), required=False, default=list, max_length=PHOTO_MAX_COUNT
    )


class CheckRecordApi(GenericAPIView):
    """Record a check. 400 `rule_failed` (rule `classification_floor`) for a classification better
    than the floor; 403 for a role that may not record checks; 409 when already recorded."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]
    serializer_class = CheckRecordInput

    @extend_schema(request=CheckRecordInput, responses={200: CheckSerializer})
    def post(self, request, pk):
        check = selectors.check_get(user=request.user, pk=pk)
        if not checks.can_record_checks(request.user):
            raise NotPermitted(checks.not_permitted_message())
        data = CheckRecordInput(data=request.data)
        data.is_valid(raise_exception=True)
        checks.check_record(acting_user=request.user, check=check, **data.validated_data)
        # Read back through the selector: the photos and the loan's new classification.
        return Response(CheckSerializer(selectors.check_get(user=request.user, pk=pk)).data)
