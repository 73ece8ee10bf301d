"""Publicity (DOMAIN §4.3): notices at the profile's levels for its number of working days,
counted on the working-day calendar with China's statutory holidays and adjusted working days
(调休). The posting day is day 1 if it is a working day, otherwise day 1 is the next working day;
a notice ends at the end of its last day, so the daily task moves the application the day after.

The services read "today" from `loans.services._today`, their own clock; tests set it with
monkeypatch to post on the dates of the real holiday schedules. The calendar rows are the real
ones (chinesecalendar data seeded by the migration)."""

import datetime
from decimal import Decimal

import pytest

from core.exceptions import ApplicationError
from core.models import AuditEvent
from households.models import CreditRating
from loans.exceptions import TransitionNotAllowed
from loans.models import ApplicationHistory, LoanApplication, Objection, PublicityNotice
from loans.services import applications
from loans.workflow import State
from policies.models import CalendarDay, CalendarYear
from tests.factories import CreditRatingFactory, PolicyProfileFactory

D = datetime.date
LEVELS = {"village", "township", "county"}


@pytest.fixture
def clock(monkeypatch):
    """Sets the services' "today"."""

    def set_today(day: datetime.date) -> None:
        monkeypatch.setattr(applications, "_today", lambda: day)

    return set_today


@pytest.fixture
def rated_2023_2025(world, household):
    """Eligibility is judged on the day of each step: give the household a rating in force over
    the years whose holiday schedules these tests post in."""
    return CreditRatingFactory(
        household=household,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        grade=CreditRating.Grade.AAA,
        credit_limit=Decimal("50000.00"),
        valid_from=D(2023, 1, 1),
        valid_to=D(2025, 12, 31),
    )


@pytest.fixture
def post_on(world, clock, rated_2023_2025, new_application, drive):
    """post_on(day) submits a new application and approves it at village level on `day`."""

    def post(day: datetime.date, app: LoanApplication | None = None, **fields) -> LoanApplication:
        clock(day)
        app = app or drive(new_application(**fields), State.VILLAGE_REVIEW)
        applications.application_village_approve(acting_user=world.cadre, application=app)
        return LoanApplication.objects.get(pk=app.pk)

    return post


def notices(app) -> list[PublicityNotice]:
    return list(PublicityNotice.objects.filter(application=app).order_by("id"))


# ---- end dates on the real calendars -------------------------------------------------------------


@pytest.mark.parametrize(
    ("posted", "ends"),
    [
        # National Day 2024: 10-01..10-07 off; Sun 09-29 and Sat 10-12 worked.
        # Fri 09-27 is day 1, Sat 09-28 rests, Sun 09-29 day 2, 09-30 day 3, 10-08 day 4, 10-09 day 5.
        (D(2024, 9, 27), D(2024, 10, 9)),
        # Posted on Sat 09-28 (a rest day): day 1 is Sun 09-29, an adjusted working day.
        (D(2024, 9, 28), D(2024, 10, 10)),
        # Posted on the adjusted working Sunday itself: it counts as day 1.
        (D(2024, 9, 29), D(2024, 10, 10)),
        # Posted during the holiday: 10-08..10-11 are days 1-4, Sat 10-12 (worked) is day 5.
        (D(2024, 10, 1), D(2024, 10, 12)),
        # Spring Festival 2025: 01-28..02-04 off; Sun 01-26 and Sat 02-08 worked.
        # Fri 01-24 day 1, Sun 01-26 day 2, Mon 01-27 day 3, 02-05 day 4, 02-06 day 5.
        (D(2025, 1, 24), D(2025, 2, 6)),
        # Posted during the holiday: 02-05, 02-06, 02-07, Sat 02-08, then Mon 02-10.
        (D(2025, 1, 29), D(2025, 2, 10)),
        # Mid-Autumn and National Day 2023: 09-29..10-06 off; Sat 10-07 and Sun 10-08 worked.
        # Thu 09-28 day 1, 10-07 day 2, 10-08 day 3, 10-09 day 4, 10-10 day 5.
        (D(2023, 9, 28), D(2023, 10, 10)),
        (D(2023, 10, 1), D(2023, 10, 11)),
        # An ordinary week: Mon to Fri.
        (D(2024, 11, 4), D(2024, 11, 8)),
        # Posted on a plain Saturday: Mon..Fri of the next week.
        (D(2024, 11, 2), D(2024, 11, 8)),
    ],
)
def test_notice_end_date_counts_working_days(posted, ends, world, post_on):
    app = post_on(posted)

    assert app.state == State.PUBLICITY
    posted_notices = notices(app)
    assert {n.level for n in posted_notices} == LEVELS
    for notice in posted_notices:
        assert (notice.start_on, notice.end_on, notice.working_days) == (posted, ends, 5)
        assert notice.status == PublicityNotice.Status.RUNNING
        assert notice.posted_by == world.cadre


