"""REST API for loan applications (API.md; the loans themselves are in loans.py). Serializers only
check the shape of the input (the 400 `invalid` answers) and format the output; every step is a
service in applications.py, which owns the rules, the roles, the row lock and the history row.
Scope comes from the selectors: an application outside the user's area answers 404 on every
route."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts.models import Role
from core.api import FilterSerializer, IdFilter, parse_filters
from core.exceptions import NotPermitted
from core.uploads import PhotoField

from .. import selectors, steps
from ..choices import UseMode
from ..models import ApplicationHistory, InvestigationPhoto, Loan, LoanApplication, Objection, PublicityNotice
from ..purposes import Purpose
from ..services import applications
from ..workflow import STEP_LABELS, State

MONEY = {"max_digits": 12, "decimal_places": 2}


# ---------------------------------------------------------------------------------------------
# Output serializers
# ---------------------------------------------------------------------------------------------


def _user_name(user) -> str | None:
    return str(user) if user is not None else None


class HistorySerializer(serializers.ModelSerializer):
    by_name = serializers.SerializerMethodField(
        help_text=gettext_lazy("Empty when the daily publicity task took the step.")
    )

    class Meta:
        model = ApplicationHistory
        fields = ["id", "transition", "from_state", "to_state", "by", "by_name", "at", "comment"]
        read_only_fields = fields

    def get_by_name(self, row) -> str | None:
        return _user_name(row.by)


class NoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = PublicityNotice
        fields = ["id", "level", "start_on", "end_on", "working_days", "status"]
        read_only_fields = fields


class ObjectionSerializer(serializers.ModelSerializer):
    raised_by_name = serializers.SerializerMethodField()

    class Meta:
        model = Objection
        fields = [
            "id",
            "application",
            "notice",
            "objector",
            "text",
            "raised_by",
            "raised_by_name",
            "raised_at",
        ]
        read_only_fields = fields

    def get_raised_by_name(self, objection) -> str | None:
        return _user_name(objection.raised_by)


class PhotoSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvestigationPhoto
        fields = ["id", "application", "image", "caption", "uploaded_by", "uploaded_at"]
        read_only_fields = fields


class ApplicationSerializer(serializers.ModelSerializer):
    household_registration_no = serializers.CharField(source="household.registration_no", read_only=True)
    village = serializers.IntegerField(source="household.village_id", read_only=True)
    village_name = serializers.CharField(source="household.village.name", read_only=True)
    borrower_name = serializers.CharField(source="borrower.name", read_only=True)
    state_display = serializers.CharField(source="get_state_display", read_only=True)
    branch_name = serializers.CharField(source="branch.name", read_only=True, allow_null=True)
    loan = serializers.SerializerMethodField(help_text=gettext_lazy("The loan's id once disbursed."))

    class Meta:
        model = LoanApplication
        fields = [
            "id",
            "household",
            "household_registration_no",
            "village",
            "village_name",
            "borrower",
            "borrower_name",
            "amount",
            "term_months",
            "purpose_category",
            "purpose_detail",
            "use_mode",
            "entity_name",
            "entity_attested",
            "capacity_attested",
            "consent_publicity",
            "consent_credit_query",
            "state",
            "state_display",
            "branch",
            "branch_name",
            "created_by",
            "created_at",
            "submitted_on",
            "investigated_by",
            "investigated_on",
            "approved_by",
            "approved_on",
            "approved_amount",
            "approved_term_months",
            "rate",
            "rate_basis",
            "decision_reason",
            "loan",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "rate": {
                "help_text": gettext_lazy(
                    "Indicative: the rate a contract signed on the approval day would take. The loan's "
                    "rate is fixed at disbursement, from the table in force on the contract date."
                )
            }
        }

    def get_loan(self, application) -> int | None:
        try:
            return application.loan.pk
        except Loan.DoesNotExist:
            return None


class ApplicationDetailSerializer(ApplicationSerializer):
    history = HistorySerializer(many=True, read_only=True)
    notices = NoticeSerializer(many=True, read_only=True)
    objections = ObjectionSerializer(many=True, read_only=True)
    photos = PhotoSerializer(many=True, read_only=True)

    class Meta(ApplicationSerializer.Meta):
        fields = [
            *ApplicationSerializer.Meta.fields,
            "bank_account_no",
            "investigation_findings",
            "history",
            "notices",
            "objections",
            "photos",
        ]
        read_only_fields = fields


class TransitionSerializer(serializers.Serializer):
    name = serializers.CharField(help_text=gettext_lazy("Post to transitions/{name}/ to take it."))
    label = serializers.CharField()
    target = serializers.ChoiceField(choices=State.choices)
    target_display = serializers.CharField()


# ---------------------------------------------------------------------------------------------
# Input serializers (shape only)
# ---------------------------------------------------------------------------------------------


class ApplicationInputSerializer(serializers.Serializer):
    # Nothing is in scope until the request's user is known (see __init__).
    household = serializers.PrimaryKeyRelatedField(queryset=selectors.household_choices(user=None))
    borrower = serializers.PrimaryKeyRelatedField(
        queryset=selectors.borrower_choices(user=None), help_text=gettext_lazy("A member of the household.")
    )
    amount = serializers.DecimalField(**MONEY, help_text=gettext_lazy("Yuan."))
    term_months = serializers.IntegerField(min_value=1, max_value=600)
    # Forbidden purposes are valid choices: submitting one is answered by its rule, with the source.
    purpose_category = serializers.ChoiceField(choices=Purpose.choices)
    purpose_detail = serializers.CharField(required=False, allow_blank=True)
    use_mode = serializers.ChoiceField(choices=UseMode.choices, required=False)
    entity_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    entity_attested = serializers.BooleanField(required=False)
    capacity_attested = serializers.BooleanField(required=False)
    bank_account_no = serializers.CharField(max_length=40, required=False, allow_blank=True)
    consent_publicity = serializers.BooleanField(required=False)
    consent_credit_query = serializers.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A household or member outside the user's area is answered exactly like one that does
        # not exist.
        request = self.context.get("request")
        if request is not None:
            if "household" in self.fields:
                self.fields["household"].queryset = selectors.household_choices(user=request.user)
            self.fields["borrower"].queryset = selectors.borrower_choices(user=request.user)

    def validate(self, attrs):
        household = self.context.get("household") or attrs.get("household")
        borrower = attrs.get("borrower")
        if household is not None and borrower is not None and borrower.household_id != household.pk:
            raise serializers.ValidationError({"borrower": [_("Choose a member of this household.")]})
        return attrs


class ApplicationUpdateSerializer(ApplicationInputSerializer):
    """A draft's fields; the household cannot change."""

    household = None


