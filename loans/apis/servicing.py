"""REST API for servicing (API.md `settlement-imports/`, the confirmation of a settlement's flagged
interest, repayments, the overdue list). The serializers check the shape of the input; the rules,
roles, locks and audit are in services/servicing.py, settlements.py and settlement_list.py. A loan
outside the user's area answers 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.fields import empty
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from core.api import FilterSerializer, parse_filters

from .. import selectors
from ..classification import BUCKET_BY_KEY
from ..models import Repayment
from ..permissions import require_servicer
from ..services import servicing, settlement_list, settlements
from .loans import LoanSerializer, SettlementSerializer

MONEY = {"max_digits": 12, "decimal_places": 2}


class RequiredBooleanField(serializers.BooleanField):
    """A boolean the client must send. DRF reads a boolean missing from a form (multipart) as
    False, like an unticked checkbox; here a missing answer is an error, never a guess."""

    default_empty_html = empty


class SettlementImportInput(serializers.Serializer):
    file = serializers.FileField()
    end_date_counted = RequiredBooleanField(
        help_text="Whether the list's 计息止日 is a day of interest: true for 算头算尾 (each end date "
        "is stored as the next day), false for 算头不算尾 (stored as listed, the system's convention)."
    )


class SettlementImportOutput(serializers.Serializer):
    end_date_counted = serializers.BooleanField()
    created = serializers.IntegerField()
    updated_paid_late = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    needs_review = serializers.IntegerField(
        help_text="New settlements whose interest differs from principal × rate × days ÷ 360."
    )


class SettlementImportApi(GenericAPIView):
    """The bank's interest settlement list (结息清单), CSV or XLSX; all rows or none. The same
    rows imported again add nothing (`unchanged`). `end_date_counted` (required) says whether the
    list counts its end dates. Errors: 400 with `extra.rows` (a period overlapping another of the
    same loan: `period_overlap`); 409 `period_overlap` when the database refuses a write."""

    parser_classes = [MultiPartParser, FormParser]
    serializer_class = SettlementImportInput

    @extend_schema(request=SettlementImportInput, responses={201: SettlementImportOutput})
    def post(self, request):
        require_servicer(request.user)
        data = SettlementImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        counted = data.validated_data["end_date_counted"]
        result = settlement_list.settlement_import(
            acting_user=request.user, file=upload, filename=upload.name, end_date_counted=counted
        )
        return Response(
            {"end_date_counted": result.end_date_counted, **result.counts()}, status=status.HTTP_201_CREATED
        )


class SettlementReviewSerializer(SettlementSerializer):
    expected_interest = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta(SettlementSerializer.Meta):
        fields = [
            *SettlementSerializer.Meta.fields,
            "loan",
            "expected_interest",
            "needs_review",
            "review_note",
            "reviewed_by",
            "reviewed_at",
        ]
        read_only_fields = fields


class SettlementConfirmInput(serializers.Serializer):
    reason = serializers.CharField()


class SettlementConfirmApi(GenericAPIView):
    """A loan officer confirms a flagged settlement's interest (`needs_review`) with the reason it
    may stand; it is then subsidized like any other. 404 outside the user's area, 403 for a role
    that does not service loans, 409 `not_flagged` when there is nothing to confirm."""

    serializer_class = SettlementConfirmInput

    @extend_schema(request=SettlementConfirmInput, responses={200: SettlementReviewSerializer})
    def post(self, request, pk):
        settlement = selectors.settlement_get(user=request.user, pk=pk)
        require_servicer(request.user)
        data = SettlementConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        settlement = settlements.settlement_confirm(
            acting_user=request.user, settlement=settlement, reason=data.validated_data["reason"]
        )
        return Response(SettlementReviewSerializer(settlement).data)


class RepaymentInput(serializers.Serializer):
    principal = serializers.DecimalField(**MONEY)
    paid_on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class LoanRepaymentSerializer(serializers.ModelSerializer):
    note = serializers.CharField(source="reason", read_only=True)

    class Meta:
        model = Repayment
        fields = [
            "id",
            "loan",
            "paid_on",
            "principal",
            "outstanding_after",
            "note",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = fields


class RepaymentListApi(GenericAPIView):
    """A loan's repayments, oldest first, paginated like every list (API.md); POST records one
    (a loan officer of the branch)."""

    serializer_class = LoanRepaymentSerializer

    @extend_schema(responses=LoanRepaymentSerializer(many=True))
    def get(self, request, pk):
        loan = selectors.loan_get(user=request.user, pk=pk)
        page = self.paginate_queryset(selectors.repayment_list(loan=loan))
        return self.get_paginated_response(LoanRepaymentSerializer(page, many=True).data)

    @extend_schema(request=RepaymentInput, responses={201: LoanRepaymentSerializer})
    def post(self, request, pk):
        loan = selectors.loan_get(user=request.user, pk=pk)
        require_servicer(request.user)
        data = RepaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        repayment = servicing.repayment_record(acting_user=request.user, loan=loan, **data.validated_data)
        return Response(LoanRepaymentSerializer(repayment).data, status=status.HTTP_201_CREATED)


class OverdueFilter(FilterSerializer):
    bucket = serializers.ChoiceField(choices=list(BUCKET_BY_KEY), required=False, allow_blank=True)


class OverdueListApi(GenericAPIView):
    """Open loans past due in the user's area, longest first; `bucket` narrows to one bucket."""

    serializer_class = LoanSerializer

    @extend_schema(parameters=[OverdueFilter], responses=LoanSerializer(many=True))
    def get(self, request):
        filters = parse_filters(OverdueFilter, request)
        qs = selectors.overdue_list(user=request.user, bucket=filters.get("bucket", ""))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(LoanSerializer(page, many=True).data)
