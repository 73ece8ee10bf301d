"""The demo (`manage.py seed_demo`) on the days that used to break it (issue 9): every step on a
past working day, notices running through today, nothing guessed for a year the calendar lacks,
and the main flows working for each demo account.

The seeded calendar (chinesecalendar) holds 2004-2026. The days, worked out from the State
Council's arrangements for 2025 and 2026:
- 2026-12-05, a Saturday: a notice posted on Monday 11-30 ends on Friday 12-04 and would have
  been moved on by the daily task that night, so a demo application still in publicity must have
  a notice ending on or after today.
- 2026-09-20, a Sunday worked in lieu of the Mid-Autumn holiday (09-25 to 09-27).
- 2026-10-08, the first working day after National Day (10-01 to 10-07).
- 2026-02-14, the Saturday worked before Spring Festival (02-15 to 02-23), and 2026-02-24, the
  first working day after it.
- 2026-12-28, in the last weeks of the last year the calendar holds: a notice posted today would
  end in 2027.
- 2027-03-10, in a year with no calendar data at all.

Seeding the whole demo takes tens of seconds, most of it the 600 households and their ratings,
which do not depend on the day. So the county and its people are seeded once for the module,
through the command's own `population` step, and for each day the ratings are moved to where
the seed puts them on that day (each rating the same number of days old) before `seed_demo`
adds the story of applications, loans and subsidies. Each day's story is rolled back after its
tests; each test runs on its day's clock."""

import datetime
from collections import Counter
from dataclasses import dataclass
from io import StringIO

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from core.models import AuditEvent
from demo import applications as seed_applications
from demo import households as seed_households
from demo import regions as seed_regions
from demo.management.commands import seed_demo
from households.models import CreditRating
from households.services.ratings import rating_valid_to
from loans.models import ApplicationHistory, Loan, LoanApplication, PublicityNotice
from loans.services import applications as loan_services
from loans.workflow import State
from policies.exceptions import CalendarMissing
from policies.models import CalendarDay, CalendarYear, PolicyProfile
from subsidies.models import SubsidyBatch
from subsidies.services import first_working_day_after
from tests.conftest import content_types_ensure, login_request, moment, reference_data_ensure

pytestmark = pytest.mark.django_db

# The day the households are seeded on; their ratings are then moved to each day of the test.
POPULATION_DAY = datetime.date(2026, 6, 17)


@dataclass(frozen=True)
class Day:
    """One day of the test and what the demo must show on it, worked out by hand from the
    calendar. `notice_end`: the last day of a notice posted today (day 1 is today when it is a
    working day, else the next working day; five working days), None when that day falls in a
    year the calendar lacks. `paid`: (year, quarter, paid on) of the quarter before last, paid by
    finance on its first working day after the quarter plus 9; `computed`: (year, quarter, made
    on) of last quarter's batch, made by the quarterly run on the first working day after the
    quarter, or None. `missing_year`: the year the output must name."""

    name: str
    day: datetime.date
    notice_end: datetime.date | None
    paid: tuple[int, int, datetime.date]
    computed: tuple[int, int, datetime.date] | None
    missing_year: int | None = None


