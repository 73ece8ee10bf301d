"""The working days the demo's story is placed on (shared by the other parts of `seed_demo`)."""

from __future__ import annotations

import contextlib
import datetime

from django.utils import timezone

from policies.exceptions import CalendarMissing
from policies.models import CalendarDay, CalendarYear


class WorkingDays:
    """The working days the calendar knows, for placing the demo's steps on days people work.
    Only for placing: the services count publicity on the calendar themselves. A year the
    calendar lacks is unknown and never guessed (DOMAIN §4.3): counting into it raises
    CalendarMissing naming the year, and `latest` passes over it to the last day it knows."""

    def __init__(self, today: datetime.date):
        self.covered = set(CalendarYear.objects.values_list("year", flat=True))
        known = [year for year in self.covered if year <= today.year]
        # The story reaches back about a year and a half (the oldest application, the county's go-live,
        # the settlement lists since) from the last year the calendar knows up to today.
        self.first_year = (max(known) if known else today.year) - 3
        self.last_year = today.year + 1
        self.working = set(
            CalendarDay.objects.filter(
                date__gte=datetime.date(self.first_year, 1, 1),
                date__lte=datetime.date(self.last_year, 12, 31),
                is_working_day=True,
            ).values_list("date", flat=True)
        )

    def knows(self, day: datetime.date) -> bool:
        return day.year in self.covered

    def is_working(self, day: datetime.date) -> bool:
        if not self.knows(day):
            raise CalendarMissing(day.year)
        if not self.first_year <= day.year <= self.last_year:
            raise ValueError(f"{day} is outside the working days loaded for the demo")
        return day in self.working

    def latest(self, day: datetime.date) -> datetime.date | None:
        """The last day on or before `day` known to be a working day, passing over the days of
        years the calendar lacks; None when the calendar knows no working day before `day`."""
        while day.year >= self.first_year:
            if self.knows(day) and day in self.working:
                return day
            day -= datetime.timedelta(days=1)
        return None

    def back(self, day: datetime.date, count: int) -> datetime.date:
        """The working day `count` working days before `day` (0: `day` or the last before it)."""
        while not self.is_working(day):
            day -= datetime.timedelta(days=1)
        for _ in range(count):
            day -= datetime.timedelta(days=1)
            while not self.is_working(day):
                day -= datetime.timedelta(days=1)
        return day

    def after(self, day: datetime.date, count: int) -> datetime.date:
        """The working day `count` working days after `day` (0: `day` or the next after it)."""
        while not self.is_working(day):
            day += datetime.timedelta(days=1)
        for _ in range(count):
            day += datetime.timedelta(days=1)
            while not self.is_working(day):
                day += datetime.timedelta(days=1)
        return day


@contextlib.contextmanager
def clock(moment: datetime.datetime):
    """Run the services as if it were `moment`. For this seeding command only: the demo's
    applications went through their steps on past working days (publicity must have run its 5
    working days before the bank can accept), while the services rightly take the day from the
    clock. Patching django.utils.timezone.now moves `loans.services._today` (which reads
    timezone.localdate) together with the auto_now_add times of the history, notices, objections
    and audit records, so every page tells the same story. Always restored on the way out."""
    real_now = timezone.now
    timezone.now = lambda: moment
    try:
        yield
    finally:
        timezone.now = real_now


class SeedDates:
    """The day of the run and the days the story may use; mixed into the `seed_demo` command."""

    def dates(self) -> None:
        """The day of the run and the days the story may use. Every step happens on a working day
        the calendar knows, on or before `last_working` (today, or the last working day before
        it). The loans' story is told up to `story_day`: today, or, when today falls in a year the
        calendar lacks, the end of the last year it knows, since nothing later can be placed on a
        working day."""
        self.today = timezone.localdate()
        self.real_now = timezone.now()
        self.days = WorkingDays(self.today)
        self.last_working = self.days.latest(self.today)
        self.story_day = self.today
        if not self.days.knows(self.today):
            self.missing_years.add(self.today.year)
            if self.last_working is not None:
                self.story_day = datetime.date(self.last_working.year, 12, 31)
        # The State Council publishes next year's arrangements in November (DOMAIN §4.3).
        if self.today.month >= 11 and not self.days.knows(datetime.date(self.today.year + 1, 1, 1)):
            self.missing_years.add(self.today.year + 1)

    def at(self, day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))

    def run_events(self, events: list) -> None:
        """Run (moment, order, action) events in time order, each on the clock of its moment; a
        moment later today than now happens now."""
        for at, _order, action in sorted(events, key=lambda e: (e[0], e[1])):
            with clock(min(at, self.real_now)):
                action()
