"""Four-eyes where money or the blacklist moves (issue 10, ASVS V2.3.5). One person tries to
take both steps, through the service and straight in the database; both refuse, with the rule's
code and message. The subsidy batch here is the one the system computes (nobody computed it), the
case that once let one finance officer review, approve and pay alone."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role
from core.exceptions import ConflictError, NotPermitted
from core.models import AuditEvent
from households.models import BlacklistEntry, BlacklistRemovalRequest
from households.services.blacklist import (
    blacklist_add,
    blacklist_removal_approve,
    blacklist_removal_reject,
    blacklist_removal_request,
)
from subsidies import services
from subsidies.models import SubsidyBatch
from subsidies.workflow import State
from tests.factories import HouseholdFactory, UserFactory
from tests.subsidies.conftest import eager_tasks  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


# ---- subsidy batches ----------------------------------------------------------------------------


@pytest.fixture
def system_batch(world, monkeypatch, eager_tasks, django_capture_on_commit_callbacks):  # noqa: F811
    """2026 Q1's batch as the daily task makes it: created and computed by the system."""
    monkeypatch.setattr(services, "_today", lambda: datetime.date(2026, 4, 10))
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.batch_create(
            acting_user=None, county=world.county, year=2026, quarter=1, system=True
        )
        services.batch_compute(acting_user=None, batch=batch, system=True)
    batch.refresh_from_db()
    assert (batch.state, batch.created_by, batch.computed_by) == (State.COMPUTED, None, None)
    return batch


def test_one_finance_officer_cannot_review_approve_and_pay_a_system_batch(world, system_batch):
    batch = services.batch_review(acting_user=world.finance, batch=system_batch, comment="核对无误")
    with pytest.raises(NotPermitted) as refused:
        services.batch_approve(acting_user=world.finance, batch=batch)
    assert (refused.value.code, refused.value.status_code) == ("four_eyes", 403)
    assert str(refused.value.message) == "双人复核规则：本批次由您复核，须由另一位财政人员审批。"
    assert refused.value.extra["rules"][0]["rule"] == "four_eyes"
    # Payment is the next step only after an approval, so it is refused as well.
    with pytest.raises(ConflictError) as refused:
        services.batch_pay(acting_user=world.finance, batch=batch, paid_on=datetime.date(2026, 4, 10))
    assert refused.value.code == "transition_not_allowed"
    batch.refresh_from_db()
    assert (batch.state, batch.approved_by, batch.paid_by) == (State.REVIEWED, None, None)
    assert not AuditEvent.objects.filter(action__in=["subsidy_batch.approve", "subsidy_batch.pay"]).exists()

    finance2 = UserFactory(unit=world.county, roles=[Role.FINANCE])
    batch = services.batch_approve(acting_user=finance2, batch=batch)
    assert (batch.state, batch.reviewed_by, batch.approved_by) == (State.APPROVED, world.finance, finance2)


def test_the_database_refuses_one_person_as_reviewer_and_approver(world, system_batch):
    services.batch_review(acting_user=world.finance, batch=system_batch)
    rows = SubsidyBatch.objects.filter(pk=system_batch.pk)
    with pytest.raises(IntegrityError, match="subsidy_batch_four_eyes"), transaction.atomic():
        rows.update(approved_by=world.finance, state=State.APPROVED)
    # Clearing the reviewer in the same statement is no way round.
    with pytest.raises(IntegrityError, match="subsidy_batch_four_eyes"), transaction.atomic():
        rows.update(reviewed_by=None, approved_by=world.finance)
    # Nor is marking the batch approved or paid with nobody approving.
    for state in (State.APPROVED, State.PAID):
        with pytest.raises(IntegrityError, match="subsidy_batch_approved_by_two"), transaction.atomic():
            rows.update(state=state)
    batch = rows.get()
    assert (batch.state, batch.approved_by) == (State.REVIEWED, None)


# ---- blacklist removal ------------------------------------------------------------------------------


@pytest.fixture
def entry(world):
    household = HouseholdFactory(village=world.v1a)
    return blacklist_add(acting_user=world.officer, household=household, reason="恶意逃债")


def test_one_keeper_cannot_ask_for_and_approve_a_removal(world, entry):
    removal = blacklist_removal_request(
        acting_user=world.officer, entry=entry, basis="settled", reason="已还清"
    )
    with pytest.raises(NotPermitted) as refused:
        blacklist_removal_approve(acting_user=world.officer, removal=removal)
    assert (refused.value.code, refused.value.status_code) == ("four_eyes", 403)
    assert str(refused.value.message) == "双人复核规则：移出申请由您提出，须由另一人批准或驳回。"
    assert refused.value.extra["rules"][0]["rule"] == "four_eyes"
    with pytest.raises(NotPermitted) as refused:
        blacklist_removal_reject(acting_user=world.officer, removal=removal, reason="撤回")
    assert refused.value.code == "four_eyes"
    entry.refresh_from_db()
    removal.refresh_from_db()
    assert entry.is_active and removal.state == "pending"
    assert not AuditEvent.objects.filter(action="blacklist.remove").exists()


def test_a_superuser_or_another_area_cannot_be_the_second_person(world, entry):
    removal = blacklist_removal_request(
        acting_user=world.officer, entry=entry, basis="settled", reason="已还清"
    )
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    stranger = UserFactory(unit=world.other_county, roles=[Role.COUNTY_OFFICE])
    br2_officer = UserFactory(unit=world.br2, roles=[Role.LOAN_OFFICER])
    for user in (root, stranger, br2_officer, world.cadre, world.finance):
        with pytest.raises(NotPermitted):
            blacklist_removal_approve(acting_user=user, removal=removal)
    entry.refresh_from_db()
    assert entry.is_active


def test_the_database_refuses_the_requester_as_decider(world, entry):
    removal = blacklist_removal_request(
        acting_user=world.officer, entry=entry, basis="settled", reason="已还清"
    )
    rows = BlacklistRemovalRequest.objects.filter(pk=removal.pk)
    with pytest.raises(IntegrityError, match="blacklist_removal_four_eyes"), transaction.atomic():
        rows.update(state="approved", decided_by=world.officer, decided_at=timezone.now())
    with pytest.raises(IntegrityError, match="blacklist_removal_decided"), transaction.atomic():
        rows.update(state="approved")
    with pytest.raises(IntegrityError, match="blacklist_removal_one_pending"), transaction.atomic():
        BlacklistRemovalRequest.objects.create(
            entry=entry, basis="settled", reason="again", requested_by=world.county_office
        )
    assert rows.get().state == "pending"
    assert BlacklistEntry.objects.get(pk=entry.pk).is_active


def test_removal_over_the_api_needs_a_second_person(world, api_as, entry):
    officer = api_as(world.officer)
    r = officer.delete(f"/api/v1/blacklist/{entry.pk}/", {"reason": "已还清"}, format="json")
    assert r.status_code == 202 and r.json()["state"] == "pending"
    assert officer.get(f"/api/v1/blacklist/{entry.pk}/").json()["is_active"] is True
    r = officer.post(f"/api/v1/blacklist/removal-requests/{r.json()['id']}/approve/", {}, format="json")
    assert r.status_code == 403
    assert (r.json()["code"], r.json()["message"]) == (
        "four_eyes",
        "双人复核规则：移出申请由您提出，须由另一人批准或驳回。",
    )
    assert officer.get(f"/api/v1/blacklist/{entry.pk}/").json()["is_active"] is True
