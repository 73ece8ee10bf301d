"""The batch's life (DOMAIN §6): created once per county and quarter, computed (and recomputed)
until review, reviewed, approved by someone other than who computed it, paid, or cancelled; every
step an audit record. Computation runs in this process through the task code (`compute_now`)."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role
from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from loans.models import Loan
from policies.models import PolicyProfile
from subsidies import services
from subsidies.models import BatchChunk, ExcludedReason, SubsidyBatch, SubsidyLine
from subsidies.services import TransitionNotAllowed
from subsidies.tasks import compute_chunk
from subsidies.workflow import State
from tests.factories import PolicyProfileFactory, UserFactory

from .conftest import QUARTER_TOTAL, snapshot, today_is, totals

D = datetime.date
Q3_START, Q3_END = D(2025, 6, 20), D(2025, 9, 20)
pytestmark = pytest.mark.usefixtures("after_q3")


def pay(batch, user):
    """Payment is recorded on a real date no earlier than the approval."""
    return services.batch_pay(
        acting_user=user, batch=batch, paid_on=timezone.localdate(), reference="GK-2025-031"
    )


def reviewed(batch, user):
    return services.batch_review(acting_user=user, batch=batch, comment="核对无误")


# ---- create ------------------------------------------------------------------------------------


def rule_of(error: ApplicationError) -> str:
    return error.extra["rules"][0]["rule"]


def test_create_refuses_a_quarter_not_over(world, monkeypatch):
    today_is(monkeypatch, D(2025, 9, 30))
    with pytest.raises(ApplicationError) as refused:
        services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    assert (refused.value.code, rule_of(refused.value)) == ("rule_failed", "quarter_not_over")
    today_is(monkeypatch, D(2025, 10, 1))
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    assert (batch.state, batch.created_by, batch.run) == (State.DRAFT, world.finance, 0)


def test_create_refuses_other_quarters_than_q4_for_a_yearly_county(world):
    PolicyProfileFactory(
        county=world.county, effective_from=D(2025, 1, 1), subsidy_frequency=PolicyProfile.Frequency.YEARLY
    )
    with pytest.raises(ApplicationError) as refused:
        services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=2)
    assert rule_of(refused.value) == "yearly_subsidy"
    # 2024 Q3 was under the quarterly profile of 2015.
    assert services.batch_create(acting_user=world.finance, county=world.county, year=2024, quarter=3).pk


def test_create_goes_in_order_of_quarters_and_once_per_quarter(world):
    services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=2)
    q3 = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    with pytest.raises(ConflictError) as duplicate:
        services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    assert (duplicate.value.code, duplicate.value.status_code) == ("conflict", 409)
    for year, quarter in ((2025, 1), (2024, 4)):
        with pytest.raises(ApplicationError) as refused:
            services.batch_create(acting_user=world.finance, county=world.county, year=year, quarter=quarter)
        assert rule_of(refused.value) == "batch_order"

    # A cancelled batch may be replaced, and is no later batch; another county's batches are no
    # obstacle.
    services.batch_cancel(acting_user=world.finance, batch=q3, reason="重新生成")
    assert services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3).pk
    assert SubsidyBatch.objects.filter(county=world.county, year=2025, quarter=3).count() == 2
    other_finance = UserFactory(username="finance_z", unit=world.other_county, roles=[Role.FINANCE])
    assert services.batch_create(
        acting_user=other_finance, county=world.other_county, year=2025, quarter=1
    ).pk


def test_create_is_for_the_countys_finance_staff(world):
    other_finance = UserFactory(username="finance_z", unit=world.other_county, roles=[Role.FINANCE])
    for user in (world.county_office, world.admin, other_finance):
        with pytest.raises(NotPermitted):
            services.batch_create(acting_user=user, county=world.county, year=2025, quarter=3)
    assert not SubsidyBatch.objects.exists()


# ---- compute -------------------------------------------------------------------------------------


def test_compute_writes_chunks_and_progress(world, settings, quarter, django_capture_on_commit_callbacks):
    settings.SUBSIDY_CHUNK_LOANS = 3
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    # The tasks go out only when the transaction commits; here they are held back and run by hand.
    with django_capture_on_commit_callbacks() as callbacks:
        services.batch_compute(acting_user=world.finance, batch=batch)
    assert len(callbacks) == 1
    batch.refresh_from_db()
    chunks = list(BatchChunk.objects.filter(batch=batch).order_by("seq"))
    # County A's 8 loans in id ranges of 3: 3 + 3 + 2; the first from 0, the last to the ceiling.
    assert [(c.run, c.seq, c.loans, c.done) for c in chunks] == [
        (1, 0, 3, False),
        (1, 1, 3, False),
        (1, 2, 2, False),
    ]
    assert chunks[0].lo == 0 and chunks[-1].hi == 2**62
    assert [c.hi for c in chunks[:-1]] == [c.lo for c in chunks[1:]]
    assert (batch.state, batch.computed_by, batch.progress_done, batch.progress_total) == (
        State.COMPUTING,
        world.finance,
        0,
        8,
    )

    for chunk, done in zip(chunks, (3, 6), strict=False):
        assert compute_chunk(chunk.pk) is True
        assert totals(batch)[3:] == (done, 8)
        assert batch.state == State.COMPUTING
    assert compute_chunk(chunks[-1].pk) is True
    assert totals(batch) == (QUARTER_TOTAL, 8, 4, 8, 8)
    assert batch.state == State.COMPUTED
    assert sum(BatchChunk.objects.filter(batch=batch).values_list("line_count", flat=True)) == 8


def test_recompute_is_idempotent(world, finance2, quarter, compute_now):
    batch = compute_now()
    first_lines, first_totals = snapshot(batch), totals(batch)
    assert first_totals == (QUARTER_TOTAL, 8, 4, 8, 8)
    assert len(first_lines) == len(set(first_lines)) == 8
    first_ids = set(SubsidyLine.objects.filter(batch=batch).values_list("pk", flat=True))

    batch = compute_now(batch=batch, user=finance2)
    assert (batch.state, batch.run, batch.computed_by) == (State.COMPUTED, 2, finance2)
    assert snapshot(batch) == first_lines
    assert totals(batch) == first_totals
    # The lines were written again, not left over; only the current run's chunks remain.
    assert first_ids.isdisjoint(SubsidyLine.objects.filter(batch=batch).values_list("pk", flat=True))
    assert set(BatchChunk.objects.filter(batch=batch).values_list("run", flat=True)) == {2}
    assert SubsidyLine.objects.filter(claimed=True).count() == 6  # 4 subsidized, 1 past support, 1 over cap


def test_rerun_picks_up_what_changed_meanwhile(world, quarter, compute_now):
    batch = compute_now()
    assert totals(batch)[0] == QUARTER_TOTAL
    settlement = quarter["unpaid"].settlements.get()
    settlement.interest_paid, settlement.paid_on = Decimal("555.83"), D(2025, 9, 30)
    settlement.save()

    batch = compute_now(batch=batch)
    assert totals(batch) == (QUARTER_TOTAL + Decimal("555.83"), 8, 5, 8, 8)
    line = SubsidyLine.objects.get(batch=batch, settlement=settlement)
    assert (line.subsidy, line.excluded_reason, line.claimed) == (Decimal("555.83"), "", True)


def test_chunk_task_delivered_twice_changes_nothing(world, quarter, compute_now):
    batch = compute_now()
    lines = list(SubsidyLine.objects.filter(batch=batch).order_by("pk").values())
    chunks = list(BatchChunk.objects.filter(batch=batch).order_by("seq").values())
    audits = AuditEvent.objects.count()

    for chunk in chunks:
        assert compute_chunk(chunk["id"]) is False
    assert list(SubsidyLine.objects.filter(batch=batch).order_by("pk").values()) == lines
    assert list(BatchChunk.objects.filter(batch=batch).order_by("seq").values()) == chunks
    assert totals(batch) == (QUARTER_TOTAL, 8, 4, 8, 8)
    assert AuditEvent.objects.count() == audits

    # A task of an earlier run (its chunk gone with the rerun) does nothing either.
    batch = compute_now(batch=batch)
    assert compute_chunk(chunks[0]["id"]) is False
    assert totals(batch) == (QUARTER_TOTAL, 8, 4, 8, 8)


def test_chunk_task_after_cancel_writes_nothing(world, quarter, django_capture_on_commit_callbacks):
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    with django_capture_on_commit_callbacks():
        services.batch_compute(acting_user=world.finance, batch=batch)
    services.batch_cancel(acting_user=world.finance, batch=batch, reason="数据有误")

    for chunk in BatchChunk.objects.filter(batch=batch):
        assert compute_chunk(chunk.pk) is False
    assert not SubsidyLine.objects.exists()
    assert SubsidyBatch.objects.get(pk=batch.pk).state == State.CANCELLED


def test_compute_only_by_the_countys_finance_staff(world, quarter):
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    other_finance = UserFactory(username="finance_z", unit=world.other_county, roles=[Role.FINANCE])
    for user in (world.county_office, other_finance):
        with pytest.raises(NotPermitted):
            services.batch_compute(acting_user=user, batch=batch)
    batch.refresh_from_db()
    assert (batch.state, batch.run) == (State.DRAFT, 0)


# ---- review, four eyes, pay ------------------------------------------------------------------------


def test_four_eyes(world, finance2, quarter, compute_now):
    batch = compute_now()
    assert batch.computed_by == world.finance
    batch = reviewed(batch, world.finance)

    with pytest.raises(NotPermitted) as refused:
        services.batch_approve(acting_user=world.finance, batch=batch)
    assert (refused.value.code, refused.value.status_code) == ("four_eyes", 403)
    assert refused.value.extra["rules"][0]["rule"] == "four_eyes"
    with pytest.raises(NotPermitted) as refused:
        services.batch_approve(acting_user=world.county_office, batch=batch)
    assert refused.value.code == "permission_denied"
    batch.refresh_from_db()
    assert (batch.state, batch.approved_by) == (State.REVIEWED, None)

    batch = services.batch_approve(acting_user=finance2, batch=batch, comment="同意")
    assert (batch.state, batch.approved_by) == (State.APPROVED, finance2)


def test_four_eyes_follows_whoever_computed_last(world, finance2, quarter, compute_now):
    finance3 = UserFactory(username="finance3", unit=world.county, roles=[Role.FINANCE])
    batch = compute_now()
    batch = compute_now(batch=batch, user=finance2)
    batch = reviewed(batch, finance3)
    with pytest.raises(NotPermitted) as refused:
        services.batch_approve(acting_user=finance2, batch=batch)
    assert refused.value.code == "four_eyes"
    assert services.batch_approve(acting_user=world.finance, batch=batch).state == State.APPROVED


def test_the_reviewer_never_approves(world, finance2, quarter, compute_now):
    """The approver is neither who computed nor who reviewed the batch (DOMAIN §6 four-eyes): here
    finance computed and finance2 reviewed, so finance2 may not approve. (test_beat.py has the
    batch the system computed, which one officer used to review, approve and pay alone.)"""
    batch = compute_now(user=world.finance)
    batch = reviewed(batch, finance2)
    with pytest.raises(NotPermitted) as refused:
        services.batch_approve(acting_user=finance2, batch=batch)
    assert refused.value.code == "four_eyes"
    assert refused.value.extra["rules"][0]["rule"] == "four_eyes"
    batch.refresh_from_db()
    assert (batch.state, batch.approved_by) == (State.REVIEWED, None)


def test_the_database_refuses_an_approver_who_reviewed(world, finance2, quarter, compute_now):
    batch = reviewed(compute_now(), finance2)
    with pytest.raises(IntegrityError, match="subsidy_batch_four_eyes"), transaction.atomic():
        SubsidyBatch.objects.filter(pk=batch.pk).update(approved_by=finance2)
    with pytest.raises(IntegrityError, match="subsidy_batch_four_eyes"), transaction.atomic():
        SubsidyBatch.objects.filter(pk=batch.pk).update(approved_by=world.finance)


def test_review_is_refused_while_a_loan_to_pay_has_no_account(world, finance2, quarter, compute_now):
    full = quarter["full"]
    Loan.objects.filter(pk=full.pk).update(account_no="  ")
    batch = compute_now()
    with pytest.raises(ApplicationError) as refused:
        services.batch_review(acting_user=world.finance, batch=batch)
    assert refused.value.code == "rule_failed"
    assert refused.value.extra["rules"][0]["rule"] == "account_missing"
    assert refused.value.extra["contracts"] == [full.contract_no]
    assert full.contract_no in refused.value.message
    batch.refresh_from_db()
    assert (batch.state, batch.reviewed_by) == (State.COMPUTED, None)
    # The unpaid loan has no subsidy to pay: it needs no account to be reviewed.
    Loan.objects.filter(pk=quarter["unpaid"].pk).update(account_no="")
    Loan.objects.filter(pk=full.pk).update(account_no="6230520100000000001")
    assert services.batch_review(acting_user=world.finance, batch=batch).state == State.REVIEWED


def test_no_recompute_after_review_until_sent_back(world, finance2, quarter, compute_now):
    batch = reviewed(compute_now(), finance2)
    with pytest.raises(TransitionNotAllowed) as refused:
        services.batch_compute(acting_user=world.finance, batch=batch)
    assert (refused.value.code, refused.value.status_code) == ("transition_not_allowed", 409)
    assert refused.value.extra == {"state": State.REVIEWED, "transition": "compute"}

    with pytest.raises(ApplicationError) as no_reason:
        services.batch_send_back(acting_user=finance2, batch=batch, reason="  ")
    assert no_reason.value.code == "invalid"
    batch = services.batch_send_back(acting_user=finance2, batch=batch, reason="村名有误，请重算")
    assert (batch.state, batch.reviewed_by, batch.reviewed_at) == (State.COMPUTED, None, None)
    batch = compute_now(batch=batch)
    assert (batch.state, batch.run, batch.total) == (State.COMPUTED, 2, QUARTER_TOTAL)


def test_paid_batch_is_never_recomputed_or_cancelled(world, finance2, monkeypatch, quarter, compute_now):
    batch = compute_now()
    batch = services.batch_approve(acting_user=finance2, batch=reviewed(batch, world.finance))
    today_is(monkeypatch, timezone.localdate())
    with pytest.raises(ApplicationError) as future:
        services.batch_pay(
            acting_user=world.finance, batch=batch, paid_on=timezone.localdate() + datetime.timedelta(days=1)
        )
    assert future.value.code == "invalid"
    batch = pay(batch, world.finance)
    assert (batch.state, batch.paid_by, batch.paid_on, batch.payment_reference) == (
        State.PAID,
        world.finance,
        timezone.localdate(),
        "GK-2025-031",
    )
    lines = snapshot(batch)

    for step, kwargs in (
        (services.batch_compute, {}),
        (services.batch_cancel, {"reason": "重复支付"}),
        (services.batch_send_back, {"reason": "重新核对"}),
        (services.batch_resume, {}),
    ):
        with pytest.raises(TransitionNotAllowed) as refused:
            step(acting_user=world.finance, batch=batch, **kwargs)
        assert refused.value.status_code == 409
        assert refused.value.extra["state"] == State.PAID
    batch.refresh_from_db()
    assert (batch.state, batch.run, batch.total) == (State.PAID, 1, QUARTER_TOTAL)
    assert snapshot(batch) == lines
    # And a second batch for the quarter cannot be made while the paid one stands.
    with pytest.raises(ConflictError):
        services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)


# ---- cancel --------------------------------------------------------------------------------------


def test_cancel_releases_the_claims_for_the_next_batch(world, finance2, quarter, compute_now):
    batch = compute_now()
    batch = services.batch_approve(acting_user=finance2, batch=reviewed(batch, world.finance))
    lines = snapshot(batch)
    assert SubsidyLine.objects.filter(batch=batch, claimed=True).count() == 6

    with pytest.raises(ApplicationError) as e:
        services.batch_cancel(acting_user=world.finance, batch=batch, reason="")
    assert (e.value.code, e.value.field) == ("invalid", "reason")
    batch = services.batch_cancel(acting_user=world.finance, batch=batch, reason="村名有误")
    assert (batch.state, batch.cancelled_by, batch.cancel_reason) == (
        State.CANCELLED,
        world.finance,
        "村名有误",
    )
    # The lines stay for the record, claiming nothing.
    assert SubsidyLine.objects.filter(batch=batch).count() == 8
    assert not SubsidyLine.objects.filter(claimed=True).exists()

    again = compute_now()
    assert again.pk != batch.pk
    assert snapshot(again) == lines
    assert totals(again) == (QUARTER_TOTAL, 8, 4, 8, 8)
    assert SubsidyLine.objects.filter(claimed=True, batch=again).count() == 6
    assert not SubsidyLine.objects.filter(claimed=True).exclude(batch=again).exists()


# ---- audit -----------------------------------------------------------------------------------------


def test_every_step_leaves_an_audit_record(world, finance2, monkeypatch, quarter, compute_now):
    batch = compute_now()
    batch = reviewed(batch, world.finance)
    batch = services.batch_send_back(acting_user=finance2, batch=batch, reason="重新核对")
    batch = compute_now(batch=batch, user=finance2)
    batch = reviewed(batch, finance2)
    batch = services.batch_approve(acting_user=world.finance, batch=batch, comment="同意")
    today_is(monkeypatch, timezone.localdate())
    batch = pay(batch, finance2)
    cancelled = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=4)
    services.batch_cancel(acting_user=world.finance, batch=cancelled, reason="建错了")

    def trail(of):
        events = AuditEvent.objects.filter(object_type="subsidies.subsidybatch", object_id=str(of.pk))
        return [
            (e.action, e.actor, e.data.get("from"), e.data.get("to"), e.reason)
            for e in events.order_by("at", "id")
        ]

    assert trail(batch) == [
        ("subsidy_batch.create", world.finance, None, None, ""),
        ("subsidy_batch.compute", world.finance, State.DRAFT, State.COMPUTING, ""),
        ("subsidy_batch.finish", None, State.COMPUTING, State.COMPUTED, ""),
        ("subsidy_batch.review", world.finance, State.COMPUTED, State.REVIEWED, "核对无误"),
        ("subsidy_batch.send_back", finance2, State.REVIEWED, State.COMPUTED, "重新核对"),
        ("subsidy_batch.compute", finance2, State.COMPUTED, State.COMPUTING, ""),
        ("subsidy_batch.finish", None, State.COMPUTING, State.COMPUTED, ""),
        ("subsidy_batch.review", finance2, State.COMPUTED, State.REVIEWED, "核对无误"),
        ("subsidy_batch.approve", world.finance, State.REVIEWED, State.APPROVED, "同意"),
        ("subsidy_batch.pay", finance2, State.APPROVED, State.PAID, ""),
    ]
    events = AuditEvent.objects.filter(object_id=str(batch.pk), object_type="subsidies.subsidybatch")
    assert events.get(action="subsidy_batch.approve").data["total"] == str(QUARTER_TOTAL)
    assert [e.data["run"] for e in events.filter(action="subsidy_batch.finish").order_by("id")] == [1, 2]
    assert trail(cancelled) == [
        ("subsidy_batch.create", world.finance, None, None, ""),
        ("subsidy_batch.cancel", world.finance, State.DRAFT, State.CANCELLED, "建错了"),
    ]


def test_excluded_lines_say_why(world, quarter, compute_now):
    batch = compute_now()
    reasons = dict(
        SubsidyLine.objects.filter(batch=batch, subsidy=0)
        .values_list("loan_id", "excluded_reason")
        .order_by()
    )
    assert sorted(reasons.values()) == sorted(
        [
            ExcludedReason.UNPAID,
            ExcludedReason.OUTSIDE_SUPPORT,
            ExcludedReason.OVER_HOUSEHOLD_CAP,
            ExcludedReason.NO_SETTLEMENT,
        ]
    )
    assert reasons[quarter["unpaid"].pk] == ExcludedReason.UNPAID
