"""Writes for credit ratings (评级授信): a bank loan officer rates a household of a township the
branch serves; grade, credit line and validity come from the policy profile in force."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit
from core.exceptions import NotPermitted
from policies.models import PolicyProfile
from policies.selectors import county_of, profile_for

from ..exceptions import field_error
from ..models import CreditRating, Household
from ..permissions import rating_branch
from .households import validation_error

# (rating field, profile field holding its maximum)
DIMENSIONS = (
    ("score_integrity", "score_integrity_max"),
    ("score_labour", "score_labour_max"),
    ("score_income", "score_income_max"),
    ("score_project", "score_project_max"),
    ("score_assets", "score_assets_max"),
)
# A bank's own scoring system sends a total on the common 100-point scale (DOMAIN §2).
TOTAL_SCORE_MAX = 100


@dataclass(frozen=True)
class GradeBand:
    grade: str
    min_score: int
    credit_limit: Decimal


def grade_bands(profile: PolicyProfile) -> list[GradeBand]:
    """The profile's bands, best first. The rating page's live preview gets exactly these."""
    return [
        GradeBand(CreditRating.Grade.AAA, profile.grade_aaa_min, profile.line_aaa),
        GradeBand(CreditRating.Grade.AA, profile.grade_aa_min, profile.line_aa),
        GradeBand(CreditRating.Grade.A, profile.grade_a_min, profile.line_a),
    ]


def grade_for(profile: PolicyProfile, score: int) -> tuple[str, Decimal]:
    """Grade and credit line for a score: the best band whose minimum it reaches; below the A
    band the household is not rated and has no line."""
    for band in grade_bands(profile):
        if score >= band.min_score:
            return band.grade, band.credit_limit
    return CreditRating.Grade.NONE, Decimal("0.00")


def rating_valid_to(valid_from: datetime.date, months: int) -> datetime.date:
    """The last day of a validity of `months` months: the day before the same day-of-month that
    many months later. When that day does not exist (31 January + 1 month, 29 February + 12) the
    period runs to the end of the shorter month, so it is never cut short."""
    index = valid_from.month - 1 + months
    year, month = valid_from.year + index // 12, index % 12 + 1
    if valid_from.day > calendar.monthrange(year, month)[1]:
        return datetime.date(year, month, calendar.monthrange(year, month)[1])
    return datetime.date(year, month, valid_from.day) - datetime.timedelta(days=1)


def dimension_label(field: str) -> str:
    return str(CreditRating._meta.get_field(field).verbose_name)


def _whole_number(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(field, _("Enter a whole number of points."))
    return value


@transaction.atomic
def rating_create(
    *,
    acting_user,
    household: Household,
    score_integrity: int | None = None,
    score_labour: int | None = None,
    score_income: int | None = None,
    score_project: int | None = None,
    score_assets: int | None = None,
    score: int | None = None,
    valid_from: datetime.date | None = None,
    comment: str = "",
) -> CreditRating:
    """Rate a household (评级授信, P1 art.10, P2 §5(1)): either the five dimension scores of the
    profile in force, summed, or a bank system's own total; grade, credit line and validity come
    from the profile."""
    branch = rating_branch(acting_user)
    if branch is None:
        raise NotPermitted(_("Only a bank loan officer of a branch may rate households."))
    household = Household.objects.select_related("village__parent").get(pk=household.pk)
    township = household.village.parent
    if not branch.served_townships.filter(pk=township.pk).exists():
        raise NotPermitted(
            _("Your branch does not serve %(township)s; only the branch serving it may rate this household.")
            % {"township": township}
        )
    if valid_from is None:
        valid_from = timezone.localdate()
    if not isinstance(valid_from, datetime.date):
        raise field_error("valid_from", _("Enter a valid date."))
    # Not stated by the policies; our rule: a rating records an assessment already made, so it
    # starts today at the latest. Earlier dates are fine (entering ratings done on paper), and a
    # mistyped future year cannot leave a household with a line that never takes effect.
    if valid_from > timezone.localdate():
        raise field_error("valid_from", _("A rating cannot start in the future."))
    profile = profile_for(county=county_of(household.village), on_date=valid_from)

    given = {
        "score_integrity": score_integrity,
        "score_labour": score_labour,
        "score_income": score_income,
        "score_project": score_project,
        "score_assets": score_assets,
    }
    entered = [f for f, v in given.items() if v is not None]
    if entered and score is not None:
        raise field_error("score", _("Give either the five dimension scores or a total score, not both."))
    if entered:
        for field, max_field in DIMENSIONS:
            if given[field] is None:
                raise field_error(
                    field,
                    _("Give the score for %(dimension)s as well.") % {"dimension": dimension_label(field)},
                )
            value = _whole_number(field, given[field])
            maximum = getattr(profile, max_field)
            if not 0 <= value <= maximum:
                raise field_error(
                    field,
                    _(
                        "%(dimension)s: %(value)d points is outside 0 to %(max)d "
                        "(policy profile “%(profile)s”)."
                    )
                    % {
                        "dimension": dimension_label(field),
                        "value": value,
                        "max": maximum,
                        "profile": profile.name,
                    },
                    rule="rating_dimension_range",
                    source="DOMAIN §2; policy profile",
                )
        total = sum(given.values())
    elif score is not None:
        total = _whole_number("score", score)
        if not 0 <= total <= TOTAL_SCORE_MAX:
            raise field_error(
                "score",
                _("The total score must be between 0 and %(max)d.") % {"max": TOTAL_SCORE_MAX},
                rule="rating_score_range",
                source="DOMAIN §2",
            )
    else:
        raise field_error(
            "score",
            _("Give the five dimension scores, or the total score from the bank's own scoring system."),
        )

    grade, credit_limit = grade_for(profile, total)
    rating = CreditRating(
        household=household,
        **given,
        score=total,
        grade=grade,
        credit_limit=credit_limit,
        valid_from=valid_from,
        valid_to=rating_valid_to(valid_from, profile.rating_valid_months),
        profile=profile,
        branch=branch,
        rated_by=acting_user,
        comment=(comment or "").strip(),
    )
    try:
        rating.full_clean()
    except ValidationError as e:
        raise validation_error(e) from None
    rating.save()
    audit(
        actor=acting_user,
        action="rating.create",
        obj=rating,
        data={
            "household": household.pk,
            "score": total,
            "grade": grade,
            "credit_limit": str(credit_limit),
            "valid_from": str(rating.valid_from),
            "valid_to": str(rating.valid_to),
            "profile": profile.pk,
        },
    )
    return rating
