"""Page forms. They only parse and shape input; the rules live in the services, whose errors the
views put next to the fields."""

from __future__ import annotations

import datetime
import re

from django import forms
from django.forms.models import fields_for_model
from django.utils.translation import gettext_lazy as _

from accounts.scoping import visible_counties
from core.forms import DateInput

from . import calendar_files
from .models import PolicyProfile, Rate
from .services import PARAMETER_FIELDS

# The parameters grouped as a county office reads its policy documents (DOMAIN §2-§8).
PROFILE_SECTIONS = [
    ("basics", _("Version"), ["county", "name", "effective_from", "source_text"]),
    (
        "eligibility",
        _("Eligibility"),
        [
            "age_min",
            "age_max",
            "age_plus_term_max",
            "amount_max",
            "household_total_max",
            "term_min_months",
            "term_max_months",
            "allow_monitored_households",
            "entrusted_cutoff",
            "allow_indirect_mode",
        ],
    ),
    (
        "rating",
        _("Credit rating"),
        [
            "score_integrity_max",
            "score_labour_max",
            "score_income_max",
            "score_project_max",
            "score_assets_max",
            "grade_aaa_min",
            "grade_aa_min",
            "grade_a_min",
            "line_aaa",
            "line_aa",
            "line_a",
            "rating_valid_months",
            "rating_is_investigation",
        ],
    ),
    ("publicity", _("Publicity"), ["publicity_days", "publicity_levels"]),
    (
        "servicing",
        _("Servicing after disbursement"),
        [
            "rate_basis",
            "settlement_day",
            "first_check_within_months",
            "check_interval_months",
            "substandard_after_days",
            "doubtful_after_days",
            "loss_after_days",
            "renewal_max_months",
            "renewal_max_count",
            "extension_short_max_months",
            "extension_long_max_fraction",
            "extension_max_count",
        ],
    ),
    (
        "subsidy",
        _("Interest subsidy"),
        [
            "subsidy_cap_basis",
            "subsidy_share",
            "subsidy_years",
            "subsidy_frequency",
            "subsidized_principal_max",
        ],
    ),
    (
        "riskfund",
        _("Risk-compensation fund"),
        [
            "leverage_multiple",
            "fund_loss_share",
            "entrusted_wait_months",
            "death_wait_months",
            "default_wait_days",
            "recovery_return_working_days",
            "loss_includes_interest",
            "loss_remainder_to",
        ],
    ),
]
assert sorted(f for _k, _t, fs in PROFILE_SECTIONS[1:] for f in fs) == sorted(PARAMETER_FIELDS)

# A date input shows its value only in ISO form (core.forms.DateInput).
DATE_INPUT = DateInput()


def _dates_as_date_inputs(fields):
    for field in fields.values():
        if isinstance(field, forms.DateField):
            field.widget = DATE_INPUT
    return fields