D = datetime.date
DAYS = [
    # Notice from Saturday 12-05: day 1 is Monday 12-07, ends Friday 12-11. Q2 ended Tue 06-30:
    # first working day Wed 07-01, paid 9 working days later (07-02 03 06 07 08 09 10 13 14).
    # Q3: 10-01..10-07 National Day, so the run was on Thu 10-08. From 1 November the output
    # says 2027 is missing.
    Day("saturday", D(2026, 12, 5), D(2026, 12, 11),
        paid=(2026, 2, D(2026, 7, 14)), computed=(2026, 3, D(2026, 10, 8)), missing_year=2027),
    # Sunday 09-20 is a working day: 20 21 22 23 24 (09-25 is the Mid-Autumn holiday). Q1 ended
    # Tue 03-31: first working day 04-01, then 04-02 03, 04-04..06 Qingming, 07 08 09 10 13 14 15.
    Day("adjusted-sunday", D(2026, 9, 20), D(2026, 9, 24),
        paid=(2026, 1, D(2026, 4, 15)), computed=(2026, 2, D(2026, 7, 1))),
    # Thu 10-08: 08 09, Sat 10-10 is worked, 12 13.
    Day("after-national-day", D(2026, 10, 8), D(2026, 10, 13),
        paid=(2026, 2, D(2026, 7, 14)), computed=(2026, 3, D(2026, 10, 8))),
    # Saturday 02-14 is worked; 02-15..02-23 Spring Festival; then 24 25 26 27. 2025 Q3: National
    # Day 2025 ran 10-01..10-08, first working day Thu 10-09, then 10 11(Sat, worked) 13 14 15 16
    # 17 20 21. 2025 Q4: 2026-01-01..03 New Year, Sunday 01-04 worked: the run was that Sunday.
    Day("before-spring-festival", D(2026, 2, 14), D(2026, 2, 27),
        paid=(2025, 3, D(2025, 10, 21)), computed=(2025, 4, D(2026, 1, 4))),
    # Tue 02-24: 24 25 26 27, Saturday 02-28 is worked.
    Day("after-spring-festival", D(2026, 2, 24), D(2026, 2, 28),
        paid=(2025, 3, D(2025, 10, 21)), computed=(2025, 4, D(2026, 1, 4))),
    # Monday 12-28: 28 29 30 31 and a fifth day in 2027, which the calendar lacks.
    Day("end-of-calendar", D(2026, 12, 28), None,
        paid=(2026, 2, D(2026, 7, 14)), computed=(2026, 3, D(2026, 10, 8)), missing_year=2027),
    # 2027: nothing after 2026-12-31 can be dated. Q3 2026: first working day 10-08, then 09,
    # 10(Sat, worked) 12 13 14 15 16 19 20. Q4 2026's run needs the first working day of 2027.
    Day("no-calendar", D(2027, 3, 10), None,
        paid=(2026, 3, D(2026, 10, 20)), computed=None, missing_year=2027),
]  # fmt: skip


@pytest.fixture(scope="module")
def population(django_db_setup, django_db_blocker):
    """The county, its accounts, households, blacklist and ratings, seeded once, rolled back at
    the end of the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        # A transactional test before this module may have flushed what migrations made.
        reference_data_ensure()
        made = content_types_ensure()
        with time_machine.travel(moment(POPULATION_DAY), tick=True), translation.override("zh-hans"):
            command = seed_demo.Command(stdout=StringIO())
            command.begin()
            command.population()
        yield
        transaction.set_rollback(True)
    if made:
        ContentType.objects.clear_cache()


@dataclass
class Seeded:
    day: Day
    output: str


@pytest.fixture(scope="module", params=DAYS, ids=[d.name for d in DAYS])
def seeded(request, population, django_db_blocker):
    """The demo as `seed_demo` leaves it on the day, in a savepoint rolled back afterwards."""
    day: Day = request.param
    with django_db_blocker.unblock(), transaction.atomic():
        with time_machine.travel(moment(day.day), tick=True):
            ratings_as_of(day.day)
            out = StringIO()
            call_command("seed_demo", stdout=out)
        yield Seeded(day, out.getvalue())
        transaction.set_rollback(True)


@pytest.fixture
def demo(seeded, pinned_clock) -> Seeded:
    """The seeded day, with the test's clock at 10:00 that day."""
    pinned_clock.move_to(moment(seeded.day.day))
    return seeded


def ratings_as_of(day: datetime.date) -> None:
    """Move the population's ratings to where the seed puts them on `day`: the same age in days
    (valid from that many days before `day`), valid for the profile's months."""
    delta = day - POPULATION_DAY
    months = PolicyProfile.objects.get(county__code=seed_regions.COUNTY_CODE).rating_valid_months
    ratings = list(
        CreditRating.objects.filter(household__village__parent__parent__code=seed_regions.COUNTY_CODE)
    )
    for rating in ratings:
        rating.valid_from += delta
        rating.valid_to = rating_valid_to(rating.valid_from, months)
        rating.rated_at += delta
    CreditRating.objects.bulk_update(ratings, ["valid_from", "valid_to", "rated_at"])


