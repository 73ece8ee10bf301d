"""The blacklist: who keeps it, the reason, at most one active entry, removal keeps the row."""

import pytest

from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from households.models import BlacklistEntry
from households.selectors import active_blacklist_entry, blacklist_entries
from households.services.blacklist import (
    blacklist_add,
    blacklist_removal_approve,
    blacklist_removal_reject,
    blacklist_removal_request,
)
from tests.factories import HouseholdFactory, LoanFactory, UserFactory

from .util import counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(world):
    return HouseholdFactory(village=world.v1a)


def remove(entry, *, by, approver, reason="已全额还清", basis="settled"):
    """Take an entry off the blacklist the only way there is: one keeper asks, another approves."""
    removal = blacklist_removal_request(acting_user=by, entry=entry, basis=basis, reason=reason)
    return blacklist_removal_approve(acting_user=approver, removal=removal)


@pytest.mark.parametrize(
    ("role", "second"),
    [("county_office", "officer"), ("officer", "county_office"), ("admin", "county_office")],
)
def test_keepers_add_and_remove_with_reasons_and_a_second_person(world, household, role, second):
    # Issue 10 changed this test: one keeper alone used to remove the household. Now the removal
    # is a request that a second keeper approves; the entry keeps who approved, when and why.
    user = getattr(world, role)
    entry = blacklist_add(acting_user=user, household=household, reason="  恶意逃废债务  ")
    assert entry.reason == "恶意逃废债务"
    assert entry.is_active and entry.added_by == user
    assert active_blacklist_entry(household) == entry

    removal = blacklist_removal_request(acting_user=user, entry=entry, basis="settled", reason=" 已全额还清 ")
    assert removal.state == "pending" and removal.requested_by == user and removal.reason == "已全额还清"
    # Asking lifts nothing.
    assert active_blacklist_entry(household) == entry
    approved = blacklist_removal_approve(
        acting_user=getattr(world, second), removal=removal, comment="核实无欠款"
    )
    assert approved.state == "approved" and approved.decided_by == getattr(world, second)
    entry.refresh_from_db()
    assert not entry.is_active
    assert entry.removed_by == getattr(world, second) and entry.removal_reason == "已全额还清"
    # Removal keeps the row.
    assert BlacklistEntry.objects.filter(household=household).count() == 1
    assert active_blacklist_entry(household) is None
    assert list(
        AuditEvent.objects.filter(object_type="households.blacklistentry", object_id=str(entry.pk))
        .values_list("action", "reason", "actor")
        .order_by("id")
    ) == [
        ("blacklist.add", "恶意逃废债务", user.pk),
        ("blacklist.remove", "已全额还清", getattr(world, second).pk),
    ]
    assert list(
        AuditEvent.objects.filter(object_type="households.blacklistremovalrequest", object_id=str(removal.pk))
        .values_list("action", "actor")
        .order_by("id")
    ) == [("blacklist.removal_request", user.pk), ("blacklist.removal_approve", getattr(world, second).pk)]


@pytest.mark.parametrize("role", ["cadre", "township_officer", "approver", "finance", "committee"])
def test_other_roles_may_not_touch_the_blacklist(world, household, role):
    before = counts()
    with pytest.raises(NotPermitted):
        blacklist_add(acting_user=getattr(world, role), household=household, reason="x")
    assert counts() == before
    entry = blacklist_add(acting_user=world.county_office, household=household, reason="x")
    with pytest.raises(NotPermitted):
        blacklist_removal_request(acting_user=getattr(world, role), entry=entry, basis="settled", reason="y")
    removal = blacklist_removal_request(
        acting_user=world.county_office, entry=entry, basis="settled", reason="y"
    )
    with pytest.raises(NotPermitted):
        blacklist_removal_approve(acting_user=getattr(world, role), removal=removal)
    with pytest.raises(NotPermitted):
        blacklist_removal_reject(acting_user=getattr(world, role), removal=removal, reason="z")
    entry.refresh_from_db()
    removal.refresh_from_db()
    assert entry.is_active and removal.state == "pending"


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(world, household, reason):
    before = counts()
    with pytest.raises(ApplicationError) as e:
        blacklist_add(acting_user=world.county_office, household=household, reason=reason)
    assert e.value.field == "reason"
    assert counts() == before
    entry = blacklist_add(acting_user=world.county_office, household=household, reason="逾期恶意不还")
    with pytest.raises(ApplicationError) as e:
        blacklist_removal_request(
            acting_user=world.county_office, entry=entry, basis="exception", reason=reason
        )
    assert e.value.field == "reason"
    removal = blacklist_removal_request(
        acting_user=world.county_office, entry=entry, basis="settled", reason="还清"
    )
    with pytest.raises(ApplicationError) as e:
        blacklist_removal_reject(acting_user=world.officer, removal=removal, reason=reason)
    assert e.value.field == "reason"
    entry.refresh_from_db()
    removal.refresh_from_db()
    assert entry.is_active and removal.state == "pending"


