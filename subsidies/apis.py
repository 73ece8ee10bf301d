"""The subsidy batch API of API.md: `subsidy-batches/`, its transitions and its lines."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts.models import OrgUnit
from core.api import FilterSerializer, IdFilter, parse_filters
from core.exceptions import NotPermitted

from . import selectors, services, steps
from .models import ExcludedReason, SubsidyBatch, SubsidyLine
from .workflow import STEP_LABELS, State, is_county_finance


def _name(user) -> str | None:
    return (user.get_full_name() or user.username) if user else None


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField()


class BatchSerializer(serializers.ModelSerializer):
    county_name = serializers.CharField(source="county.name", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    progress = serializers.SerializerMethodField()
    computed_by = serializers.SerializerMethodField()
    reviewed_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()

    class Meta:
        model = SubsidyBatch
        fields = [
            "id",
            "county",
            "county_name",
            "year",
            "quarter",
            "state",
            "state_display",
            "total",
            "line_count",
            "subsidized_count",
            "progress",
            "profile",
            "computed_by",
            "computed_at",
            "reviewed_by",
            "reviewed_at",
            "approved_by",
            "approved_at",
            "paid_on",
            "payment_reference",
            "cancel_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, batch) -> dict:
        return {"done": batch.progress_done, "total": batch.progress_total, "percent": batch.progress_percent}

    def get_computed_by(self, batch) -> str | None:
        return _name(batch.computed_by)

    def get_reviewed_by(self, batch) -> str | None:
        return _name(batch.reviewed_by)

    def get_approved_by(self, batch) -> str | None:
        return _name(batch.approved_by)


class BatchInputSerializer(serializers.Serializer):
    county = serializers.PrimaryKeyRelatedField(queryset=selectors.counties(), required=False)
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    quarter = serializers.IntegerField(min_value=1, max_value=4)


class LineSerializer(serializers.ModelSerializer):
    borrower_name = serializers.CharField(source="loan.borrower.name", read_only=True)
    contract_no = serializers.CharField(source="loan.contract_no", read_only=True)
    village_name = serializers.CharField(source="village.name", read_only=True)
    excluded_reason_display = serializers.CharField(source="get_excluded_reason_display", read_only=True)
    reduced_reason_display = serializers.CharField(source="get_reduced_reason_display", read_only=True)

    class Meta:
        model = SubsidyLine
        fields = [
            "id",
            "loan",
            "contract_no",
            "household",
            "borrower_name",
            "village",
            "village_name",
            "settlement",
            "period_start",
            "period_end",
            "paid_on",
            "period_days",
            "days",
            "principal",
            "subsidized_principal",
            "contract_rate",
            "cap_rate",
            "rate_used",
            "interest_paid",
            "penalty_paid",
            "subsidy",
            "excluded_reason",
            "excluded_reason_display",
            "reduced_reason",
            "reduced_reason_display",
        ]
        read_only_fields = fields


class BatchFilterSerializer(FilterSerializer):
    state = serializers.ChoiceField(choices=State.choices, required=False, allow_blank=True)
    year = serializers.IntegerField(required=False, min_value=2000, max_value=2100)
    quarter = serializers.IntegerField(required=False, min_value=1, max_value=4)


class LineFilterSerializer(FilterSerializer):
    village = IdFilter()
    township = IdFilter()
    reason = serializers.ChoiceField(
        choices=["subsidized", "excluded", *ExcludedReason.values], required=False, allow_blank=True
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text=gettext_lazy("Contract number, registration number or borrower name"),
    )


class BatchTransitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField()
    target_display = serializers.CharField()


class StepInputSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    paid_on = serializers.DateField(required=False, allow_null=True, default=None)
    reference = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


def _batch(request, pk) -> SubsidyBatch:
    return selectors.batch_get(user=request.user, pk=pk)


class BatchListApi(GenericAPIView):
    """Subsidy batches of the counties the user sees, newest quarter first. POST creates a draft
    (finance staff of the county; `county` defaults to the user's own)."""

    serializer_class = BatchSerializer

    @extend_schema(parameters=[BatchFilterSerializer], responses=BatchSerializer(many=True))
    def get(self, request):
        filters = parse_filters(BatchFilterSerializer, request)
        qs = selectors.batch_list(
            user=request.user,
            year=filters.get("year"),
            quarter=filters.get("quarter"),
            state=filters.get("state") or "",
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(BatchSerializer(page, many=True).data)

    @extend_schema(request=BatchInputSerializer, responses={201: BatchSerializer})
    def post(self, request):
        data = BatchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        county = data.validated_data.get("county")
        if county is None:
            unit = request.user.unit
            if unit is None or unit.kind != OrgUnit.Kind.COUNTY:
                raise NotPermitted(_("Only the finance staff of the county may create its subsidy batches."))
            county = unit
        # A county the user cannot see is 404, as if it did not exist.
        county = selectors.county_get(user=request.user, pk=county.pk)
        if not is_county_finance(request.user, county.pk):
            raise NotPermitted(_("Only the finance staff of the county may create its subsidy batches."))
        batch = services.batch_create(
            acting_user=request.user,
            county=county,
            year=data.validated_data["year"],
            quarter=data.validated_data["quarter"],
        )
        return Response(BatchSerializer(_batch(request, batch.pk)).data, status=status.HTTP_201_CREATED)


class BatchDetailApi(GenericAPIView):
    serializer_class = BatchSerializer

    def get(self, request, pk):
        return Response(BatchSerializer(_batch(request, pk)).data)


class BatchTransitionListApi(GenericAPIView):
    """The steps this user may take on the batch now."""

    serializer_class = BatchTransitionSerializer
    pagination_class = None

    @extend_schema(responses=BatchTransitionSerializer(many=True))
    def get(self, request, pk):
        batch = _batch(request, pk)
        targets = {t.name: t.target for t in batch.get_all_state_transitions()}
        rows = [
            {
                "name": name,
                "label": str(STEP_LABELS[name]),
                "target": targets[name],
                "target_display": str(State(targets[name]).label),
            }
            for name in steps.available(batch, request.user)
        ]
        return Response(BatchTransitionSerializer(rows, many=True).data)


class BatchTransitionApi(GenericAPIView):
    """Takes one step and answers the updated batch."""

    serializer_class = BatchSerializer

    @extend_schema(
        request=StepInputSerializer,
        responses=BatchSerializer,
        description=(
            "Steps: `compute` (from draft, or again from computed; the work runs on Celery and "
            "`progress` shows it), `resume` (queue again the chunks not done), `review`, `send_back` "
            "(`reason` required; back to computed), `approve` (not by whoever computed it: 403 "
            "`four_eyes`), `pay` (`paid_on`, optional `reference`; final), `cancel` (`reason` required). "
            "An unknown step is 404; a role that may not take it 403; a step not allowed from the "
            "current state 409 (`transition_not_allowed`)."
        ),
    )
    def post(self, request, pk, name):
        batch = _batch(request, pk)
        if name not in steps.STEPS:
            raise NotFound()
        data = StepInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        steps.take(name, batch=batch, user=request.user, data=data.validated_data)
        return Response(BatchSerializer(_batch(request, pk)).data)


class LineListApi(GenericAPIView):
    """The batch's lines the user may see (a village sees its own), one per settlement
    considered or per loan with none; a line with no subsidy says why (`excluded_reason`)."""

    serializer_class = LineSerializer

    @extend_schema(parameters=[LineFilterSerializer], responses=LineSerializer(many=True))
    def get(self, request, pk):
        batch = _batch(request, pk)
        filters = parse_filters(LineFilterSerializer, request)
        qs = selectors.line_filter(selectors.line_list(user=request.user, batch=batch), **filters)
        page = self.paginate_queryset(selectors.lines_in_order(qs))
        return self.get_paginated_response(LineSerializer(page, many=True).data)
