"""REST API for recoveries (API.md `recoveries/`): the recoveries on claims of funds in the user's
area, with the fund's share, its due day, the return and the days late; POST records one (a loan
officer of the claim's bank, on a paid claim); `recoveries/{id}/return/` records the return of
the fund's share (finance of the county), which posts the ledger. The rules, roles, locks and
audit are in services/recoveries.py; anything outside the user's area answers 404."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.api import MAX_ID, FilterSerializer, IdFilter, parse_filters

from .. import selectors
from ..models import Recovery
from ..services import recoveries as recovery_services

MONEY = {"max_digits": 14, "decimal_places": 2}


class RecoverySerializer(serializers.ModelSerializer):
    days_late = serializers.SerializerMethodField(
        help_text="Calendar days after `due_on`: to `returned_on`, or to today while not returned; "
        "0 if on time."
    )

    class Meta:
        model = Recovery
        fields = [
            "id",
            "claim",
            "amount",
            "received_on",
            "fund_share",
            "bank_share",
            "due_on",
            "returned_on",
            "days_late",
            "note",
            "recorded_by",
            "recorded_at",
            "returned_by",
        ]
        read_only_fields = fields

    def get_days_late(self, obj) -> int:
        return selectors.days_late(obj, self.context.get("today"))


class RecoveryFilter(FilterSerializer):
    state = serializers.ChoiceField(
        choices=list(selectors.RECOVERY_TABS),
        required=False,
        allow_blank=True,
        help_text="due: not returned yet; late: overdue now or returned after the due day; returned.",
    )
    claim = IdFilter()
    fund = IdFilter()


class RecoveryInput(serializers.Serializer):
    claim = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    amount = serializers.DecimalField(**MONEY)
    received_on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ReturnInput(serializers.Serializer):
    returned_on = serializers.DateField()


class RecoveryListApi(GenericAPIView):
    """Recoveries in the user's area, oldest due day first; `state`, `claim` and `fund` narrow
    them. POST records a recovery on a paid claim: 201 with its split and due day; 409
    `claim_not_paid`; 400 `rule_failed` (`recovery_within_loss`) past the loss; 400
    `calendar_missing` when the due day falls in a year the calendar lacks (nothing written)."""

    serializer_class = RecoverySerializer

    @extend_schema(parameters=[RecoveryFilter], responses=RecoverySerializer(many=True))
    def get(self, request):
        filters = parse_filters(RecoveryFilter, request)
        qs = selectors.recovery_list(
            request.user,
            tab=filters.get("state") or "",
            claim=filters.get("claim"),
            fund=filters.get("fund"),
        )
        page = self.paginate_queryset(qs)
        context = {"today": timezone.localdate()}
        return self.get_paginated_response(RecoverySerializer(page, many=True, context=context).data)

    @extend_schema(request=RecoveryInput, responses={201: RecoverySerializer})
    def post(self, request):
        data = RecoveryInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        claim = selectors.recovery_claim_get(request.user, fields.pop("claim"))
        recovery = recovery_services.recovery_record(acting_user=request.user, claim=claim, **fields)
        return Response(RecoverySerializer(recovery).data, status=status.HTTP_201_CREATED)


class RecoveryReturnApi(GenericAPIView):
    """The fund's share came back into the co-managed account: finance of the fund's county,
    once (409 `already_returned` after); posts the ledger transaction."""

    serializer_class = RecoverySerializer

    @extend_schema(request=ReturnInput, responses=RecoverySerializer)
    def post(self, request, pk):
        recovery = selectors.recovery_get(request.user, pk)
        data = ReturnInput(data=request.data)
        data.is_valid(raise_exception=True)
        recovery = recovery_services.recovery_return(
            acting_user=request.user, recovery=recovery, returned_on=data.validated_data["returned_on"]
        )
        return Response(RecoverySerializer(recovery).data)