def test_at_most_one_active_entry_per_household(world, household):
    first = blacklist_add(acting_user=world.county_office, household=household, reason="第一次")
    before = counts()
    with pytest.raises(ConflictError) as e:
        blacklist_add(acting_user=world.officer, household=household, reason="第二次")
    assert e.value.status_code == 409
    assert e.value.extra["entry"] == first.pk
    assert counts() == before
    # After removal the household may be listed again; the history keeps both.
    remove(first, by=world.county_office, approver=world.officer)
    second = blacklist_add(acting_user=world.officer, household=household, reason="再次恶意逃债")
    assert second.is_active
    assert BlacklistEntry.objects.filter(household=household).count() == 2


def test_removing_a_removed_entry_is_a_conflict(world, household):
    entry = blacklist_add(acting_user=world.county_office, household=household, reason="x")
    removal = remove(entry, by=world.county_office, approver=world.officer, reason="y")
    with pytest.raises(ConflictError):
        blacklist_removal_request(acting_user=world.county_office, entry=entry, basis="settled", reason="z")
    # A decided request cannot be decided again.
    with pytest.raises(ConflictError) as e:
        blacklist_removal_reject(acting_user=world.admin, removal=removal, reason="z")
    assert e.value.extra["state"] == "approved"
    entry.refresh_from_db()
    assert entry.removal_reason == "y"


def test_one_pending_request_per_entry(world, household):
    entry = blacklist_add(acting_user=world.county_office, household=household, reason="x")
    first = blacklist_removal_request(
        acting_user=world.county_office, entry=entry, basis="settled", reason="y"
    )
    with pytest.raises(ConflictError) as e:
        blacklist_removal_request(acting_user=world.officer, entry=entry, basis="settled", reason="z")
    assert e.value.extra["request"] == first.pk
    # After a rejection a new request may be made.
    blacklist_removal_reject(acting_user=world.officer, removal=first, reason="尚有欠款")
    entry.refresh_from_db()
    assert entry.is_active
    second = blacklist_removal_request(acting_user=world.officer, entry=entry, basis="settled", reason="z")
    assert second.state == "pending"


def test_an_unsettled_debt_needs_a_stated_exception(world, household):
    """P1 art.22: listed until the loan is repaid. "Settled" is checked against the loans."""
    loan = LoanFactory(household=household, branch=world.br1, contract_no="HT-2025-001")
    entry = blacklist_add(acting_user=world.officer, household=household, reason="恶意逃债")
    with pytest.raises(ApplicationError) as e:
        blacklist_removal_request(acting_user=world.officer, entry=entry, basis="settled", reason="已还清")
    assert e.value.code == "rule_failed" and e.value.field == "basis"
    assert e.value.extra["rules"][0]["rule"] == "blacklist_debt_settled"
    assert "HT-2025-001" in str(e.value.message)
    assert not entry.removal_requests.exists()
    # A stated exception may be asked for; the audit row names the loans still owed.
    removal = blacklist_removal_request(
        acting_user=world.officer, entry=entry, basis="exception", reason="经法院调解，分期偿还中"
    )
    assert AuditEvent.objects.get(action="blacklist.removal_request").data["unsettled_loans"] == [
        "HT-2025-001"
    ]
    blacklist_removal_approve(acting_user=world.county_office, removal=removal)
    entry.refresh_from_db()
    assert not entry.is_active
    # Once every loan is settled, "settled" is accepted.
    second = blacklist_add(acting_user=world.officer, household=household, reason="再次逃债")
    type(loan).objects.filter(pk=loan.pk).update(state="settled", outstanding=0)
    removal = blacklist_removal_request(
        acting_user=world.officer, entry=second, basis="settled", reason="已还清"
    )
    assert removal.state == "pending"


def test_settled_is_checked_again_at_approval(world, household):
    entry = blacklist_add(acting_user=world.officer, household=household, reason="恶意逃债")
    removal = blacklist_removal_request(
        acting_user=world.officer, entry=entry, basis="settled", reason="已还清"
    )
    LoanFactory(household=household, branch=world.br1, contract_no="HT-2026-009")
    with pytest.raises(ApplicationError) as e:
        blacklist_removal_approve(acting_user=world.county_office, removal=removal)
    assert e.value.extra["rules"][0]["rule"] == "blacklist_debt_settled"
    entry.refresh_from_db()
    assert entry.is_active


def test_households_outside_the_users_area_are_refused(world, household):
    other = HouseholdFactory(village=world.vz)
    with pytest.raises(NotPermitted):
        blacklist_add(acting_user=world.county_office, household=other, reason="x")
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
    remove(entry, by=world.county_office, approver=world.officer)
    assert list(blacklist_entries(user=world.county_office)) == []
    assert list(blacklist_entries(user=world.county_office, active=False)) == [entry]
