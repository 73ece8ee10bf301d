"""Reads: the profile in force, the rate in force, the working-day calendar, and the scoped
querysets behind the pages and the API."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OrgUnit
from accounts.scoping import county_q, visible_counties
from core.exceptions import ApplicationError

from .exceptions import CalendarMissing, PolicyProfileMissing, RateMissing
from .models import CalendarDay, CalendarYear, PolicyProfile, Rate


def profile_for(*, county: OrgUnit, on_date: datetime.date) -> PolicyProfile:
    """The county's profile in force on `on_date`: the latest one effective on or before it."""
    profile = (
        PolicyProfile.objects.filter(county=county, effective_from__lte=on_date)
        .order_by("-effective_from")
        .first()
    )
    if profile is None:
        raise PolicyProfileMissing(county, on_date)
    return profile


def county_of(unit: OrgUnit) -> OrgUnit:
    """The county above a township or village (or the county itself)."""
    while unit.kind != OrgUnit.Kind.COUNTY:
        unit = unit.parent
    return unit


def profile_list(
    *, user, on_date: datetime.date | None = None, county_id: int | None = None
) -> QuerySet[PolicyProfile]:
    """Profiles of the counties the user sees (of one of them with `county_id`), each annotated
    with `next_from` (the day the next version of the same county takes over, or None) so a list
    can say which one is in force without a query per row. See `profile_status`."""
    following = PolicyProfile.objects.filter(
        county=OuterRef("county"), effective_from__gt=OuterRef("effective_from")
    ).order_by("effective_from")
    qs = (
        PolicyProfile.objects.filter(county_q(user, "county"))
        .select_related("county", "created_by")
        .annotate(next_from=Subquery(following.values("effective_from")[:1]))
        .order_by("county__code", "-effective_from")
    )
    if county_id is not None:
        qs = qs.filter(county_id=county_id)
    return qs


def profile_to_copy(*, user, pk: int | None = None, county_id: int | None = None) -> PolicyProfile | None:
    """The profile a new version is prefilled from: the one given by `pk`, else the county's
    latest (scheduled or in force); None when there is none the user sees."""
    profiles = profile_list(user=user)
    if pk is not None:
        return profiles.filter(pk=pk).first()
    if county_id is not None:
        return profiles.filter(county_id=county_id).first()
    return None


def county_choices(*, user) -> QuerySet[OrgUnit]:
    """The counties the user sees, by code: the ones a profile can be listed or entered for."""
    return visible_counties(user).order_by("code")


def profile_status(profile: PolicyProfile, on_date: datetime.date | None = None) -> str:
    """ "in_force", "scheduled" (takes effect later) or "superseded", for a profile from
    `profile_list` (which carries `next_from`)."""
    on_date = on_date or timezone.localdate()
    if profile.effective_from > on_date:
        return "scheduled"
    if profile.next_from is not None and profile.next_from <= on_date:
        return "superseded"
    return "in_force"


def latest_profile(*, county: OrgUnit) -> PolicyProfile | None:
    return PolicyProfile.objects.filter(county=county).order_by("-effective_from").first()


# ---- interest rates --------------------------------------------------------------------------


def tenor_for(*, basis: str, term_months: int) -> str:
    """The rate tenor for a loan term (DOMAIN §5): benchmark ≤ 12 months → le1y, 13-60 → 1to5y,
    above 60 → gt5y; LPR ≤ 12 months → the 1-year LPR, longer → the 5-year LPR (the 2021 transition
    policy prices 1-3 year loans off the 5-year LPR)."""
    if term_months < 1:
        raise ApplicationError(
            _("The term must be at least 1 month."),
            "invalid",
            {"fields": {"term_months": [_("The term must be at least 1 month.")]}},
        )
    if basis == Rate.Kind.BENCHMARK:
        if term_months <= 12:
            return Rate.Tenor.UP_TO_1Y
        return Rate.Tenor.Y1_TO_5 if term_months <= 60 else Rate.Tenor.OVER_5Y
    if basis == Rate.Kind.LPR:
        return Rate.Tenor.LPR_1Y if term_months <= 12 else Rate.Tenor.LPR_5Y
    raise ApplicationError(
        _("Unknown rate basis %(basis)s.") % {"basis": basis},
        "invalid",
        {"fields": {"basis": [_("Choose the PBOC benchmark rate or the LPR.")]}},
    )


# The loan prime rate replaced the PBOC benchmark rate for new loans on this day (DOMAIN §5).
LPR_SINCE = datetime.date(2019, 8, 20)
# The LPR is published on the 20th of every month; a table whose last entry is older than this
# is missing publications, and a rate read from it may be out of date.
LPR_PUBLICATION_GRACE = relativedelta(months=1)


