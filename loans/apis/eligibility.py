"""`POST /api/v1/eligibility/` (API.md): runs every eligibility rule for a prospective loan and
answers all of them, passed or not, with 200 even when the household may not borrow. Input that
is not well formed answers 400 `invalid`; a household outside the user's area answers 404."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from households import selectors as household_selectors

from .. import eligibility, selectors
from ..choices import UseMode
from ..purposes import Purpose


class EligibilityInputSerializer(serializers.Serializer):
    household = serializers.IntegerField(min_value=1)
    borrower = serializers.IntegerField(min_value=1, help_text=gettext_lazy("A member of the household."))
    # Zero, a term out of range or an unknown purpose are well formed: the rules answer them.
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text=gettext_lazy("Yuan."))
    term_months = serializers.IntegerField(min_value=0, max_value=600)
    purpose_category = serializers.CharField(
        max_length=32,
        # Not a choice field: an unknown or forbidden purpose is answered by its rule, with the source.
        help_text=", ".join(Purpose.values),
    )
    on_date = serializers.DateField(
        required=False, help_text=gettext_lazy("The day the rules are judged on; today when omitted.")
    )
    use_mode = serializers.ChoiceField(choices=UseMode.choices, required=False, default=UseMode.SELF)
    capacity_attested = serializers.BooleanField(
        required=False,
        default=True,
        help_text=gettext_lazy("Omit to check the other rules before the form asks for the attestation."),
    )
    bank_account_no = serializers.CharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="x",
        help_text=gettext_lazy("Omit to check the other rules before the form asks for the account."),
    )
    entity_attested = serializers.BooleanField(required=False, default=False)


class EligibilityRuleResultSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text=gettext_lazy("Stable rule code."))
    passed = serializers.BooleanField()
    message = serializers.CharField()
    source = serializers.CharField(help_text=gettext_lazy("The policy text the rule comes from."))


class EligibilitySerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    results = EligibilityRuleResultSerializer(many=True)


class EligibilityView(APIView):
    """Every eligibility rule (DOMAIN §3) for a household, a borrower and a loan, under the
    county policy in force on `on_date`. A pre-check judges a loan applied for on `on_date`, so
    the borrower's age and the maturity for age plus term are taken from that day too; the
    credit line and the household cap count the household's open loans and applications in
    flight, as at submission."""

    @extend_schema(
        request=EligibilityInputSerializer,
        responses={200: EligibilitySerializer},
        description="Answers 200 with every rule, passed or not; `eligible` is true when all passed.",
    )
    def post(self, request):
        data = EligibilityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        household = household_selectors.household_get(user=request.user, pk=values["household"])
        borrower = selectors.household_member(household=household, pk=values["borrower"])
        if borrower is None:
            raise serializers.ValidationError({"borrower": [_("Choose a member of this household.")]})
        report = eligibility.evaluate(
            household=household,
            borrower=borrower,
            amount=values["amount"],
            term_months=values["term_months"],
            purpose_category=values["purpose_category"],
            on_date=values.get("on_date") or timezone.localdate(),
            use_mode=values["use_mode"],
            capacity_attested=values["capacity_attested"],
            bank_account_no=values["bank_account_no"],
            entity_attested=values["entity_attested"],
            stage="check",
        )
        return Response(
            EligibilitySerializer(
                {
                    "eligible": report.eligible,
                    "results": [
                        {"rule": r.rule, "passed": r.passed, "message": r.message, "source": r.source}
                        for r in report.results
                    ],
                }
            ).data
        )