def test_the_calendar_rows_behind_the_examples_are_the_real_ones():
    """Guards the examples above: were the seeded calendar wrong, they would test nothing."""
    working = dict(
        CalendarDay.objects.filter(
            date__in=[
                D(2024, 9, 29),
                D(2024, 10, 7),
                D(2025, 1, 26),
                D(2025, 2, 4),
                D(2025, 2, 8),
                D(2023, 10, 7),
            ]
        ).values_list("date", "is_working_day")
    )
    assert working == {
        D(2024, 9, 29): True,
        D(2024, 10, 7): False,
        D(2025, 1, 26): True,
        D(2025, 2, 4): False,
        D(2025, 2, 8): True,
        D(2023, 10, 7): True,
    }


def test_a_notice_ends_only_the_day_after_its_last_day(world, post_on):
    app = post_on(D(2024, 9, 27))
    history = ApplicationHistory.objects.filter(application=app).count()

    # Still running on its last day.
    assert applications.publicity_end_due(on_date=D(2024, 10, 9)) == []
    assert LoanApplication.objects.get(pk=app.pk).state == State.PUBLICITY
    assert ApplicationHistory.objects.filter(application=app).count() == history

    assert applications.publicity_end_due(on_date=D(2024, 10, 10)) == [app.pk]
    app = LoanApplication.objects.get(pk=app.pk)
    assert app.state == State.BANK_ACCEPTANCE
    assert {n.status for n in notices(app)} == {PublicityNotice.Status.ENDED}
    last = ApplicationHistory.objects.filter(application=app).latest("id")
    assert (last.transition, last.from_state, last.to_state, last.by) == (
        "end_publicity",
        State.PUBLICITY,
        State.BANK_ACCEPTANCE,
        None,
    )

    # Twice is once.
    audit = AuditEvent.objects.count()
    assert applications.publicity_end_due(on_date=D(2024, 10, 11)) == []
    assert ApplicationHistory.objects.filter(application=app).count() == history + 1
    assert AuditEvent.objects.count() == audit


# ---- levels and days from the profile ------------------------------------------------------------


def test_levels_and_days_come_from_the_profile_in_force(world, post_on):
    PolicyProfileFactory(
        county=world.county,
        effective_from=D(2020, 1, 1),
        publicity_levels=["village", "township"],
        publicity_days=7,
    )
    app = post_on(D(2024, 9, 27))

    posted = notices(app)
    assert sorted(n.level for n in posted) == ["township", "village"]
    # 09-27, 09-29, 09-30, 10-08, 10-09, 10-10, 10-11.
    assert {(n.end_on, n.working_days) for n in posted} == {(D(2024, 10, 11), 7)}
    assert applications.publicity_end_due(on_date=D(2024, 10, 11)) == []
    assert applications.publicity_end_due(on_date=D(2024, 10, 12)) == [app.pk]


