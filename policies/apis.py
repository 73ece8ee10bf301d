"""REST API for policy profiles, interest rates and the working-day calendar (API.md)."""

from __future__ import annotations

import datetime
from pathlib import PurePath

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from accounts.scoping import visible_counties
from core.api import FilterSerializer, IdFilter, parse_filters
from core.api_schema import ErrorSerializer

from . import calendar_files, selectors, services
from .models import PolicyProfile, Rate


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


# ---- the calendar from a file ---------------------------------------------------------------------


class CalendarImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text=_(
            "CSV (UTF-8 or GBK) or XLSX, judged by content: columns 日期, 类型 (休息/放假 or 上班/调休上班; "
            "holiday/workday) and 名称, one row per day; at most 1 MB and 400 rows after the header."
        )
    )
    year = serializers.IntegerField(
        min_value=1990, max_value=2100, help_text=_("The year the file holds; every row must be in it.")
    )
    source = serializers.CharField(
        max_length=200, help_text=_("The notice the arrangements come from, for the audit record.")
    )
    replace = serializers.BooleanField(
        default=False, help_text=_("Needed when the year is already in the calendar.")
    )


class CalendarImportHolidaySerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    name = serializers.CharField()
    days = serializers.IntegerField()


class CalendarImportWorkdaySerializer(serializers.Serializer):
    date = serializers.DateField()
    name = serializers.CharField(allow_blank=True)


class CalendarImportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    year = serializers.IntegerField()
    file_type = serializers.CharField(help_text=_("csv or xlsx, as read from the content."))
    rows = serializers.IntegerField()
    holidays = CalendarImportHolidaySerializer(many=True)
    workdays = CalendarImportWorkdaySerializer(many=True)
    working_days = serializers.IntegerField()
    rest_days = serializers.IntegerField()
    replaces = serializers.BooleanField(help_text=_("Whether a stored year is (or would be) replaced."))


class CalendarImportApi(APIView):
    """Load a year's holidays and adjusted working days from a file (administrators), all or
    nothing, through the same checks as the page. With `?dry_run=1` only check and answer what
    would be stored (200); otherwise store it (201). A refused file answers 400 with `extra.rows`
    listing every problem (`row` as the spreadsheet numbers it, null for the whole file; `column`;
    `message`; `code`); the top-level `code` names a whole-file refusal (`file_too_large`,
    `too_many_rows`, `bad_file`, `xlsx_too_large`, `calendar_year_exists`, …) or is
    `invalid` for row errors."""

    parser_classes = [MultiPartParser]
    permission_classes = [permissions.IsAuthenticated, AdminWrites]

    @extend_schema(
        operation_id="calendar_import",
        parameters=[
            OpenApiParameter("dry_run", bool, description="Check only; answer what would be stored.")
        ],
        request={"multipart/form-data": CalendarImportInputSerializer},
        responses={
            200: CalendarImportSerializer,
            201: CalendarImportSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            409: ErrorSerializer,
        },
    )
    def post(self, request):
        data = CalendarImportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        dry_run = request.query_params.get("dry_run") in ("1", "true", "yes")
        arguments = {
            "acting_user": request.user,
            "file": upload,
            "filename": PurePath(upload.name.replace("\\", "/")).name[:100],
            "year": data.validated_data["year"],
            "source": data.validated_data["source"],
            "replace": data.validated_data["replace"],
        }
        if dry_run:
            result = services.calendar_import_check(**arguments)
            if not result.ok:
                raise calendar_files.CalendarImportRejected(result)
        else:
            result = services.calendar_year_import(**arguments)
        return Response(
            CalendarImportSerializer({"dry_run": dry_run, **result.summary()}).data,
            status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED,
        )


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


class ProfileFilterSerializer(FilterSerializer):
    county = IdFilter(help_text=_("Only this county's profiles."))


class RateFilterSerializer(FilterSerializer):
    kind = serializers.ChoiceField(choices=Rate.Kind.choices, required=False, allow_blank=True)
    tenor = serializers.ChoiceField(choices=Rate.Tenor.choices, required=False, allow_blank=True)


@extend_schema_view(
    list=extend_schema(parameters=[ProfileFilterSerializer]),
    retrieve=extend_schema(responses={200: PolicyProfileSerializer, 404: ErrorSerializer}),
)
class PolicyProfileViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """County policy profiles (DOMAIN §10) of the counties the user sees, newest first per county."""

    serializer_class = PolicyProfileSerializer
    permission_classes = [permissions.IsAuthenticated, AdminWrites]

    def get_queryset(self):
        county = None
        if self.action == "list":
            county = parse_filters(ProfileFilterSerializer, self.request).get("county") or None
        return selectors.profile_list(user=self.request.user, county_id=county)

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
    list=extend_schema(parameters=[RateFilterSerializer]),
    retrieve=extend_schema(responses={200: RateSerializer, 404: ErrorSerializer}),
)
class RateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The effective-dated rate table (annual rates in percent): PBOC benchmark rates and LPRs."""

    serializer_class = RateSerializer
    permission_classes = [permissions.IsAuthenticated, AdminWrites]

    def get_queryset(self):
        filters = parse_filters(RateFilterSerializer, self.request) if self.action == "list" else {}
        return selectors.rate_list(kind=filters.get("kind") or "", tenor=filters.get("tenor") or "")

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
