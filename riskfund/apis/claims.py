"""REST API for the loss claims (API.md `compensation-claims/`): the claims in the user's area,
filing one (a loan officer of the loan's bank), one claim with its loss computation and history,
the steps this user may take, and taking one (riskfund/steps.py, the same table the pages use).
Serializers only check the shape of the input; the services own the rules, roles and locks."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.api import MAX_ID, FilterSerializer, IdFilter, parse_filters
from loans import selectors as loan_selectors

from .. import selectors, steps
from ..models import ClaimHistory, CompensationClaim
from ..services import claims
from ..workflow import STEP_LABELS, State


def _name(user) -> str | None:
    return (user.get_full_name() or user.username) if user else None


class ClaimHistorySerializer(serializers.ModelSerializer):
    by_name = serializers.SerializerMethodField()

    class Meta:
        model = ClaimHistory
        fields = ["transition", "from_state", "to_state", "by", "by_name", "at", "comment"]
        read_only_fields = fields

    def get_by_name(self, row) -> str | None:
        return _name(row.by)


class ClaimSerializer(serializers.ModelSerializer):
    contract_no = serializers.CharField(source="loan.contract_no", read_only=True)
    borrower_name = serializers.CharField(source="loan.borrower.name", read_only=True)
    county = serializers.IntegerField(source="fund.county_id", read_only=True)
    bank = serializers.IntegerField(source="fund.bank_id", read_only=True)
    trigger_display = serializers.CharField(source="get_trigger_display", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    filed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = CompensationClaim
        fields = [
            "id",
            "loan",
            "contract_no",
            "borrower_name",
            "fund",
            "county",
            "bank",
            "trigger",
            "trigger_display",
            "state",
            "state_display",
            "eligible_on",
            "principal",
            "interest",
            "insurance_paid",
            "loss",
            "fund_ratio",
            "remainder_to",
            "fund_share",
            "bank_share",
            "filed_by",
            "filed_by_name",
            "filed_at",
            "paid_on",
        ]
        read_only_fields = fields

    def get_filed_by_name(self, claim) -> str | None:
        return _name(claim.filed_by)


class ClaimDetailSerializer(ClaimSerializer):
    reviewed_by_name = serializers.SerializerMethodField()
    decided_by_name = serializers.SerializerMethodField()
    paid_by_name = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()

    class Meta(ClaimSerializer.Meta):
        fields = [
            *ClaimSerializer.Meta.fields,
            "profile",
            "statement",
            "reviewed_by",
            "reviewed_by_name",
            "reviewed_at",
            "decided_by",
            "decided_by_name",
            "decided_at",
            "committee_members",
            "decision_no",
            "paid_by",
            "paid_by_name",
            "history",
        ]
        read_only_fields = fields

    def get_reviewed_by_name(self, claim) -> str | None:
        return _name(claim.reviewed_by)

    def get_decided_by_name(self, claim) -> str | None:
        return _name(claim.decided_by)

    def get_paid_by_name(self, claim) -> str | None:
        return _name(claim.paid_by)

    @extend_schema_field(ClaimHistorySerializer(many=True))
    def get_history(self, claim) -> list:
        return ClaimHistorySerializer(selectors.claim_history(claim), many=True).data


class ClaimFilterSerializer(FilterSerializer):
    state = serializers.ChoiceField(choices=State.choices, required=False, allow_blank=True)
    queue = serializers.ChoiceField(
        choices=list(selectors.CLAIM_QUEUES),
        required=False,
        allow_blank=True,
        help_text=gettext_lazy(
            "review: filed (county office); decide: reviewed (committee); pay: approved (finance)"
        ),
    )
    loan = IdFilter()


class ClaimInputSerializer(serializers.Serializer):
    loan = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    trigger = serializers.ChoiceField(choices=CompensationClaim.Trigger.choices)
    statement = serializers.CharField(
        allow_blank=True, help_text=gettext_lazy("How the bank pursued the debt (required).")
    )


class ClaimStepInputSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    committee_members = serializers.CharField(required=False, allow_blank=True, default="")
    decision_no = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    paid_on = serializers.DateField(required=False, allow_null=True, default=None)


class ClaimTransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField()
    target_display = serializers.CharField()


def _detail(request, pk) -> dict:
    return ClaimDetailSerializer(selectors.claim_get(request.user, pk)).data


class ClaimListApi(GenericAPIView):
    """Claims on the funds the user sees (the bank's for its officers and approvers, the county's
    for its staff), newest first. POST files one (a loan officer of the loan's branch or bank)."""

    serializer_class = ClaimSerializer

    @extend_schema(parameters=[ClaimFilterSerializer], responses=ClaimSerializer(many=True))
    def get(self, request):
        filters = parse_filters(ClaimFilterSerializer, request)
        qs = selectors.claim_list(
            request.user,
            state=filters.get("state") or "",
            queue=filters.get("queue") or "",
            loan=filters.get("loan"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ClaimSerializer(page, many=True).data)

    @extend_schema(
        request=ClaimInputSerializer,
        responses={201: ClaimDetailSerializer},
        description=(
            "Files a loss claim on an open loan. Refused with 400 `rule_failed`: `claim_trigger` before the "
            "trigger's day (`extra.eligible_on`), `insurance_first` while a policy covering the loss has no "
            "payout, `loan_open`, `claim_loss`; 409 `claim_exists` when the loan has a live claim; 403 for "
            "anyone but a loan officer of the loan's bank; 404 for a loan outside the user's area."
        ),
    )
    def post(self, request):
        data = ClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loan = loan_selectors.loan_get(user=request.user, pk=data.validated_data["loan"])
        claim = claims.claim_file(
            acting_user=request.user,
            loan=loan,
            trigger=data.validated_data["trigger"],
            statement=data.validated_data["statement"],
        )
        return Response(_detail(request, claim.pk), status=status.HTTP_201_CREATED)


class ClaimDetailApi(GenericAPIView):
    serializer_class = ClaimDetailSerializer

    def get(self, request, pk):
        return Response(_detail(request, pk))


class ClaimTransitionListApi(GenericAPIView):
    """The steps this user may take on the claim now (state, role, county and four-eyes)."""

    serializer_class = ClaimTransitionSerializer
    pagination_class = None

    @extend_schema(responses=ClaimTransitionSerializer(many=True))
    def get(self, request, pk):
        claim = selectors.claim_get(request.user, pk)
        targets = {t.name: t.target for t in claim.get_all_state_transitions()}
        rows = [
            {
                "name": name,
                "label": str(STEP_LABELS[name]),
                "target": targets[name],
                "target_display": str(State(targets[name]).label),
            }
            for name in steps.available(claim, request.user)
        ]
        return Response(ClaimTransitionSerializer(rows, many=True).data)


class ClaimTransitionApi(GenericAPIView):
    """Takes one step and answers the updated claim."""

    serializer_class = ClaimDetailSerializer

    @extend_schema(
        request=ClaimStepInputSerializer,
        responses=ClaimDetailSerializer,
        description=(
            "Steps: `review` (the county office; `comment`), `approve` (the fund committee; "
            "`committee_members` required, `decision_no`, `comment`; not whoever filed or reviewed it: 403 "
            "`four_eyes`), `reject` (the county office at review, the committee at decision; `reason` "
            "required), `withdraw` (the filing bank; `reason` required), `pay` (finance of the county; "
            "`paid_on`, today when omitted; not whoever decided or filed it: 403 `four_eyes`; posts the "
            "ledger and compensates the loan; 400 `rule_failed` `fund_balance` when the fund cannot pay). "
            "An unknown step is 404; a role that may not take it 403; a step not allowed from the "
            "current state 409 (`transition_not_allowed`)."
        ),
    )
    def post(self, request, pk, name):
        claim = selectors.claim_get(request.user, pk)
        if name not in steps.STEPS:
            raise NotFound()
        data = ClaimStepInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        steps.take(name, claim=claim, user=request.user, data=data.validated_data)
        return Response(_detail(request, pk))