def rate_kind_for(*, basis: str, contract_date: datetime.date) -> str:
    """The rate table that prices a contract signed on `contract_date` under a profile's `basis`
    (DOMAIN §5). The LPR basis means the LPR for contracts signed on or after 2019-08-20 and the
    benchmark before it, when no LPR existed; the benchmark basis means the benchmark always.
    The one place this rule lives: pricing at disbursement, the existing-loan import and the
    subsidy cap rate (subsidies/compute.py mirrors it in SQL, and a test holds the two equal)."""
    if basis == Rate.Kind.LPR and contract_date < LPR_SINCE:
        return Rate.Kind.BENCHMARK
    if basis not in Rate.Kind.values:
        raise ApplicationError(
            _("Unknown rate basis %(basis)s.") % {"basis": basis},
            "invalid",
            {"fields": {"basis": [_("Choose the PBOC benchmark rate or the LPR.")]}},
        )
    return basis


def contract_rate_for(*, basis: str, term_months: int, contract_date: datetime.date) -> Rate:
    """The rate of a contract signed on `contract_date`: the table `rate_kind_for` names, the
    tenor of its term, the rate in force that day. Fixed for the contract's life."""
    kind = rate_kind_for(basis=basis, contract_date=contract_date)
    return rate_for(basis=kind, term_months=term_months, on_date=contract_date)


def lpr_table_end() -> datetime.date | None:
    """The day of the last LPR publication entered, or None when there is none."""
    return (
        Rate.objects.filter(kind=Rate.Kind.LPR)
        .order_by("-effective_from")
        .values_list("effective_from", flat=True)
        .first()
    )


def lpr_stale_on(on_date: datetime.date, *, table_end: datetime.date | None = None) -> datetime.date | None:
    """When an LPR read on `on_date` may be out of date, the day of the last publication entered;
    otherwise None. The LPR is published monthly, so a table whose last entry is more than a
    month before `on_date` lacks publications an administrator has not entered yet. Dates before
    the LPR existed are never stale."""
    end = table_end if table_end is not None else lpr_table_end()
    if on_date < LPR_SINCE or end is None:
        return None
    return end if on_date > end + LPR_PUBLICATION_GRACE else None


def rate_for(*, basis: str, term_months: int, on_date: datetime.date) -> Rate:
    """The rate of `basis` for a loan of `term_months` in force on `on_date`."""
    tenor = tenor_for(basis=basis, term_months=term_months)
    rate = (
        Rate.objects.filter(kind=basis, tenor=tenor, effective_from__lte=on_date)
        .order_by("-effective_from")
        .first()
    )
    if rate is None:
        raise RateMissing(kind=Rate.Kind(basis), tenor=Rate.Tenor(tenor), on_date=on_date)
    return rate


def rate_list(*, kind: str = "", tenor: str = "") -> QuerySet[Rate]:
    """All rates (national data, the same for every user), or those of one `kind` and `tenor`,
    newest first, with `next_from` so a list can mark the one in force per tenor."""
    following = Rate.objects.filter(
        kind=OuterRef("kind"), tenor=OuterRef("tenor"), effective_from__gt=OuterRef("effective_from")
    ).order_by("effective_from")
    qs = (
        Rate.objects.select_related("created_by")
        .annotate(next_from=Subquery(following.values("effective_from")[:1]))
        .order_by("-effective_from", "kind", "tenor")
    )
    if kind:
        qs = qs.filter(kind=kind)
    if tenor:
        qs = qs.filter(tenor=tenor)
    return qs


# ---- working-day calendar ----------------------------------------------------------------------


def is_working_day(date: datetime.date) -> bool:
    """Whether `date` is a working day: weekdays except statutory holidays, plus the weekends
    that are adjusted working days (调休). Raises CalendarMissing for a year with no data."""
    found = CalendarDay.objects.filter(date=date).values_list("is_working_day", flat=True).first()
    if found is None:
        raise CalendarMissing(date.year)
    return found


