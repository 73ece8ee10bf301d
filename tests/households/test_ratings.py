"""Credit ratings: the grade bands, the dimension maxima of the profile, validity, who may rate."""

import datetime
from decimal import Decimal

import pytest

from core.exceptions import ApplicationError, NotPermitted
from core.models import AuditEvent
from households.models import CreditRating
from households.selectors import current_rating
from households.services.ratings import grade_for, rating_create, rating_valid_to
from tests.factories import CreditRatingFactory, HouseholdFactory, PolicyProfileFactory

from .util import counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(world):
    return HouseholdFactory(village=world.v1a)


def dims(total: int) -> dict:
    """Five dimension scores within the default maxima (30/20/20/15/15) adding up to `total`."""
    maxima = [
        ("score_integrity", 30),
        ("score_labour", 20),
        ("score_income", 20),
        ("score_project", 15),
        ("score_assets", 15),
    ]
    out, left = {}, total
    for name, maximum in maxima:
        out[name] = min(left, maximum)
        left -= out[name]
    assert left == 0
    return out


@pytest.mark.parametrize(
    "score, grade, line",
    [
        (0, "none", "0.00"),
        (59, "none", "0.00"),
        (60, "A", "10000.00"),
        (69, "A", "10000.00"),
        (70, "AA", "30000.00"),
        (79, "AA", "30000.00"),
        (80, "AAA", "50000.00"),
        (100, "AAA", "50000.00"),
    ],
)
def test_grade_for_at_each_band_boundary(world, score, grade, line):
    assert grade_for(world.profile, score) == (grade, Decimal(line))


@pytest.mark.parametrize(
    "total, grade, line",
    [
        (59, "none", 0),
        (60, "A", 10000),
        (69, "A", 10000),
        (70, "AA", 30000),
        (79, "AA", 30000),
        (80, "AAA", 50000),
    ],
)
def test_rating_from_five_dimensions_sums_them_and_applies_the_bands(world, household, total, grade, line):
    rating = rating_create(acting_user=world.officer, household=household, **dims(total))
    assert rating.score == total
    assert rating.grade == grade
    assert rating.credit_limit == Decimal(line)
    assert rating.branch == world.br1
    assert rating.rated_by == world.officer
    assert rating.profile == world.profile


def test_bands_and_lines_come_from_the_profile(world, household):
    world.profile.grade_aaa_min, world.profile.grade_aa_min, world.profile.grade_a_min = 90, 75, 65
    world.profile.line_aaa, world.profile.line_aa, world.profile.line_a = (
        Decimal("40000"),
        Decimal("20000"),
        Decimal("5000"),
    )
    world.profile.save()
    assert rating_create(acting_user=world.officer, household=household, **dims(64)).grade == "none"
    rating = rating_create(acting_user=world.officer, household=household, **dims(89))
    assert (rating.grade, rating.credit_limit) == ("AA", Decimal("20000.00"))


@pytest.mark.parametrize(
    "field, maximum",
    [
        ("score_integrity", 30),
        ("score_labour", 20),
        ("score_income", 20),
        ("score_project", 15),
        ("score_assets", 15),
    ],
)
def test_each_dimension_is_capped_at_its_maximum(world, household, field, maximum):
    scores = {name: 0 for name in dims(0)}
    scores[field] = maximum
    assert rating_create(acting_user=world.officer, household=household, **scores).score == maximum
    before = counts()
    for bad in (maximum + 1, -1):
        scores[field] = bad
        with pytest.raises(ApplicationError) as e:
            rating_create(acting_user=world.officer, household=household, **scores)
        assert e.value.field == field
        assert e.value.extra["rules"][0]["rule"] == "rating_dimension_range"
        assert str(maximum) in e.value.message
    assert counts() == before


def test_a_profile_with_other_maxima_is_followed(world, household):
    world.profile.score_integrity_max = 40
    world.profile.save()
    scores = dims(60) | {"score_integrity": 40}
    assert rating_create(acting_user=world.officer, household=household, **scores).score == 40 + 30


def test_dimensions_must_be_complete_and_not_mixed_with_a_total(world, household):
    partial = dims(70)
    del partial["score_assets"]
    with pytest.raises(ApplicationError) as e:
        rating_create(acting_user=world.officer, household=household, **partial)
    assert e.value.field == "score_assets"
    with pytest.raises(ApplicationError) as e:
        rating_create(acting_user=world.officer, household=household, score=70, **dims(70))
    assert e.value.field == "score"
    with pytest.raises(ApplicationError) as e:
        rating_create(acting_user=world.officer, household=household)
    assert e.value.field == "score"
    with pytest.raises(ApplicationError) as e:
        rating_create(acting_user=world.officer, household=household, **(dims(70) | {"score_labour": True}))
    assert (e.value.code, e.value.field) == ("invalid", "score_labour")
    assert CreditRating.objects.count() == 0