class ApplicationFilterSerializer(FilterSerializer):
    state = serializers.ChoiceField(choices=State.choices, required=False, allow_blank=True)
    household = IdFilter()


class CommentInputSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class ReasonInputSerializer(serializers.Serializer):
    comment = serializers.CharField(help_text=gettext_lazy("The reason; this step needs one."))


class AcceptInputSerializer(CommentInputSerializer):
    findings = serializers.CharField(help_text=gettext_lazy("The pre-loan investigation's findings."))
    investigated_on = serializers.DateField(
        required=False, allow_null=True, help_text=gettext_lazy("Today when omitted.")
    )


class ApproveInputSerializer(CommentInputSerializer):
    amount = serializers.DecimalField(
        **MONEY,
        required=False,
        allow_null=True,
        help_text=gettext_lazy("The approved amount; the amount requested when omitted."),
    )
    term_months = serializers.IntegerField(
        min_value=1,
        max_value=600,
        required=False,
        allow_null=True,
        help_text=gettext_lazy("The approved term; the term requested when omitted."),
    )


class DisburseInputSerializer(CommentInputSerializer):
    contract_no = serializers.CharField(
        max_length=64, help_text=gettext_lazy("The loan contract number (借款合同).")
    )
    receipt_no = serializers.CharField(
        max_length=64, help_text=gettext_lazy("The loan receipt number (借据).")
    )
    disbursed_on = serializers.DateField(
        required=False, allow_null=True, help_text=gettext_lazy("Today when omitted.")
    )
    account_no = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text=gettext_lazy(
            "The borrower's account at the lending bank: interest is debited and the subsidy credited "
            "there. The account given on the application when omitted; a disbursement without an "
            "account is refused (account_missing)."
        ),
    )