def add_working_days(start: datetime.date, count: int) -> datetime.date:
    """The date of the `count`-th working day counted from `start`, as publicity counts them
    (DOMAIN §4.3): `start` is day 1 if it is a working day, otherwise day 1 is the next working
    day. So a notice posted on `start` for `count` days ends at the end of the returned day.

    Two queries whatever `count` is: the count-th stored working day on or after `start`, then the
    stored years, to prove no year between `start` and that day is missing (a missing year would
    otherwise be skipped silently)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ApplicationError(
            _("Count at least 1 working day."),
            "invalid",
            {"fields": {"count": [_("Count at least 1 working day.")]}},
        )
    end = (
        CalendarDay.objects.filter(date__gte=start, is_working_day=True)
        .order_by("date")
        .values_list("date", flat=True)[count - 1 : count]
        .first()
    )
    covered = set(CalendarYear.objects.filter(year__gte=start.year).values_list("year", flat=True))
    last_year = end.year if end is not None else max(covered, default=start.year) + 1
    for year in range(start.year, last_year + 1):
        if year not in covered:
            raise CalendarMissing(year)
    if end is None:
        # Every stored year from `start` on was used up without reaching the count.
        raise CalendarMissing(last_year)
    return end


def calendar_years() -> QuerySet[CalendarYear]:
    """Stored years with their counts of working days, rest days on weekdays (holidays) and
    working days on weekends (adjusted working days), in one query."""
    weekend = Q(days__date__iso_week_day__gte=6)
    return (
        CalendarYear.objects.select_related("loaded_by")
        .annotate(
            working_days=Count("days", filter=Q(days__is_working_day=True)),
            rest_days=Count("days", filter=Q(days__is_working_day=False)),
            holiday_weekdays=Count("days", filter=Q(days__is_working_day=False) & ~weekend),
            adjusted_workdays=Count("days", filter=Q(days__is_working_day=True) & weekend),
        )
        .order_by("-year")
    )


def stored_years(*, since: int) -> set[int]:
    """The years from `since` on that the calendar holds."""
    return set(CalendarYear.objects.filter(year__gte=since).values_list("year", flat=True))


def calendar_year_stored(year: int) -> bool:
    return CalendarYear.objects.filter(year=year).exists()


def calendar_special_days(*, year: int) -> QuerySet[CalendarDay]:
    """The days of a year that are not plain weekdays or weekends: holidays and adjusted working
    days, plus weekend rest days inside a holiday (they carry the holiday's name)."""
    return CalendarDay.objects.filter(year_id=year).filter(
        Q(is_working_day=False, date__iso_week_day__lte=5)
        | Q(is_working_day=True, date__iso_week_day__gte=6)
        | ~Q(note="")
    )


# ---- reference-data warnings -------------------------------------------------------------------

# The State Council publishes the next year's holiday arrangements around November; from the
# first of this month on, a missing next year is worth an administrator's attention.
NEXT_YEAR_WARNING_FROM_MONTH = 11


@dataclass(frozen=True)
class ReferenceDataWarning:
    """Reference data an administrator must enter before the system can answer correctly.
    `severity` is "bad" when something is refused already and "warn" when it soon will be."""

    code: str  # calendar_current_missing | calendar_next_missing | lpr_stale
    severity: str
    message: str
    year: int | None = None
    last_publication: datetime.date | None = None


def calendar_warnings(today: datetime.date) -> list[ReferenceDataWarning]:
    """The calendar years missing on `today` (one query): the current year at any time of year,
    the next one from 1 November on. A missing year is never guessed (DOMAIN §4.3), so every
    date counted in working days in it is refused until an administrator enters it."""
    needed = [today.year]
    if today.month >= NEXT_YEAR_WARNING_FROM_MONTH:
        needed.append(today.year + 1)
    stored = set(CalendarYear.objects.filter(year__in=needed).values_list("year", flat=True))
    warnings = []
    if today.year not in stored:
        warnings.append(
            ReferenceDataWarning(
                code="calendar_current_missing",
                severity="bad",
                year=today.year,
                message=_(
                    "The holiday arrangements for the current year %(year)s have not been entered. "
                    "Publicity periods, first working days and every other date counted in working "
                    "days cannot be computed now, and the steps that need one are refused until an "
                    "administrator enters %(year)s."
                )
                % {"year": today.year},
            )
        )
    if len(needed) == 2 and needed[1] not in stored:
        warnings.append(
            ReferenceDataWarning(
                code="calendar_next_missing",
                severity="warn",
                year=needed[1],
                message=_(
                    "The holiday arrangements for %(year)s have not been entered yet (the State "
                    "Council publishes them each November). Publicity periods, first working days "
                    "and other dates counted in working days cannot be computed in %(year)s; an "
                    "administrator must enter them."
                )
                % {"year": needed[1]},
            )
        )
    return warnings


def lpr_warnings(today: datetime.date) -> list[ReferenceDataWarning]:
    """A warning when the LPR table's last publication is more than a month before `today`
    (`lpr_stale_on`, one query)."""
    last = lpr_stale_on(today)
    if last is None:
        return []
    return [
        ReferenceDataWarning(
            code="lpr_stale",
            severity="warn",
            last_publication=last,
            message=_(
                "The last loan prime rate (LPR) entered is the publication of %(date)s, more than a "
                "month ago. The LPR is published on the 20th of every month: an administrator must "
                "enter the publications since %(date)s, or rates read from the table may be out of "
                "date."
            )
            % {"date": last.isoformat()},
        )
    ]


def reference_data_warnings(today: datetime.date) -> list[ReferenceDataWarning]:
    """Every reference-data warning for `today`, calendar first (two queries)."""
    return calendar_warnings(today) + lpr_warnings(today)


def profiles_by_county(on_date: datetime.date) -> dict[int, PolicyProfile]:
    """The profile in force on `on_date` for every county, in one query."""
    found: dict[int, PolicyProfile] = {}
    for profile in PolicyProfile.objects.filter(effective_from__lte=on_date).order_by(
        "county_id", "-effective_from"
    ):
        found.setdefault(profile.county_id, profile)
    return found
