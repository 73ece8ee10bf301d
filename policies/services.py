"""Writes for policy profiles, interest rates and the working-day calendar. Each takes the acting
user, checks the role, runs in one transaction and leaves an audit record.

The calendar and rate look-ups live in `selectors` and are re-exported here, because callers
think of them together with the writes ("the policies services")."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, Role
from accounts.scoping import visible_counties
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted, rule_failed
from core.tabular import RowError

from . import calendar_files, seeding
from .models import CalendarDay, CalendarYear, PolicyProfile, Rate
from .selectors import add_working_days, is_working_day, latest_profile, rate_for

__all__ = [
    "PARAMETER_FIELDS",
    "add_working_days",
    "calendar_import_check",
    "calendar_year_define",
    "calendar_year_import",
    "calendar_year_load_from_library",
    "is_working_day",
    "profile_create",
    "rate_create",
    "rate_for",
]

# The fields that are not parameters: who, where, when and why.
_PROFILE_META = {"id", "county", "name", "effective_from", "source_text", "created_by", "created_at"}
# Every number and switch of a profile (DOMAIN §10), in model order.
PARAMETER_FIELDS = tuple(f.name for f in PolicyProfile._meta.concrete_fields if f.name not in _PROFILE_META)
SOURCE = "DOMAIN §10"


def _require_admin(user, message) -> None:
    if not (user and user.is_authenticated and user.has_role(Role.ADMIN)):
        raise NotPermitted(message)


def _json_safe(value):
    if isinstance(value, Decimal | datetime.date):
        return str(value)
    return value


# ---- policy profiles -----------------------------------------------------------------------------


@transaction.atomic
def profile_create(
    *,
    acting_user,
    county: OrgUnit,
    effective_from: datetime.date,
    name: str,
    source_text: str,
    **params,
) -> PolicyProfile:
    """Add a new version of a county's policy profile.

    Profiles are append-only, so a decision taken under an older profile is never rewritten: a
    new version takes effect after the county's latest one and not before today. Only a county's
    very first profile may be back-dated, to cover loans made before the system existed.
    Parameters not given are carried over from the county's latest profile (a new version
    changes what it names and keeps the rest); a first profile starts from the defaults."""
    _require_admin(acting_user, _("Only administrators may add policy profiles."))
    unknown = set(params) - set(PARAMETER_FIELDS)
    if unknown:
        raise TypeError(f"profile_create() got unknown parameters: {', '.join(sorted(unknown))}")
    if county is None or not visible_counties(acting_user).filter(pk=county.pk).exists():
        raise ApplicationError(
            _("You can only add policy profiles for a county in your own area."),
            "out_of_scope",
            field="county",
        )
    # Two admins adding versions for one county at once would both pass the date rule below;
    # locking the county row makes the second wait and then see the first one's profile.
    OrgUnit.objects.select_for_update().get(pk=county.pk)

    if effective_from is not None and not isinstance(effective_from, datetime.date):
        effective_from = _as_date(effective_from)
        if effective_from is None:
            raise ValidationError({"effective_from": [_("Enter a real date written YYYY-MM-DD.")]})
    previous = latest_profile(county=county)
    today = timezone.localdate()
    if previous is not None and effective_from is not None:
        if effective_from <= previous.effective_from:
            raise rule_failed(
                "profile_append_only",
                _(
                    "Profiles are never changed retroactively: a new version must take effect after the "
                    "county's latest profile, which is in force from %(date)s."
                )
                % {"date": previous.effective_from},
                SOURCE,
                field="effective_from",
            )
        if effective_from < today:
            raise rule_failed(
                "profile_not_backdated",
                _(
                    "A new version cannot take effect before today (%(today)s): decisions already taken "
                    "under the profile in force are never rewritten. Only a county's first profile may be "
                    "back-dated."
                )
                % {"today": today},
                SOURCE,
                field="effective_from",
            )

    values = {f: getattr(previous, f) for f in PARAMETER_FIELDS} if previous is not None else {}
    values.update(params)
    profile = PolicyProfile(
        county=county,
        effective_from=effective_from,
        name=(name or "").strip(),
        source_text=(source_text or "").strip(),
        created_by=acting_user,
        **values,
    )
    profile.full_clean()
    profile.save()
    changed = (
        {
            f: [_json_safe(getattr(previous, f)), _json_safe(getattr(profile, f))]
            for f in PARAMETER_FIELDS
            if getattr(previous, f) != getattr(profile, f)
        }
        if previous is not None
        else {f: _json_safe(getattr(profile, f)) for f in PARAMETER_FIELDS}
    )
    audit(
        actor=acting_user,
        action="policy_profile.create",
        obj=profile,
        reason=profile.source_text,
        data={
            "county": county.pk,
            "effective_from": str(profile.effective_from),
            "previous": previous.pk if previous is not None else None,
            "changed": changed,
        },
    )
    return profile


# ---- interest rates ------------------------------------------------------------------------------


@transaction.atomic
def rate_create(
    *,
    acting_user,
    kind: str,
    tenor: str,
    effective_from: datetime.date,
    annual_rate: Decimal,
    source: str,
) -> Rate:
    """Record a published rate (e.g. the month's LPR). Like profiles, the table only grows forward:
    a rate takes effect after the latest one of its tenor, so subsidies and contracts already
    priced from the table keep their rate. It may be entered late (the day after publication)."""
    _require_admin(acting_user, _("Only administrators may add interest rates."))
    rate = Rate(
        kind=kind,
        tenor=tenor,
        effective_from=effective_from,
        annual_rate=annual_rate,
        source=(source or "").strip(),
        created_by=acting_user,
    )
    errors = {}
    if not rate.source:
        errors["source"] = [_("Name the publication this rate comes from.")]
    if isinstance(rate.annual_rate, Decimal | int) and rate.annual_rate <= 0:
        errors["annual_rate"] = [_("The rate must be above zero.")]
    try:
        rate.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as e:
        errors = e.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)

    latest = Rate.objects.filter(kind=kind, tenor=tenor).order_by("-effective_from").first()
    if latest is not None and effective_from <= latest.effective_from:
        raise rule_failed(
            "rate_append_only",
            _(
                "Rates are never changed retroactively: a new %(tenor)s must take effect after the latest "
                "one, in force from %(date)s."
            )
            % {"tenor": rate.get_tenor_display(), "date": latest.effective_from},
            "DOMAIN §5",
            field="effective_from",
        )
    try:
        # A savepoint, so a clash leaves the outer transaction usable for the error answer.
        with transaction.atomic():
            rate.save()
    except IntegrityError:
        raise ConflictError(
            _("Another administrator has just entered this rate; reload the list to see it.")
        ) from None
    audit(
        actor=acting_user,
        action="rate.create",
        obj=rate,
        reason=rate.source,
        data={
            "kind": kind,
            "tenor": tenor,
            "effective_from": str(effective_from),
            "annual_rate": str(rate.annual_rate),
            "previous": str(latest.annual_rate) if latest is not None else None,
        },
    )
    return rate


# ---- working-day calendar ------------------------------------------------------------------------


def _audit_year(acting_user, calendar_year: CalendarYear, *, replaced: bool, data: dict) -> None:
    audit(
        actor=acting_user,
        action="calendar_year.replace" if replaced else "calendar_year.define",
        obj=calendar_year,
        reason=calendar_year.source,
        data=data,
    )


def _write_year(year: int, days: list, *, source: str, loaded_by) -> None:
    loaded_by = loaded_by if getattr(loaded_by, "pk", None) else None
    # Lock the year's row so two admins saving the same year one after the other replace it in
    # turn; when it does not exist yet, the second insert fails on the key and is told to retry.
    CalendarYear.objects.select_for_update().filter(year=year).first()
    try:
        with transaction.atomic():
            seeding.write_years(CalendarYear, CalendarDay, {year: days}, source=source, loaded_by=loaded_by)
    except IntegrityError:
        raise ConflictError(
            _("Someone else has just saved %(year)s; reload the calendar and check it.") % {"year": year}
        ) from None


@transaction.atomic
def calendar_year_load_from_library(year: int, *, acting_user=None) -> CalendarYear:
    """Store (or replace) one year from the `chinese_calendar` package, which covers the years
    published by the time of its release (1.11: 2004-2026). `acting_user` is None when run by
    the management command."""
    if acting_user is not None:
        _require_admin(acting_user, _("Only administrators may change the working-day calendar."))
    if not seeding.library_covers(year):
        raise ApplicationError(
            _(
                "The holiday library has no data for %(year)s (it covers %(first)s to %(last)s); enter "
                "that year's holidays and adjusted working days by hand."
            )
            % {"year": year, "first": seeding.LIBRARY_FIRST_YEAR, "last": seeding.LIBRARY_LAST_YEAR},
            "calendar_not_in_library",
            {"year": year},
            field="year",
        )
    replaced = CalendarYear.objects.filter(year=year).exists()
    days = seeding.library_days(year)
    _write_year(year, days, source=seeding.LIBRARY_SOURCE, loaded_by=acting_user)
    calendar_year = CalendarYear.objects.get(year=year)
    _audit_year(
        acting_user,
        calendar_year,
        replaced=replaced,
        data={"year": year, "working_days": sum(1 for _d, working, _n in days if working)},
    )
    return calendar_year


def _as_date(value) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        return None


def _year_and_source_errors(year, source) -> dict[str, list]:
    errors: dict[str, list] = {}
    if isinstance(year, bool) or not isinstance(year, int) or not 1990 <= year <= 2100:
        errors["year"] = [_("Enter a year between 1990 and 2100.")]
    if not (source or "").strip():
        errors["source"] = [
            _("Name the notice the arrangements come from (e.g. the State Council's notice).")
        ]
    return errors


def _validate_year_input(year, holidays, workdays, source):
    """Normalise and check an admin's input; returns (holidays, workdays) as
    [(start, end, name)] and [(date, name)] or raises ValidationError naming every problem."""
    errors = _year_and_source_errors(year, source)
    if "year" in errors:
        raise ValidationError({"year": errors["year"]})

    def err(field, message):
        errors.setdefault(field, []).append(message)

    ranges = []
    for item in holidays or []:
        try:
            start, end, name = item
        except (TypeError, ValueError):
            err("holidays", _("Each holiday needs a first day, a last day and a name."))
            continue
        start, end, name = _as_date(start), _as_date(end), str(name or "").strip()
        if start is None or end is None:
            err("holidays", _("Holiday dates must be real dates written YYYY-MM-DD."))
            continue
        label = f"{start}–{end}"
        if not name:
            err("holidays", _("Give the holiday from %(range)s a name.") % {"range": label})
        elif len(name) > 50:
            err("holidays", _("The holiday name %(name)s is longer than 50 characters.") % {"name": name})
        if start > end:
            err("holidays", _("The holiday %(range)s ends before it starts.") % {"range": label})
            continue
        if start.year != year or end.year != year:
            err(
                "holidays",
                _(
                    "The holiday %(range)s is not inside %(year)s; enter only its days in %(year)s (days in "
                    "another year belong to that year's calendar)."
                )
                % {"range": label, "year": year},
            )
            continue
        ranges.append((start, end, name))
    if not ranges and "holidays" not in errors:
        err("holidays", _("Enter the year's statutory holidays; every year has some."))
    ranges.sort()
    for (s1, e1, n1), (s2, e2, n2) in zip(ranges, ranges[1:], strict=False):
        if s2 <= e1:
            err(
                "holidays",
                _("The holidays %(a)s and %(b)s overlap.") % {"a": f"{n1} {s1}–{e1}", "b": f"{n2} {s2}–{e2}"},
            )

    adjusted = []
    seen = set()
    for item in workdays or []:
        name = ""
        if isinstance(item, list | tuple):
            try:
                item, name = item
            except ValueError:
                err("workdays", _("Each adjusted working day is a date, optionally with a name."))
                continue
        day, name = _as_date(item), str(name or "").strip()
        if day is None:
            err("workdays", _("Adjusted working days must be real dates written YYYY-MM-DD."))
            continue
        if day.year != year:
            err("workdays", _("%(date)s is not in %(year)s.") % {"date": day, "year": year})
            continue
        if day.weekday() < 5:
            err(
                "workdays",
                _(
                    "%(date)s is a weekday, which is a working day anyway; list only weekend days that "
                    "are worked."
                )
                % {"date": day},
            )
            continue
        if any(s <= day <= e for s, e, _n in ranges):
            err(
                "workdays",
                _("%(date)s is inside a holiday and cannot also be a working day.") % {"date": day},
            )
            continue
        if day in seen:
            err("workdays", _("%(date)s is listed twice.") % {"date": day})
            continue
        if len(name) > 50:
            err("workdays", _("The name %(name)s is longer than 50 characters.") % {"name": name})
            continue
        seen.add(day)
        adjusted.append((day, name))
    if errors:
        raise ValidationError(errors)
    return ranges, sorted(adjusted)


@transaction.atomic
def calendar_year_define(
    *,
    acting_user,
    year: int,
    holidays: list[tuple[datetime.date, datetime.date, str]],
    workdays: list,
    source: str,
    import_file: str = "",
) -> CalendarYear:
    """Store a year's working days from the State Council's notice (published each November for
    the next year): `holidays` are (first day, last day, name) ranges of rest, `workdays` the
    weekend dates that are worked (调休), as dates or (date, name) pairs. Every other weekday
    works and every other weekend day rests. A year already stored is replaced, and the audit
    record says so. `import_file` names the file the ranges were read from, for the audit."""
    _require_admin(acting_user, _("Only administrators may change the working-day calendar."))
    ranges, adjusted = _validate_year_input(year, holidays, workdays, source)
    previous = CalendarYear.objects.filter(year=year).first()
    days = seeding.defined_days(year, ranges, adjusted)
    _write_year(year, days, source=source.strip(), loaded_by=acting_user)
    calendar_year = CalendarYear.objects.get(year=year)
    _audit_year(
        acting_user,
        calendar_year,
        replaced=previous is not None,
        data={
            "year": year,
            "holidays": [[str(s), str(e), n] for s, e, n in ranges],
            "workdays": [[str(d), n] for d, n in adjusted],
            "previous_source": previous.source if previous is not None else None,
            **({"file": import_file} if import_file else {}),
        },
    )
    return calendar_year


# ---- the calendar from a file --------------------------------------------------------------------


def calendar_import_check(
    *, acting_user, file, filename: str, year: int, source: str, replace: bool = False
) -> calendar_files.CalendarImportResult:
    """The preview of a calendar file (see `calendar_files`): every row read and checked, the
    year as it would be stored, and every problem with its row and column. Writes nothing.
    Storing a year already in the calendar needs `replace`, as on the page."""
    _require_admin(acting_user, _("Only administrators may change the working-day calendar."))
    head = _year_and_source_errors(year, source)
    if head:
        raise ValidationError(head)
    parsed = calendar_files.read_calendar_file(file, year=year)
    result = calendar_files.CalendarImportResult(
        year=year,
        filename=filename,
        source=source.strip(),
        replace=replace,
        file_type=parsed.kind,
        rows=parsed.rows,
        errors=parsed.errors,
    )
    if any(e.code in calendar_files.FILE_CODES for e in result.errors):
        return result
    result.holidays = calendar_files.holiday_ranges(result.rows)
    result.workdays = calendar_files.adjusted_workdays(result.rows)
    if result.rows and not any(r.kind == calendar_files.HOLIDAY for r in result.rows):
        result.errors.append(
            RowError(
                None,
                "",
                _("The file lists no holiday (休息) days; every year has some."),
                "no_holidays",
            )
        )
    if not result.errors:
        # The same checks the page's form and the API go through, so a preview without errors is
        # one that `calendar_year_define` accepts.
        try:
            result.holidays, result.workdays = _validate_year_input(
                year, result.holidays, result.workdays, source
            )
        except ValidationError as e:
            result.errors.extend(RowError(None, "", m, "invalid") for m in e.messages)
        else:
            days = seeding.defined_days(year, result.holidays, result.workdays)
            result.working_days = sum(1 for _d, working, _n in days if working)
            result.rest_days = len(days) - result.working_days
    result.existing = CalendarYear.objects.filter(year=year).select_related("loaded_by").first()
    if result.existing is not None and not replace:
        result.errors.append(
            RowError(
                None,
                "",
                _(
                    "%(year)s is already in the calendar (from “%(source)s”). Tick “Replace the stored "
                    "year” to replace it with this file."
                )
                % {"year": year, "source": result.existing.source},
                "calendar_year_exists",
            )
        )
    result.errors.sort(key=lambda e: (e.row is not None, e.row or 0))
    return result


@transaction.atomic
def calendar_year_import(
    *, acting_user, file, filename: str, year: int, source: str, replace: bool = False
) -> calendar_files.CalendarImportResult:
    """Store a year from a calendar file, all or nothing: the file is checked again as in the
    preview, and the year is stored through `calendar_year_define`, whose audit record names
    the file. Raises calendar_files.CalendarImportRejected when anything is wrong."""
    result = calendar_import_check(
        acting_user=acting_user, file=file, filename=filename, year=year, source=source, replace=replace
    )
    if not result.ok:
        raise calendar_files.CalendarImportRejected(result)
    calendar_year_define(
        acting_user=acting_user,
        year=year,
        holidays=result.holidays,
        workdays=result.workdays,
        source=source,
        import_file=filename,
    )
    return result