class ObjectionInputSerializer(serializers.Serializer):
    text = serializers.CharField(help_text=gettext_lazy("What the objection says."))
    objector = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text=gettext_lazy("Who raised it.")
    )


class PhotoInputSerializer(serializers.Serializer):
    image = PhotoField()
    caption = serializers.CharField(max_length=200, required=False, allow_blank=True)


# The body of each kind of step input (loans/steps.py); its fields are the service's keyword arguments.
STEP_INPUTS = {
    "comment": CommentInputSerializer,
    "reason": ReasonInputSerializer,
    "accept": AcceptInputSerializer,
    "approve": ApproveInputSerializer,
    "disburse": DisburseInputSerializer,
}

TRANSITION_BODY = PolymorphicProxySerializer(
    component_name="TransitionBody",
    serializers=[
        CommentInputSerializer,
        ReasonInputSerializer,
        AcceptInputSerializer,
        ApproveInputSerializer,
        DisburseInputSerializer,
        ObjectionInputSerializer,
    ],
    resource_type_field_name=None,
)


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------


def _application(request, pk) -> LoanApplication:
    """The application for a write or a sub-list: scoped, so out of scope is 404."""
    return selectors.application_get(user=request.user, pk=pk)


def _detail_data(request, pk) -> dict:
    application = selectors.application_detail(user=request.user, pk=pk)
    return ApplicationDetailSerializer(application, context={"request": request}).data


class ApplicationListApi(GenericAPIView):
    """Applications in the user's area, newest first. POST enters a draft (a cadre of the
    household's village, P1 art.11)."""

    serializer_class = ApplicationSerializer

    @extend_schema(parameters=[ApplicationFilterSerializer], responses=ApplicationSerializer(many=True))
    def get(self, request):
        filters = parse_filters(ApplicationFilterSerializer, request)
        qs = selectors.application_rows(
            user=request.user, state=filters.get("state"), household=filters.get("household")
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ApplicationSerializer(page, many=True).data)

    @extend_schema(request=ApplicationInputSerializer, responses={201: ApplicationDetailSerializer})
    def post(self, request):
        if not request.user.has_role(Role.VILLAGE_CADRE):
            raise NotPermitted(_("Only a cadre of the household's village enters its applications."))
        data = ApplicationInputSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        application = applications.application_create(acting_user=request.user, **data.validated_data)
        return Response(_detail_data(request, application.pk), status=status.HTTP_201_CREATED)


class ApplicationDetailApi(GenericAPIView):
    """One application with its history, publicity notices, objections and photos. PATCH edits
    a draft (the household's village cadre)."""

    serializer_class = ApplicationDetailSerializer

    def get(self, request, pk):
        return Response(_detail_data(request, pk))

    @extend_schema(request=ApplicationUpdateSerializer(partial=True), responses=ApplicationDetailSerializer)
    def patch(self, request, pk):
        application = _application(request, pk)
        data = ApplicationUpdateSerializer(
            data=request.data,
            partial=True,
            context={"request": request, "household": application.household},
        )
        data.is_valid(raise_exception=True)
        applications.application_update(
            acting_user=request.user, application=application, **data.validated_data
        )
        return Response(_detail_data(request, pk))