def test_a_profile_taking_effect_later_does_not_apply_yet(world, post_on):
    PolicyProfileFactory(county=world.county, effective_from=D(2024, 10, 1), publicity_days=3)
    before = post_on(D(2024, 9, 27), amount=Decimal("10000.00"))
    after = post_on(D(2024, 10, 8), amount=Decimal("10000.00"))
    assert {n.working_days for n in notices(before)} == {5}
    # 10-08, 10-09, 10-10.
    assert {(n.working_days, n.end_on) for n in notices(after)} == {(3, D(2024, 10, 10))}


# ---- objections ----------------------------------------------------------------------------------


def test_objection_suspends_and_re_approval_posts_fresh_notices(world, clock, post_on):
    app = post_on(D(2024, 9, 27))
    first_round = {n.pk for n in notices(app)}

    clock(D(2024, 10, 8))
    objection = applications.objection_lodge(
        acting_user=world.township_officer,
        application=app,
        text="申请人家中已有在贷款项",
        objector="村民王五",
    )

    app = LoanApplication.objects.get(pk=app.pk)
    assert app.state == State.VILLAGE_REVIEW
    assert {n.status for n in notices(app)} == {PublicityNotice.Status.SUSPENDED}
    stored = Objection.objects.get(application=app)
    assert stored == objection
    assert (stored.raised_by, stored.objector, stored.text) == (
        world.township_officer,
        "村民王五",
        "申请人家中已有在贷款项",
    )
    assert stored.notice.level == "township" and stored.notice.pk in first_round
    # The task leaves it alone, before and after the notices' old end date.
    assert applications.publicity_end_due(on_date=D(2024, 10, 10)) == []
    assert applications.publicity_end_due(on_date=D(2024, 12, 1)) == []
    assert LoanApplication.objects.get(pk=app.pk).state == State.VILLAGE_REVIEW

    # The village checks the objection and approves again on Mon 10-14: new notices, new dates.
    app = post_on(D(2024, 10, 14), app=app)
    second_round = [n for n in notices(app) if n.pk not in first_round]
    assert {n.level for n in second_round} == LEVELS
    assert {(n.start_on, n.end_on, n.status) for n in second_round} == {
        (D(2024, 10, 14), D(2024, 10, 18), PublicityNotice.Status.RUNNING)
    }
    # The first round stays on record, suspended, with its own dates.
    old = PublicityNotice.objects.filter(pk__in=first_round)
    assert {(n.end_on, n.status) for n in old} == {(D(2024, 10, 9), PublicityNotice.Status.SUSPENDED)}

    # The suspended first round does not hold the new one back.
    assert applications.publicity_end_due(on_date=D(2024, 10, 18)) == []
    assert applications.publicity_end_due(on_date=D(2024, 10, 19)) == [app.pk]
    app = LoanApplication.objects.get(pk=app.pk)
    assert app.state == State.BANK_ACCEPTANCE
    assert {n.status for n in notices(app) if n.pk not in first_round} == {PublicityNotice.Status.ENDED}
    assert set(old.values_list("status", flat=True)) == {PublicityNotice.Status.SUSPENDED}


def test_objection_outside_publicity_is_refused(world, post_on):
    app = post_on(D(2024, 9, 27))
    applications.publicity_end_due(on_date=D(2024, 10, 10))
    count = Objection.objects.count()
    with pytest.raises(TransitionNotAllowed):
        applications.objection_lodge(acting_user=world.cadre, application=app, text="迟到的异议")
    assert Objection.objects.count() == count