def demo_applications():
    return LoanApplication.objects.filter(
        household__village__parent__parent__code=seed_regions.COUNTY_CODE, kind=LoanApplication.Kind.NEW
    )


def working_days() -> set[datetime.date]:
    return set(CalendarDay.objects.filter(is_working_day=True).values_list("date", flat=True))


def user(username: str) -> User:
    return User.objects.get(username=username)


def test_every_step_on_a_past_working_day_in_order(demo):
    today = demo.day.day
    working = working_days()
    for app in demo_applications().prefetch_related("history", "notices"):
        history = list(app.history.all())
        times = [app.created_at] + [h.at for h in history]
        assert times == sorted(times), app.purpose_detail
        assert timezone.localdate(app.created_at) in working
        for h in history:
            day = timezone.localdate(h.at)
            assert day <= today
            # The daily task runs every night; people work on working days.
            assert h.transition == "end_publicity" or day in working, (app.purpose_detail, h.transition, day)
        if app.submitted_on:
            assert app.submitted_on == timezone.localdate(history[0].at)
        for notice in app.notices.all():
            # Every notice's days are known working days: none runs into a year the calendar lacks.
            assert notice.start_on <= today and notice.start_on in working and notice.end_on in working
            assert notice.working_days == 5
            if notice.status == PublicityNotice.Status.RUNNING:
                assert app.state == State.PUBLICITY and notice.end_on >= today, app.purpose_detail
    # The rest of the story too: imports, repayments, checks, extensions, subsidy steps. Only the
    # county's people: the population seeded for the module is dated on its own day.
    story = AuditEvent.objects.filter(actor__isnull=False).exclude(
        action__in=["household.create", "rating.create", "user.create", "policy_profile.create"]
    )
    story = story.exclude(action="blacklist.add", reason__in=seed_households.BLACKLIST_REASONS)
    days = {timezone.localdate(at) for at in story.values_list("at", flat=True)}
    assert days and max(days) <= today and days <= working, sorted(days - working)
    # Every notice whose days are over has been dealt with: the daily task finds nothing to do.
    assert loan_services.publicity_end_due(on_date=today) == []


def test_every_state_of_the_workflow_while_the_calendar_lasts(demo):
    states = Counter(demo_applications().values_list("state", flat=True))
    if demo.day.missing_year == demo.day.day.year:
        # No notice can be posted that runs today: the applications that would be in publicity
        # stayed in village review, and the output says so. An application no rating reaches
        # back to (from 2026-12-31 to a month from now) is left out, and the output says so too.
        planned = Counter(p.state for p in seed_applications.APPLICATIONS)
        left_out = demo.output.count("no household's rating covers")
        assert sum(states.values()) + left_out == len(seed_applications.APPLICATIONS)
        assert states[State.PUBLICITY] == 0
        in_village_review = planned[State.VILLAGE_REVIEW] + planned[State.PUBLICITY]
        assert states[State.VILLAGE_REVIEW] + left_out >= in_village_review
        assert demo.output.count("停在“村级审核”") == planned[State.PUBLICITY]
        return
    assert states == Counter(p.state for p in seed_applications.APPLICATIONS)
    assert f"贷款申请：本次新建 {len(seed_applications.APPLICATIONS)} 笔" in demo.output
    assert demo_applications().filter(state=State.PUBLICITY, notices__end_on__gt=demo.day.day).exists()
    assert "停在" not in demo.output


def test_the_output_names_the_missing_year(demo):
    year = demo.day.missing_year
    if year is None:
        assert "工作日历缺少" not in demo.output
        return
    assert f"工作日历缺少 {year} 年" in demo.output and "/policies/calendar/" in demo.output
    if demo.day.notice_end is None and demo.day.day.year < year:
        # Late December: the notice that would have ended in the new year was posted earlier.
        assert "1 笔申请的公示已提前安排" in demo.output
    # And nothing was guessed for it: no notice, step or batch is dated in that year.
    assert not PublicityNotice.objects.filter(end_on__year=year).exists()
    assert (
        not ApplicationHistory.objects.filter(at__gte=moment(D(year, 1, 1)))
        .exclude(transition="end_publicity")
        .exists()
    )


