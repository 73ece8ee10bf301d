"""The working-day calendar: counting as publicity counts (DOMAIN §4.3), missing years, and
admins adding a year from the State Council's notice."""

import chinese_calendar
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from core.exceptions import ApplicationError, NotPermitted
from core.models import AuditEvent
from policies import services
from policies.exceptions import CalendarMissing
from policies.models import CalendarDay, CalendarYear

from .conftest import HOLIDAYS_2027, WORKDAYS_2027, d

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("start", "count", "end"),
    [
        # Posted the Thursday before Spring Festival 2024: Thu, Fri, then the holiday 02-10..02-17,
        # then the adjusted working Sunday 02-18 counts, Mon, Tue.
        ("2024-02-08", 5, "2024-02-20"),
        # Mid-Autumn and National Day 2023 ran together 09-29..10-06; Sat 10-07 and Sun 10-08 were
        # worked. Posted on the Thursday before: 09-28, 10-07, 10-08, 10-09, 10-10.
        ("2023-09-28", 5, "2023-10-10"),
        # Posted on the first day of the holiday: day 1 is the first working day after it.
        ("2023-09-29", 5, "2023-10-11"),
        # Posted on the adjusted working Saturday: it is day 1 itself.
        ("2023-10-07", 1, "2023-10-07"),
        ("2023-10-07", 2, "2023-10-08"),
        # An ordinary Friday counts as day 1 ...
        ("2023-11-03", 5, "2023-11-09"),
        # ... a Saturday does not: day 1 is Monday, and so does posting on that Monday.
        ("2023-11-04", 5, "2023-11-10"),
        ("2023-11-06", 5, "2023-11-10"),
        # count = 1 on a working day is that day; on a rest day the next working day.
        ("2023-11-06", 1, "2023-11-06"),
        ("2023-10-01", 1, "2023-10-07"),
        # Crossing New Year: 2023-12-29 Fri, then 12-30..2024-01-01 rest.
        ("2023-12-29", 2, "2024-01-02"),
    ],
)
def test_add_working_days(start, count, end):
    assert services.add_working_days(d(start), count) == d(end)


def test_add_working_days_uses_two_queries_whatever_the_count(django_assert_num_queries):
    with django_assert_num_queries(2):
        assert services.add_working_days(d("2024-01-02"), 200) > d("2024-10-01")


@pytest.mark.parametrize(
    ("date", "working"),
    [
        ("2023-10-02", False),
        ("2023-10-07", True),
        ("2023-10-09", True),
        ("2023-11-04", False),
        ("2024-02-09", True),
    ],
)
def test_is_working_day(date, working):
    assert services.is_working_day(d(date)) is working


def test_a_range_reaching_into_a_year_with_no_data_names_that_year():
    # 2026-12-28..31 are the only four working days left in the data; the fifth is in 2027.
    with pytest.raises(CalendarMissing) as caught:
        services.add_working_days(d("2026-12-28"), 5)
    error = caught.value
    assert isinstance(error, ApplicationError)
    assert error.code == "calendar_missing"
    assert error.extra == {"year": 2027}
    assert "2027" in str(error.message)
    # Four working days stay inside the data and are fine.
    assert services.add_working_days(d("2026-12-28"), 4) == d("2026-12-31")


def test_the_missing_year_message_is_chinese_by_default():
    with translation.override("zh-hans"), pytest.raises(CalendarMissing) as caught:
        services.add_working_days(d("2026-12-28"), 5)
    assert str(caught.value.message).startswith("2027年的节假日安排尚未录入")


def test_is_working_day_in_a_missing_year_is_an_error_not_a_weekend_guess():
    # 2027-01-04 is a Monday: a weekend-only guess would say "working".
    with pytest.raises(CalendarMissing) as caught:
        services.is_working_day(d("2027-01-04"))
    assert caught.value.extra == {"year": 2027}


def test_a_gap_between_stored_years_is_not_skipped(world):
    services.calendar_year_define(
        acting_user=world.admin,
        year=2028,
        holidays=[(d("2028-01-01"), d("2028-01-01"), "元旦")],
        workdays=[],
        source="测试",
    )
    # Data exists again in 2028, but 2027 in between is still missing.
    with pytest.raises(CalendarMissing) as caught:
        services.add_working_days(d("2026-12-28"), 5)
    assert caught.value.extra == {"year": 2027}


def test_a_start_in_a_missing_year_is_an_error_even_when_later_years_exist(world):
    CalendarYear.objects.filter(year=2025).delete()
    with pytest.raises(CalendarMissing) as caught:
        services.add_working_days(d("2025-12-30"), 1)
    assert caught.value.extra == {"year": 2025}


@pytest.mark.parametrize("count", [0, -3])
def test_count_must_be_at_least_one(count):
    with pytest.raises(ApplicationError) as caught:
        services.add_working_days(d("2023-11-06"), count)
    assert caught.value.code == "invalid"
    assert "count" in caught.value.extra["fields"]