def test_only_due_applications_move(world, post_on):
    """One application whose notices have ended, one posted later whose notices still run, and
    one whose county notice was extended (a notice not yet ended holds the whole application)."""
    due = post_on(D(2024, 9, 27), amount=Decimal("10000.00"))
    later = post_on(D(2024, 10, 8), amount=Decimal("10000.00"))
    extended = post_on(D(2024, 9, 27), amount=Decimal("10000.00"))
    PublicityNotice.objects.filter(application=extended, level="county").update(end_on=D(2024, 10, 11))
    # 10-08..10-11 and the adjusted working Saturday 10-12.
    assert {n.end_on for n in notices(later)} == {D(2024, 10, 12)}

    assert applications.publicity_end_due(on_date=D(2024, 10, 10)) == [due.pk]

    states = dict(LoanApplication.objects.values_list("pk", "state"))
    assert states[due.pk] == State.BANK_ACCEPTANCE
    assert states[later.pk] == State.PUBLICITY
    assert states[extended.pk] == State.PUBLICITY
    # The extended one's other notices were not closed early either.
    assert {n.status for n in notices(extended)} == {PublicityNotice.Status.RUNNING}

    assert applications.publicity_end_due(on_date=D(2024, 10, 12)) == [extended.pk]
    assert applications.publicity_end_due(on_date=D(2024, 10, 13)) == [later.pk]


def test_an_application_with_a_pending_objection_is_not_moved(world, clock, post_on):
    objected = post_on(D(2024, 9, 27), amount=Decimal("10000.00"))
    quiet = post_on(D(2024, 9, 27), amount=Decimal("10000.00"))
    clock(D(2024, 9, 30))
    applications.objection_lodge(acting_user=world.cadre, application=objected, text="金额偏高")

    assert applications.publicity_end_due(on_date=D(2024, 10, 10)) == [quiet.pk]
    assert LoanApplication.objects.get(pk=objected.pk).state == State.VILLAGE_REVIEW


# ---- a year without calendar data ----------------------------------------------------------------


def assert_calendar_missing(world, app, clock, day, year):
    before = (
        ApplicationHistory.objects.count(),
        AuditEvent.objects.count(),
        PublicityNotice.objects.count(),
    )
    clock(day)
    with pytest.raises(ApplicationError) as caught:
        applications.application_village_approve(acting_user=world.cadre, application=app)
    assert caught.value.code == "calendar_missing"
    assert caught.value.extra == {"year": year}
    assert str(year) in str(caught.value.message)
    assert LoanApplication.objects.get(pk=app.pk).state == State.VILLAGE_REVIEW
    assert (
        ApplicationHistory.objects.count(),
        AuditEvent.objects.count(),
        PublicityNotice.objects.count(),
    ) == before


def test_notice_running_into_a_year_without_data_is_refused(
    world, clock, rated_2023_2025, new_application, drive
):
    app = drive(new_application(), State.VILLAGE_REVIEW)
    CalendarYear.objects.filter(year=2025).delete()
    # Fri 2024-12-27 + 5 working days reaches into 2025.
    assert_calendar_missing(world, app, clock, D(2024, 12, 27), 2025)


def test_posting_in_a_year_without_data_is_refused(world, clock, rated_2023_2025, new_application, drive):
    app = drive(new_application(), State.VILLAGE_REVIEW)
    CalendarYear.objects.filter(year=2024).delete()
    assert_calendar_missing(world, app, clock, D(2024, 9, 27), 2024)


def test_a_year_entered_by_an_admin_makes_it_work(world, clock, rated_2023_2025, new_application, drive):
    """After the refusal the administrator enters the missing year (as the State Council's notice
    says) and the same step succeeds."""
    from policies.services import calendar_year_define

    app = drive(new_application(), State.VILLAGE_REVIEW)
    CalendarYear.objects.filter(year=2025).delete()
    assert_calendar_missing(world, app, clock, D(2024, 12, 27), 2025)

    calendar_year_define(
        acting_user=world.admin,
        year=2025,
        holidays=[(D(2025, 1, 1), D(2025, 1, 1), "元旦"), (D(2025, 1, 28), D(2025, 2, 4), "春节")],
        workdays=[D(2025, 1, 26), D(2025, 2, 8)],
        source="国务院办公厅关于2025年部分节假日安排的通知",
    )
    applications.application_village_approve(acting_user=world.cadre, application=app)
    # Fri 12-27, Mon 12-30, Tue 12-31, (01-01 off) Thu 01-02, Fri 01-03.
    assert {n.end_on for n in notices(app)} == {D(2025, 1, 3)}