def test_a_banks_own_total_score_without_dimensions(world, household):
    rating = rating_create(acting_user=world.officer, household=household, score=85, comment="行内评分系统")
    rating.refresh_from_db()
    assert (rating.score, rating.grade, rating.credit_limit) == (85, "AAA", Decimal("50000.00"))
    assert rating.score_integrity is None and not rating.has_dimensions
    for bad in (101, -1):
        with pytest.raises(ApplicationError) as e:
            rating_create(acting_user=world.officer, household=household, score=bad)
        assert e.value.field == "score"


def test_validity_runs_the_profiles_months_less_a_day(world, household):
    rating = rating_create(
        acting_user=world.officer, household=household, valid_from=datetime.date(2025, 3, 1), **dims(80)
    )
    assert rating.valid_to == datetime.date(2026, 2, 28)
    assert rating_valid_to(datetime.date(2025, 1, 15), 12) == datetime.date(2026, 1, 14)
    assert rating_valid_to(datetime.date(2024, 2, 29), 12) == datetime.date(2025, 2, 28)
    assert rating_valid_to(datetime.date(2024, 1, 31), 1) == datetime.date(2024, 2, 29)
    assert rating_valid_to(datetime.date(2024, 12, 1), 1) == datetime.date(2024, 12, 31)
    assert rating_valid_to(datetime.date(2024, 11, 30), 3) == datetime.date(2025, 2, 28)


def test_the_profile_in_force_on_valid_from_is_used_and_recorded(world, household):
    newer = PolicyProfileFactory(
        county=world.county,
        effective_from=datetime.date(2025, 1, 1),
        name="2025 新政策",
        grade_aaa_min=85,
        rating_valid_months=24,
    )
    old = rating_create(
        acting_user=world.officer, household=household, valid_from=datetime.date(2024, 6, 1), **dims(82)
    )
    new = rating_create(
        acting_user=world.officer, household=household, valid_from=datetime.date(2025, 6, 1), **dims(82)
    )
    assert (old.profile, old.grade) == (world.profile, "AAA")
    assert (new.profile, new.grade) == (newer, "AA")
    assert new.valid_to == datetime.date(2027, 5, 31)


def test_no_profile_in_force_is_a_clear_error(world, household):
    with pytest.raises(ApplicationError) as e:
        rating_create(
            acting_user=world.officer, household=household, valid_from=datetime.date(2010, 1, 1), **dims(80)
        )
    assert e.value.code == "policy_missing"


@pytest.mark.parametrize(
    "role", ["cadre", "township_officer", "county_office", "approver", "admin", "finance"]
)
def test_only_loan_officers_rate(world, household, role):
    before = counts()
    with pytest.raises(NotPermitted):
        rating_create(acting_user=getattr(world, role), household=household, **dims(80))
    assert counts() == before


def test_an_officer_of_a_branch_not_serving_the_township_is_refused(world, household):
    from tests.factories import UserFactory

    other_officer = UserFactory(unit=world.br2, roles=["loan_officer"])
    with pytest.raises(NotPermitted) as e:
        rating_create(acting_user=other_officer, household=household, **dims(80))
    assert world.t1.name in e.value.message
    assert CreditRating.objects.count() == 0
    # The branch serving T2 rates T2's households.
    v2_household = HouseholdFactory(village=world.v2a)
    assert rating_create(acting_user=other_officer, household=v2_household, **dims(80)).branch == world.br2


def test_a_rating_leaves_an_audit_row(world, household):
    rating = rating_create(acting_user=world.officer, household=household, **dims(75))
    event = AuditEvent.objects.get(action="rating.create")
    assert event.object_id == str(rating.pk)
    assert event.data["grade"] == "AA" and event.data["credit_limit"] == "30000.00"


def test_current_rating_is_the_latest_one_covering_the_day(world, household):
    today = datetime.date.today()
    assert current_rating(household) is None
    expired = CreditRatingFactory(
        household=household,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        valid_from=today - datetime.timedelta(days=800),
        valid_to=today - datetime.timedelta(days=436),
    )
    assert current_rating(household) is None
    assert current_rating(household, expired.valid_from) == expired
    first = CreditRatingFactory(
        household=household,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        valid_from=today - datetime.timedelta(days=100),
    )
    assert current_rating(household) == first
    rerated = rating_create(acting_user=world.officer, household=household, **dims(40))
    assert current_rating(household) == rerated
    assert rerated.grade == "none" and not rerated.is_valid_on(today)


def test_a_rating_cannot_start_in_the_future(world, household):
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    for day in (tomorrow, datetime.date(9999, 6, 1)):
        with pytest.raises(ApplicationError) as e:
            rating_create(acting_user=world.officer, household=household, valid_from=day, **dims(80))
        assert e.value.field == "valid_from"
    assert CreditRating.objects.count() == 0
