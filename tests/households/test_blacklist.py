"""The blacklist: who keeps it, the reason, at most one active entry, removal keeps the row."""

import pytest

from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from households.models import BlacklistEntry
from households.selectors import active_blacklist_entry, blacklist_entries
from households.services import blacklist_add, blacklist_remove
from tests.factories import HouseholdFactory

from .util import counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(world):
    return HouseholdFactory(village=world.v1a)


@pytest.mark.parametrize("role", ["county_office", "officer", "admin"])
def test_keepers_add_and_remove_with_reasons(world, household, role):
    user = getattr(world, role)
    entry = blacklist_add(acting_user=user, household=household, reason="  恶意逃废债务  ")
    assert entry.reason == "恶意逃废债务"
    assert entry.is_active and entry.added_by == user
    assert active_blacklist_entry(household) == entry

    removed = blacklist_remove(acting_user=user, entry=entry, reason="已全额还清")
    removed.refresh_from_db()
    assert not removed.is_active
    assert removed.removed_by == user and removed.removal_reason == "已全额还清"
    # Removal keeps the row.
    assert BlacklistEntry.objects.filter(household=household).count() == 1
    assert active_blacklist_entry(household) is None
    assert list(
        AuditEvent.objects.filter(object_id=str(entry.pk)).values_list("action", "reason").order_by("id")
    ) == [
        ("blacklist.add", "恶意逃废债务"),
        ("blacklist.remove", "已全额还清"),
    ]


@pytest.mark.parametrize("role", ["cadre", "township_officer", "approver", "finance", "committee"])
def test_other_roles_may_not_touch_the_blacklist(world, household, role):
    before = counts()
    with pytest.raises(NotPermitted):
        blacklist_add(acting_user=getattr(world, role), household=household, reason="x")
    assert counts() == before
    entry = blacklist_add(acting_user=world.county_office, household=household, reason="x")
    with pytest.raises(NotPermitted):
        blacklist_remove(acting_user=getattr(world, role), entry=entry, reason="y")
    entry.refresh_from_db()
    assert entry.is_active


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(world, household, reason):
    before = counts()
    with pytest.raises(ApplicationError) as e:
        blacklist_add(acting_user=world.county_office, household=household, reason=reason)
    assert e.value.field == "reason"
    assert counts() == before
    entry = blacklist_add(acting_user=world.county_office, household=household, reason="逾期恶意不还")
    with pytest.raises(ApplicationError) as e:
        blacklist_remove(acting_user=world.county_office, entry=entry, reason=reason)
    assert e.value.field == "reason"
    entry.refresh_from_db()
    assert entry.is_active


def test_at_most_one_active_entry_per_household(world, household):
    first = blacklist_add(acting_user=world.county_office, household=household, reason="第一次")
    before = counts()
    with pytest.raises(ConflictError) as e:
        blacklist_add(acting_user=world.officer, household=household, reason="第二次")
    assert e.value.status_code == 409
    assert e.value.extra["entry"] == first.pk
    assert counts() == before
    # After removal the household may be listed again; the history keeps both.
    blacklist_remove(acting_user=world.county_office, entry=first, reason="已还清")
    second = blacklist_add(acting_user=world.officer, household=household, reason="再次恶意逃债")
    assert second.is_active
    assert BlacklistEntry.objects.filter(household=household).count() == 2


def test_removing_a_removed_entry_is_a_conflict(world, household):
    entry = blacklist_add(acting_user=world.county_office, household=household, reason="x")
    blacklist_remove(acting_user=world.county_office, entry=entry, reason="y")
    with pytest.raises(ConflictError):
        blacklist_remove(acting_user=world.county_office, entry=entry, reason="z")
    entry.refresh_from_db()
    assert entry.removal_reason == "y"


def test_households_outside_the_users_area_are_refused(world, household):
    other = HouseholdFactory(village=world.vz)
    with pytest.raises(NotPermitted):
        blacklist_add(acting_user=world.county_office, household=other, reason="x")
    from tests.factories import UserFactory

    br2_officer = UserFactory(unit=world.br2, roles=["loan_officer"])
    with pytest.raises(NotPermitted):
        blacklist_add(acting_user=br2_officer, household=household, reason="x")
    assert BlacklistEntry.objects.count() == 0


def test_blacklist_entries_are_scoped(world, household):
    entry = blacklist_add(acting_user=world.county_office, household=household, reason="x")
    other = HouseholdFactory(village=world.vz)
    BlacklistEntry.objects.create(household=other, reason="y", added_by=world.other_cadre)
    assert list(blacklist_entries(user=world.county_office)) == [entry]
    assert list(blacklist_entries(user=world.cadre)) == [entry]
    assert list(blacklist_entries(user=world.other_cadre)) != [entry]
    blacklist_remove(acting_user=world.county_office, entry=entry, reason="z")
    assert list(blacklist_entries(user=world.county_office)) == []
    assert list(blacklist_entries(user=world.county_office, active=False)) == [entry]