def test_the_demo_accounts_open_their_pages(demo, client):
    officer = user("officer")
    app = demo_applications().filter(branch=officer.unit).order_by("pk").first()
    loan = Loan.objects.filter(branch=officer.unit).order_by("pk").first()
    batch = SubsidyBatch.objects.filter(county__code=seed_regions.COUNTY_CODE).order_by("pk").first()
    pages = {
        "cadre": ["home", "loans:application_list", "loans:publicity_board", "households:list"],
        "township": ["home", "loans:publicity_board"],
        "county": ["home", "loans:application_list", "households:blacklist"],
        "officer": ["home", "loans:acceptance_queue", "loans:book_list", "loans:overdue_list"],
        "approver": ["home", "loans:approval_queue"],
        "finance": ["home", "subsidies:batch_list"],
        "admin": ["home", "policies:calendar"],
    }
    details = {
        "officer": [
            reverse("loans:application_detail", args=[app.pk]),
            reverse("loans:book_detail", args=[loan.pk]),
        ],
        "finance": [reverse("subsidies:batch_detail", args=[batch.pk])],
    }
    for username, names in pages.items():
        assert client.login(request=login_request(), username=username, password=seed_regions.PASSWORD), (
            username
        )
        for url in [reverse(name) for name in names] + details.get(username, []):
            response = client.get(url)
            assert response.status_code == 200, (username, url, response.status_code)
        client.logout()


def test_the_officer_accepts_and_the_approver_approves(demo):
    officer, approver = user("officer"), user("approver")
    app = demo_applications().filter(state=State.BANK_ACCEPTANCE, branch=officer.unit).order_by("pk").first()
    loan_services.application_accept(
        acting_user=officer, application=app, findings="实地查看项目，情况属实。"
    )
    app.refresh_from_db()
    assert app.state == State.BANK_APPROVAL and app.investigated_on == demo.day.day
    loan_services.application_approve(acting_user=approver, application=app, comment="同意")
    app.refresh_from_db()
    assert app.state == State.APPROVED and app.approved_on == demo.day.day


def test_village_approval_posts_notices_or_names_the_missing_year(demo):
    cadre = user("cadre")
    app = (
        demo_applications()
        .filter(state=State.VILLAGE_REVIEW, household__village=cadre.unit)
        .order_by("pk")
        .first()
    )
    if demo.day.notice_end is None:
        notices = app.notices.count()
        with pytest.raises(CalendarMissing) as caught:
            loan_services.application_village_approve(acting_user=cadre, application=app)
        assert caught.value.code == "calendar_missing" and caught.value.extra["year"] == 2027
        app.refresh_from_db()
        assert app.state == State.VILLAGE_REVIEW and app.notices.count() == notices
        return
    loan_services.application_village_approve(acting_user=cadre, application=app)
    ends = set(app.notices.values_list("end_on", flat=True))
    assert ends == {demo.day.notice_end}


def test_the_daily_publicity_task(demo):
    today = demo.day.day
    assert loan_services.publicity_end_due(on_date=today) == []
    running = PublicityNotice.objects.filter(
        application__in=demo_applications(), status=PublicityNotice.Status.RUNNING
    )
    if demo.day.missing_year == today.year:
        assert not running.exists()
        return
    first_end = min(running.values_list("end_on", flat=True))
    ends_then = {
        app.pk
        for app in demo_applications().filter(state=State.PUBLICITY)
        if max(n.end_on for n in app.notices.filter(status="running")) == first_end
    }
    moved = loan_services.publicity_end_due(on_date=first_end + datetime.timedelta(days=1))
    assert set(moved) == ends_then and ends_then
    assert set(LoanApplication.objects.filter(pk__in=moved).values_list("state", flat=True)) == {
        State.BANK_ACCEPTANCE
    }


