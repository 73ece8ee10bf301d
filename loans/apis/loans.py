"""REST API for loans (API.md `loans/`): the list of disbursed loans in the user's area and one
loan with its latest settlements and repayments and the totals over all of them, read through
`selectors.loan_detail`, the read the loan page makes too. Read-only here: servicing.py and
changes.py take the writes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.api import FilterSerializer, IdFilter, parse_filters

from .. import selectors
from ..models import Loan, Repayment, Settlement

# ---------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------


class LoanSerializer(serializers.ModelSerializer):
    household_registration_no = serializers.CharField(source="household.registration_no", read_only=True)
    borrower_name = serializers.CharField(source="borrower.name", read_only=True)
    branch_name = serializers.CharField(source="branch.name", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)

    class Meta:
        model = Loan
        fields = [
            "id",
            "application",
            "contract_no",
            "receipt_no",
            "account_no",
            "household",
            "household_registration_no",
            "borrower",
            "borrower_name",
            "branch",
            "branch_name",
            "amount",
            "rate",
            "rate_basis",
            "term_months",
            "disbursed_on",
            "maturity_on",
            "outstanding",
            "classification",
            "days_past_due",
            "state",
            "state_display",
            "purpose_category",
            "use_mode",
        ]
        read_only_fields = fields


class SettlementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Settlement
        fields = [
            "id",
            "period_start",
            "period_end",
            "principal",
            "rate",
            "interest_due",
            "interest_paid",
            "penalty_paid",
            "paid_on",
            "source",
        ]
        read_only_fields = fields


class RepaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Repayment
        fields = ["id", "paid_on", "principal", "outstanding_after"]
        read_only_fields = fields


class LoanDetailSerializer(LoanSerializer):
    """The loan with its latest settlements and repayments (newest first) and totals over all."""

    original_loan_contract_no = serializers.CharField(
        source="original_loan.contract_no", read_only=True, default=None, allow_null=True
    )
    settlements = SettlementSerializer(source="recent_settlements", many=True, read_only=True)
    repayments = RepaymentSerializer(source="recent_repayments", many=True, read_only=True)
    settlement_totals = serializers.SerializerMethodField()
    repayment_totals = serializers.SerializerMethodField()

    class Meta(LoanSerializer.Meta):
        fields = [
            *LoanSerializer.Meta.fields,
            "imported",
            "entity_name",
            "settled_on",
            "original_loan",
            "original_loan_contract_no",
            "settlement_totals",
            "settlements",
            "repayment_totals",
            "repayments",
        ]
        read_only_fields = fields

    def get_settlement_totals(self, loan) -> dict:
        zero = "0.00"
        return {
            "count": loan.settlement_count or 0,
            "interest_due": str(loan.settlement_interest_due or zero),
            "interest_paid": str(loan.settlement_interest_paid or zero),
            "penalty_paid": str(loan.settlement_penalty_paid or zero),
            "last_paid_on": loan.settlement_last_paid_on,
        }

    def get_repayment_totals(self, loan) -> dict:
        return {"count": loan.repayment_count or 0, "principal": str(loan.repayment_principal or "0.00")}


class LoanFilterSerializer(FilterSerializer):
    state = serializers.ChoiceField(choices=Loan.State.choices, required=False, allow_blank=True)
    household = IdFilter()


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


class LoanListApi(GenericAPIView):
    """Disbursed loans of households in the user's area, newest first (read-only here)."""

    serializer_class = LoanSerializer

    @extend_schema(parameters=[LoanFilterSerializer], responses=LoanSerializer(many=True))
    def get(self, request):
        filters = parse_filters(LoanFilterSerializer, request)
        qs = selectors.loan_list(
            user=request.user, state=filters.get("state"), household=filters.get("household")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(LoanSerializer(page, many=True).data)


class LoanDetailApi(GenericAPIView):
    serializer_class = LoanDetailSerializer

    def get(self, request, pk):
        loan = selectors.loan_detail(user=request.user, pk=pk)
        return Response(LoanDetailSerializer(loan).data)
