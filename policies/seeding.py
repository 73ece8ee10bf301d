"""Reference data that ships with the system: the working-day calendar from the `chinese_calendar`
package and the PBOC benchmark and LPR rate history.

The functions take the model classes as arguments so the data migration can pass its historical
models and the services the real ones; nothing here imports the app's models."""

from __future__ import annotations

import datetime
from decimal import Decimal

import chinese_calendar
from chinese_calendar.constants import Holiday
from chinese_calendar.constants import holidays as LIBRARY_HOLIDAYS
from chinese_calendar.constants import workdays as LIBRARY_WORKDAYS

LIBRARY_SOURCE = f"chinesecalendar {chinese_calendar.__version__}（国务院办公厅节假日安排通知）"
LIBRARY_FIRST_YEAR = min(LIBRARY_HOLIDAYS).year
LIBRARY_LAST_YEAR = max(LIBRARY_HOLIDAYS).year

# (kind, tenor, effective_from, annual rate in percent, source)
BENCHMARK_SOURCE = "中国人民银行 2015-10-24 贷款基准利率"
LPR_SOURCE = "全国银行间同业拆借中心 贷款市场报价利率（LPR）公告"
BENCHMARK_RATES = [
    ("benchmark", "le1y", "2015-10-24", "4.35", BENCHMARK_SOURCE),
    ("benchmark", "1to5y", "2015-10-24", "4.75", BENCHMARK_SOURCE),
    ("benchmark", "gt5y", "2015-10-24", "4.90", BENCHMARK_SOURCE),
]
# The history ships as the publications that changed a rate (the table is effective-dated, so
# those are enough to price any past contract). From here on administrators enter every monthly
# publication on the rates page, an unchanged one too: the table's last entry is how the system
# knows the LPR is current, and one more than a month old is a visible warning
# (policies.selectors.lpr_stale_on), never a silent reuse of an old rate. This list stops at
# 2025-05-20.
LPR_HISTORY = [
    ("2019-08-20", "4.25", "4.85"),
    ("2019-09-20", "4.20", "4.85"),
    ("2019-11-20", "4.15", "4.80"),
    ("2020-02-20", "4.05", "4.75"),
    ("2020-04-20", "3.85", "4.65"),
    ("2021-12-20", "3.80", "4.65"),
    ("2022-01-20", "3.70", "4.60"),
    ("2022-05-20", "3.70", "4.45"),
    ("2022-08-22", "3.65", "4.30"),
    ("2023-06-20", "3.55", "4.20"),
    ("2023-08-21", "3.45", "4.20"),
    ("2024-02-20", "3.45", "3.95"),
    ("2024-07-22", "3.35", "3.85"),
    ("2024-10-21", "3.10", "3.60"),
    ("2025-05-20", "3.00", "3.50"),
]


def seed_rate_rows() -> list[tuple[str, str, datetime.date, Decimal, str]]:
    rows = [(k, t, datetime.date.fromisoformat(d), Decimal(r), s) for k, t, d, r, s in BENCHMARK_RATES]
    for day, one_year, five_year in LPR_HISTORY:
        on = datetime.date.fromisoformat(day)
        rows.append(("lpr", "lpr1y", on, Decimal(one_year), LPR_SOURCE))
        rows.append(("lpr", "lpr5y", on, Decimal(five_year), LPR_SOURCE))
    return rows


def seed_rates(Rate) -> int:
    """Insert the rate history; rows already present (same kind, tenor and date) are left alone."""
    objs = [
        Rate(kind=kind, tenor=tenor, effective_from=on, annual_rate=rate, source=source)
        for kind, tenor, on, rate, source in seed_rate_rows()
    ]
    existing = set(Rate.objects.values_list("kind", "tenor", "effective_from"))
    new = [o for o in objs if (o.kind, o.tenor, o.effective_from) not in existing]
    Rate.objects.bulk_create(new)
    return len(new)


def year_days(year: int):
    """Every date of `year`, in order."""
    day = datetime.date(year, 1, 1)
    while day.year == year:
        yield day
        day += datetime.timedelta(days=1)


def _chinese_name(value: str) -> str:
    try:
        return Holiday(value).chinese
    except ValueError:
        return value


def library_covers(year: int) -> bool:
    return LIBRARY_FIRST_YEAR <= year <= LIBRARY_LAST_YEAR


def library_days(year: int) -> list[tuple[datetime.date, bool, str]]:
    """(date, is_working_day, note) for each day of a year the library covers. Weekends that are
    adjusted working days (调休) work; holidays rest and carry the holiday's Chinese name, which
    the adjusted working days carry too (the holiday they make up for)."""
    days = []
    for day in year_days(year):
        if day in LIBRARY_WORKDAYS:
            days.append((day, True, _chinese_name(LIBRARY_WORKDAYS[day])))
        elif day in LIBRARY_HOLIDAYS:
            days.append((day, False, _chinese_name(LIBRARY_HOLIDAYS[day])))
        else:
            days.append((day, day.weekday() < 5, ""))
    return days


def defined_days(
    year: int,
    holidays: list[tuple[datetime.date, datetime.date, str]],
    workdays: list[tuple[datetime.date, str]],
) -> list[tuple[datetime.date, bool, str]]:
    """(date, is_working_day, note) for a year entered by hand: holiday ranges rest, the listed
    weekend dates work, every other weekday works and every other weekend day rests."""
    rest = {}
    for start, end, name in holidays:
        day = start
        while day <= end:
            rest[day] = name
            day += datetime.timedelta(days=1)
    work = dict(workdays)
    days = []
    for day in year_days(year):
        if day in work:
            days.append((day, True, work[day]))
        elif day in rest:
            days.append((day, False, rest[day]))
        else:
            days.append((day, day.weekday() < 5, ""))
    return days


def write_years(CalendarYear, CalendarDay, years: dict[int, list], *, source: str, loaded_by=None) -> None:
    """Store whole years, replacing any stored before. `years` maps a year to its
    `(date, is_working_day, note)` triples. A few statements whatever the number of days."""
    CalendarDay.objects.filter(year_id__in=list(years)).delete()
    CalendarYear.objects.filter(year__in=list(years)).delete()
    CalendarYear.objects.bulk_create(
        [CalendarYear(year=year, source=source, loaded_by=loaded_by) for year in years]
    )
    CalendarDay.objects.bulk_create(
        [
            CalendarDay(date=day, year_id=year, is_working_day=working, note=note[:50])
            for year, days in years.items()
            for day, working, note in days
        ],
        batch_size=2000,
    )


def seed_calendar(CalendarYear, CalendarDay) -> list[int]:
    """Load every year the library covers that is not stored yet; returns the years loaded."""
    have = set(CalendarYear.objects.values_list("year", flat=True))
    todo = [y for y in range(LIBRARY_FIRST_YEAR, LIBRARY_LAST_YEAR + 1) if y not in have]
    write_years(CalendarYear, CalendarDay, {y: library_days(y) for y in todo}, source=LIBRARY_SOURCE)
    return todo
