"""REST API for changes after disbursement: extension requests and decisions, renewals. The
serializers check the shape of the input; the rules, roles, locks and audit are in changes.py.
A loan or extension outside the user's area answers 404; a role that may not act, 403."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from .. import selectors
from ..models import Extension, LoanApplication
from ..purposes import Purpose
from ..services import changes
from .applications import ApplicationSerializer

MONEY = {"max_digits": 12, "decimal_places": 2}


class ExtensionSerializer(serializers.ModelSerializer):
    status_display = serializers.CharField(source="get_status_display", read_only=True)

    class Meta:
        model = Extension
        fields = [
            "id",
            "loan",
            "months",
            "old_maturity_on",
            "new_maturity_on",
            "reason",
            "status",
            "status_display",
            "requested_by",
            "requested_on",
            "decided_by",
            "decided_on",
            "decision_comment",
        ]
        read_only_fields = fields


class ExtensionRequestInput(serializers.Serializer):
    months = serializers.IntegerField(min_value=1)
    reason = serializers.CharField()


class ExtensionDecideInput(serializers.Serializer):
    approve = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class RenewalInput(serializers.Serializer):
    amount = serializers.DecimalField(required=False, min_value=0, **MONEY)
    term_months = serializers.IntegerField(min_value=1)
    purpose_category = serializers.ChoiceField(choices=Purpose.choices, required=False)
    purpose_detail = serializers.CharField(required=False, allow_blank=True)
    bank_account_no = serializers.CharField(required=False, allow_blank=True, max_length=40)
    capacity_attested = serializers.BooleanField(required=False, default=True)
    consent_publicity = serializers.BooleanField(required=False, default=False)
    consent_credit_query = serializers.BooleanField(required=False, default=False)


class FollowUpApplicationSerializer(ApplicationSerializer):
    class Meta(ApplicationSerializer.Meta):
        model = LoanApplication
        fields = [*ApplicationSerializer.Meta.fields, "kind", "related_loan"]
        read_only_fields = fields


def _loan(request, pk):
    return selectors.loan_get(user=request.user, pk=pk)


class LoanExtensionListApi(GenericAPIView):
    """A loan's extensions (GET) and a loan officer's request for one (POST, 展期)."""

    serializer_class = ExtensionSerializer

    @extend_schema(responses=ExtensionSerializer(many=True))
    def get(self, request, pk):
        """The loan's extensions, oldest first, paginated like every list (API.md)."""
        loan = _loan(request, pk)
        page = self.paginate_queryset(selectors.extension_list(loan=loan))
        return self.get_paginated_response(ExtensionSerializer(page, many=True).data)

    @extend_schema(request=ExtensionRequestInput, responses={201: ExtensionSerializer})
    def post(self, request, pk):
        loan = _loan(request, pk)
        data = ExtensionRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        extension = changes.extension_request(acting_user=request.user, loan=loan, **data.validated_data)
        return Response(ExtensionSerializer(extension).data, status=status.HTTP_201_CREATED)


class ExtensionDecideApi(GenericAPIView):
    """An approver other than the requesting officer approves or rejects (four-eyes)."""

    serializer_class = ExtensionSerializer

    @extend_schema(request=ExtensionDecideInput, responses={200: ExtensionSerializer})
    def post(self, request, pk):
        extension = selectors.extension_get(user=request.user, pk=pk)
        data = ExtensionDecideInput(data=request.data)
        data.is_valid(raise_exception=True)
        extension = changes.extension_decide(
            acting_user=request.user, extension=extension, **data.validated_data
        )
        return Response(ExtensionSerializer(extension).data)


class LoanRenewalApi(GenericAPIView):
    """A renewal (续贷) application by the village cadre; it then follows the workflow."""

    serializer_class = FollowUpApplicationSerializer

    @extend_schema(request=RenewalInput, responses={201: FollowUpApplicationSerializer})
    def post(self, request, pk):
        loan = _loan(request, pk)
        data = RenewalInput(data=request.data)
        data.is_valid(raise_exception=True)
        app = changes.renewal_start(acting_user=request.user, loan=loan, **data.validated_data)
        return Response(FollowUpApplicationSerializer(app).data, status=status.HTTP_201_CREATED)