def test_subsidy_batches(demo, client):
    batches = {
        (b.year, b.quarter): b for b in SubsidyBatch.objects.filter(county__code=seed_regions.COUNTY_CODE)
    }
    paid_quarter, paid_on = demo.day.paid[:2], demo.day.paid[2]
    expected = {paid_quarter} | ({demo.day.computed[:2]} if demo.day.computed else set())
    assert set(batches) == expected
    paid = batches[paid_quarter]
    assert paid.state == "paid" and paid.paid_on == paid_on
    # Four-eyes: the second finance officer approved what the first computed and reviewed.
    names = (paid.computed_by.username, paid.reviewed_by.username, paid.approved_by.username)
    assert names == ("finance", "finance", "finance2")
    if demo.day.computed:
        computed = batches[demo.day.computed[:2]]
        assert computed.state == "computed" and computed.computed_by is None
        assert timezone.localdate(computed.created_at) == demo.day.computed[2]
    else:
        # The quarterly run needs the first working day of a year the calendar lacks.
        with pytest.raises(CalendarMissing) as caught:
            first_working_day_after(D(2026, 12, 31))
        assert caught.value.code == "calendar_missing" and caught.value.extra["year"] == 2027
    assert client.login(request=login_request(), username="finance", password=seed_regions.PASSWORD)
    page = client.get(reverse("subsidies:batch_list")).content.decode()
    for batch in batches.values():
        assert str(batch.label) in page
    if demo.day.computed is None:
        assert "2027" in client.get(reverse("home")).content.decode()


def test_the_calendar_knows_the_test_days():
    """The days above are what they are said to be in the calendar the migrations load."""
    working = working_days()
    assert D(2026, 12, 5) not in working and D(2026, 12, 5).weekday() == 5
    assert D(2026, 9, 20) in working and D(2026, 9, 20).weekday() == 6
    assert D(2026, 10, 7) not in working and D(2026, 10, 8) in working
    assert D(2026, 2, 14) in working and D(2026, 2, 14).weekday() == 5
    assert not any(D(2026, 2, d) in working for d in range(15, 24)) and D(2026, 2, 24) in working
    assert set(CalendarYear.objects.values_list("year", flat=True)) >= set(range(2004, 2027))
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_the_story_fits_on_every_day():
    """Where `seed_demo` places each application's steps, on every day of 2025 and 2026 and of
    January 2027, checked against the calendar and against the publicity count the services use
    (five working days, none in a year the calendar lacks): every step on a working day on
    or before today, in order; notices of an application left in publicity still running today;
    the daily task moving the others on the night after their last day. In 2027 only the
    applications that would be in publicity stop short (in village review)."""
    working = working_days()
    covered = set(CalendarYear.objects.values_list("year", flat=True))

    def notices_end_from(posted: datetime.date) -> datetime.date:
        """DOMAIN §4.3: the posting day is day 1 when it is a working day; the notice ends at the
        end of day 5. Every day counted must be in a year the calendar holds."""
        day, counted = posted, 0
        while True:
            assert day.year in covered, f"a notice posted on {posted} runs into {day.year}"
            counted += day in working
            if counted == 5:
                return day
            day += datetime.timedelta(days=1)

    command = seed_demo.Command(stdout=StringIO())
    day = D(2025, 1, 1)
    while day <= D(2027, 1, 31):
        with time_machine.travel(moment(day)):
            command.begin()
            command.publicity_days = 5
            for planned in seed_applications.APPLICATIONS:
                placement = command.placement(planned)
                where = (day, planned.detail)
                complete = len(placement.days) == len(planned.steps)
                assert complete or (day.year == 2027 and planned.state == State.PUBLICITY), where
                assert placement.first in working and placement.first <= day, where
                previous, notices_end = placement.first, None
                for step, on in zip(planned.steps, placement.days, strict=False):
                    if step is seed_applications.END_PUBLICITY:
                        assert on == notices_end + datetime.timedelta(days=1) and on <= day, where
                        notices_end = None
                        continue
                    assert on in working and previous <= on <= day, (where, step.name)
                    if step.name == "village_approve":
                        notices_end = notices_end_from(on)
                    elif step.name == "object":
                        # An objection is lodged while the notices run; it suspends them.
                        assert notices_end is not None and on <= notices_end, where
                        notices_end = None
                    elif step.name == "withdraw":
                        notices_end = None
                    previous = on
                assert notices_end is None or notices_end >= day, where
        day += datetime.timedelta(days=1)
