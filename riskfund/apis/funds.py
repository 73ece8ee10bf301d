"""REST API for the funds (API.md `risk-funds/`): the funds in the user's area with their balance,
the profile's multiple, the bank's outstanding in the county and the headroom left under the cap;
and a fund's immutable ledger entries, to which finance staff of its county add a deposit, interest
or a withdrawal (services/ledger.py)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from .. import selectors
from ..models import LedgerEntry, LedgerTransaction
from ..services import funds as fund_services
from ..services import ledger

MONEY = {"max_digits": 14, "decimal_places": 2}
MOVEMENT_KINDS = [
    (kind.value, kind.label)
    for kind in (
        LedgerTransaction.Kind.DEPOSIT,
        LedgerTransaction.Kind.INTEREST,
        LedgerTransaction.Kind.WITHDRAWAL,
    )
]

# ---------------------------------------------------------------------------------------------
# Serializers
# ---------------------------------------------------------------------------------------------


class FundSerializer(serializers.Serializer):
    """A fund's figures: `fund_services.fund_figures` reads them once for the page and the API."""

    id = serializers.IntegerField(source="fund.pk")
    name = serializers.CharField(source="fund.name")
    county = serializers.IntegerField(source="fund.county_id")
    county_name = serializers.CharField(source="fund.county.name")
    bank = serializers.IntegerField(source="fund.bank_id")
    bank_name = serializers.CharField(source="fund.bank.name")
    account_no = serializers.CharField(source="fund.account_no")
    opened_on = serializers.DateField(source="fund.opened_on")
    balance = serializers.DecimalField(**MONEY)
    multiple = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    outstanding = serializers.DecimalField(**MONEY)
    headroom = serializers.DecimalField(**MONEY, allow_null=True)
    warning = serializers.BooleanField()


class EntrySerializer(serializers.ModelSerializer):
    transaction = serializers.IntegerField(source="transaction_id", read_only=True)
    kind = serializers.CharField(source="transaction.kind", read_only=True)
    booked_on = serializers.DateField(source="transaction.booked_on", read_only=True)
    memo = serializers.CharField(source="transaction.memo", read_only=True)
    reference = serializers.CharField(source="transaction.reference", read_only=True)

    class Meta:
        model = LedgerEntry
        fields = ["id", "transaction", "kind", "booked_on", "memo", "reference", "account", "amount"]
        read_only_fields = fields


class MovementInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MOVEMENT_KINDS)
    amount = serializers.DecimalField(**MONEY)
    booked_on = serializers.DateField(required=False, allow_null=True, default=None)
    memo = serializers.CharField()
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


class TransactionSerializer(serializers.ModelSerializer):
    entries = serializers.SerializerMethodField()

    class Meta:
        model = LedgerTransaction
        fields = ["id", "fund", "kind", "booked_on", "memo", "reference", "reverses", "entries"]
        read_only_fields = fields

    def get_entries(self, txn) -> list[dict]:
        return [{"account": e.account, "amount": str(e.amount)} for e in txn.entries.all()]


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


class FundListApi(GenericAPIView):
    """Funds in the user's area: finance, the county office, the committee and administrators see
    their county's; loan officers and approvers their bank's."""

    serializer_class = FundSerializer

    @extend_schema(responses=FundSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(selectors.fund_list(request.user))
        figures = fund_services.fund_figures(page, on_date=timezone.localdate())
        return self.get_paginated_response(FundSerializer(figures, many=True).data)


class FundDetailApi(GenericAPIView):
    serializer_class = FundSerializer

    def get(self, request, pk):
        fund = selectors.fund_get(request.user, pk)
        (figures,) = fund_services.fund_figures([fund], on_date=timezone.localdate())
        return Response(FundSerializer(figures).data)


class FundEntryListApi(GenericAPIView):
    """A fund's ledger entries, oldest first (each transaction's legs together). POST records a
    deposit, interest or a withdrawal: finance staff of the fund's county only."""

    serializer_class = EntrySerializer

    @extend_schema(responses=EntrySerializer(many=True))
    def get(self, request, pk):
        fund = selectors.fund_get(request.user, pk)
        page = self.paginate_queryset(selectors.entry_list(fund))
        return self.get_paginated_response(EntrySerializer(page, many=True).data)

    @extend_schema(request=MovementInput, responses={201: TransactionSerializer})
    def post(self, request, pk):
        fund = selectors.fund_get(request.user, pk)
        data = MovementInput(data=request.data)
        data.is_valid(raise_exception=True)
        txn = ledger.movement_record(acting_user=request.user, fund=fund, **data.validated_data)
        return Response(TransactionSerializer(txn).data, status=status.HTTP_201_CREATED)
