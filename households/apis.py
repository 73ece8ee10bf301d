"""REST API for households, ratings and the blacklist (API.md). Serializers only check the shape
of the input (the 400 `invalid` answers) and format the output; every rule lives in services."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from core.api import FilterSerializer, IdFilter, parse_filters
from core.exceptions import NotPermitted

from . import idnumbers, selectors
from .apis_blacklist import BlacklistRemovalInputSerializer, BlacklistRemovalRequestSerializer
from .models import BlacklistEntry, CreditRating, Household, Member
from .permissions import can_edit_households, can_keep_blacklist, can_see_full_id, rating_branch
from .services import blacklist as blacklist_services
from .services import households as household_services
from .services import ratings as rating_services

# ---------------------------------------------------------------------------------------------
# Fields and output serializers
# ---------------------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class IdNumberField(serializers.Field):
    """An 18-character ID number given as text. A JSON number is refused, not converted:
    an 18-digit number does not survive a float, and a silent conversion hides that."""

    default_error_messages = {"required": gettext_lazy("Enter the ID number.")}

    def to_internal_value(self, data):
        try:
            return idnumbers.parse(data).number
        except DjangoValidationError as e:
            raise serializers.ValidationError(e.messages) from None

    def to_representation(self, value):
        return value


class MemberSerializer(serializers.ModelSerializer):
    id_number = serializers.SerializerMethodField(
        help_text=gettext_lazy(
            "Masked (4503**********1234) except on the detail to roles allowed the full number."
        )
    )
    age = serializers.SerializerMethodField(
        help_text=gettext_lazy("Completed years today, from the ID number.")
    )

    class Meta:
        model = Member
        fields = [
            "id",
            "name",
            "id_number",
            "relation",
            "is_head",
            "phone",
            "labour_capacity",
            "birth_date",
            "is_male",
            "age",
        ]
        read_only_fields = fields

    def get_id_number(self, member) -> str:
        # Full only where the view revealed it, which records the reveal (DOMAIN §2).
        return self.context.get("id_numbers", {}).get(member.pk, member.id_number_masked)

    def get_age(self, member) -> int:
        return member.age_on(timezone.localdate())


class RatingBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditRating
        fields = ["id", "score", "grade", "credit_limit", "valid_from", "valid_to"]
        read_only_fields = fields


class HouseholdSerializer(serializers.ModelSerializer):
    village_name = serializers.CharField(source="village.name", read_only=True)
    township = serializers.IntegerField(source="village.parent_id", read_only=True)
    township_name = serializers.CharField(source="village.parent.name", read_only=True)
    members = MemberSerializer(many=True, read_only=True)
    current_rating = serializers.SerializerMethodField()
    blacklisted = serializers.SerializerMethodField()

    class Meta:
        model = Household
        fields = [
            "id",
            "registration_no",
            "village",
            "village_name",
            "township",
            "township_name",
            "poverty_status",
            "exited_on",
            "address",
            "assets",
            "debts",
            "annual_income",
            "business",
            "members",
            "current_rating",
            "blacklisted",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(RatingBriefSerializer(allow_null=True))
    def get_current_rating(self, household):
        rating = selectors.current_rating(household)
        return RatingBriefSerializer(rating).data if rating else None

    def get_blacklisted(self, household) -> bool:
        return selectors.active_blacklist_entry(household) is not None


class RatingSerializer(serializers.ModelSerializer):
    branch_name = serializers.CharField(source="branch.name", read_only=True)
    rated_by_name = serializers.CharField(source="rated_by.__str__", read_only=True)

    class Meta:
        model = CreditRating
        fields = [
            "id",
            "household",
            "score",
            "grade",
            "credit_limit",
            "valid_from",
            "valid_to",
            "score_integrity",
            "score_labour",
            "score_income",
            "score_project",
            "score_assets",
            "profile",
            "branch",
            "branch_name",
            "rated_by",
            "rated_by_name",
            "rated_at",
            "comment",
        ]
        read_only_fields = fields


class BlacklistEntrySerializer(serializers.ModelSerializer):
    registration_no = serializers.CharField(source="household.registration_no", read_only=True)
    village_name = serializers.CharField(source="household.village.name", read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    added_by_name = serializers.CharField(source="added_by.__str__", read_only=True)
    removed_by_name = serializers.SerializerMethodField()

    class Meta:
        model = BlacklistEntry
        fields = [
            "id",
            "household",
            "registration_no",
            "village_name",
            "reason",
            "is_active",
            "added_by",
            "added_by_name",
            "added_at",
            "removed_by",
            "removed_by_name",
            "removed_at",
            "removal_reason",
        ]
        read_only_fields = fields

    def get_removed_by_name(self, entry) -> str | None:
        return str(entry.removed_by) if entry.removed_by_id else None


# ---------------------------------------------------------------------------------------------
# Input serializers (shape only)
# ---------------------------------------------------------------------------------------------


class MemberInputSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        required=False, help_text=gettext_lazy("An existing member's id (PATCH); omit for a new member.")
    )
    name = serializers.CharField(max_length=50)
    id_number = IdNumberField(
        required=False,
        help_text=gettext_lazy("Full 18-character number, as text. Optional for an existing member."),
    )
    relation = serializers.ChoiceField(choices=Member.Relation.choices)
    is_head = serializers.BooleanField(required=False, default=False)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    labour_capacity = serializers.ChoiceField(choices=Member.Labour.choices, required=False)

    def validate(self, attrs):
        if not attrs.get("id") and not attrs.get("id_number"):
            raise serializers.ValidationError({"id_number": [_("Enter the ID number.")]})
        return attrs


MONEY_INPUT = {"max_digits": 14, "decimal_places": 2, "min_value": 0, "required": False}


class HouseholdInputSerializer(serializers.Serializer):
    registration_no = serializers.CharField(max_length=32)
    village = serializers.PrimaryKeyRelatedField(queryset=selectors.village_choices())
    poverty_status = serializers.ChoiceField(choices=Household.PovertyStatus.choices, required=False)
    exited_on = serializers.DateField(required=False, allow_null=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    assets = serializers.DecimalField(**MONEY_INPUT)
    debts = serializers.DecimalField(**MONEY_INPUT)
    annual_income = serializers.DecimalField(**MONEY_INPUT)
    business = serializers.CharField(max_length=200, required=False, allow_blank=True)
    members = MemberInputSerializer(many=True, allow_empty=False)
    reason = serializers.CharField(required=False, allow_blank=True, write_only=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A village outside the user's area is answered exactly like one that does not exist.
        request = self.context.get("request")
        if request is not None:
            self.fields["village"].queryset = selectors.village_choices(user=request.user)


class HouseholdFilterSerializer(FilterSerializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text=gettext_lazy("Member name, registration number or a whole ID number"),
    )
    village = IdFilter()
    status = serializers.ChoiceField(
        choices=Household.PovertyStatus.choices, required=False, allow_blank=True
    )


class BlacklistFilterSerializer(FilterSerializer):
    active = serializers.ChoiceField(
        choices=["true", "false", "all"],
        required=False,
        allow_blank=True,
        help_text=gettext_lazy("true (the default): active entries; false: removed ones; all."),
    )
    household = IdFilter()


class RatingInputSerializer(serializers.Serializer):
    score_integrity = serializers.IntegerField(required=False, allow_null=True)
    score_labour = serializers.IntegerField(required=False, allow_null=True)
    score_income = serializers.IntegerField(required=False, allow_null=True)
    score_project = serializers.IntegerField(required=False, allow_null=True)
    score_assets = serializers.IntegerField(required=False, allow_null=True)
    score = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=gettext_lazy(
            "A total (0-100) from the bank's own scoring system, instead of the five scores."
        ),
    )
    valid_from = serializers.DateField(required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True)


class BlacklistInputSerializer(serializers.Serializer):
    household = serializers.PrimaryKeyRelatedField(queryset=selectors.household_choices())
    reason = serializers.CharField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["household"].queryset = selectors.household_choices(user=request.user)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()


class IdentityCorrectionSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=50, required=False, allow_blank=True, help_text=gettext_lazy("The corrected name.")
    )
    id_number = IdNumberField(
        required=False, help_text=gettext_lazy("The corrected 18-character ID number, as text.")
    )
    reason = serializers.CharField(help_text=gettext_lazy("Why the name or ID number was wrong."))

    def validate(self, attrs):
        if not (attrs.get("name") or "").strip() and not attrs.get("id_number"):
            raise serializers.ValidationError(
                {"name": [_("Give the corrected name, the corrected ID number, or both.")]}
            )
        return attrs


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


def _detail_data(request, household_pk):
    """The detail, with full ID numbers for roles whose work needs them (API.md); each full number
    given out is an audited view of it (DOMAIN §2)."""
    household = selectors.household_detail(user=request.user, pk=household_pk)
    numbers = {}
    if can_see_full_id(request.user):
        numbers = household_services.member_id_numbers_reveal(
            acting_user=request.user, members=household.members.all(), via="api"
        )
    return HouseholdSerializer(household, context={"id_numbers": numbers}).data


class HouseholdListApi(GenericAPIView):
    """Households in the user's area. In lists every ID number is masked."""

    serializer_class = HouseholdSerializer

    @extend_schema(parameters=[HouseholdFilterSerializer], responses=HouseholdSerializer(many=True))
    def get(self, request):
        filters = parse_filters(HouseholdFilterSerializer, request)
        qs = selectors.household_search(
            user=request.user,
            q=filters.get("q", ""),
            village_id=filters.get("village"),
            status=filters.get("status", ""),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(HouseholdSerializer(page, many=True).data)

    @extend_schema(request=HouseholdInputSerializer, responses={201: HouseholdSerializer})
    def post(self, request):
        if not can_edit_households(request.user):
            raise NotPermitted(
                _("Only village cadres, township and county poverty staff may enter households.")
            )
        data = HouseholdInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        household = household_services.household_create(acting_user=request.user, **data.validated_data)
        return Response(_detail_data(request, household.pk), status=status.HTTP_201_CREATED)


class HouseholdDetailApi(GenericAPIView):
    """One household. Members' ID numbers are full only for roles whose work needs them, and
    every answer that carries full numbers is recorded as a view of them (DOMAIN §2)."""

    serializer_class = HouseholdSerializer

    def get(self, request, pk):
        return Response(_detail_data(request, pk))

    @extend_schema(
        request=HouseholdInputSerializer(partial=True),
        responses=HouseholdSerializer,
        description="Fields given are changed. `members`, when given, is the complete new member list: "
        "items with `id` update that member (without `id_number` the stored number stays), items "
        "without `id` are added, members left out are removed. The name and ID number of a member "
        "who is the borrower of an application past draft or of a loan are locked: changing them "
        "answers 400 `identity_locked` (use `members/{member_id}/identity-correction/`).",
    )
    def patch(self, request, pk):
        household = selectors.household_get(user=request.user, pk=pk)
        if not can_edit_households(request.user):
            raise NotPermitted(
                _("Only village cadres, township and county poverty staff may enter households.")
            )
        data = HouseholdInputSerializer(data=request.data, partial=True, context={"request": request})
        data.is_valid(raise_exception=True)
        household_services.household_update(
            acting_user=request.user, household=household, **data.validated_data
        )
        return Response(_detail_data(request, household.pk))


class MemberIdentityCorrectionApi(GenericAPIView):
    """An administrator corrects a member's name and/or ID number, with a reason (DOMAIN §2).
    The only way to change a locked borrower's identity; audited with before and after, the ID
    number as keyed hash and masked form."""

    serializer_class = MemberSerializer

    @extend_schema(request=IdentityCorrectionSerializer, responses=MemberSerializer)
    def post(self, request, pk, member_pk):
        household = selectors.household_get(user=request.user, pk=pk)
        member = selectors.member_get(household=household, pk=member_pk)
        if not household_services.can_correct_identity(request.user):
            raise NotPermitted(_("Only an administrator may correct a member's name or ID number."))
        data = IdentityCorrectionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = household_services.member_identity_correct(
            acting_user=request.user, member=member, **data.validated_data
        )
        return Response(MemberSerializer(member).data)


class RatingListApi(GenericAPIView):
    """A household's rating history, newest first; POST rates it (a loan officer of the branch
    serving the household's township)."""

    serializer_class = RatingSerializer

    @extend_schema(responses=RatingSerializer(many=True))
    def get(self, request, pk):
        household = selectors.household_get(user=request.user, pk=pk)
        page = self.paginate_queryset(selectors.rating_list(household=household))
        return self.get_paginated_response(RatingSerializer(page, many=True).data)

    @extend_schema(request=RatingInputSerializer, responses={201: RatingSerializer})
    def post(self, request, pk):
        household = selectors.household_get(user=request.user, pk=pk)
        if rating_branch(request.user) is None:
            raise NotPermitted(_("Only a bank loan officer of a branch may rate households."))
        data = RatingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating = rating_services.rating_create(
            acting_user=request.user, household=household, **data.validated_data
        )
        return Response(RatingSerializer(rating).data, status=status.HTTP_201_CREATED)


class BlacklistListApi(GenericAPIView):
    """Blacklist entries of households in the user's area. `?active=true` (default), `false`
    (removed entries) or `all`; `?household=` narrows to one household."""

    serializer_class = BlacklistEntrySerializer

    @extend_schema(parameters=[BlacklistFilterSerializer], responses=BlacklistEntrySerializer(many=True))
    def get(self, request):
        filters = parse_filters(BlacklistFilterSerializer, request)
        active = {"true": True, "false": False, "all": None}[filters.get("active") or "true"]
        qs = selectors.blacklist_entries(
            user=request.user, active=active, household_id=filters.get("household")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(BlacklistEntrySerializer(page, many=True).data)

    @extend_schema(request=BlacklistInputSerializer, responses={201: BlacklistEntrySerializer})
    def post(self, request):
        if not can_keep_blacklist(request.user):
            raise NotPermitted(_("Only the county poverty office and bank loan officers keep the blacklist."))
        data = BlacklistInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        entry = blacklist_services.blacklist_add(acting_user=request.user, **data.validated_data)
        return Response(BlacklistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class BlacklistDetailApi(GenericAPIView):
    serializer_class = BlacklistEntrySerializer

    def get(self, request, pk):
        return Response(BlacklistEntrySerializer(selectors.blacklist_entry(user=request.user, pk=pk)).data)

    @extend_schema(
        request=BlacklistRemovalInputSerializer,
        parameters=[OpenApiParameter("reason", str, description="The reason, when not in the body")],
        responses={202: BlacklistRemovalRequestSerializer},
        description="Asks for the household to come off the blacklist (four-eyes): `basis` is "
        "`settled` (checked: every loan of the household repaid, P1 art.22) or `exception` (stated "
        "in `reason`). Nothing is lifted until a second person approves at "
        "`blacklist/removal-requests/{id}/approve/`; the answer is the pending request.",
    )
    def delete(self, request, pk):
        entry = selectors.blacklist_entry(user=request.user, pk=pk)
        if not can_keep_blacklist(request.user):
            raise NotPermitted(_("Only the county poverty office and bank loan officers keep the blacklist."))
        body = request.data if hasattr(request.data, "get") else {}
        data = BlacklistRemovalInputSerializer(
            data={
                "reason": body.get("reason") or request.query_params.get("reason", ""),
                "basis": body.get("basis") or request.query_params.get("basis") or "settled",
            }
        )
        data.is_valid(raise_exception=True)
        removal = blacklist_services.blacklist_removal_request(
            acting_user=request.user, entry=entry, **data.validated_data
        )
        removal = selectors.blacklist_removal_request(user=request.user, pk=removal.pk)
        return Response(BlacklistRemovalRequestSerializer(removal).data, status=status.HTTP_202_ACCEPTED)
