"""Policy profiles: picking the one in force by date, and the append-only rules of profile_create."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.exceptions import ApplicationError, NotPermitted
from core.models import AuditEvent
from policies import services
from policies.exceptions import PolicyProfileMissing
from policies.models import PolicyProfile
from policies.selectors import profile_for, profile_list, profile_status
from tests.factories import PolicyProfileFactory

from .conftest import d

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate
ONE_DAY = datetime.timedelta(days=1)


def create(user, county, effective_from, **params):
    return services.profile_create(
        acting_user=user,
        county=county,
        effective_from=effective_from,
        name=params.pop("name", "新版政策"),
        source_text=params.pop("source_text", "区扶贫办通知"),
        **params,
    )


def nothing_written(county, count_before, audited_before=0):
    return (
        PolicyProfile.objects.filter(county=county).count() == count_before
        and AuditEvent.objects.filter(action="policy_profile.create").count() == audited_before
    )


# ---- profile_for -----------------------------------------------------------------------------------


@pytest.fixture
def two_versions(world):
    second = PolicyProfileFactory(
        county=world.county, effective_from=d("2021-01-01"), age_max=60, name="2021版"
    )
    return world.profile, second


def test_before_the_first_profile_there_is_none(world, two_versions):
    with pytest.raises(PolicyProfileMissing) as caught:
        profile_for(county=world.county, on_date=d("2014-12-31"))
    assert caught.value.code == "policy_missing"
    assert caught.value.extra == {"county": world.county.pk, "date": "2014-12-31"}


@pytest.mark.parametrize(
    ("on", "which"),
    [("2015-01-01", 0), ("2018-06-30", 0), ("2020-12-31", 0), ("2021-01-01", 1), ("2030-01-01", 1)],
)
def test_profile_for_picks_the_version_in_force(world, two_versions, on, which):
    assert profile_for(county=world.county, on_date=d(on)) == two_versions[which]


def test_profile_for_never_crosses_counties(world, two_versions):
    assert profile_for(county=world.other_county, on_date=d("2022-01-01")) == world.other_profile


def test_profile_list_marks_which_version_is_in_force(world, two_versions):
    scheduled = PolicyProfileFactory(county=world.county, effective_from=TODAY() + 30 * ONE_DAY)
    statuses = {p.pk: profile_status(p) for p in profile_list(user=world.admin)}
    assert statuses == {
        world.profile.pk: "superseded",
        two_versions[1].pk: "in_force",
        scheduled.pk: "scheduled",
    }


# ---- profile_create --------------------------------------------------------------------------------


def test_a_first_profile_may_be_back_dated(fresh_admin):
    county = fresh_admin.unit
    profile = create(fresh_admin, county, d("2016-03-01"), name="荔浦市实施细则")
    assert profile.effective_from == d("2016-03-01")
    assert profile.created_by == fresh_admin
    # A first profile starts from the defaults (DOMAIN §3).
    assert profile.amount_max == Decimal("50000.00")
    assert profile.publicity_days == 5
    event = AuditEvent.objects.get(action="policy_profile.create")
    assert event.object_id == str(profile.pk)
    assert event.data["previous"] is None


def test_a_new_version_from_today_carries_over_what_it_does_not_change(world):
    world.profile.age_plus_term_max = 60
    world.profile.save()
    new = create(world.admin, world.county, TODAY(), amount_max=Decimal("30000.00"))
    assert new.amount_max == Decimal("30000.00")
    assert new.age_plus_term_max == 60
    assert profile_for(county=world.county, on_date=TODAY()) == new
    assert profile_for(county=world.county, on_date=TODAY() - ONE_DAY) == world.profile
    event = AuditEvent.objects.get(action="policy_profile.create")
    assert event.data["previous"] == world.profile.pk
    assert event.data["changed"] == {"amount_max": ["50000.00", "30000.00"]}
    # The old version is untouched.
    world.profile.refresh_from_db()
    assert world.profile.amount_max == Decimal("50000.00")


def test_a_second_profile_cannot_be_back_dated(world):
    with pytest.raises(ApplicationError) as caught:
        create(world.admin, world.county, TODAY() - ONE_DAY)
    error = caught.value
    assert error.code == "rule_failed"
    assert error.extra["rules"][0]["rule"] == "profile_not_backdated"
    assert error.field == "effective_from"
    assert nothing_written(world.county, 1)


def test_a_new_version_must_come_after_a_scheduled_one(world):
    scheduled = create(world.admin, world.county, TODAY() + 10 * ONE_DAY)
    for day in (TODAY() + 5 * ONE_DAY, scheduled.effective_from):
        with pytest.raises(ApplicationError) as caught:
            create(world.admin, world.county, day)
        assert caught.value.extra["rules"][0]["rule"] == "profile_append_only"
        assert str(scheduled.effective_from) in str(caught.value.message)
    # The audit trail is append-only (#10): the scheduled version's own event stays, nothing is added.
    assert nothing_written(world.county, 2, audited_before=1)


@pytest.mark.parametrize("who", ["county_office", "cadre", "finance", "officer"])
def test_only_admins_create_profiles(world, who):
    with pytest.raises(NotPermitted):
        create(getattr(world, who), world.county, TODAY())
    assert nothing_written(world.county, 1)


def test_an_admin_cannot_create_for_another_county(world):
    with pytest.raises(ApplicationError) as caught:
        create(world.admin, world.other_county, TODAY())
    assert caught.value.code == "out_of_scope"
    assert caught.value.field == "county"
    assert nothing_written(world.other_county, 1)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"age_min": 70}, "age_max"),
        ({"age_min": 16}, "age_min"),
        ({"amount_max": Decimal("0")}, "amount_max"),
        ({"amount_max": Decimal("60000"), "household_total_max": Decimal("50000")}, "household_total_max"),
        ({"term_min_months": 40}, "term_max_months"),
        ({"grade_aa_min": 85}, "grade_aaa_min"),
        ({"grade_aaa_min": 99, "score_integrity_max": 10}, "grade_aaa_min"),
        ({"line_aa": Decimal("60000")}, "line_aaa"),
        ({"publicity_levels": []}, "publicity_levels"),
        ({"publicity_levels": ["province"]}, "publicity_levels"),
        ({"doubtful_after_days": 60}, "loss_after_days"),
        ({"subsidy_share": Decimal("1.5")}, "subsidy_share"),
        ({"settlement_day": 31}, "settlement_day"),
        ({"extension_long_max_fraction": Decimal("0")}, "extension_long_max_fraction"),
        ({"name": ""}, "name"),
        ({"source_text": " "}, "source_text"),
    ],
)
def test_bad_parameters_are_field_errors_and_nothing_is_written(world, params, field):
    with pytest.raises(ValidationError) as caught:
        create(world.admin, world.county, TODAY(), **params)
    assert field in caught.value.message_dict
    assert nothing_written(world.county, 1)


def test_publicity_levels_are_stored_village_first(world):
    new = create(world.admin, world.county, TODAY(), publicity_levels=["county", "village"])
    assert new.publicity_levels == ["village", "county"]


def test_unknown_parameters_are_a_programming_error(world):
    with pytest.raises(TypeError, match="colour"):
        create(world.admin, world.county, TODAY(), colour="red")


def test_a_date_may_be_given_as_text_but_must_be_real(fresh_admin):
    assert create(fresh_admin, fresh_admin.unit, "2016-03-01").effective_from == d("2016-03-01")
    with pytest.raises(ValidationError) as caught:
        create(fresh_admin, fresh_admin.unit, "2026-02-30")
    assert "effective_from" in caught.value.message_dict