class ProfileForm(forms.Form):
    """A new version of a county's profile, with every parameter."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(
            _dates_as_date_inputs(
                fields_for_model(PolicyProfile, fields=["county", "name", "effective_from", "source_text"])
            )
        )
        self.fields["county"].queryset = visible_counties(user).order_by("code")
        self.fields["source_text"].widget.attrs["rows"] = 3
        params = _dates_as_date_inputs(fields_for_model(PolicyProfile, fields=PARAMETER_FIELDS))
        levels = params["publicity_levels"]
        params["publicity_levels"] = forms.MultipleChoiceField(
            label=levels.label,
            help_text=levels.help_text,
            choices=PolicyProfile.PUBLICITY_LEVELS,
            widget=forms.CheckboxSelectMultiple,
        )
        self.fields.update(params)

    def sections(self):
        """(key, title, bound fields) for each group of parameters, in reading order."""
        return [(key, title, [self[name] for name in names]) for key, title, names in PROFILE_SECTIONS]


class RateForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(
            _dates_as_date_inputs(
                fields_for_model(Rate, fields=["kind", "tenor", "effective_from", "annual_rate", "source"])
            )
        )
        self.fields["source"].required = True


_DATE = r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
_HOLIDAY_LINE = re.compile(rf"^{_DATE}(?:\s*(?:~|～|至|到|—|–|-|\s)\s*{_DATE})?\s*[,，、;；]?\s*(.*)$")
_WORKDAY_LINE = re.compile(rf"^{_DATE}\s*[,，、;；]?\s*(.*)$")


def _date(y, m, d) -> datetime.date | None:
    try:
        return datetime.date(int(y), int(m), int(d))
    except ValueError:
        return None


def _lines(text: str):
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line:
            yield number, line


class CalendarYearForm(forms.Form):
    """A year typed from the State Council's notice: holiday ranges and adjusted working days, one
    per line."""

    year = forms.IntegerField(label=_("Year"), min_value=1990, max_value=2100)
    source = forms.CharField(
        label=_("Source"),
        max_length=200,
        help_text=_(
            "The notice the arrangements come from, e.g. 国务院办公厅关于2027年部分节假日安排的通知."
        ),
    )
    holidays = forms.CharField(
        label=_("Holidays"),
        widget=forms.Textarea(
            attrs={"rows": 8, "placeholder": "2027-01-01 2027-01-03 元旦\n2027-02-05 2027-02-13 春节"}
        ),
        help_text=_("One holiday per line: first day, last day (may be left out for one day) and name."),
    )
    workdays = forms.CharField(
        label=_("Adjusted working days"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "2027-02-14 春节\n2027-02-20 春节"}),
        help_text=_("Weekend days that are worked (调休), one per line, optionally with the holiday's name."),
    )
    replace = forms.BooleanField(
        label=_("Replace the stored year"),
        required=False,
        help_text=_("Needed when the year is already in the calendar; the old days are replaced."),
    )

    def clean_holidays(self):
        ranges, problems = [], []
        for number, line in _lines(self.cleaned_data["holidays"]):
            match = _HOLIDAY_LINE.match(line)
            first = match and _date(*match.group(1, 2, 3))
            last = match and (_date(*match.group(4, 5, 6)) if match.group(4) else first)
            if not match or first is None or last is None:
                problems.append(
                    _(
                        "Line %(n)d (%(line)s): write the first day, the last day and the name, e.g. "
                        "2027-10-01 2027-10-07 国庆节."
                    )
                    % {"n": number, "line": line}
                )
                continue
            ranges.append((first, last, match.group(7).strip()))
        if problems:
            raise forms.ValidationError(problems)
        return ranges

    def clean_workdays(self):
        days, problems = [], []
        for number, line in _lines(self.cleaned_data["workdays"]):
            match = _WORKDAY_LINE.match(line)
            day = match and _date(*match.group(1, 2, 3))
            if not match or day is None:
                problems.append(
                    _(
                        "Line %(n)d (%(line)s): write one date, e.g. 2027-02-14, optionally followed by "
                        "a name."
                    )
                    % {"n": number, "line": line}
                )
                continue
            days.append((day, match.group(4).strip()))
        if problems:
            raise forms.ValidationError(problems)
        return days


class LibraryYearForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=1990, max_value=2100)


class WorkingDaysForm(forms.Form):
    start = forms.DateField(label=_("Day of posting"), widget=DATE_INPUT)
    count = forms.IntegerField(label=_("Working days"), min_value=1, max_value=1000, initial=5)


class CalendarImportForm(forms.Form):
    """A year from a file laid out like the State Council's notice: 日期, 类型, 名称, a row a day.
    The file's type is judged by its content in the service, not by its name."""

    year = forms.IntegerField(label=_("Year"), min_value=1990, max_value=2100)
    source = forms.CharField(
        label=_("Source"),
        max_length=200,
        help_text=_(
            "The notice the arrangements come from, e.g. 国务院办公厅关于2027年部分节假日安排的通知."
        ),
    )
    file = forms.FileField(label=_("File"))
    replace = forms.BooleanField(
        label=_("Replace the stored year"),
        required=False,
        help_text=_("Needed when the year is already in the calendar; the old days are replaced."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "A .csv or .xlsx file with the columns 日期, 类型 (休息 or 上班) and 名称, one row per day, "
            "at most %(mb)d MB and %(rows)d rows."
        ) % {"mb": calendar_files.MAX_FILE_SIZE // (1024 * 1024), "rows": calendar_files.MAX_ROWS}
