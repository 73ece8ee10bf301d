"""REST API for policy profiles, interest rates and the working-day calendar (API.md)."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.scoping import visible_counties

from . import selectors, services
from .models import PolicyProfile, Rate


class ErrorSerializer(serializers.Serializer):
    """The one error shape of API.md."""

    message = serializers.CharField()
    code = serializers.CharField()
    extra = serializers.DictField()


class AdminWrites(permissions.BasePermission):
    """Anyone signed in may read; only administrators may write (403 for everyone else)."""

    message = _("Only administrators may change policy profiles, rates and the calendar.")

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return request.user.has_role(Role.ADMIN)


def _effective_to(next_from: datetime.date | None) -> datetime.date | None:
    return next_from - datetime.timedelta(days=1) if next_from else None


# ---- working days --------------------------------------------------------------------------------


class WorkingDaysQuerySerializer(serializers.Serializer):
    start = serializers.DateField(help_text=_("The day of posting, YYYY-MM-DD."))
    count = serializers.IntegerField(
        min_value=1, max_value=1000, help_text=_("How many working days, from 1 to 1000 (publicity: 5).")
    )


class WorkingDaysSerializer(serializers.Serializer):
    start = serializers.DateField()
    count = serializers.IntegerField()
    end = serializers.DateField(
        help_text=_("The last of the working days; the period ends at the end of it.")
    )


class WorkingDaysApi(APIView):
    """The last day of `count` working days from `start`, counted as publicity counts them
    (DOMAIN §4.3): the day of posting is day 1 if it is a working day, otherwise the next working
    day is. A year with no holiday data answers 400 `calendar_missing` with `extra.year`."""

    @extend_schema(
        operation_id="calendar_working_days",
        parameters=[WorkingDaysQuerySerializer],
        responses={200: WorkingDaysSerializer, 400: ErrorSerializer},
    )
    def get(self, request):
        query = WorkingDaysQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, count = query.validated_data["start"], query.validated_data["count"]
        end = selectors.add_working_days(start, count)
        return Response(WorkingDaysSerializer({"start": start, "count": count, "end": end}).data)


# ---- policy profiles -----------------------------------------------------------------------------

PUBLICITY_LEVELS = [(code, label) for code, label in PolicyProfile.PUBLICITY_LEVELS]


class PolicyProfileSerializer(serializers.ModelSerializer):
    county_name = serializers.CharField(source="county.name", read_only=True)
    effective_to = serializers.SerializerMethodField(
        help_text=_("The last day before the county's next profile takes over; null while none does.")
    )
    status = serializers.SerializerMethodField(help_text=_("in_force, scheduled or superseded, as of today."))
    publicity_levels = serializers.ListField(child=serializers.ChoiceField(choices=PUBLICITY_LEVELS))

    class Meta:
        model = PolicyProfile
        fields = [
            "id",
            "county",
            "county_name",
            "name",
            "effective_from",
            "effective_to",
            "status",
            "source_text",
            *services.PARAMETER_FIELDS,
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_effective_to(self, obj) -> datetime.date | None:
        return _effective_to(getattr(obj, "next_from", None))

    def get_status(self, obj) -> str:
        return selectors.profile_status(obj, timezone.localdate())


class PolicyProfileInputSerializer(serializers.ModelSerializer):
    """A new version of a county's profile. Parameters left out are carried over from the county's
    latest profile (or take the defaults for a county's first profile)."""

    publicity_levels = serializers.ListField(
        child=serializers.ChoiceField(choices=PUBLICITY_LEVELS), min_length=1, required=False
    )

    class Meta:
        model = PolicyProfile
        fields = ["county", "name", "effective_from", "source_text", *services.PARAMETER_FIELDS]
        # The append-only date rule in the service gives a clearer answer than a uniqueness check.
        validators = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        # A county outside the user's scope does not exist for them (API.md).
        user = getattr(request, "user", None)
        self.fields["county"].queryset = visible_counties(user)
        for name in services.PARAMETER_FIELDS:
            self.fields[name].required = False


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("county", int, description="Only this county's profiles.")]
    ),
    retrieve=extend_schema(responses={200: PolicyProfileSerializer, 404: ErrorSerializer}),
)
class PolicyProfileViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """County policy profiles (DOMAIN §10) of the counties the user sees, newest first per county."""

    serializer_class = PolicyProfileSerializer
    permission_classes = [permissions.IsAuthenticated, AdminWrites]

    def get_queryset(self):
        queryset = selectors.profile_list(user=self.request.user)
        if self.action == "list":
            county = self.request.query_params.get("county")
            if county:
                if not county.isdigit():
                    raise serializers.ValidationError({"county": [_("A valid integer is required.")]})
                queryset = queryset.filter(county_id=int(county))
        return queryset

    @extend_schema(
        request=PolicyProfileInputSerializer,
        responses={201: PolicyProfileSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def create(self, request):
        """Add a new version of a county's profile (administrators). It must take effect after the
        county's latest profile and not before today; only a first profile may be back-dated."""
        data = PolicyProfileInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        profile = services.profile_create(acting_user=request.user, **data.validated_data)
        profile = self.get_queryset().get(pk=profile.pk)
        return Response(self.get_serializer(profile).data, status=status.HTTP_201_CREATED)


# ---- interest rates ------------------------------------------------------------------------------


class RateSerializer(serializers.ModelSerializer):
    in_force = serializers.SerializerMethodField(help_text=_("Whether this is the rate of its tenor today."))

    class Meta:
        model = Rate
        fields = ["id", "kind", "tenor", "effective_from", "annual_rate", "source", "in_force"]
        read_only_fields = ["id", "in_force"]
        extra_kwargs = {"source": {"required": True, "allow_blank": False}}
        # The append-only date rule in the service gives a clearer answer than a uniqueness check.
        validators = []

    def get_in_force(self, obj) -> bool:
        today = timezone.localdate()
        next_from = getattr(obj, "next_from", None)
        return obj.effective_from <= today and (next_from is None or next_from > today)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=Rate.Kind.values),
            OpenApiParameter("tenor", str, enum=Rate.Tenor.values),
        ]
    ),
    retrieve=extend_schema(responses={200: RateSerializer, 404: ErrorSerializer}),
)
class RateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The effective-dated rate table (annual rates in percent): PBOC benchmark rates and LPRs."""

    serializer_class = RateSerializer
    permission_classes = [permissions.IsAuthenticated, AdminWrites]

    def get_queryset(self):
        queryset = selectors.rate_list()
        params = self.request.query_params
        if params.get("kind"):
            queryset = queryset.filter(kind=params["kind"])
        if params.get("tenor"):
            queryset = queryset.filter(tenor=params["tenor"])
        return queryset

    @extend_schema(
        request=RateSerializer,
        responses={201: RateSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def create(self, request):
        """Record a published rate (administrators); it must take effect after the latest rate of
        its tenor."""
        data = RateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rate = services.rate_create(acting_user=request.user, **data.validated_data)
        rate = self.get_queryset().get(pk=rate.pk)
        return Response(self.get_serializer(rate).data, status=status.HTTP_201_CREATED)