class TransitionListApi(GenericAPIView):
    """The steps this user may take on the application now: its state, the user's role and unit,
    and four-eyes (the investigating officer never approves) all count."""

    serializer_class = TransitionSerializer
    pagination_class = None

    @extend_schema(responses=TransitionSerializer(many=True))
    def get(self, request, pk):
        application = _application(request, pk)
        targets = {t.name: t.target for t in application.get_all_state_transitions()}
        rows = []
        for name in selectors.available_transitions(application=application, user=request.user):
            target = targets[name]
            rows.append(
                {
                    "name": name,
                    "label": str(STEP_LABELS.get(name, name)),
                    "target": target,
                    "target_display": str(State(target).label),
                }
            )
        return Response(TransitionSerializer(rows, many=True).data)


class TransitionApi(GenericAPIView):
    """Takes one step and answers the updated application."""

    serializer_class = ApplicationDetailSerializer

    @extend_schema(
        request=TRANSITION_BODY,
        responses=ApplicationDetailSerializer,
        description=(
            "Every step takes an optional `comment`; `send_back`, `village_reject`, `withdraw`, `decline`, "
            "`reject` and `return_to_officer` require it (the reason). `accept` takes `findings` and "
            "`investigated_on`; `approve` takes `amount` and `term_months` (the requested ones when "
            "omitted); `disburse` takes `contract_no`, `receipt_no`, `disbursed_on` and `account_no` (the "
            "application's account when omitted; none at all is `account_missing`) and fixes the loan's "
            "rate on the disbursement date; `object` takes `text` and `objector`. An unknown step is "
            "404; a role that may not take it 403 "
            "(`permission_denied`, or `four_eyes` for the investigating officer); a step not allowed "
            "from the current state 409 (`transition_not_allowed`); a broken eligibility rule 400 "
            "(`rule_failed`, with `extra.rules`)."
        ),
    )
    def post(self, request, pk, name):
        application = _application(request, pk)
        if name == "object":
            data = ObjectionInputSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            applications.objection_lodge(
                acting_user=request.user, application=application, **data.validated_data
            )
            return Response(_detail_data(request, pk))
        step = steps.STEPS.get(name)
        if step is None:
            raise NotFound()
        data = STEP_INPUTS[step.takes](data=request.data)
        data.is_valid(raise_exception=True)
        steps.take(name, application=application, user=request.user, data=data.validated_data)
        return Response(_detail_data(request, pk))


class ObjectionListApi(GenericAPIView):
    """Objections to the application's publicity. POST records one (the roles that run
    publicity at some level); it suspends the notices and returns the application to village
    review."""

    serializer_class = ObjectionSerializer

    @extend_schema(responses=ObjectionSerializer(many=True))
    def get(self, request, pk):
        application = _application(request, pk)
        page = self.paginate_queryset(selectors.objection_list(application=application))
        return self.get_paginated_response(ObjectionSerializer(page, many=True).data)

    @extend_schema(request=ObjectionInputSerializer, responses={201: ObjectionSerializer})
    def post(self, request, pk):
        application = _application(request, pk)
        data = ObjectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        objection = applications.objection_lodge(
            acting_user=request.user, application=application, **data.validated_data
        )
        return Response(ObjectionSerializer(objection).data, status=status.HTTP_201_CREATED)


class PhotoListApi(GenericAPIView):
    """Pre-loan investigation photos (贷前调查). POST (multipart) adds one: a loan officer of the
    branch, while the bank is accepting or approving the application."""

    serializer_class = PhotoSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=PhotoSerializer(many=True))
    def get(self, request, pk):
        application = _application(request, pk)
        page = self.paginate_queryset(selectors.photo_list(application=application))
        return self.get_paginated_response(
            PhotoSerializer(page, many=True, context={"request": request}).data
        )

    @extend_schema(request=PhotoInputSerializer, responses={201: PhotoSerializer})
    def post(self, request, pk):
        application = _application(request, pk)
        data = PhotoInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        photo = applications.investigation_photo_add(
            acting_user=request.user, application=application, **data.validated_data
        )
        return Response(
            PhotoSerializer(photo, context={"request": request}).data, status=status.HTTP_201_CREATED
        )
