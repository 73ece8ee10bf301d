"""What Celery beat runs for the subsidy (DOMAIN §6): every county's batch from the first working
day after a quarter's end, computed, with a notice to the county's finance staff; and stalled
computations queued again. Tasks run eagerly in this process, through the task code."""

import datetime
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from config.celery import app as celery_app
from core.exceptions import NotPermitted
from core.models import AuditEvent, Notice
from policies.exceptions import CalendarMissing
from policies.models import CalendarYear, PolicyProfile
from subsidies import services, tasks
from subsidies.models import BatchChunk, SubsidyBatch, SubsidyLine
from subsidies.workflow import State
from tests.factories import CountyFactory, HouseholdFactory, PolicyProfileFactory, UserFactory

from .conftest import Q3_END, Q3_START, QUARTER_TOTAL, today_is, totals

D = datetime.date
# 2025 Q3 ends on Tuesday 30 September; 1-8 October is the National Day and Mid-Autumn holiday.
FIRST_WORKING_DAY_AFTER_Q3 = D(2025, 10, 9)
# 2025 Q4 ends on Wednesday 31 December; 1-3 January 2026 is New Year's Day, Sunday the 4th a
# working day in exchange (调休).
FIRST_WORKING_DAY_AFTER_Q4 = D(2026, 1, 4)
# County Z's loan in the `quarter` fixture and a second one: 555.83 each (the full quarter of
# test_compute.py).
Z_TOTAL = Decimal("1111.66")


@pytest.fixture
def ensure(monkeypatch, settings, eager_tasks, django_capture_on_commit_callbacks):
    """The daily task on a given day: the services' today is that day, and the chunk tasks the
    batches queue when their transaction commits run at once."""
    settings.SUBSIDY_CHUNK_LOANS = 3

    def run(day: datetime.date, *, as_argument=False) -> list[int]:
        today_is(monkeypatch, day)
        with django_capture_on_commit_callbacks(execute=True):
            if as_argument:
                return tasks.ensure_quarterly_batches(day.isoformat())
            return tasks.ensure_quarterly_batches()

    return run


@pytest.fixture
def quarter(quarter, world, make_loan, settle):
    """The loans of conftest's `quarter`, and a second loan in county Z."""
    loan = make_loan(household=HouseholdFactory(village=world.vz, head__age=52))
    settle(loan, Q3_START, Q3_END, interest_due="555.83", paid_on=Q3_END)
    return quarter


def batches():
    return list(SubsidyBatch.objects.order_by("county__code", "year", "quarter"))


def test_first_working_day_after_a_quarter(db):
    assert services.first_working_day_after(D(2025, 9, 30)) == FIRST_WORKING_DAY_AFTER_Q3
    assert services.first_working_day_after(D(2025, 12, 31)) == FIRST_WORKING_DAY_AFTER_Q4
    assert services.first_working_day_after(D(2025, 6, 30)) == D(2025, 7, 1)


def test_first_working_day_after_a_year_without_calendar_is_an_error_not_a_guess(db):
    """With 2026 missing, Monday to Friday would say Thursday 1 January 2026, which is New Year's
    Day; the answer is the error that names the year."""
    CalendarYear.objects.filter(year=2026).delete()
    with pytest.raises(CalendarMissing) as missing:
        services.first_working_day_after(D(2025, 12, 31))
    assert (missing.value.code, missing.value.year) == ("calendar_missing", 2026)


@pytest.mark.today("2026-01-05")
def test_the_quarterly_run_waits_for_a_missing_calendar_and_says_so(world, quarter, ensure):
    CalendarYear.objects.filter(year=2026).delete()
    assert ensure(D(2026, 1, 5)) == []
    assert not SubsidyBatch.objects.exists()
    notices = Notice.objects.filter(unit=world.county).order_by("role")
    assert [n.role for n in notices] == [Role.ADMIN, Role.FINANCE]
    assert all("2026" in n.title and n.url == reverse("policies:calendar") for n in notices)
    # Every day it tries again, without piling up notices.
    assert ensure(D(2026, 1, 6)) == []
    assert Notice.objects.filter(unit=world.county).count() == 2
    # Once an administrator has entered the year, the next run computes and the notice goes.
    from policies import seeding
    from policies.models import CalendarDay

    seeding.seed_calendar(CalendarYear, CalendarDay)
    assert len(ensure(D(2026, 1, 7))) == 2
    assert not Notice.objects.filter(url=reverse("policies:calendar")).exists()


def test_nothing_before_the_first_working_day(world, quarter, ensure):
    for day in (D(2025, 10, 1), D(2025, 10, 8)):
        assert ensure(day) == []
    assert not SubsidyBatch.objects.exists()
    assert not Notice.objects.exists()