def test_define_a_year_then_the_same_count_succeeds(world):
    with pytest.raises(CalendarMissing):
        services.add_working_days(d("2026-12-28"), 5)

    year = services.calendar_year_define(
        acting_user=world.admin,
        year=2027,
        holidays=HOLIDAYS_2027,
        workdays=WORKDAYS_2027,
        source="国务院办公厅关于2027年部分节假日安排的通知",
    )

    # 12-28..12-31 are four; 2027-01-01..03 is New Year; Monday 01-04 is the fifth.
    assert services.add_working_days(d("2026-12-28"), 5) == d("2027-01-04")
    assert services.is_working_day(d("2027-02-14")) is True  # an adjusted working Sunday
    assert services.is_working_day(d("2027-02-08")) is False  # a Monday in Spring Festival
    assert services.is_working_day(d("2027-02-21")) is False  # a plain Sunday
    assert services.is_working_day(d("2027-03-01")) is True  # a plain Monday
    assert CalendarDay.objects.filter(year=year).count() == 365
    assert CalendarDay.objects.get(date=d("2027-02-08")).note == "春节"
    assert CalendarDay.objects.get(date=d("2027-02-20")).note == "春节"
    assert year.loaded_by == world.admin
    event = AuditEvent.objects.get(action="calendar_year.define", object_id="2027")
    assert event.actor == world.admin
    assert ["2027-02-06", "2027-02-13", "春节"] in event.data["holidays"]


def test_replacing_a_year_is_allowed_and_audited(world):
    services.calendar_year_define(
        acting_user=world.admin, year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027, source="第一版"
    )
    services.calendar_year_define(
        acting_user=world.admin,
        year=2027,
        holidays=[(d("2027-01-01"), d("2027-01-01"), "元旦")],
        workdays=[],
        source="更正版",
    )
    assert services.is_working_day(d("2027-02-08")) is True
    assert services.is_working_day(d("2027-02-14")) is False
    assert CalendarDay.objects.filter(year_id=2027).count() == 365
    event = AuditEvent.objects.get(action="calendar_year.replace")
    assert event.data["previous_source"] == "第一版"
    assert CalendarYear.objects.get(year=2027).source == "更正版"


@pytest.mark.parametrize(
    ("holidays", "workdays", "field", "fragment"),
    [
        # a workday that is a weekday
        (HOLIDAYS_2027, [d("2027-02-15")], "workdays", "2027-02-15"),
        # a workday in another year
        (HOLIDAYS_2027, [d("2026-02-14")], "workdays", "2026-02-14"),
        # a workday inside a holiday
        (HOLIDAYS_2027, [d("2027-02-07")], "workdays", "2027-02-07"),
        # a holiday reaching out of the year
        ([(d("2026-12-31"), d("2027-01-02"), "元旦")], [], "holidays", "2026-12-31"),
        # a holiday that ends before it starts
        ([(d("2027-10-07"), d("2027-10-01"), "国庆节")], [], "holidays", "2027-10-07"),
        # overlapping holidays
        (
            [(d("2027-10-01"), d("2027-10-07"), "国庆节"), (d("2027-10-05"), d("2027-10-08"), "中秋节")],
            [],
            "holidays",
            "国庆节",
        ),
        # no name
        ([(d("2027-10-01"), d("2027-10-07"), "")], [], "holidays", "2027-10-01"),
        # no holidays at all
        ([], [], "holidays", ""),
    ],
)
def test_define_rejects_bad_input_and_writes_nothing(world, holidays, workdays, field, fragment):
    with pytest.raises(ValidationError) as caught:
        services.calendar_year_define(
            acting_user=world.admin, year=2027, holidays=holidays, workdays=workdays, source="通知"
        )
    messages = caught.value.message_dict[field]
    assert any(fragment in m for m in messages)
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    assert not AuditEvent.objects.filter(object_type="policies.calendaryear").exists()


def test_define_needs_a_source(world):
    with pytest.raises(ValidationError) as caught:
        services.calendar_year_define(
            acting_user=world.admin, year=2027, holidays=HOLIDAYS_2027, workdays=[], source="  "
        )
    assert "source" in caught.value.message_dict


def test_only_admins_define_years(world):
    with pytest.raises(NotPermitted):
        services.calendar_year_define(
            acting_user=world.county_office, year=2027, holidays=HOLIDAYS_2027, workdays=[], source="通知"
        )
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_the_seeded_calendar_matches_the_library_day_by_day():
    stored = dict(CalendarDay.objects.filter(date__year__lte=2026).values_list("date", "is_working_day"))
    assert set(CalendarYear.objects.values_list("year", flat=True)) >= set(range(2004, 2027))
    assert len(stored) == sum(366 if y % 4 == 0 else 365 for y in range(2004, 2027))
    mismatches = [day for day, working in stored.items() if chinese_calendar.is_workday(day) != working]
    assert mismatches == []
    assert CalendarDay.objects.get(date=d("2024-02-12")).note == "春节"


def test_load_from_library_replaces_a_year_and_refuses_years_it_does_not_have(world):
    CalendarDay.objects.filter(date=d("2026-10-01")).update(is_working_day=True, note="")
    services.calendar_year_load_from_library(2026, acting_user=world.admin)
    assert services.is_working_day(d("2026-10-01")) is False
    assert AuditEvent.objects.filter(action="calendar_year.replace", object_id="2026").exists()

    with pytest.raises(ApplicationError) as caught:
        services.calendar_year_load_from_library(2027, acting_user=world.admin)
    assert caught.value.code == "calendar_not_in_library"
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_load_calendar_command(capsys):
    from django.core.management import CommandError, call_command

    CalendarYear.objects.filter(year=2025).delete()
    call_command("load_calendar", "2025")
    assert CalendarDay.objects.filter(year_id=2025).count() == 365
    assert "2025" in capsys.readouterr().out
    with pytest.raises(CommandError, match="2027"):
        call_command("load_calendar", "2027")
