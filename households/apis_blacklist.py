"""REST API for blacklist removal requests (four-eyes, ASVS V2.3.5). `DELETE blacklist/{id}/`
(households/apis.py) asks for a removal; a second person approves or rejects it here. Only an
approval takes the household off the blacklist. Out-of-area requests answer 404."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.api import FilterSerializer, parse_filters
from core.exceptions import NotPermitted

from . import selectors
from .models import BlacklistRemovalRequest
from .permissions import can_keep_blacklist
from .services import blacklist as blacklist_services

STATE_CHOICES = [*BlacklistRemovalRequest.State.values, "all"]


class BlacklistRemovalRequestSerializer(serializers.ModelSerializer):
    household = serializers.IntegerField(source="entry.household_id", read_only=True)
    registration_no = serializers.CharField(source="entry.household.registration_no", read_only=True)
    entry_reason = serializers.CharField(source="entry.reason", read_only=True)
    requested_by_name = serializers.CharField(source="requested_by.__str__", read_only=True)
    decided_by_name = serializers.SerializerMethodField()

    class Meta:
        model = BlacklistRemovalRequest
        fields = [
            "id",
            "entry",
            "household",
            "registration_no",
            "entry_reason",
            "basis",
            "reason",
            "state",
            "requested_by",
            "requested_by_name",
            "requested_at",
            "decided_by",
            "decided_by_name",
            "decided_at",
            "decision_comment",
        ]
        read_only_fields = fields

    def get_decided_by_name(self, obj) -> str | None:
        return str(obj.decided_by) if obj.decided_by_id else None


class BlacklistRemovalInputSerializer(serializers.Serializer):
    basis = serializers.ChoiceField(
        choices=BlacklistRemovalRequest.Basis.choices, default=BlacklistRemovalRequest.Basis.SETTLED
    )
    reason = serializers.CharField()


class BlacklistRemovalApproveSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class BlacklistRemovalRejectSerializer(serializers.Serializer):
    reason = serializers.CharField()


class RemovalRequestFilterSerializer(FilterSerializer):
    state = serializers.ChoiceField(
        choices=STATE_CHOICES,
        required=False,
        allow_blank=True,
    )


def require_keeper(user) -> None:
    if not can_keep_blacklist(user):
        raise NotPermitted(_("Only the county poverty office and bank loan officers keep the blacklist."))


class BlacklistRemovalRequestListApi(GenericAPIView):
    """Removal requests of households in the user's area: `?state=pending` (default),
    `approved`, `rejected` or `all`."""

    serializer_class = BlacklistRemovalRequestSerializer

    @extend_schema(
        parameters=[RemovalRequestFilterSerializer],
        responses=BlacklistRemovalRequestSerializer(many=True),
    )
    def get(self, request):
        choice = parse_filters(RemovalRequestFilterSerializer, request).get("state") or "pending"
        qs = selectors.blacklist_removal_requests(
            user=request.user, state=None if choice == "all" else choice
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(BlacklistRemovalRequestSerializer(page, many=True).data)


class BlacklistRemovalRequestDetailApi(GenericAPIView):
    serializer_class = BlacklistRemovalRequestSerializer

    def get(self, request, pk):
        removal = selectors.blacklist_removal_request(user=request.user, pk=pk)
        return Response(BlacklistRemovalRequestSerializer(removal).data)


class BlacklistRemovalApproveApi(GenericAPIView):
    serializer_class = BlacklistRemovalRequestSerializer

    @extend_schema(
        request=BlacklistRemovalApproveSerializer,
        responses=BlacklistRemovalRequestSerializer,
        description="A second person approves the removal: the household comes off the blacklist. "
        "The requester may not approve (403 `four_eyes`); a decided request answers 409.",
    )
    def post(self, request, pk):
        removal = selectors.blacklist_removal_request(user=request.user, pk=pk)
        require_keeper(request.user)
        data = BlacklistRemovalApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        removal = blacklist_services.blacklist_removal_approve(
            acting_user=request.user, removal=removal, comment=data.validated_data["comment"]
        )
        removal = selectors.blacklist_removal_request(user=request.user, pk=removal.pk)
        return Response(BlacklistRemovalRequestSerializer(removal).data)


class BlacklistRemovalRejectApi(GenericAPIView):
    serializer_class = BlacklistRemovalRequestSerializer

    @extend_schema(
        request=BlacklistRemovalRejectSerializer,
        responses=BlacklistRemovalRequestSerializer,
        description="A second person rejects the removal, saying why; the household stays listed.",
    )
    def post(self, request, pk):
        removal = selectors.blacklist_removal_request(user=request.user, pk=pk)
        require_keeper(request.user)
        data = BlacklistRemovalRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        removal = blacklist_services.blacklist_removal_reject(
            acting_user=request.user, removal=removal, reason=data.validated_data["reason"]
        )
        removal = selectors.blacklist_removal_request(user=request.user, pk=removal.pk)
        return Response(BlacklistRemovalRequestSerializer(removal).data)