def test_on_the_first_working_day_every_county_gets_its_batch_computed(world, finance2, quarter, ensure):
    created = ensure(FIRST_WORKING_DAY_AFTER_Q3)

    a, z = batches()
    assert sorted(created) == sorted([a.pk, z.pk])
    assert [(b.county, b.year, b.quarter, b.state, b.created_by, b.computed_by) for b in (a, z)] == [
        (world.county, 2025, 3, State.COMPUTED, None, None),
        (world.other_county, 2025, 3, State.COMPUTED, None, None),
    ]
    assert totals(a) == (QUARTER_TOTAL, 8, 4, 8, 8)
    assert totals(z) == (Z_TOTAL, 2, 2, 2, 2)
    notices = Notice.objects.order_by("unit__code")
    assert [(n.unit, n.role, n.url) for n in notices] == [
        (world.county, Role.FINANCE, reverse("subsidies:batch_detail", args=[a.pk])),
        (world.other_county, Role.FINANCE, reverse("subsidies:batch_detail", args=[z.pk])),
    ]
    assert all("2025" in n.title for n in notices)
    # Created and computed by the system: audited with no actor.
    assert set(
        AuditEvent.objects.filter(object_id=str(a.pk), object_type="subsidies.subsidybatch").values_list(
            "action", "actor"
        )
    ) == {("subsidy_batch.create", None), ("subsidy_batch.compute", None), ("subsidy_batch.finish", None)}
    # Nobody computed it, but it still passes two people: whoever reviews it does not approve it.
    a = services.batch_review(acting_user=world.finance, batch=a)
    with pytest.raises(NotPermitted) as refused:
        services.batch_approve(acting_user=world.finance, batch=a)
    assert refused.value.code == "four_eyes"
    assert services.batch_approve(acting_user=finance2, batch=a).state == State.APPROVED


def test_running_again_creates_nothing(world, quarter, ensure):
    first = ensure(FIRST_WORKING_DAY_AFTER_Q3)
    assert len(first) == 2
    lines = SubsidyLine.objects.count()

    assert ensure(FIRST_WORKING_DAY_AFTER_Q3) == []
    assert ensure(D(2025, 10, 10), as_argument=True) == []
    assert ensure(D(2025, 12, 31)) == []
    assert SubsidyBatch.objects.count() == 2
    assert Notice.objects.count() == 2
    assert SubsidyLine.objects.count() == lines


def test_a_cancelled_batch_is_not_recreated(world, quarter, ensure):
    ensure(FIRST_WORKING_DAY_AFTER_Q3)
    a = SubsidyBatch.objects.get(county=world.county)
    services.batch_cancel(acting_user=world.finance, batch=a, reason="本季度改为人工核算")

    assert ensure(D(2025, 10, 10)) == []
    assert list(SubsidyBatch.objects.filter(county=world.county).values_list("pk", "state")) == [
        (a.pk, State.CANCELLED)
    ]


def test_a_yearly_county_gets_only_the_q4_batch(world, quarter, ensure):
    PolicyProfileFactory(
        county=world.other_county,
        effective_from=D(2025, 1, 1),
        subsidy_frequency=PolicyProfile.Frequency.YEARLY,
    )
    ensure(FIRST_WORKING_DAY_AFTER_Q3)
    assert [(b.county, b.quarter) for b in batches()] == [(world.county, 3)]
    assert not Notice.objects.filter(unit=world.other_county).exists()

    assert ensure(D(2026, 1, 3)) == []  # still the New Year holiday
    created = ensure(FIRST_WORKING_DAY_AFTER_Q4)
    assert [(b.county, b.year, b.quarter) for b in batches()] == [
        (world.county, 2025, 3),
        (world.county, 2025, 4),
        (world.other_county, 2025, 4),
    ]
    z = SubsidyBatch.objects.get(county=world.other_county)
    assert z.pk in created
    # The Q4 batch catches what was due earlier in the year (应贴尽贴): the Q3 settlements.
    assert totals(z) == (Z_TOTAL, 2, 2, 2, 2)
    assert set(SubsidyLine.objects.filter(batch=z).values_list("period_end", flat=True)) == {Q3_END}
    assert Notice.objects.filter(unit=world.other_county, role=Role.FINANCE).count() == 1


def test_a_county_without_a_profile_in_force_is_left_out(world, ensure):
    late = CountyFactory(name="阳朔县", code="450321")
    PolicyProfileFactory(county=late, effective_from=D(2025, 10, 1))
    CountyFactory(name="恭城县", code="450332")  # no profile at all

    ensure(FIRST_WORKING_DAY_AFTER_Q3)
    assert sorted(b.county.code for b in batches()) == ["450312", "450323"]


def test_stalled_batches_are_resumed(
    world, quarter, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.SUBSIDY_CHUNK_LOANS = 3
    finance_z = UserFactory(username="finance_z", unit=world.other_county, roles=[Role.FINANCE])
    a = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    z = services.batch_create(acting_user=finance_z, county=world.other_county, year=2025, quarter=3)
    # Both queued their chunks, and the messages were lost (the tasks never run).
    with django_capture_on_commit_callbacks():
        services.batch_compute(acting_user=world.finance, batch=a)
        services.batch_compute(acting_user=finance_z, batch=z)
    SubsidyBatch.objects.filter(pk=a.pk).update(
        compute_started_at=timezone.now() - datetime.timedelta(minutes=20)
    )
    SubsidyBatch.objects.filter(pk=z.pk).update(
        compute_started_at=timezone.now() - datetime.timedelta(minutes=5)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.resume_stalled() == [a.pk]
    a.refresh_from_db()
    z.refresh_from_db()
    assert (a.state, totals(a)) == (State.COMPUTED, (QUARTER_TOTAL, 8, 4, 8, 8))
    assert (z.state, z.progress_done) == (State.COMPUTING, 0)
    assert (
        AuditEvent.objects.filter(action="subsidy_batch.resume", object_id=str(a.pk), actor=None).count() == 1
    )

    # Within the window it is only slow; past it, it is resumed too.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.batches_resume_stalled(older_than=datetime.timedelta(minutes=1)) == [z.pk]
    assert totals(z) == (Z_TOTAL, 2, 2, 2, 2)
    assert z.state == State.COMPUTED


def test_resume_finishes_a_batch_whose_last_chunk_was_done(
    world, quarter, eager_tasks, django_capture_on_commit_callbacks
):
    """The worker died after committing the last chunk and before finishing the batch."""
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    with django_capture_on_commit_callbacks():
        services.batch_compute(acting_user=world.finance, batch=batch)
    for chunk in BatchChunk.objects.filter(batch=batch):
        assert services.chunk_compute(chunk_id=chunk.pk) is True
    batch.refresh_from_db()
    assert (batch.state, batch.progress_done) == (State.COMPUTING, 0)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.batch_resume(acting_user=world.finance, batch=batch) == 0
    assert totals(batch) == (QUARTER_TOTAL, 8, 4, 8, 8)
    assert batch.state == State.COMPUTED


def test_a_batch_that_finishes_meanwhile_does_not_stop_the_others(
    world, quarter, monkeypatch, settings, eager_tasks, django_capture_on_commit_callbacks
):
    """Between listing the stalled batches and resuming one, its last chunk may finish: the run
    goes on with the others."""
    batches_ = []
    for county in (world.county, world.other_county):
        batch = services.batch_create(acting_user=None, county=county, year=2025, quarter=3, system=True)
        with django_capture_on_commit_callbacks():
            services.batch_compute(acting_user=None, batch=batch, system=True)
        batches_.append(batch)
    SubsidyBatch.objects.update(compute_started_at=timezone.now() - datetime.timedelta(hours=1))
    first, second = batches_
    real_resume = services.batch_resume

    def resume_after_a_late_worker(*, batch, **kwargs):
        if batch.pk == first.pk:
            for chunk in BatchChunk.objects.filter(batch=first):
                tasks.compute_chunk(chunk.pk)
        return real_resume(batch=batch, **kwargs)

    monkeypatch.setattr(services, "batch_resume", resume_after_a_late_worker)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.batches_resume_stalled() == [second.pk]
    assert [totals(b)[0] for b in batches_] == [QUARTER_TOTAL, Z_TOTAL]
    assert [SubsidyBatch.objects.get(pk=b.pk).state for b in batches_] == [State.COMPUTED, State.COMPUTED]


def test_beat_schedule():
    daily = settings.CELERY_BEAT_SCHEDULE["subsidy-quarterly-batches"]
    assert daily["task"] == tasks.ensure_quarterly_batches.name == "subsidies.ensure_quarterly_batches"
    assert isinstance(daily["schedule"], crontab)
    assert (daily["schedule"].hour, daily["schedule"].minute) == ({1}, {0})
    assert daily["schedule"].day_of_week == set(range(7))
    stalled = settings.CELERY_BEAT_SCHEDULE["subsidy-resume-stalled"]
    assert stalled["task"] == tasks.resume_stalled.name == "subsidies.resume_stalled"
    assert stalled["schedule"].minute == set(range(0, 60, 10))
    for entry in (daily, stalled):
        assert entry["task"] in celery_app.tasks
